"""Follow-up commands: every command the tool prints for the user to run next, built from the request.

A hint that drops the target runs against another one: `deploy --plan FILE` without `--local`
applies to CloudFormation, `aws dynamodb list-tables` without `--endpoint-url` lists the real
account. So hints are never spelled by hand: they are built here from what the user ran (the
environment, `--local` or `--endpoint-url`, `--profile`, `--region`, `--schema`), and a test parses
every hint the CLI prints in its tests with the Typer app and checks it names the same target
(tests/unit/test_followup.py).

Plain Python (no Typer, no boto3): the CLI, deploy/ and report/ all build their hints here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from . import DEFAULT_SCHEMA

PROGRAM = "jobwork-infra"


@dataclass(frozen=True)
class Invocation:
    """Where a command ran: what every follow-up command must repeat to reach the same tables."""

    env: str | None = None
    local: bool = False
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None
    schema: str | None = None  # the schema file as given; the default is left out

    @classmethod
    def of(cls, request, *, local: bool = False, schema: str | None = None) -> Invocation:
        """From a DeployRequest (or anything with env, endpoint_url, profile and region)."""
        return cls(env=request.env, local=local or getattr(request, "local", False),
                   endpoint_url=getattr(request, "endpoint_url", None), profile=getattr(request, "profile", None),
                   region=getattr(request, "region", None), schema=schema or getattr(request, "schema", None))

    @property
    def label(self) -> str:
        """The target in words: `the local engine`, `http://…`, `AWS`."""
        if self.local:
            return "the local engine"
        return self.endpoint_url or "AWS"

    def target_args(self) -> list[str]:
        """The flags that choose the target: --local, or --endpoint-url, --profile and --region."""
        if self.local:
            return ["--local"]
        args = []
        if self.endpoint_url:
            args += ["--endpoint-url", self.endpoint_url]
        if self.profile:
            args += ["--profile", self.profile]
        if self.region:
            args += ["--region", self.region]
        return args

    def schema_args(self) -> list[str]:
        if self.schema and self.schema != DEFAULT_SCHEMA:
            return ["--schema", self.schema]
        return []


def _join(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def command(invocation: Invocation, verb: str, *args: str) -> str:
    """A command that reads or changes the environment's tables (deploy, destroy, drift, import,
    status): the environment, the target flags and the schema, then `args`.

    `verb` may be two words (`migrate status`)."""
    words = [PROGRAM, *verb.split(), *(["--env", invocation.env] if invocation.env else [])]
    return _join(words + invocation.target_args() + invocation.schema_args() + list(args))


def schema_command(invocation: Invocation, verb: str, *args: str, env: bool = False) -> str:
    """A command that reads the schema only (validate, diff, synth, codegen): the schema, and the
    environment where the command takes one (`env=True`); no target flags."""
    words = [PROGRAM, *verb.split()]
    if env and invocation.env:
        words += ["--env", invocation.env]
    return _join(words + invocation.schema_args() + list(args))


def aws_command(invocation: Invocation, service: str, operation: str, *args: str,
                local_endpoint: str | None = None, local_region: str | None = None,
                local_credentials: dict[str, str] | None = None) -> str:
    """An AWS CLI command that reaches the same place as the command that printed it.

    On the local engine: its endpoint, region and dummy credentials (given by the caller, which
    knows them; without them the AWS CLI would use the user's real credentials and, with no
    endpoint, the real account). Elsewhere: `--endpoint-url`, `--profile` and `--region` as given."""
    words = ["aws", service, operation, *args]
    if invocation.local:
        env = [f"{name.upper()}={value}" for name, value in (local_credentials or {}).items()]
        words = env + words + (["--endpoint-url", local_endpoint] if local_endpoint else [])
        return _join(words + (["--region", local_region] if local_region else []))
    return _join(words + invocation.target_args())  # the AWS CLI takes the same three flags
