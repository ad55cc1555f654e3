"""A TTL rename and the items written before it: they carry only the old attribute, and once TTL is
enabled on the new one they never expire unless the new attribute is written on them (issue 23).

DynamoDB's TTL deletes an item only by the attribute TTL is enabled on ("TTL ... uses a specific
attribute name", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html): moving
TTL to `purge_at` leaves every item that has only `expires_at` for good.

Here: which tables of a plan rename their TTL, how many of their items carry only the old attribute
(counted by migrate/'s parallel Scan where the table is readable), and `--backfill-ttl`: the new
attribute written from the old one on those items before the rename's first step, in place, resumably
and verified (jobwork_infra/migrate/backfill.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..changes import Plan
from .events import Emit, Note
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


# Above this many items (DescribeTable's ItemCount, refreshed about every 6 h) a plan does not scan the
# table to count: the count would read every item at every dry run. --backfill-ttl counts as it writes.
COUNT_BOUND = 1_000_000


def count_stale(client: Any, rename: TtlRename) -> tuple[int | None, str]:
    """How many items carry the old attribute and lack the new one, with migrate/'s parallel Scan; None and
    the reason where the table cannot be read (or is too large to scan at plan time)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..migrate.backfill import count_lacking

    try:
        approximate = client.describe_table(TableName=rename.physical_name)["Table"].get("ItemCount", 0)
        if approximate > COUNT_BOUND:
            return None, (f"about {approximate:,} items in the table (DynamoDB's ItemCount): too many to scan at "
                          "every plan")
        return count_lacking(client, rename.physical_name, rename.old, rename.new), ""
    except (ClientError, BotoCoreError) as exc:
        return None, f"the table could not be read: {exc}"


def stop_expiring_note(rename: TtlRename, count: int | None, why: str = "", backfill: str | None = None, *,
                       dry_run: bool = False) -> str:
    """What the deploy says before it moves TTL; `backfill`: the command that backfills (None: this deploy
    was given --backfill-ttl)."""
    if count is not None:
        held = f"{count} item{'' if count == 1 else 's'} carr{'ies' if count == 1 else 'y'} only {rename.old}"
    else:
        held = f"the items written before carry only {rename.old} (how many is unknown: {why})"
    then = (f"`{backfill}` writes {rename.new} on them (from {rename.old}) before TTL moves" if backfill
            else f"{'the deploy (not this dry run)' if dry_run else 'this deploy'} writes {rename.new} on them "
                 f"(from {rename.old}) before TTL moves")
    return (f"{rename.physical_name}: TTL moves from {rename.old} to {rename.new}; {held}: they never expire once TTL "
            f"is on {rename.new}, unless {rename.new} is written on them (code generated before the change keeps "
            f"writing {rename.old} only); {then}")


def run_backfill(client: Any, rename: TtlRename, env: str, emit: Emit, root: Path | None = None) -> None:
    """--backfill-ttl, before the rename's first step: every item that carries only the old attribute gets the
    new one (migrate/backfill.py: resumable, concurrent writes win, verified by a count). Refused (R025, exit 3)
    when items still carry only the old one after the passes: TTL is then not moved."""
    from ..migrate.backfill import backfill, path_for
    from .local.engine import project_root  # where .jobwork/ lives, whatever the target (as for migrations)

    checkpoint = path_for(root or project_root(), env, rename.physical_name)
    done = backfill(client, rename.physical_name, rename.old, rename.new, checkpoint)
    concurrent = (f"; {done.concurrent} left as a concurrent write left them" if done.concurrent else "")
    if done.remaining:
        raise Refused(
            "R025",
            f"--backfill-ttl wrote {rename.new} on {done.written} item(s) of {rename.physical_name}{concurrent}, but "
            f"{done.remaining} item(s) still carry only {rename.old} after {done.passes} pass(es) (code that writes "
            f"only {rename.old} keeps adding them): TTL was not moved, so none of them stops expiring",
            f"deploy the data layer generated after the change (it writes {rename.new}), then rerun the same "
            f"command: it resumes from {done.checkpoint}; or deploy without --backfill-ttl")
    emit(Note(f"{rename.physical_name}: wrote {rename.new} from {rename.old} on {done.written} item"
              f"{'' if done.written == 1 else 's'}{concurrent} in {done.seconds:.1f} s; verified: no item carries "
              f"only {rename.old}"))
