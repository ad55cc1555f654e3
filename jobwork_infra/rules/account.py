"""The account an environment deploys to: named where losing the data would hurt."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Severity
from .context import Context
from .registry import Finding, rule


@rule("C106", "a production-like environment (deletion protection, or retain with point-in-time recovery) names "
      "its AWS account",
      "options", severity=Severity.WARNING,
      note="With `account:` set, every AWS command of the environment resolves the caller (STS "
           "GetCallerIdentity) first and refuses credentials of another account before anything is read. "
           "Without it, deploying prod with the dev profile (or the reverse) goes wherever the credentials point.")
def prod_like_names_its_account(ctx: Context) -> Iterator[Finding]:
    for env, environment in ctx.schema.environments.items():
        if environment.account is not None:
            continue
        # Production-like: what keeps the data on purpose. `retain` alone is common for any shared stage
        # (and for every fixture of this repository); with PITR or deletion protection it is prod.
        kept = [t.key for t in ctx.resolved(env).tables.values()
                if t.deletion_protection or (t.removal_policy == "retain" and t.point_in_time_recovery)]
        if kept:
            yield Finding(("environments", env),
                          f"environment {env!r} keeps its tables ({', '.join(kept[:3])}"
                          f"{', …' if len(kept) > 3 else ''}: deletion-protected, or retained with point-in-time recovery) "
                          "but names no "
                          "account: a deploy with another account's credentials would go there unchecked",
                          f"add account: \"123456789012\" (its 12-digit id, quoted) under environments.{env}",
                          at="key")
