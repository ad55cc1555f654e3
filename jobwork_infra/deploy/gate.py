"""The safety gate every deploy passes, local or CloudFormation, before it changes anything."""

from __future__ import annotations

from collections.abc import Callable

from ..changes import Plan, Severity
from ..diff import replaces_table
from ..errors import Blocked


def refuse_destructive(plan: Plan, allow_destructive: bool) -> None:
    """Raise Blocked (exit 3) when the plan would delete or replace a table and that was not allowed."""
    destructive = [c for c in plan.changes if c.severity is Severity.DESTRUCTIVE]
    if destructive and not allow_destructive:
        tables = sorted({c.table for c in destructive})
        raise Blocked(
            f"refusing {len(destructive)} destructive change(s) to {', '.join(tables)}: "
            "the data in these tables would be lost",
            "change the schema so the table keeps its keys and name, or rerun with --allow-destructive "
            "once the data is backed up or expendable",
        )


def refuse_replacement_in_place(plan: Plan, *, retained_only: bool) -> None:
    """Raise Blocked (exit 3) for a key or local-index change to a table that keeps its name.

    The new table needs the old one's name, so the old one must go first. CloudFormation never
    does that for a named table (`retained_only=False`: the update would fail and roll back); the
    local engine can, unless the old table is retained (`retained_only=True`). Refused before
    anything is applied, even with --allow-destructive, with the ways that do work.
    """
    if plan.base is None:
        return
    stuck = [(key, new.physical_name) for key, new in plan.head.tables.items()
             if (old := plan.base.tables.get(key)) is not None
             and old.physical_name == new.physical_name and replaces_table(old, new)
             and (not retained_only or old.removal_policy == "retain")]
    if stuck:
        names = ", ".join(sorted(name for _, name in stuck))
        key, name = min(stuck)
        env = plan.head.env
        why = ("the old table is retained (removal_policy: retain)" if retained_only
               else "CloudFormation cannot replace a named table in place")
        # Not "destroy, then deploy": destroy keeps retained tables, and the next deploy would then
        # refuse the name they hold (issue 13). Each path below ends in a deploy that succeeds.
        local = " --local" if retained_only else ""
        fate = ("stays with its data (retained), unmanaged, for you to copy the items from and then delete"
                if plan.base.tables[key].removal_policy == "retain"
                else "is deleted with its data (removal_policy: destroy): copy the items out first if you need them")
        rename = (f"give the new table another name (table_name: {name}-v2 on table {key}) and run "
                  f"`jobwork-infra deploy --env {env}{local} --allow-destructive`: the old table {fate}")
        empty = (f"; to start over empty under the same name: put the old key back, set removal_policy: destroy "
                 f"on table {key}, run `jobwork-infra deploy --env {env}{local}`, then change the key again and run "
                 f"`jobwork-infra deploy --env {env}{local} --allow-destructive`" if retained_only else "")
        raise Blocked(
            f"cannot replace {names} under the same name: a key or local index change needs "
            f"a new table, and {why}",
            rename + empty,
        )


def approve(plan: Plan, *, yes: bool, confirm: Callable[[str], bool]) -> bool:
    """True when the deploy may go ahead: --yes, or the user said so at the prompt."""
    if yes:
        return True
    question = f"Apply {len(plan.steps)} step(s) to {plan.head.stack_name}?"
    return confirm(question)
