"""Time to diff two schema versions at 2, 100 and 1000 tables.

    .venv/bin/python bench/diff.py [--quick]

Prints, per size, the median of several runs of: the diff of one resolved environment
(`diff_schemas`, what deploy runs), the diff over every environment (`diff_environments`,
resolution included: what `diff` without --env runs) and the whole `jobwork-infra diff` path without
git (load, model and rules for both files, then the diff). Base and head come from bench/generate.py:
the head is `make_edited_schema`, so the diff finds added indexes, TTLs, retyped attributes, removed,
added and renamed tables, as in a real pull request.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import make_edited_schema, make_schema, median_seconds
from jobwork_infra.diff import diff_environments, diff_schemas
from jobwork_infra.model import resolve
from jobwork_infra.project import check_project

SIZES = (2, 100, 1000)


def whole(base_text: str, head_text: str) -> None:
    base = check_project("base.yaml", text=base_text).require_valid()
    head = check_project("head.yaml", text=head_text).require_valid()
    diff_environments(base.schema, head.schema, None)


def measure(n: int, quick: bool = False) -> dict[str, float]:
    """Median seconds of the three diff paths at n tables, and the number of changes found."""
    base_text, head_text = make_schema(n, tables_per_stack=250), make_edited_schema(n, tables_per_stack=250)
    base = check_project("base.yaml", text=base_text).require_valid().schema
    head = check_project("head.yaml", text=head_text).require_valid().schema
    changes = diff_environments(base, head, None)
    dev_base, dev_head = resolve(base, "dev"), resolve(head, "dev")
    runs = 20 if n < 1000 else 5
    if quick:
        runs = max(3, runs // 4)
    return {
        "changes": len(changes),
        "one_env": median_seconds(partial(diff_schemas, dev_base, dev_head), runs),
        "all_envs": median_seconds(partial(diff_environments, base, head, None), runs),
        "whole": median_seconds(partial(whole, base_text, head_text), max(3, runs // 4)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    print(f"{'tables':>6}  {'changes':>7}  {'one env':>9}  {'all envs':>9}  {'load+check+diff':>15}")
    for n in SIZES:
        r = measure(n, args.quick)
        print(f"{n:>6}  {r['changes']:>7}  {r['one_env'] * 1000:>7.1f}ms  {r['all_envs'] * 1000:>7.1f}ms  "
              f"{r['whole'] * 1000:>13.1f}ms")


if __name__ == "__main__":
    main()
