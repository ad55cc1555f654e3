"""After applying: the live tables read back equal what was applied, field by field (both targets).

The verify phase of the flow (apply.py): a step that returned without error is not trusted alone,
because CloudFormation reports a stack complete while a new index is still CREATING and an engine
may accept a call it then ignores (plain moto drops `TimeToLiveSpecification` on create). So the
verification is the drift comparison itself (issue 18, item 6): each applied table is read back as
`drift` and `import` read it (dynamodb.read_live_table → shapes.table_from_live, with what DynamoDB
does not store taken from the schema) and diffed with what was applied (diff.diff_schemas): keys,
indexes and their projections, TTL, stream, billing and capacity, table class, encryption,
point-in-time recovery, deletion protection and tags. AWS's transitional states are waited for, not
reported: a TTL `ENABLING`/`DISABLING`, a table or index not yet ACTIVE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..changes import Plan
from ..diff import diff_schemas
from ..model import ResolvedSchema
from .aws import describe_table_or_none
from .dynamodb import live_table
from .shapes import LiveTable, table_from_live

# UpdateTimeToLive: "It can take up to one hour for the change to fully process"
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html); in
# practice seconds. Verification waits this long for ENABLING/DISABLING to end, then reports it.
SETTLE_SECONDS = 300.0
POLL_SECONDS = 1.0
_TRANSITIONAL_TTL = ("ENABLING", "DISABLING")
# Compared per table (the fields of ResolvedTable that a live table can show).
_FIELDS = ("keys", "global indexes", "local indexes", "TTL", "stream", "billing and capacity", "table class",
           "encryption", "point-in-time recovery", "deletion protection", "tags")


def _settled(client: Any, name: str, aws: bool, sleep: Callable[[float], None],
             clock: Callable[[], float]) -> tuple[LiveTable | None, list[str]]:
    """The live table once nothing about it is in transition (or the wait ran out: what still is)."""
    deadline = clock() + SETTLE_SECONDS
    while True:
        description = describe_table_or_none(client, name)
        if description is None:
            return None, []
        live = live_table(client, description, aws=aws)
        moving = []
        if description.get("TableStatus") != "ACTIVE":
            moving.append(f"table {name} is {description.get('TableStatus')}, not ACTIVE")
        for index in description.get("GlobalSecondaryIndexes") or []:
            if index.get("IndexStatus") != "ACTIVE":
                moving.append(f"index {index['IndexName']} of {name} is {index.get('IndexStatus')}, not ACTIVE")
        if live.ttl.get("TimeToLiveStatus") in _TRANSITIONAL_TTL:
            moving.append(f"TTL of {name} is still {live.ttl['TimeToLiveStatus']}")
        if not moving or clock() >= deadline:
            return live, moving
        sleep(POLL_SECONDS)


def verify_applied(client: Any, plan: Plan, applied: ResolvedSchema, *, aws: bool = False, readers: int = 1,
                   sleep: Callable[[float], None] = time.sleep,
                   clock: Callable[[], float] = time.monotonic) -> tuple[int, list[str]]:
    """Check on the live tables that they are what was applied (`applied`, as far as the plan ran).

    Every table of `applied` exists, settled, and read back equals it field by field; a table removed
    under retain still exists with a readable item count. Returns (number of checks, the differences).
    """
    checks, problems = 0, []
    read: dict[str, Any] = {}
    # With `readers` > 1 the tables are read side by side (the local engine: one round trip after the
    # other cost as much as the creates). boto3 clients are thread-safe ("Low-level clients are thread
    # safe", boto3 guide, clients.html#multithreading-or-multiprocessing-with-clients).
    def settle(table: Any) -> tuple[LiveTable | None, list[str]]:
        return _settled(client, table.physical_name, aws, sleep, clock)

    if readers <= 1:
        settled = [settle(t) for t in applied.tables.values()]
    else:
        with ThreadPoolExecutor(max_workers=readers) as pool:
            settled = list(pool.map(settle, applied.tables.values()))
    for (key, table), (live, moving) in zip(applied.tables.items(), settled, strict=True):
        checks += 1
        if live is None:
            problems.append(f"table {table.physical_name} does not exist")
            continue
        problems += moving
        checks += len(_FIELDS)
        read[key] = table_from_live(live, key=key, tenancy_attribute=applied.tenancy_attribute, known=table,
                                    removal_policy=table.removal_policy)
    if read:
        expected = applied.model_copy(update={"tables": {k: t for k, t in applied.tables.items() if k in read}})
        found = applied.model_copy(update={"tables": read})
        for change in diff_schemas(found, expected):
            name = applied.tables[change.table].physical_name if change.table in applied.tables else change.table
            problems.append(f"table {name} read back is not what was applied ({change.code}): the next deploy "
                            f"would find that {change.statement}")
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
