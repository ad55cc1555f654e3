"""One migration from start to end, resumable at every stage: stream → prescan → copy → catch-up → verify.

`migrate_table` is what deploy (and the tests) call with a table of generation N already created;
each stage records its end in the checkpoint, so calling it again after a kill continues where the
last complete checkpoint stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Blocked
from . import events as ev
from .aws import MigrationError, call
from .catchup import CatchUpResult, catch_up
from .checkpoint import Checkpoint, MigrationState, Segment, path_for
from .copy import LeftBehindFile, copy, prescan, refuse
from .keys import KeySchema
from .verify import VerifyResult, recheck, verify

VIEW = "NEW_AND_OLD_IMAGES"
SEGMENTS = 8
CONCURRENCY = 8
RECHECK_ROUNDS = 5
STREAM_WAIT = 0.2
STREAM_ATTEMPTS = 300


@dataclass(frozen=True)
class Job:
    """What to migrate, and how."""

    table: str                      # the YAML key
    env: str
    source: str                     # generation N-1's physical name
    target: str                     # generation N's physical name (created already)
    from_generation: int
    to_generation: int
    key: KeySchema                  # generation N's key
    skip_unkeyed: bool = False
    segments: int = SEGMENTS
    concurrency: int = CONCURRENCY
    page_size: int | None = None    # Scan Limit (None: DynamoDB's 1 MB pages)
    retry: str = "jobwork-infra deploy"   # the command that runs it again (refusals print it with a flag)


@dataclass
class Outcome:
    state: MigrationState
    verify: VerifyResult
    catch_up: CatchUpResult
    left_behind: Path | None


def ensure_stream(client: Any, streams: Any, table: str, emit: ev.Emit = ev.ignore) -> str:
    """The ARN of `table`'s stream with NEW_AND_OLD_IMAGES, enabled now if it was off; ENABLED on return.

    Another view type is refused: changing it replaces the stream (a new ARN), cutting off the
    consumers that read the old one (UpdateTable API reference, StreamSpecification).
    """
    description = call(client.describe_table, TableName=table)["Table"]
    spec = description.get("StreamSpecification") or {}
    enabled_now = False
    if spec.get("StreamEnabled"):
        if spec.get("StreamViewType") != VIEW:
            raise Blocked(f"table {table} has a stream with view type {spec.get('StreamViewType')}; the migration "
                          f"needs {VIEW} (a deleted item's new-key value is only in its old image)",
                          "set stream: new_and_old_images on the table and deploy that first (it replaces the "
                          "stream: point its consumers at the new stream ARN)")
    else:
        call(client.update_table, TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": VIEW})
        enabled_now = True
    for _ in range(STREAM_ATTEMPTS):
        description = call(client.describe_table, TableName=table)["Table"]
        arn = description.get("LatestStreamArn")
        if description.get("TableStatus") == "ACTIVE" and arn:
            status = call(streams.describe_stream, StreamArn=arn)["StreamDescription"].get("StreamStatus")
            if status == "ENABLED":
                emit(ev.StreamEnabled(table, arn, enabled_now))
                return arn
        time.sleep(STREAM_WAIT)
    raise MigrationError(f"the stream of {table} did not become ENABLED", "rerun the same command")


def migrate_table(client: Any, streams: Any, job: Job, root: Path, *, emit: ev.Emit = ev.ignore) -> Outcome:
    """Fill `job.target` from `job.source`; resumes from the checkpoint under `root` when there is one.

    Raises Blocked (exit 3) for items that cannot be copied (see copy.refuse), before any write.
    """
    old_key = KeySchema.from_description(call(client.describe_table, TableName=job.source)["Table"])
    path = path_for(root, job.env, job.target)
    arn = ensure_stream(client, streams, job.source, emit)
    fresh = MigrationState(job.table, job.env, job.source, job.target, job.from_generation, job.to_generation,
                           job.key.to_json(), stream_arn=arn)
    # The stream that was ENABLED before the checkpoint existed is the one replayed: written first.
    exists = path.exists()
    checkpoint = Checkpoint.open(path, fresh)
    state = checkpoint.state
    if state.stream_arn != arn:
        raise MigrationError(f"the stream of {job.source} changed since the copy began ({state.stream_arn} → {arn}): "
                             "writes made in between may be missing from it",
                             f"start over: delete {path} and the table {job.target}, then rerun")
    left_behind = LeftBehindFile(path.with_suffix(".unkeyed.jsonl"), old_key)
    if exists and state.at_least("copying"):
        emit(ev.Resumed(job.table, state.phase, state.copied, sum(s.done for s in state.segments), state.total_segments))

    total = None
    if not state.at_least("copying"):
        found = prescan(client, job.source, job.key, old_key, segments=job.segments, concurrency=job.concurrency,
                        emit=emit)
        refuse(found, job.source, job.key, skip_unkeyed=job.skip_unkeyed, retry=job.retry)
        total = found.items - found.unkeyed_count
        checkpoint.update(phase="copying", total_segments=job.segments, started=time.time(),
                          segments=[Segment() for _ in range(job.segments)])
    if not state.at_least("copied"):
        copy(client, checkpoint, left_behind, concurrency=job.concurrency, total=total, page_size=job.page_size,
             emit=emit)
    caught = catch_up(client, streams, checkpoint, left_behind, emit=emit)
    result = verify_converged(client, streams, checkpoint, left_behind, old_key, job, emit=emit)
    if len(left_behind):
        emit(ev.LeftBehind(job.table, len(left_behind), str(left_behind.path)))
    return Outcome(state, result, caught, left_behind.path if len(left_behind) else None)


def verify_converged(client: Any, streams: Any, checkpoint: Checkpoint, left_behind: LeftBehindFile,
                     old_key: KeySchema, job: Job, *, emit: ev.Emit = ev.ignore,
                     rounds: int = RECHECK_ROUNDS) -> VerifyResult:
    """Verify; while keys differ, catch up again and recheck only those keys (writes in flight settle)."""
    state = checkpoint.state
    key = state.key_schema
    result = verify(client, state.source, state.target, key, old_key, segments=job.segments,
                    concurrency=job.concurrency)
    done = 1
    while not result.equal and done <= rounds:
        catch_up(client, streams, checkpoint, left_behind)
        result = recheck(client, state.source, state.target, key, old_key, result)
        done += 1
    unkeyed_ok = job.skip_unkeyed or result.unkeyed == 0
    checkpoint.update(verify=result.summary(),
                      phase="verified" if result.equal and unkeyed_ok else state.phase)
    emit(ev.Verified(state.source, result.source_items, result.target_items, tuple(result.differences()),
                     result.difference_count, done))
    return result
