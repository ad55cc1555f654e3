"""After applying: check on the live tables that what the plan promised holds (both targets).

The verify phase of the flow (apply.py): a step that returned without error is not trusted alone,
because CloudFormation reports a stack complete while a new index is still CREATING and an engine
may accept a call it then ignores.
"""

from __future__ import annotations

from typing import Any

from ..changes import Plan
from ..model import ResolvedSchema
from .aws import describe_table_or_none


def verify_applied(client: Any, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]:
    """Check on the live tables what the plan promised, as far as it was applied (`applied`).

    Every table of `applied` exists and is ACTIVE with exactly its global indexes, each ACTIVE; TTL
    is off where `applied` has none; a table removed under retain still exists with a readable item
    count. Returns (number of checks, the differences found).
    """
    checks, problems = 0, []

    for table in applied.tables.values():
        live = describe_table_or_none(client, table.physical_name)
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
        live = describe_table_or_none(client, table.physical_name)
        if live is None or "ItemCount" not in live:
            problems.append(f"retained table {table.physical_name} is gone: the plan promised to keep it with its data")
    return checks, problems
