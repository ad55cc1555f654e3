"""Catch-up: generation N-1's stream replayed into generation N, after the copy, in stream order.

Why this converges exactly (the full argument is in docs/migrate.md): the stream was ENABLED, with
NEW_AND_OLD_IMAGES, before the copy's first (consistent) read, so every write the copy may have
missed — and every write after the copy read an item — has a record. Records of one item are in
order within a shard, and a shard's parent is read to its end before the shard. Replaying them all
after the copy finished leaves each item as its last record says: written, moved (the new-key
attribute changed: the item under the key computed from the OLD image is deleted) or deleted. A
record never competes with a copy write, because no copy write happens after the replay starts —
`catch_up` refuses to run before the copy is done. Re-applying records (a crash before the
checkpoint) applies the same suffix in the same order again: the end state is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from . import events as ev
from .aws import BATCH, MigrationError, call, parallel, write_items
from .checkpoint import Checkpoint, Shard
from .copy import LeftBehindFile
from .keys import Item, Key, KeySchema

RECORDS_PER_CALL = 1000     # GetRecords' maximum
WRITERS = 4                 # threads applying one batch's writes (distinct keys: order-free)
# Stream records are kept 24 hours ("DynamoDB Streams ... stores this information in a log for up
# to 24 hours", DynamoDB Developer Guide, Streams.html). A catch-up that starts later than this
# after the copy began could miss records: refused, with a margin for clock and copy time.
RETENTION_SECONDS = 23 * 3600
# A pass replays up to the moment it began, not to a tip that a busy writer keeps moving: a writer
# faster than the replay would otherwise keep one pass running forever. Records are stamped "rounded
# down to the closest second" (DynamoDB Streams API reference, StreamRecord.ApproximateCreationDateTime),
# hence the second of slack. What a pass leaves is the next pass's work (`migrate sync`, `finish`).
HORIZON_SLACK_SECONDS = 1.0


@dataclass
class CatchUpResult:
    records: int
    writes: int
    seconds: float
    lag_seconds: float | None


def list_shards(streams: Any, arn: str) -> list[dict]:
    shards: list[dict] = []
    start: str | None = None
    while True:
        kwargs = {"StreamArn": arn, **({"ExclusiveStartShardId": start} if start else {})}
        description = call(streams.describe_stream, **kwargs)["StreamDescription"]
        shards += description.get("Shards", [])
        start = description.get("LastEvaluatedShardId")
        if not start:
            return shards


def plan_writes(records: list[dict], key: KeySchema, left_behind: LeftBehindFile) -> dict[Key, dict]:
    """The last write per new key that `records` (in stream order) leave: put the new image, or delete."""
    ops: dict[Key, dict] = {}
    for record in records:
        data = record["dynamodb"]
        new: Item | None = data.get("NewImage")
        old: Item | None = data.get("OldImage")
        if record["eventName"] != "INSERT" and old is None:
            raise MigrationError("a stream record has no old image: the stream's view type is not "
                                 "NEW_AND_OLD_IMAGES", "the migration needs NEW_AND_OLD_IMAGES (docs/migrate.md)")
        old_key = key.of(old) if old is not None else None
        new_key = key.of(new) if new is not None and record["eventName"] != "REMOVE" else None
        if old_key is not None and old_key != new_key:
            # Deleted, or its new-key attribute changed: the copy under the OLD value must go.
            ops.pop(old_key, None)
            ops[old_key] = {"DeleteRequest": {"Key": key.key_item(old)}}
        if record["eventName"] == "REMOVE":
            if old is not None:
                left_behind.discard(old)
            continue
        assert new is not None
        if new_key is None:
            left_behind.add(new, key.problem(new) or "no key")
        else:
            left_behind.discard(new)
            ops.pop(new_key, None)
            ops[new_key] = {"PutRequest": {"Item": new}}
    return ops


def catch_up(client: Any, streams: Any, checkpoint: Checkpoint, left_behind: LeftBehindFile, *,
             emit: ev.Emit = ev.ignore, now: Callable[[], float] = time.time) -> CatchUpResult:
    """Replay every record not yet applied, shard by shard (parents first), until each open shard is
    read to its tip or past the moment this pass began; returns what was applied. Safe to call again
    and again (`migrate sync`)."""
    state = checkpoint.state
    if not state.at_least("copied"):
        raise MigrationError(f"the copy of {state.source} is not finished; the stream is replayed only after it",
                             "rerun the migration: it resumes the copy first")
    if state.started is not None and now() - state.started > RETENTION_SECONDS and not state.at_least("caught_up"):
        raise MigrationError(
            f"the copy of {state.source} began more than 23 h ago: stream records from before it may have "
            "expired (24 h retention), so writes made meanwhile could be missed",
            f"start the migration over: delete {checkpoint.path} and the table {state.target}, then rerun; for a "
            "table this large, see docs/migrate.md (Export to S3 + ImportTable)")
    assert state.stream_arn is not None
    key = state.key_schema
    horizon = now() + HORIZON_SLACK_SECONDS
    started = time.monotonic()
    records_read = writes = 0
    newest: datetime | None = None

    listed = list_shards(streams, state.stream_arn)
    with checkpoint.lock:
        for shard in listed:
            state.shards.setdefault(shard["ShardId"], Shard(parent=shard.get("ParentShardId")))
    known = {s["ShardId"] for s in listed}
    pending = [s["ShardId"] for s in listed if not state.shards[s["ShardId"]].done]
    while pending:
        # A shard waits for its parent (a key's records move from parent to child when a shard splits);
        # a parent no longer listed was trimmed, and its records were older than the copy's start.
        ready = [s for s in pending if not (state.shards[s].parent in known
                                            and not state.shards[state.shards[s].parent].done)]
        if not ready:
            break  # only children of open parents: they start once the parent closes (next pass)
        for shard_id in ready:
            read, applied, last = _replay_shard(client, streams, checkpoint, shard_id, key, left_behind,
                                                horizon)
            records_read += read
            writes += applied
            newest = last or newest
            pending.remove(shard_id)
            if not state.shards[shard_id].done:
                # An open shard read to its tip: its children (none yet) cannot be ready either.
                pending = [s for s in pending if state.shards[s].parent != shard_id]
    left_behind.flush()
    lag = (now() - newest.timestamp()) if newest is not None else None
    checkpoint.update(phase=state.phase if state.at_least("caught_up") else "caught_up", unkeyed=len(left_behind),
                      caught_up_at=now(), lag_seconds=lag)
    result = CatchUpResult(records_read, writes, time.monotonic() - started, lag)
    emit(ev.CaughtUp(state.source, records_read, writes, result.seconds, lag))
    return result


def _write_chunks(client: Any, table: str, ops: list[dict]) -> None:
    chunks = [ops[i:i + BATCH] for i in range(0, len(ops), BATCH)]
    parallel(lambda n: write_items(client, table, chunks[n]), list(range(len(chunks))), WRITERS)


def _iterator(streams: Any, arn: str, shard_id: str, shard: Shard) -> str | None:
    kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard_id}
    if shard.after:
        kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.after)
    else:
        kwargs.update(ShardIteratorType="TRIM_HORIZON")
    try:
        return call(streams.get_shard_iterator, **kwargs).get("ShardIterator")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "TrimmedDataAccessException":
            raise MigrationError(f"stream records of {arn} after sequence number {shard.after} have expired "
                                 "(24 h retention): writes made since could be missed",
                                 "start the migration over (delete its checkpoint and the new table)") from error
        raise


def _replay_shard(client: Any, streams: Any, checkpoint: Checkpoint, shard_id: str, key: KeySchema,
                  left_behind: LeftBehindFile, horizon: float) -> tuple[int, int, datetime | None]:
    state = checkpoint.state
    shard = state.shards[shard_id]
    iterator = _iterator(streams, state.stream_arn, shard_id, shard)
    read = applied = 0
    newest: datetime | None = None
    empty = 0
    while iterator:
        try:
            response = call(streams.get_records, ShardIterator=iterator, Limit=RECORDS_PER_CALL)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            iterator = _iterator(streams, state.stream_arn, shard_id, shard)  # 15 min limit; resume
            continue
        records = response.get("Records", [])
        iterator = response.get("NextShardIterator")
        if records:
            empty = 0
            ops = list(plan_writes(records, key, left_behind).values())
            _write_chunks(client, state.target, ops)
            read += len(records)
            applied += len(ops)
            created = records[-1]["dynamodb"].get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                newest = created if created.tzinfo else created.replace(tzinfo=UTC)
            with checkpoint.lock:
                shard.after = records[-1]["dynamodb"]["SequenceNumber"]
                state.records_applied += len(records)
            checkpoint.save()
            if newest is not None and newest.timestamp() > horizon:
                break  # written after this pass began: the next pass's work
        else:
            empty += 1
            if empty >= 2:
                break  # an open shard at its tip (a closed one ends with no NextShardIterator)
    if iterator is None:
        with checkpoint.lock:
            shard.done = True
        checkpoint.save()
    return read, applied, newest
