"""Backfill one attribute from another, in place: the TTL rename's way of keeping every item expiring.

When TTL moves from `expires_at` to `purge_at`, the items written before carry only `expires_at` and
never expire once TTL is on `purge_at` (DynamoDB's TTL reads one attribute: "TTL ... uses a specific
attribute name", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html).

The same machinery as the migration's copy (migrate/aws.py: parallel Scan segments, retries with
backoff, a checkpoint per segment per page written with `atomic_write`), with the write done in place:

    UpdateItem  SET #new = #old  IF attribute_exists(#old) AND attribute_not_exists(#new)

- The value is copied by DynamoDB from the item as it is at the write, never from the scanned copy
  ("SET ... path = path": an update expression may set an attribute to another attribute of the
  item, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html#Expressions.UpdateExpressions.SET).
- A concurrent write wins: an item that got `#new` meanwhile fails the condition and is left as its
  writer wrote it; an item deleted meanwhile fails `attribute_exists(#old)` and is not re-created
  (UpdateItem "creates a new item if it does not already exist" — the condition is what prevents it,
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html).
- Resumable: a killed run leaves the last checkpointed page; the same command resumes from it (an
  item written twice is harmless: the second write fails its condition).
- Verified: a COUNT Scan of the items that still carry `#old` without `#new` after the passes; items
  written meanwhile by code that writes only `#old` are found by it, and a bounded number of further
  passes takes them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import JobworkError
from ..fsio import atomic_write
from .aws import call, parallel
from .checkpoint import Segment

FORMAT = 1
SEGMENTS = 4
MAX_PASSES = 3            # a pass, then up to two more for items written meanwhile without the new attribute
def _names(old: str, new: str) -> dict[str, str]:
    return {"#old": old, "#new": new}


_LACKING = "attribute_exists(#old) AND attribute_not_exists(#new)"


def count_lacking(client: Any, table: str, old: str, new: str, *, segments: int = SEGMENTS) -> int:
    """How many items of `table` carry `old` and lack `new` (a parallel Scan, Select=COUNT, filtered).

    Consistent reads: an item written before the count began is seen as written."""

    def work(segment: int) -> int:
        kwargs: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": segments,
                                  "Select": "COUNT", "FilterExpression": _LACKING,
                                  "ExpressionAttributeNames": _names(old, new), "ConsistentRead": True}
        total = 0
        while True:
            page = call(client.scan, **kwargs)
            total += page.get("Count", 0)
            if not page.get("LastEvaluatedKey"):
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return sum(parallel(work, list(range(segments)), segments))


@dataclass
class BackfillState:
    table: str
    old: str
    new: str
    total_segments: int
    segments: list[Segment]
    passes: int = 1           # passes started over the backfill's life (a rerun resumes the last)
    written: int = 0          # items given `new` by this backfill (all passes)
    concurrent: int = 0       # items a concurrent write changed first (left as that write left them)
    format: int = FORMAT

    @property
    def same(self) -> tuple[str, str, str]:
        return self.table, self.old, self.new


def path_for(root: Path, env: str, table: str) -> Path:
    return root / ".jobwork" / "backfills" / env / f"{table}.json"


def _fresh(table: str, old: str, new: str, segments: int, passes: int = 1, written: int = 0,
           concurrent: int = 0) -> BackfillState:
    return BackfillState(table, old, new, segments, [Segment() for _ in range(segments)], passes, written, concurrent)


def _load(path: Path, fresh: BackfillState) -> BackfillState:
    if not path.exists():
        return fresh
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        data["segments"] = [Segment(**s) for s in data["segments"]]
        state = BackfillState(**data)
        if len(state.segments) != state.total_segments:
            raise ValueError(f"{len(state.segments)} segments recorded for {state.total_segments}")
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise JobworkError(f"the backfill checkpoint {path} cannot be read ({exc})",
                           "move it aside and rerun: the backfill starts over, and an item it already wrote is "
                           "left as it is (its write is conditional)") from exc
    if state.same != fresh.same:
        raise JobworkError(f"{path} holds a backfill of {state.table} from {state.old} into {state.new}, not from "
                           f"{fresh.old} into {fresh.new}",
                           "finish that rename first, or move the file aside once it is not needed, then rerun")
    return state


@dataclass
class BackfillResult:
    table: str
    old: str
    new: str
    written: int
    concurrent: int
    remaining: int            # items still carrying only `old` after the last pass (the verification)
    passes: int
    seconds: float
    checkpoint: Path


def backfill(client: Any, table: str, old: str, new: str, checkpoint: Path, *, segments: int | None = None,
             max_passes: int = MAX_PASSES, progress: Callable[[int], None] | None = None) -> BackfillResult:
    """Write `new` = `old` on every item of `table` that has `old` and lacks `new`; resumes from `checkpoint`.

    The checkpoint is removed once the count after a pass finds no item left; otherwise it stays (with
    its passes used) and the result says how many remain."""
    started = time.monotonic()
    state = _load(checkpoint, _fresh(table, old, new, segments or SEGMENTS))
    lock = threading.Lock()
    key_names = [k["AttributeName"] for k in
                 call(client.describe_table, TableName=table)["Table"]["KeySchema"]]

    def save() -> None:
        with lock:
            text = json.dumps(asdict(state), indent=1, sort_keys=True) + "\n"
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(checkpoint, text)

    def work(number: int) -> None:
        segment = state.segments[number]
        if segment.done:
            return
        names = {**_names(old, new), **{f"#k{n}": k for n, k in enumerate(key_names)}}
        kwargs: dict[str, Any] = {"TableName": table, "Segment": number, "TotalSegments": state.total_segments,
                                  "FilterExpression": _LACKING, "ExpressionAttributeNames": names,
                                  "ProjectionExpression": ", ".join(f"#k{n}" for n in range(len(key_names))),
                                  "ConsistentRead": True}
        if segment.last_key:
            kwargs["ExclusiveStartKey"] = segment.last_key
        while True:
            page = call(client.scan, **kwargs)
            written = concurrent = 0
            for item in page.get("Items", []):
                if _copy(client, table, {k: item[k] for k in key_names}, old, new):
                    written += 1
                else:
                    concurrent += 1
            last = page.get("LastEvaluatedKey")
            with lock:
                segment.items += written
                segment.last_key = last
                segment.done = last is None
                state.written += written
                state.concurrent += concurrent
            save()
            if progress is not None:
                progress(written)
            if last is None:
                return
            kwargs["ExclusiveStartKey"] = last

    if all(s.done for s in state.segments):  # a finished pass left items behind: this run starts a new one
        state = _fresh(table, old, new, state.total_segments, state.passes + 1, state.written, state.concurrent)
    run_passes = 0
    while True:
        save()
        parallel(work, list(range(state.total_segments)), state.total_segments)
        run_passes += 1
        remaining = count_lacking(client, table, old, new, segments=state.total_segments)
        if remaining == 0 or run_passes >= max_passes:
            break
        # Items written meanwhile by code that writes only `old`: another pass takes them.
        state = _fresh(table, old, new, state.total_segments, state.passes + 1, state.written, state.concurrent)
    if remaining == 0:
        checkpoint.unlink(missing_ok=True)
    else:
        save()
    return BackfillResult(table, old, new, state.written, state.concurrent, remaining, state.passes,
                          time.monotonic() - started, checkpoint)


def _copy(client: Any, table: str, key: dict, old: str, new: str) -> bool:
    """One conditional UpdateItem; False when the condition failed (a concurrent write came first)."""
    from botocore.exceptions import ClientError

    try:
        call(client.update_item, TableName=table, Key=key, UpdateExpression="SET #new = #old",
             ConditionExpression=_LACKING, ExpressionAttributeNames=_names(old, new))
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
