"""The right account or nothing: who the credentials belong to, checked before anything is read.

Deploying "prod" with the dev profile (or the reverse) is the classic infrastructure incident
(issue 23). Every AWS command of an environment (deploy, destroy, import, drift, adopt) asks STS
who the caller is (GetCallerIdentity: "Returns details about the IAM user or role whose
credentials are used to call the operation"; it needs no permission, "No permissions are required
to perform this operation", https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html),
prints the account and region, and refuses (Blocked, exit 3) when the environment's `account:`
(R024) or `region:` (R026: a `--region` other than the schema's) differs, before any other call is made.

No boto3 here: the caller's session is passed in (deploy/ makes it), so the check itself is plain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import JobworkError


@dataclass(frozen=True)
class Caller:
    account: str
    arn: str
    region: str

    @property
    def line(self) -> str:
        """The header line every AWS command prints first."""
        return f"AWS account {self.account} ({self.arn}), region {self.region}"


def resolve_caller(session: Any, endpoint_url: str | None = None) -> Caller:
    """Who the session's credentials belong to, and the region it uses (STS GetCallerIdentity)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    try:
        identity = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise JobworkError(f"cannot tell which AWS account the credentials belong to: {error.get('Code')}: "
                           f"{error.get('Message')}", "check the profile (--profile) and its credentials "
                           "(`aws sts get-caller-identity`); nothing was read or changed") from None
    # Only what says the caller cannot be told; anything else (a malformed --region) reaches the CLI's
    # error boundary, which explains it.
    except (NoCredentialsError, PartialCredentialsError, EndpointConnectionError, ConnectTimeoutError) as exc:
        raise JobworkError(f"cannot tell which AWS account the credentials belong to: {exc}",
                           "check the profile (--profile) and its credentials (`aws sts get-caller-identity`); "
                           "nothing was read or changed") from None
    return Caller(str(identity["Account"]), str(identity.get("Arn", "?")), str(session.region_name))


def check_account(env: str, expected: str | None, caller: Caller) -> None:
    """Blocked when the environment names an account and the credentials belong to another."""
    from .deploy.gate import Refused

    if expected is not None and caller.account != expected:
        raise Refused(
            "R024",
            f"environment {env} is account {expected}, but the credentials belong to account {caller.account} "
            f"({caller.arn}); nothing was read or changed",
            f"use credentials of account {expected} (--profile, or AWS_PROFILE), or fix environments.{env}.account "
            "in the schema if the account changed")


def check_region(env: str, expected: str | None, caller: Caller) -> None:
    """Blocked when the environment names a region and the session uses another (`--region`).

    A region is a separate set of tables: the same stack name in another region is another stack, so
    a deploy there would create a second copy of the environment and drift would compare the wrong one.
    """
    from .deploy.gate import Refused

    if expected is not None and caller.region != expected:
        raise Refused(
            "R026",
            f"environment {env} is in region {expected}, but this run uses region {caller.region}; nothing was "
            "read or changed",
            f"leave --region out (the schema's region {expected} is used) or pass --region {expected}; fix "
            f"environments.{env}.region in the schema if the environment moved")
