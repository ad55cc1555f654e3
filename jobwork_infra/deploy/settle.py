"""Waiting until DynamoDB has settled (verify.py checks afterwards that the plan's promises hold).

Shared by both targets through a DynamoDB client: CloudFormation reports UPDATE_COMPLETE while a
new global index is still CREATING (backfilling) — "CloudFormation doesn't wait for the index to
complete creation" (AWS::DynamoDB::Table reference, GlobalSecondaryIndexes;
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1075) — and DynamoDB
refuses another index operation on the table until it is ACTIVE ("Only 1 online index can be
created or deleted simultaneously per table", UpdateTable API, LimitExceededException). So every
step starts and the deploy ends only once every table it touches and each of their indexes is ACTIVE,
and deleted ones are gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import JobworkError
from ..model import ResolvedSchema
from .aws import describe_table_or_none
from .events import Emit, Waiting
from .timing import TIMING


class SettleTimeout(JobworkError):
    pass


def unsettled(client: Any, names: Iterable[str]) -> list[str]:
    """What is not ACTIVE yet among the tables `names` and their global indexes (gone tables are settled)."""
    pending = []
    for name in names:
        table = describe_table_or_none(client, name)
        if table is None:
            continue
        if table.get("TableStatus") != "ACTIVE":
            pending.append(f"table {name} {table.get('TableStatus')}")
        for index in table.get("GlobalSecondaryIndexes") or []:
            if index.get("IndexStatus") != "ACTIVE":
                backfill = " (backfilling)" if index.get("Backfilling") else ""
                pending.append(f"index {index['IndexName']} of {name} {index.get('IndexStatus')}{backfill}")
    return pending


def wait_settled(client: Any, names: Iterable[str], *, deadline: float, emit: Emit,
                 sleep: Callable[[float], None] = time.sleep, resume_hint: str) -> None:
    """Poll with backoff until `unsettled` is empty; past `deadline` (time.monotonic) raise SettleTimeout."""
    names = list(dict.fromkeys(names))
    started = time.monotonic()
    delay = TIMING.first_poll
    shown: tuple[tuple[str, ...], float] | None = None  # what was last reported, and when
    while True:
        pending = unsettled(client, names)
        if not pending:
            return
        now = time.monotonic()
        if now >= deadline:
            raise SettleTimeout(
                f"gave up waiting after {now - started:.0f} s (--timeout): {', '.join(pending)}",
                resume_hint)
        # Progress when something changed, and at least every TIMING.report_every while nothing does.
        if shown is None or shown[0] != tuple(pending) or now - shown[1] >= TIMING.report_every:
            emit(Waiting(tuple(pending), now - started))
            shown = (tuple(pending), now)
        sleep(max(0.0, min(delay, deadline - now)))
        delay = min(delay * 2, TIMING.max_poll)


def touched_tables(before: ResolvedSchema | None, after: ResolvedSchema) -> list[str]:
    """Physical names of the tables a step changes (created, updated or removed)."""
    old = before.tables if before is not None else {}
    names = [t.physical_name for k, t in after.tables.items() if old.get(k) != t]
    names += [t.physical_name for k, t in old.items() if after.tables.get(k) != t]
    return list(dict.fromkeys(names))
