"""Keys of wire-format items (DynamoDB JSON): the new generation's key, and a per-item content hash.

Items move between generations exactly as read (`{"email": {"S": "a@x"}}`), never deserialized:
nothing is converted, so nothing can be changed on the way, and the copy is as fast as a plain one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Item = dict[str, dict[str, Any]]
# (type, value) per key attribute: hashable, and ordered the same way for every item.
Key = tuple[tuple[str, str], ...]

# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html (Partition key
# value: 2048 bytes; Sort key value: 1024 bytes) and HowItWorks.NamingRulesDataTypes (a key attribute's
# string or binary value may not be empty).
MAX_PARTITION_BYTES = 2048
MAX_SORT_BYTES = 1024


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: str  # "S" | "N" | "B"


@dataclass(frozen=True)
class KeySchema:
    """A table's primary key; `of(item)` is the item's key under it, or None when it cannot have one."""

    partition: KeyAttr
    sort: KeyAttr | None = None

    @property
    def attributes(self) -> tuple[KeyAttr, ...]:
        return (self.partition,) if self.sort is None else (self.partition, self.sort)

    @classmethod
    def from_description(cls, table: dict) -> KeySchema:
        """From DescribeTable's `Table`: KeySchema with the types of AttributeDefinitions."""
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        by_role = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        sort = by_role.get("RANGE")
        return cls(KeyAttr(by_role["HASH"], types[by_role["HASH"]]),
                   KeyAttr(sort, types[sort]) if sort else None)

    def problem(self, item: Item) -> str | None:
        """Why `item` cannot be stored under this key (None: it can)."""
        for attr, limit in zip(self.attributes, (MAX_PARTITION_BYTES, MAX_SORT_BYTES), strict=False):
            value = item.get(attr.name)
            if value is None:
                return f"lacks {attr.name}"
            (kind, raw), = value.items() if len(value) == 1 else ((None, None),)
            if kind != attr.type:
                return f"{attr.name} is {kind or 'malformed'}, the key needs {attr.type}"
            size = len(raw.encode("utf-8")) if kind == "S" else len(raw) if kind == "B" else 1
            if size == 0:
                return f"{attr.name} is empty"
            if size > limit:
                return f"{attr.name} is longer than {limit} bytes"
        return None

    def of(self, item: Item) -> Key | None:
        if self.problem(item) is not None:
            return None
        return tuple((a.type, _canonical_scalar(a.type, item[a.name][a.type])) for a in self.attributes)

    def key_item(self, item: Item) -> Item:
        """The `Key` argument of GetItem/DeleteItem for `item` (which must have the key)."""
        return {a.name: item[a.name] for a in self.attributes}

    def to_json(self) -> dict:
        return {"partition": [self.partition.name, self.partition.type],
                "sort": [self.sort.name, self.sort.type] if self.sort else None}

    @classmethod
    def from_json(cls, data: dict) -> KeySchema:
        return cls(KeyAttr(*data["partition"]), KeyAttr(*data["sort"]) if data.get("sort") else None)

    def show(self) -> str:
        return " + ".join(f"{a.name} ({a.type})" for a in self.attributes)


def _canonical_scalar(kind: str, raw: str) -> str:
    if kind == "N":
        return _canonical_number(raw)
    if kind == "B" and isinstance(raw, (bytes, bytearray)):
        return raw.hex()
    return raw


def _canonical_number(raw: str) -> str:
    # DynamoDB compares numbers by value: 1, 1.0 and 1E0 are one key.
    try:
        return format(Decimal(raw).normalize(), "f") if Decimal(raw) != 0 else "0"
    except InvalidOperation:
        return raw


def _canonical(value: Any) -> Any:
    """A wire value with sets sorted and numbers normalized: equal items hash equal."""
    (kind, raw), = value.items()
    if kind == "N":
        return {"N": _canonical_number(raw)}
    if kind == "NS":
        return {"NS": sorted(_canonical_number(v) for v in raw)}
    if kind in ("SS", "BS"):
        return {kind: sorted(raw)}
    if kind == "L":
        return {"L": [_canonical(v) for v in raw]}
    if kind == "M":
        return {"M": {k: _canonical(v) for k, v in raw.items()}}
    if kind == "B" and isinstance(raw, (bytes, bytearray)):
        return {"B": raw.hex()}
    return {kind: raw}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": value.hex()}
    raise TypeError(f"not JSON: {type(value).__name__}")


def item_hash(item: Item) -> bytes:
    """16 bytes that change when any attribute of the item changes."""
    canonical = {name: _canonical(value) for name, value in item.items()}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def item_json(item: Item) -> str:
    """One JSON line for an item as DynamoDB JSON (binary values as base64, as the AWS CLI prints them)."""
    import base64

    def encode(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    return json.dumps(encode(item), sort_keys=True, separators=(",", ":"))


def show_key(key: Key | Item | None, schema: KeySchema | None = None) -> str:
    """A key as people read it: `tenant_id=t1, email=a@x`."""
    if key is None:
        return "?"
    if isinstance(key, dict):
        assert schema is not None
        parts = []
        for attr in schema.attributes:
            value = key.get(attr.name) or {}
            parts.append(f"{attr.name}={next(iter(value.values()), '?')}")
        return ", ".join(parts)
    return ", ".join(value for _, value in key)
