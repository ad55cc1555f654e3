"""`synth`: the CloudFormation template of one environment, and the entry point of the CDK CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from ..errors import JobworkError
from ..project import check_project
from . import SCHEMA_DEFAULT, EnvOption, SchemaOption, app, stdout

DEFAULT_OUT = "cdk.out"


def _cdk_cli_env() -> tuple[str, str]:
    """The environment and output folder the CDK CLI asked for (`cdk synth -c env=dev`).

    The CLI passes its context as JSON in CDK_CONTEXT_JSON, or in a file named by
    CONTEXT_OVERFLOW_LOCATION_ENV when it is too large for the environment.
    """
    raw = os.environ.get("CDK_CONTEXT_JSON")
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if not raw and overflow:
        raw = Path(overflow).read_text()
    try:
        context = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise JobworkError(f"CDK_CONTEXT_JSON is not JSON: {exc}", "run this through the CDK CLI: cdk synth -c env=dev")
    env = context.get("env")
    if not isinstance(env, str) or not env:
        raise JobworkError("no environment: the CDK CLI passed no `env` context",
                           "name one: npx cdk synth -c env=dev")
    return env, os.environ.get("CDK_OUTDIR") or DEFAULT_OUT


@app.command()
def synth(
    env: EnvOption = None,
    schema: SchemaOption = SCHEMA_DEFAULT,
    out: str = typer.Option(None, "--out", "-o", help=f"Cloud assembly folder [default: {DEFAULT_OUT}]."),
    print_: bool = typer.Option(False, "--print", help="Write the template JSON to stdout, and nothing else."),
    stack: str = typer.Option(None, "--stack", help="With --print: the stack to print, when there are several."),
    cdk_app: bool = typer.Option(False, "--cdk-app", hidden=True,
                                 help="Run as the app of cdk.json: env from -c env=…, folder from the CDK CLI."),
) -> None:
    """Compile one environment's tables into CloudFormation templates (a CDK cloud assembly).

    No AWS account is needed. Every stack of the environment is written: `{app}-{env}`, and
    `{app}-{env}-NAME` for tables with `stack: NAME`. Each has one AWS::DynamoDB::Table per table,
    its TenantDataAccess managed policies and a few outputs (docs/synth.md).

    Example: jobwork-infra synth --env dev --print > dev.template.json
    """
    if cdk_app:
        env, out = _cdk_cli_env()
    elif not env:
        raise typer.BadParameter("name the environment to synthesize, e.g. --env dev", param_hint="--env")
    resolved = check_project(schema).resolve(env)
    stacks = resolved.stacks
    if stack is not None and stack not in stacks:
        raise typer.BadParameter(f"{env} has no stack {stack!r}; its stacks: {', '.join(stacks)}", param_hint="--stack")
    if print_ and stack is None and len(stacks) > 1:
        raise typer.BadParameter(f"{env} has {len(stacks)} stacks; name the one to print with --stack: "
                                 + ", ".join(stacks), param_hint="--stack")

    from ..compile import synth_assembly, synth_templates

    if print_:
        name = stack or next(iter(stacks))
        if out is None:
            template = synth_templates(resolved)[name]
        else:
            template = json.loads(synth_assembly(resolved, out)[name].read_text())
        sys.stdout.write(json.dumps(template, indent=1) + "\n")
        return
    paths = synth_assembly(resolved, out or DEFAULT_OUT)
    if cdk_app:
        return  # the CDK CLI reads the assembly and reports on its own
    for name, tables in stacks.items():
        gsis = sum(len(t.global_indexes) for t in tables.values())
        lsis = sum(len(t.local_indexes) for t in tables.values())
        stdout.print(f"Synthesized {name}: {_count(len(tables), 'table')}, "
                     f"{_count(gsis, 'global index', 'global indexes')}, "
                     f"{_count(lsis, 'local index', 'local indexes')}", markup=False)
        stdout.print(f"Template: {paths[name]}", markup=False)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
