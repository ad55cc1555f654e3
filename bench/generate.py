"""A tables.yaml of any size, for benchmarks and tests: `make_schema(1000, tables_per_stack=250)`.

Past about 480 tables a schema needs several stacks to stay within CloudFormation's limits
(validate's budget rules); `tables_per_stack` gives them.

`make_edited_schema(n)` is the same schema after a typical pull request, so a diff between the two
has real work of every kind to report (see its docstring).
"""

from __future__ import annotations

import statistics
import sys
import time

HEADER = """\
version: 1
app: bench
tenancy:
  attribute: tenant_id
environments:
  dev:
    removal_policy: destroy
  prod:
    account: "123456789012"
    removal_policy: retain
    point_in_time_recovery: true
    deletion_protection: true
defaults:
  billing: on_demand
tables:
"""


def _table(i: int, edited: bool = False, stack: str | None = None) -> str:
    """Table i; every third has a GSI, every fifth an LSI, every seventh a TTL, every eleventh is global."""
    gains_index = edited and i % 10 == 0
    retyped = edited and i % 10 == 1
    gains_ttl = edited and i % 10 == 2 and i % 7 != 0
    description = f"generated table {i}" + (" (edited)" if retyped else "")
    lines = [f"  table_{i:05d}:", f"    description: {description}", "    sort_key: item_id",
             "    attributes:", "      item_id: uuid", "      status: string", "      created_at: datetime",
             "      owner_sub: string", "      expires_at: epoch_seconds",
             f"      total: {'string' if retyped else 'number'}"]
    patterns = ["      - {name: items of a tenant, key: [tenant_id]}",
                "      - {name: one item, key: [tenant_id, item_id]}"]
    indexes = []
    if i % 3 == 0:
        indexes += ["      by_status: {partition_key: tenant_id, sort_key: status, projection: [total]}",
                    "      by_owner: {partition_key: owner_sub, projection: keys_only, tenant_scoped: false}"]
        patterns.append("      - {name: items by status, index: by_status, key: [tenant_id, status]}")
    if gains_index:
        indexes.append("      by_expiry: {partition_key: tenant_id, sort_key: expires_at, projection: keys_only}")
        patterns.append("      - {name: items by expiry, index: by_expiry, key: [tenant_id, expires_at]}")
    if indexes:
        lines += ["    global_indexes:", *indexes]
    if i % 5 == 0:
        lines += ["    local_indexes:", "      by_created: {sort_key: created_at}"]
        patterns.append("      - {name: newest items, index: by_created, key: [tenant_id, created_at]}")
    if i % 7 == 0 or gains_ttl:
        lines.append("    ttl: expires_at")
    if i % 11 == 0:
        lines.append("    stream: new_and_old_images")
    if stack:
        lines.append(f"    stack: {stack}")
    return "\n".join(lines + ["    access_patterns:"] + patterns)


def _stack_of(tables_per_stack: int | None):
    def stack(i: int) -> str | None:
        group = i // tables_per_stack if tables_per_stack else 0
        return f"part{group + 1}" if group else None

    return stack


def make_schema(n_tables: int, tables_per_stack: int | None = None) -> str:
    """tables.yaml text with `n_tables` tables (table_00000 …) that validates without errors.

    With `tables_per_stack`, the first that many stay in the main stack and each next group says
    `stack: partN` (N = 2, 3, …); without it, past about 480 tables the schema is over the budgets.
    """
    stack = _stack_of(tables_per_stack)
    return HEADER + "\n".join(_table(i, stack=stack(i)) for i in range(n_tables)) + "\n"


def make_edited_schema(n_tables: int, tables_per_stack: int | None = None) -> str:
    """`make_schema(n_tables)` after an edit touching about a third of it; valid too.

    Tables 0, 10, 20 … gain a GSI (online); 1, 11, 21 … retype a non-key attribute and reword their
    description (safe); 2, 12, 22 … gain a TTL (online); 24, 49, 74 … are removed (destructive in
    dev); n/50 new tables, at least one, are added (safe, or a rename where one matches a removed
    table's shape). Even at 2 tables there are changes, so the small figure is not a no-op diff.
    """
    stack = _stack_of(tables_per_stack)
    kept = [_table(i, edited=True, stack=stack(i)) for i in range(n_tables) if i % 25 != 24]
    added = [_table(i, stack=stack(i)) for i in range(n_tables, n_tables + max(1, n_tables // 50))]
    return HEADER + "\n".join(kept + added) + "\n"


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    maker = make_edited_schema if "--edited" in sys.argv[1:] else make_schema
    sizes = [a for a in sys.argv[1:] if a != "--edited"]
    sys.stdout.write(maker(int(sizes[0]) if sizes else 100))
