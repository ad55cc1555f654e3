"""The account an environment deploys to: named where losing the data would hurt."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Severity
from .context import Context
from .registry import Finding, rule


@rule("C106", "an environment that declares its tables protected (deletion_protection, point_in_time_recovery, "
      "or a retain/snapshot removal_policy, under the environment or in defaults) names its AWS account",
      "options", severity=Severity.WARNING,
      note="With `account:` set, every AWS command of the environment resolves the caller (STS "
           "GetCallerIdentity) first and refuses credentials of another account before anything is read. "
           "Without it, deploying prod with the dev profile (or the reverse) goes wherever the credentials point. "
           "Production-like is what the environment declares, not what one table does (a retained audit table "
           "or an imported table in dev), and the built-in `retain` (no removal_policy written) does not count: "
           "it is there so that forgetting the option never loses data.")
def prod_like_names_its_account(ctx: Context) -> Iterator[Finding]:
    for env, environment in ctx.schema.environments.items():
        if environment.account is not None:
            continue
        # Production-like (DESIGN.md, "Nothing is lost"): the environment protects its data on purpose, by any
        # of the three protections `docs` and `status` list; each costs something or takes an action to undo.
        declared = [what for option, what in _PROTECTIONS if _declared(environment, ctx.schema.defaults, option)]
        if declared:
            yield Finding(("environments", env),
                          f"environment {env!r} declares its tables protected ({', '.join(declared)}) but names no "
                          "account: a deploy with another account's credentials would go there unchecked",
                          f"add account: \"123456789012\" (its 12-digit id, quoted) under environments.{env}",
                          at="key")


_PROTECTIONS = (("deletion_protection", "deletion protection"), ("point_in_time_recovery", "point-in-time recovery"),
                ("removal_policy", "removal_policy retain"))


def _declared(environment, defaults, option: str) -> bool:
    """The environment's own value, else the defaults' (as model.effective_option reads them, without the
    table layer and without the built-in value)."""
    for layer in (environment, defaults):
        value = getattr(layer, option, None) if layer is not None else None
        if value is not None:
            return value in ("retain", "snapshot") if option == "removal_policy" else bool(value)
    return False
