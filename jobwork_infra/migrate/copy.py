"""The prescan and the copy: a parallel Scan of generation N-1, each item written to generation N as is.

The item is not transformed: it lands under the new key because the new key's attributes are
already in it. Items that cannot (no new key attribute, a value of the wrong type, empty or too
long) are found by the prescan before anything is written, and refused unless the caller said to
leave them behind — then they go, whole, to a JSON Lines file (`LeftBehindFile`), never dropped.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Blocked
from ..fsio import atomic_write
from . import events as ev
from .aws import parallel, scan_pages, write_items
from .checkpoint import Checkpoint, Segment
from .keys import Item, Key, KeySchema, item_json, show_key

SAMPLE = 10                 # unkeyed items and colliding keys shown in a refusal
PROGRESS_EVERY = 1.0        # seconds between progress events


@dataclass
class Prescan:
    items: int = 0
    unkeyed: list[tuple[str, str]] = field(default_factory=list)   # (source key, reason)
    unkeyed_count: int = 0
    collisions: list[str] = field(default_factory=list)
    collision_count: int = 0


def prescan(client: Any, source: str, key: KeySchema, old_key: KeySchema, *, segments: int,
            concurrency: int, emit: ev.Emit = ev.ignore) -> Prescan:
    """Read the key attributes of every item of `source`: which lack the new key, which share one."""
    started = time.monotonic()
    found = Prescan()
    seen: set[int] = set()
    lock = threading.Lock()
    names = list(dict.fromkeys(a.name for a in (*old_key.attributes, *key.attributes)))

    def work(segment: int) -> None:
        for items, _ in scan_pages(client, source, segment, segments, projection=names):
            with lock:
                found.items += len(items)
                for item in items:
                    reason = key.problem(item)
                    if reason is not None:
                        found.unkeyed_count += 1
                        if len(found.unkeyed) < SAMPLE:
                            found.unkeyed.append((show_key(item, old_key), reason))
                        continue
                    new = key.of(item)
                    digest = _digest(new)
                    if digest in seen:
                        found.collision_count += 1
                        if len(found.collisions) < SAMPLE:
                            found.collisions.append(show_key(new))
                    seen.add(digest)

    parallel(work, list(range(segments)), concurrency)
    emit(ev.Prescanned(source, found.items, found.unkeyed_count, tuple(found.unkeyed), tuple(found.collisions),
                       time.monotonic() - started))
    return found


def refuse(found: Prescan, source: str, key: KeySchema, *, skip_unkeyed: bool, retry: str) -> None:
    """Blocked (exit 3) for items that cannot be copied, before anything is written.

    Two items sharing the new key would leave one of them lost (the later write wins), so that is
    refused even with --skip-unkeyed; unkeyed items only without it.
    """
    if found.collision_count:
        shown = "; ".join(found.collisions)
        raise Blocked(
            f"{found.collision_count} item(s) of {source} share a new key ({key.show()}) with another item "
            f"(e.g. {shown}): in the new generation one would overwrite the other",
            "choose a key that is unique per item (e.g. keep the old sort key as the new one and add a global "
            "index on the new attribute), or make those items' values unique first")
    if found.unkeyed_count and not skip_unkeyed:
        shown = "; ".join(f"{k}: {why}" for k, why in found.unkeyed)
        more = f" (the first {len(found.unkeyed)})" if found.unkeyed_count > len(found.unkeyed) else ""
        raise Blocked(
            f"{found.unkeyed_count} item(s) of {source} cannot exist under the new key {key.show()}{more}: "
            f"{shown}",
            f"give them the key attribute first, or rerun with --skip-unkeyed to leave them in {source} and "
            f"list them in a JSON Lines file: `{retry} --skip-unkeyed`")


def _digest(key: Key | None) -> int:
    text = json.dumps(key, separators=(",", ":"))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class LeftBehindFile:
    """Source items that cannot be copied, by their source key; the file is rewritten whole (atomic).

    Kept current: an item that is later given the key (or deleted) leaves the list. Each line is
    `{"key": …, "reason": …, "item": …}` in DynamoDB JSON, ready for `aws dynamodb put-item --item`.
    """

    def __init__(self, path: Path, old_key: KeySchema):
        self.path = path
        self.old_key = old_key
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[str, Item]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self.entries[item_json(entry["key"])] = (entry["reason"], entry["item"])
        self.dirty = False

    def _id(self, item: Item) -> str:
        return item_json(self.old_key.key_item(item))

    def add(self, item: Item, reason: str) -> None:
        with self.lock:
            self.entries[self._id(item)] = (reason, item)
            self.dirty = True

    def discard(self, item: Item) -> None:
        if not self.entries or self.old_key.problem(item) is not None:
            return  # the common case, checked first: the copy calls this for every item
        with self.lock:
            if self.entries.pop(self._id(item), None) is not None:
                self.dirty = True

    def __len__(self) -> int:
        return len(self.entries)

    def flush(self) -> None:
        with self.lock:
            if not self.dirty and self.path.exists():
                return
            lines = [f'{{"key":{key},"reason":{json.dumps(reason)},"item":{item_json(item)}}}'
                     for key, (reason, item) in sorted(self.entries.items())]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, "".join(line + "\n" for line in lines))
            self.dirty = False


class _Progress:
    def __init__(self, table: str, done: int, total: int | None, emit: ev.Emit):
        self.table, self.items, self.total, self.emit = table, done, total, emit
        self.start_items, self.started = done, time.monotonic()
        self.last = self.started  # the first report after a second, with a rate to show
        self.lock = threading.Lock()

    def add(self, count: int) -> None:
        with self.lock:
            self.items += count
            now = time.monotonic()
            if now - self.last < PROGRESS_EVERY:
                return
            self.last = now
            rate = (self.items - self.start_items) / max(now - self.started, 1e-6)
            eta = (max(self.total - self.items, 0) / rate) if self.total and rate > 0 else None
            event = ev.CopyProgress(self.table, self.items, self.total, rate, eta)
        self.emit(event)


@dataclass
class CopyResult:
    items: int
    seconds: float
    throttled: int


def copy(client: Any, checkpoint: Checkpoint, left_behind: LeftBehindFile, *, concurrency: int,
         total: int | None = None, page_size: int | None = None, emit: ev.Emit = ev.ignore) -> CopyResult:
    """Copy every segment not yet done, from its checkpoint; each page is checkpointed once written."""
    state = checkpoint.state
    key = state.key_schema
    started = time.monotonic()
    progress = _Progress(state.source, state.copied, total, emit)
    throttled = [0]

    def work(number: int) -> None:
        segment: Segment = state.segments[number]
        if segment.done:
            return
        pages = scan_pages(client, state.source, number, state.total_segments, start=segment.last_key,
                           page_size=page_size)
        for items, last_key in pages:
            requests: list[dict] = []
            batch_keys: set[Key] = set()
            written = 0
            for item in items:
                new = key.of(item)
                if new is None:
                    left_behind.add(item, key.problem(item) or "no key")
                    continue
                left_behind.discard(item)
                if new in batch_keys:
                    # One BatchWriteItem may not name a key twice: send what came before. (Two source
                    # items with one new key: verify reports it; the prescan refused those it saw.)
                    throttled[0] += write_items(client, state.target, requests)
                    written += len(requests)
                    requests, batch_keys = [], set()
                batch_keys.add(new)
                requests.append({"PutRequest": {"Item": item}})
            throttled[0] += write_items(client, state.target, requests)
            written += len(requests)
            with checkpoint.lock:
                segment.items += written
                segment.last_key = last_key
                segment.done = last_key is None
            checkpoint.save()
            progress.add(written)

    parallel(work, list(range(state.total_segments)), concurrency)
    left_behind.flush()
    checkpoint.update(phase="copied", unkeyed=len(left_behind))
    result = CopyResult(state.copied, time.monotonic() - started, throttled[0])
    emit(ev.Copied(state.source, result.items, result.seconds, result.throttled))
    return result
