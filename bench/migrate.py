"""The migration copy against a plain boto3 copy, and the catch-up lag after a burst of writes.

- copy: the engine's copy stage (jobwork_infra/migrate/copy.py: parallel Scan, BatchWriteItem with
  UnprocessedItems retried, a checkpoint per page) of N items into generation 2, against a plain
  boto3 parallel Scan + BatchWriteItem of the same items into another table with the same segments
  and threads (goal: copy / plain <= 1.3x);
- lag: after the copy, a burst of M writes (puts and updates) to generation 1, then the catch-up
  (stream replay) timed from the end of the burst until every record is applied.

DynamoDB Local runs in a temporary root and is stopped at the end.

    .venv/bin/python bench/migrate.py [--items 100000] [--burst 10000] [--segments 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_COPY = 1.3


def _write_all(client, table: str, items: list[dict], threads: int) -> None:
    chunks = [items[i:i + 25] for i in range(0, len(items), 25)]

    def send(chunk: list[dict]) -> None:
        pending = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))


def plain_copy(client, source: str, target: str, segments: int) -> int:
    """What a team writes by hand: a parallel Scan, each page sent with BatchWriteItem."""
    copied = [0]
    lock = threading.Lock()

    def segment(number: int) -> None:
        start = None
        while True:
            page = client.scan(TableName=source, Segment=number, TotalSegments=segments,
                               **({"ExclusiveStartKey": start} if start else {}))
            items = page["Items"]
            for i in range(0, len(items), 25):
                pending = {target: [{"PutRequest": {"Item": item}} for item in items[i:i + 25]]}
                while pending:
                    pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            with lock:
                copied[0] += len(items)
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    with ThreadPoolExecutor(segments) as pool:
        list(pool.map(segment, range(segments)))
    return copied[0]


def measure(items: int = 100_000, burst: int = 10_000, segments: int = 8) -> dict[str, float]:
    from jobwork_infra.deploy.local import engine as engines
    from jobwork_infra.migrate.aws import local_clients
    from jobwork_infra.migrate.catchup import catch_up
    from jobwork_infra.migrate.checkpoint import Checkpoint, MigrationState, Segment
    from jobwork_infra.migrate.copy import LeftBehindFile, copy
    from jobwork_infra.migrate.keys import KeySchema
    from jobwork_infra.migrate.run import ensure_stream
    from tests.migrate_support import NEW_KEY, create_table, user

    with tempfile.TemporaryDirectory(prefix="jobwork-bench-") as root:
        state = engines.start("dynamodb-local", None, root)
        try:
            client, streams = local_clients(state.endpoint)
            for name, sort in (("bench-g1", "user_id"), ("bench-g2", "email"), ("bench-plain", "email")):
                create_table(client, name, sort)
            _write_all(client, "bench-g1", [user(n) for n in range(items)], segments)
            arn = ensure_stream(client, streams, "bench-g1")

            started = time.perf_counter()
            assert plain_copy(client, "bench-g1", "bench-plain", segments) == items
            plain = time.perf_counter() - started

            old_key = KeySchema.from_description(client.describe_table(TableName="bench-g1")["Table"])
            fresh = MigrationState("users", "bench", "bench-g1", "bench-g2", 1, 2, NEW_KEY.to_json(), stream_arn=arn,
                                   phase="copying", total_segments=segments, started=time.time(),
                                   segments=[Segment() for _ in range(segments)])
            checkpoint = Checkpoint.open(Path(root) / "users-g2.json", fresh)
            left = LeftBehindFile(Path(root) / "users-g2.unkeyed.jsonl", old_key)
            started = time.perf_counter()
            result = copy(client, checkpoint, left, concurrency=segments)
            tool = time.perf_counter() - started
            assert result.items == items, result.items

            catch_up(client, streams, checkpoint, left)  # the copy's own period: nothing written
            changed = [user(n, name={"S": f"burst {n}"}) for n in range(burst // 2)]
            added = [user(items + n) for n in range(burst - len(changed))]
            started = time.perf_counter()
            _write_all(client, "bench-g1", changed + added, segments)
            burst_seconds = time.perf_counter() - started
            started = time.perf_counter()
            caught = catch_up(client, streams, checkpoint, left)
            lag = time.perf_counter() - started
            assert caught.records == burst, caught.records
            return {"plain": plain, "copy": tool, "items": items, "burst": burst, "burst_seconds": burst_seconds,
                    "lag": lag, "records": caught.records}
        finally:
            engines.stop(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=8)
    args = parser.parse_args()
    r = measure(args.items, args.burst, args.segments)
    ratio = r["copy"] / r["plain"]
    print(f"copy of {r['items']:,} items: {r['copy']:.1f} s ({r['items'] / r['copy']:,.0f} items/s) vs plain boto3 "
          f"{r['plain']:.1f} s ({r['items'] / r['plain']:,.0f} items/s): {ratio:.2f}x "
          f"(goal <= {GOAL_COPY}x: {'ok' if ratio <= GOAL_COPY else 'OVER'})")
    print(f"catch-up after a burst of {r['burst']:,} writes (written in {r['burst_seconds']:.1f} s): "
          f"{r['lag']:.1f} s to apply {r['records']:,} records ({r['records'] / r['lag']:,.0f} records/s)")


if __name__ == "__main__":
    main()
