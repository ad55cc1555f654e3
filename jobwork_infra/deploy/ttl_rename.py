"""A TTL rename and the items written before it: they carry only the old attribute, and once TTL is
enabled on the new one they never expire unless the new attribute is written on them (issue 23).

DynamoDB's TTL deletes an item only by the attribute TTL is enabled on ("TTL ... uses a specific
attribute name", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html): moving
TTL to `purge_at` leaves every item that has only `expires_at` for good.

Here: which tables of a plan rename their TTL, what the deploy says about their items, and the
backfill, refused until the scan machinery of the migration work (jobwork_infra/migrate/) is wired to
run it in place, resumably and verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..changes import Plan
from .gate import Refused


@dataclass(frozen=True)
class TtlRename:
    key: str
    physical_name: str
    old: str
    new: str


def ttl_renames(plan: Plan) -> list[TtlRename]:
    """The tables whose TTL moves to another attribute in this plan."""
    out = []
    for change in plan.changes:
        if change.kind == "ttl_renamed" and change.table in plan.head.tables:
            table = plan.head.tables[change.table]
            out.append(TtlRename(change.table, table.physical_name, str(change.before), str(change.after)))
    return out


def stop_expiring_note(rename: TtlRename, count: int | None) -> str:
    """What the deploy says before it moves TTL."""
    held = (f"{count} item{'' if count == 1 else 's'} carry only {rename.old}" if count is not None
            else f"the items written before carry only {rename.old} (not counted here: a Scan of the table "
                 "would read every item)")
    return (f"{rename.physical_name}: TTL moves from {rename.old} to {rename.new}; {held}: they never expire once TTL "
            f"is on {rename.new}, unless {rename.new} is written on them (code generated before the change keeps "
            f"writing {rename.old} only)")


def refuse_backfill(renames: list[TtlRename]) -> None:
    """--backfill-ttl: refused, clearly, until the migration's scan machinery is wired to run it."""
    names = ", ".join(f"{r.physical_name} ({r.old} → {r.new})" for r in renames) or "no table of this plan"
    raise Refused(
        "R025",
        f"--backfill-ttl: writing the new TTL attribute on the existing items of {names} needs the parallel "
        "Scan with checkpoints of the migration work (jobwork_infra/migrate/), which is not wired to a TTL backfill "
        "yet; nothing was changed",
        "deploy without --backfill-ttl and write the new attribute from your code (an UpdateItem per item, "
        "SET new = old where attribute_not_exists(new)), or keep the old attribute as the TTL attribute")
