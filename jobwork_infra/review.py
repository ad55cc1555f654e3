"""What a deploy would refuse in a plan, told before anyone runs it (`diff --plan`).

`diff --plan` shows the steps deploy would stage if the base were deployed. A step that deploy's
gate refuses is not "applicable": a sort-key change on prod reads `1. apply 3 changes in one
update` and then deploy stops with exit 3 (issue 23). So the refusals are asked of the deploy gate
itself (deploy/gate.py: the same functions a deploy calls, on the plan alone,
without reading anything), and each step that carries a refused change is marked.

Only the refusals that follow from the plan are known here; those that depend on the live tables
(drift, a stray index, a name taken by an unmanaged table) show at deploy time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .changes import Plan, Severity
from .errors import Blocked


@dataclass(frozen=True)
class Refusal:
    message: str
    hint: str | None
    tables: tuple[str, ...]   # the table keys whose changes are refused
    lifted_by: str | None     # the flag that lifts it ("--allow-destructive"); None: refused even so

    @property
    def text(self) -> str:
        """How a refused step reads: who refuses, whether a flag lifts it, and the gate's own words."""
        lifted = f"unless {self.lifted_by}" if self.lifted_by else "even with --allow-destructive"
        return f"deploy refuses it ({lifted}): {self.message}"


def plan_refusals(plan: Plan, *, replaces_in_place: bool = False) -> list[Refusal]:
    """The deploy gate's refusals of `plan` (CloudFormation by default; `replaces_in_place=True`:
    the local engine, which can replace a table that is not retained)."""
    from .deploy.gate import (
        refuse_destructive,
        refuse_name_taken,
        refuse_protected,
        refuse_replacement_in_place,
    )

    destructive = tuple(dict.fromkeys(c.table for c in plan.changes if c.severity is Severity.DESTRUCTIVE))
    taken = tuple(dict.fromkeys(c.table for c in plan.changes if c.kind == "table_name_taken"))
    checks: list[tuple[Callable[[bool], None], tuple[str, ...]]] = [
        (lambda allow: refuse_name_taken(plan), taken),
        (lambda allow: refuse_replacement_in_place(plan, retained_only=replaces_in_place), destructive),
        (lambda allow: refuse_protected(plan, allow), destructive),
        (lambda allow: refuse_destructive(plan, allow), destructive),
    ]
    out: list[Refusal] = []
    for check, tables in checks:
        refused = _blocked(check, False)
        if refused is None:
            continue
        lifted = _blocked(check, True) is None
        out.append(Refusal(refused.message, refused.hint, tables, "--allow-destructive" if lifted else None))
    return out


def refused_steps(plan: Plan, refusals: list[Refusal]) -> dict[int, list[Refusal]]:
    """Step number → the refusals of the changes it carries."""
    out: dict[int, list[Refusal]] = {}
    for step in plan.steps:
        tables = {c.table for c in step.changes}
        mine = [r for r in refusals if tables & set(r.tables)]
        if mine:
            out[step.number] = mine
    return out


def _blocked(check: Callable[[bool], None], allow: bool) -> Blocked | None:
    try:
        check(allow)
    except Blocked as exc:
        return exc
    return None
