"""The safety gate every deploy passes, local or CloudFormation, before it changes anything."""

from __future__ import annotations

from collections.abc import Callable

from ..changes import Plan, Severity
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


def approve(plan: Plan, *, yes: bool, confirm: Callable[[str], bool]) -> bool:
    """True when the deploy may go ahead: --yes, or the user said so at the prompt."""
    if yes:
        return True
    question = f"Apply {len(plan.steps)} step(s) to {plan.head.stack_name}?"
    return confirm(question)
