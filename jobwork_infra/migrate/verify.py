"""Verify: both generations read whole and compared item for item, by the new key.

Each side is a parallel Scan reduced to key → 16-byte content hash (keys.item_hash: sets sorted,
numbers normalized), so equal means: the same keys, and under each key the same attributes with
the same values. Source items that cannot have the new key are counted apart (they were left
behind on purpose, or the migration is refused). While the application still writes to generation
N-1, a difference can be a write in flight: `recheck` reads just the differing keys again
(consistent GetItem on both sides) after another catch-up, so only real differences remain.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .aws import call, parallel, scan_pages
from .keys import Item, Key, KeySchema, item_hash, show_key

SHOWN = 20


@dataclass
class VerifyResult:
    source_items: int = 0          # items of generation N-1 that have the new key
    target_items: int = 0
    unkeyed: int = 0               # items of generation N-1 without it (not compared)
    missing: list[Key] = field(default_factory=list)     # in N-1, not in N
    extra: list[Key] = field(default_factory=list)       # in N, not in N-1 (a delete not replayed)
    changed: list[Key] = field(default_factory=list)     # under one key, different content
    shared: list[Key] = field(default_factory=list)      # a new key held by two items of N-1
    # For rechecks: the N-1 key of each new key that differs (missing or changed).
    source_keys: dict[Key, Item] = field(default_factory=dict, repr=False)

    @property
    def difference_count(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed) + len(self.shared)

    @property
    def equal(self) -> bool:
        return self.difference_count == 0

    def differences(self, limit: int = SHOWN) -> list[tuple[str, str]]:
        """(kind, key) for people: missing, extra (resurrected or never deleted), changed, shared."""
        out = [(kind, show_key(k)) for kind, keys in (("missing", self.missing), ("extra", self.extra),
                                                     ("changed", self.changed), ("shared", self.shared))
               for k in keys]
        return out[:limit]

    def summary(self) -> dict:
        return {"source_items": self.source_items, "target_items": self.target_items, "unkeyed": self.unkeyed,
                "differences": self.difference_count,
                "shown": [list(d) for d in self.differences()]}


def _read(client: Any, table: str, key: KeySchema, segments: int, concurrency: int,
          keep_source_key: KeySchema | None) -> tuple[dict[Key, tuple[bytes, Item | None]], list[Key], int]:
    found: dict[Key, tuple[bytes, Item | None]] = {}
    shared: list[Key] = []
    unkeyed = [0]
    lock = threading.Lock()

    def work(segment: int) -> None:
        for items, _ in scan_pages(client, table, segment, segments):
            hashed = []
            for item in items:
                new = key.of(item)
                if new is None:
                    hashed.append(None)
                    continue
                source_key = keep_source_key.key_item(item) if keep_source_key else None
                hashed.append((new, (item_hash(item), source_key)))
            with lock:
                for entry in hashed:
                    if entry is None:
                        unkeyed[0] += 1
                    elif entry[0] in found:
                        shared.append(entry[0])
                    else:
                        found[entry[0]] = entry[1]

    parallel(work, list(range(segments)), concurrency)
    return found, shared, unkeyed[0]


def verify(client: Any, source: str, target: str, key: KeySchema, old_key: KeySchema, *,
           segments: int, concurrency: int) -> VerifyResult:
    src, shared, unkeyed = _read(client, source, key, segments, concurrency, keep_source_key=old_key)
    tgt, _, _ = _read(client, target, key, segments, concurrency, keep_source_key=None)
    result = VerifyResult(source_items=len(src) + len(shared), target_items=len(tgt), unkeyed=unkeyed,
                          shared=sorted(set(shared)))
    for k, (digest, source_key) in src.items():
        other = tgt.get(k)
        if other is None:
            result.missing.append(k)
        elif other[0] != digest:
            result.changed.append(k)
        else:
            continue
        result.source_keys[k] = source_key  # type: ignore[assignment]
    result.extra = [k for k in tgt if k not in src]
    result.missing.sort()
    result.changed.sort()
    result.extra.sort()
    return result


def recheck(client: Any, source: str, target: str, key: KeySchema, old_key: KeySchema,
            result: VerifyResult) -> VerifyResult:
    """The differing keys of `result` read again, one by one; what still differs is returned."""
    after = VerifyResult(source_items=result.source_items, target_items=result.target_items,
                         unkeyed=result.unkeyed, shared=list(result.shared))
    for k in [*result.missing, *result.changed, *result.extra]:
        new_item = call(client.get_item, TableName=target, Key=_key_item(key, k), ConsistentRead=True).get("Item")
        source_key = result.source_keys.get(k)
        if source_key is None and new_item is not None and old_key.problem(new_item) is None:
            source_key = old_key.key_item(new_item)  # an extra: the copy carries the old key's attributes
        old_item = (call(client.get_item, TableName=source, Key=source_key, ConsistentRead=True).get("Item")
                    if source_key is not None else None)
        if old_item is not None and key.of(old_item) != k:
            old_item = None  # that source item has moved to another new key since
        if old_item is None and new_item is None:
            continue
        if old_item is not None and new_item is not None and item_hash(old_item) == item_hash(new_item):
            continue
        kind = after.missing if new_item is None else after.extra if old_item is None else after.changed
        kind.append(k)
        if source_key is not None:
            after.source_keys[k] = source_key
    return after


def _key_item(key: KeySchema, k: Key) -> Item:
    return {a.name: {kind: bytes.fromhex(value) if kind == "B" else value}
            for a, (kind, value) in zip(key.attributes, k, strict=True)}
