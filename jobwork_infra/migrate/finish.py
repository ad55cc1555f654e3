"""`migrate finish` at the engine level: the last catch-up, a strict verify, then generation N-1 retired.

Retiring deletes the source only when the caller allows it, and only after a backup: locally an
export of every item (DynamoDB JSON, one per line) to `.jobwork/backups/`, on AWS an on-demand
`CreateBackup` waited for until AVAILABLE. Otherwise the source is left as it is, for the caller
to stop managing and to list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Blocked
from ..fsio import atomic_write
from . import events as ev
from .aws import MigrationError, call, parallel, scan_pages
from .catchup import catch_up
from .checkpoint import Checkpoint
from .copy import LeftBehindFile
from .keys import KeySchema, item_json
from .verify import recheck, verify

BACKUP_WAIT = 2.0
BACKUP_ATTEMPTS = 900


@dataclass
class Finished:
    source: str
    items: int                  # the source's items at the final verify
    backup: str | None          # the export file or the backup ARN
    deleted: bool


def export_items(client: Any, table: str, path: Path, *, segments: int = 4) -> int:
    """Every item of `table` to `path` as JSON Lines (DynamoDB JSON), written whole or not at all."""
    pages: list[list[str]] = [[] for _ in range(segments)]

    def work(segment: int) -> None:
        for items, _ in scan_pages(client, table, segment, segments):
            pages[segment] += [item_json(item) for item in items]

    parallel(work, list(range(segments)), segments)
    lines = sorted(line for page in pages for line in page)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(line + "\n" for line in lines))
    return len(lines)


def aws_backup(client: Any, table: str, name: str) -> str:
    """An on-demand backup (CreateBackup), waited for until AVAILABLE; its ARN."""
    arn = call(client.create_backup, TableName=table, BackupName=name)["BackupDetails"]["BackupArn"]
    for _ in range(BACKUP_ATTEMPTS):
        status = call(client.describe_backup, BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"]
        if status == "AVAILABLE":
            return arn
        if status == "DELETED":
            raise MigrationError(f"the backup {arn} of {table} was deleted before it became available",
                                 "rerun `migrate finish`; the table was not deleted")
        time.sleep(BACKUP_WAIT)
    raise MigrationError(f"the backup {arn} of {table} is not AVAILABLE yet", "rerun `migrate finish` later; the "
                         "table was not deleted")


def finish(client: Any, streams: Any, checkpoint: Checkpoint, *, root: Path, local: bool, allow_destructive: bool,
           segments: int = 4, emit: ev.Emit = ev.ignore, rounds: int = 5) -> Finished:
    """Replay what is left, verify (refused unless equal), then back up and delete, or keep, the source."""
    state = checkpoint.state
    old_key = KeySchema.from_description(call(client.describe_table, TableName=state.source)["Table"])
    left_behind = LeftBehindFile(checkpoint.path.with_suffix(".unkeyed.jsonl"), old_key)
    catch_up(client, streams, checkpoint, left_behind, emit=emit)
    key = state.key_schema
    result = verify(client, state.source, state.target, key, old_key, segments=segments, concurrency=segments)
    done = 1
    while not result.equal and done <= rounds:
        catch_up(client, streams, checkpoint, left_behind)
        result = recheck(client, state.source, state.target, key, old_key, result)
        done += 1
    emit(ev.Verified(state.source, result.source_items, result.target_items, tuple(result.differences()),
                     result.difference_count, done))
    checkpoint.update(verify=result.summary())
    if not result.equal:
        shown = "; ".join(f"{kind} {k}" for kind, k in result.differences(5))
        raise Blocked(f"generation {state.to_generation} ({state.target}) differs from {state.source} in "
                      f"{result.difference_count} item(s) ({shown}): {state.source} is kept",
                      "is the application still writing to the old generation? Move it to the new one, then "
                      "rerun `migrate finish`")
    if result.unkeyed and not left_behind.path.exists():
        raise Blocked(f"{result.unkeyed} item(s) of {state.source} lack the new key and were never listed",
                      "rerun the migration with --skip-unkeyed to list them, or give them the key")
    backup = None
    if allow_destructive:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        if local:
            path = root / ".jobwork" / "backups" / f"{state.source}-{stamp}.jsonl"
            export_items(client, state.source, path, segments=segments)
            backup = str(path)
        else:
            backup = aws_backup(client, state.source, f"{state.source}-before-retire-{stamp}"[:255])
        call(client.delete_table, TableName=state.source)
    checkpoint.update(phase="finished", retired="deleted" if allow_destructive else "kept")
    return Finished(state.source, result.source_items + result.unkeyed, backup, allow_destructive)
