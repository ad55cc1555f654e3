"""After applying: check on the live tables that what the plan promised holds (both targets).

The verify phase of the flow (apply.py): a step that returned without error is not trusted alone,
because CloudFormation reports a stack complete while a new index is still CREATING and an engine
may accept a call it then ignores.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..changes import Plan
from ..model import ResolvedSchema
from .aws import describe_table_or_none


def _read_live(client: Any, applied: ResolvedSchema, readers: int) -> list[tuple[dict | None, dict | None]]:
    """For each table of `applied`, in order: its description (None: gone) and, where the plan has no
    TTL and the table exists, its TimeToLiveDescription; on `readers` threads side by side.

    boto3 clients are thread-safe ("Low-level clients are thread safe",
    https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients).
    """
    def read(table) -> tuple[dict | None, dict | None]:
        live = describe_table_or_none(client, table.physical_name)
        if live is None or table.ttl is not None:
            return live, None
        return live, client.describe_time_to_live(TableName=table.physical_name)["TimeToLiveDescription"]

    if readers <= 1:
        return [read(t) for t in applied.tables.values()]
    with ThreadPoolExecutor(max_workers=readers) as pool:
        return list(pool.map(read, applied.tables.values()))


def verify_applied(client: Any, plan: Plan, applied: ResolvedSchema, *, readers: int = 1) -> tuple[int, list[str]]:
    """Check on the live tables what the plan promised, as far as it was applied (`applied`).

    Every table of `applied` exists and is ACTIVE with exactly its global indexes, each ACTIVE; TTL
    is off where `applied` has none; a table removed under retain still exists with a readable item
    count. Returns (number of checks, the differences found). With `readers` > 1 the tables are read
    side by side (the local engine: one round trip after the other cost as much as the creates).
    """
    checks, problems = 0, []

    for table, (live, ttl) in zip(applied.tables.values(), _read_live(client, applied, readers), strict=True):
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
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
                problems.append(f"TTL of {table.physical_name} is still {ttl['TimeToLiveStatus']} "
                                f"on {ttl.get('AttributeName')}, but the plan turned it off")
    kept = [c.table for c in plan.changes if c.kind == "table_removed_retained"]
    for key in kept:
        table = plan.base.tables[key] if plan.base is not None else None
        if table is None:
            continue
        checks += 1
        live = describe_table_or_none(client, table.physical_name)
        if live is None or "ItemCount" not in live:
            problems.append(f"retained table {table.physical_name} is gone: the plan promised to keep it with its data")
    return checks, problems
