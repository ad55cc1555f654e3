"""Waiting until DynamoDB has settled, and checking afterwards that the plan's promises hold.

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

from ..changes import Plan
from ..errors import JobworkError
from ..model import ResolvedSchema
from .events import Emit, Waiting

# First poll after 1 s, doubling to at most 30 s: a backfill takes minutes to hours on AWS.
FIRST_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 30.0
REPORT_SECONDS = 30.0


class SettleTimeout(JobworkError):
    pass


def unsettled(client: Any, names: Iterable[str]) -> list[str]:
    """What is not ACTIVE yet among the tables `names` and their global indexes (gone tables are settled)."""
    from botocore.exceptions import ClientError

    pending = []
    for name in names:
        try:
            table = client.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise
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
    delay = FIRST_POLL_SECONDS
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
        # Progress when something changed, and at least every REPORT_SECONDS while nothing does.
        if shown is None or shown[0] != tuple(pending) or now - shown[1] >= REPORT_SECONDS:
            emit(Waiting(tuple(pending), now - started))
            shown = (tuple(pending), now)
        sleep(max(0.0, min(delay, deadline - now)))
        delay = min(delay * 2, MAX_POLL_SECONDS)


def touched_tables(before: ResolvedSchema | None, after: ResolvedSchema) -> list[str]:
    """Physical names of the tables a step changes (created, updated or removed)."""
    old = before.tables if before is not None else {}
    names = [t.physical_name for k, t in after.tables.items() if old.get(k) != t]
    names += [t.physical_name for k, t in old.items() if after.tables.get(k) != t]
    return list(dict.fromkeys(names))


def verify(client: Any, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]:
    """Check on the live tables what the plan promised, as far as it was applied (`applied`).

    Every table of `applied` exists and is ACTIVE with exactly its global indexes, each ACTIVE; TTL
    is off where `applied` has none; a table removed under retain still exists with a readable item
    count. Returns (number of checks, the differences found).
    """
    from botocore.exceptions import ClientError

    checks, problems = 0, []

    def describe(name: str) -> dict | None:
        try:
            return client.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    for table in applied.tables.values():
        live = describe(table.physical_name)
        checks += 1
        if live is None:
            problems.append(f"table {table.physical_name} does not exist")
            continue
        if live.get("TableStatus") != "ACTIVE":
            problems.append(f"table {table.physical_name} is {live.get('TableStatus')}, not ACTIVE")
        live_indexes = {i["IndexName"]: i.get("IndexStatus") for i in live.get("GlobalSecondaryIndexes") or []}
        for index in table.global_indexes:
            checks += 1
            status = live_indexes.pop(index.name, None)
            if status != "ACTIVE":
                problems.append(f"index {index.name} of {table.physical_name} is {status or 'missing'}, not ACTIVE")
        for name in sorted(live_indexes):
            problems.append(f"index {name} of {table.physical_name} exists but the plan does not have it")
        if table.ttl is None:
            checks += 1
            ttl = client.describe_time_to_live(TableName=table.physical_name)["TimeToLiveDescription"]
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
                problems.append(f"TTL of {table.physical_name} is still {ttl['TimeToLiveStatus']} "
                                f"on {ttl.get('AttributeName')}, but the plan turned it off")
    kept = [c.table for c in plan.changes if c.kind == "table_removed_retained"]
    for key in kept:
        table = plan.base.tables[key] if plan.base is not None else None
        if table is None:
            continue
        checks += 1
        live = describe(table.physical_name)
        if live is None or "ItemCount" not in live:
            problems.append(f"retained table {table.physical_name} is gone: the plan promised to keep it with its data")
    return checks, problems
