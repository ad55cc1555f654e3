"""The account guard as the AWS commands run it: before anything is read (jobwork_infra/account.py)."""

from __future__ import annotations

from rich.console import Console

from ..account import Caller, check_account, check_region, resolve_caller
from ..model import ResolvedSchema


def guard_account(head: ResolvedSchema, *, profile: str | None, region: str | None, endpoint_url: str | None,
                  console: Console) -> Caller:
    """Resolve the caller and region, print them, refuse another account or region (Blocked, exit 3)."""
    from ..deploy.aws import aws_session

    session = aws_session(profile=profile, region=region or head.region, endpoint_url=endpoint_url, env=head.env)
    caller = resolve_caller(session, endpoint_url)
    console.print(caller.line, markup=False, highlight=False)
    check_account(head.env, head.account, caller)
    check_region(head.env, head.region, caller)
    return caller
