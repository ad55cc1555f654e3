"""Time to diff two schema versions at 2, 100 and 1000 tables.

    .venv/bin/python bench/diff.py

Prints, per size, the median of several runs of: the diff of one resolved environment
(`diff_schemas`, what deploy runs), the diff over every environment (`diff_environments`,
resolution included: what `diff` without --env runs) and the whole `jobwork-infra diff` path without git (load,
model and rules for both files, then the diff). The head differs from the base in every tenth table
(an index added, a description, TTL), so the diff has work to report, as in a real pull request.
"""

from __future__ import annotations

import statistics
import sys
import time
from functools import partial
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobwork_infra.diff import diff_environments, diff_schemas
from jobwork_infra.model import resolve
from jobwork_infra.project import check_project

SIZES = (2, 100, 1000)


def make_schema(n: int) -> dict:
    """A schema of n tables in the shape of the real one (sort key, attributes, a cross-tenant index)."""
    tables = {}
    for i in range(n):
        tables[f"table_{i:04d}"] = {
            "description": f"Table number {i}.",
            "sort_key": "item_id",
            "attributes": {"item_id": "uuid", "email": "string", "name": "string", "status": "string",
                           "created_at": "datetime", "expires_at": "epoch_seconds"},
            "global_indexes": {"by_email": {"partition_key": "email", "projection": "keys_only",
                                            "tenant_scoped": False}},
            "access_patterns": [{"name": "get an item", "key": ["tenant_id", "item_id"]}],
        }
    return {
        "version": 1, "app": "bench",
        "environments": {"dev": {"removal_policy": "destroy"},
                         "prod": {"removal_policy": "retain", "point_in_time_recovery": True}},
        "defaults": {"billing": "on_demand"},
        "tables": tables,
    }


def edit(schema: dict) -> dict:
    for i, table in enumerate(schema["tables"].values()):
        if i % 10 == 0:
            table["description"] += " Edited."
            table["ttl"] = "expires_at"
            table["global_indexes"]["by_status"] = {"partition_key": "status", "tenant_scoped": False}
    return schema


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def whole(base_text: str, head_text: str) -> None:
    base = check_project("base.yaml", text=base_text).require_valid()
    head = check_project("head.yaml", text=head_text).require_valid()
    diff_environments(base.schema, head.schema, None)


def measure(n: int) -> str:
    base_text = yaml.safe_dump(make_schema(n), sort_keys=False)
    head_text = yaml.safe_dump(edit(make_schema(n)), sort_keys=False)
    base = check_project("base.yaml", text=base_text).require_valid().schema
    head = check_project("head.yaml", text=head_text).require_valid().schema
    changes = diff_environments(base, head, None)
    dev_base, dev_head = resolve(base, "dev"), resolve(head, "dev")
    runs = 20 if n < 1000 else 5
    one = median_seconds(partial(diff_schemas, dev_base, dev_head), runs)
    every = median_seconds(partial(diff_environments, base, head, None), runs)
    total = median_seconds(partial(whole, base_text, head_text), max(3, runs // 4))
    return f"{n:>6}  {len(changes):>7}  {one * 1000:>7.1f}ms  {every * 1000:>7.1f}ms  {total * 1000:>13.1f}ms"


def main() -> None:
    print(f"{'tables':>6}  {'changes':>7}  {'one env':>9}  {'all envs':>9}  {'load+check+diff':>15}")
    for n in SIZES:
        print(measure(n))


if __name__ == "__main__":
    main()
