"""A valid tables.yaml of any size, for benchmarks and tests: `make_schema(1000)`."""

from __future__ import annotations

import sys

HEADER = """\
version: 1
app: bench
tenancy:
  attribute: tenant_id
environments:
  dev:
    removal_policy: destroy
  prod:
    removal_policy: retain
    point_in_time_recovery: true
    deletion_protection: true
defaults:
  billing: on_demand
tables:
"""


def _table(i: int) -> str:
    """Table i; every third has a GSI, every fifth an LSI, every seventh a TTL, every eleventh is global."""
    lines = [f"  table_{i:05d}:", f"    description: generated table {i}", "    sort_key: item_id",
             "    attributes:", "      item_id: uuid", "      status: string", "      created_at: datetime",
             "      owner_sub: string", "      expires_at: epoch_seconds", "      total: number"]
    patterns = ["      - {name: items of a tenant, key: [tenant_id]}",
                "      - {name: one item, key: [tenant_id, item_id]}"]
    if i % 3 == 0:
        lines += ["    global_indexes:",
                  "      by_status: {partition_key: tenant_id, sort_key: status, projection: [total]}",
                  "      by_owner: {partition_key: owner_sub, projection: keys_only, tenant_scoped: false}"]
        patterns.append("      - {name: items by status, index: by_status, key: [tenant_id, status]}")
    if i % 5 == 0:
        lines += ["    local_indexes:", "      by_created: {sort_key: created_at}"]
        patterns.append("      - {name: newest items, index: by_created, key: [tenant_id, created_at]}")
    if i % 7 == 0:
        lines.append("    ttl: expires_at")
    if i % 11 == 0:
        lines.append("    stream: new_and_old_images")
    return "\n".join(lines + ["    access_patterns:"] + patterns)


def make_schema(n_tables: int) -> str:
    """tables.yaml text with `n_tables` tables (table_00000 …) that validates without errors."""
    return HEADER + "\n".join(_table(i) for i in range(n_tables)) + "\n"


if __name__ == "__main__":
    sys.stdout.write(make_schema(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
