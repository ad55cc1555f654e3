"""Runtime of the generated data layer: storage conversion, cursors, errors and the calls to DynamoDB.

Copied verbatim into every generated package as `_runtime.py`; it imports only pydantic and boto3.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import random
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar
from uuid import UUID

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ItemT = TypeVar("ItemT", bound=BaseModel)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class TenantIsolationError(Exception):
    """A request that would reach another tenant's data, refused before any call to DynamoDB."""


class InvalidCursor(ValueError):
    """A cursor that was not issued by this access pattern (or was altered)."""


class DataAccessError(Exception):
    """An error from DynamoDB, naming the table and the operation or access pattern that failed."""

    def __init__(self, message: str, *, table: str, operation: str, code: str) -> None:
        super().__init__(message)
        self.table = table
        self.operation = operation
        self.code = code


class ConditionFailed(DataAccessError):
    """A conditional write found the item in a state it did not allow (put with if_not_exists=True,
    update or delete with if_= or expected_version=, update of an item that does not exist)."""


class UniqueViolation(ConditionFailed):
    """A write that would give a unique attribute a value another item holds; nothing was written."""

    def __init__(self, table: str, attribute: str, value: Any, *, operation: str) -> None:
        super().__init__(f"{table}: {operation} refused: {attribute} {value!r} is already taken by another "
                         "item (the attribute is unique)", table=table, operation=operation,
                         code="UniqueViolation")
        self.attribute = attribute
        self.value = value


class IntegrityError(Exception):
    """DynamoDB returned what the schema rules out (two items for one unique value): the data needs repair."""


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of an access pattern: its items and, when more may follow, the cursor to the next page."""

    items: list[ItemT]
    cursor: str | None


def to_storage(value: Any) -> Any:
    """A Python value as TypeSerializer takes it: uuid, date and datetime as ISO-8601 text."""
    if isinstance(value, str | int | bytes | Decimal):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, float):
        return Decimal(str(value))  # TypeSerializer refuses floats (inexact); str() keeps what was written
    if isinstance(value, frozenset | set):
        return {to_storage(v) for v in value}
    if isinstance(value, list | tuple):
        return [to_storage(v) for v in value]
    if isinstance(value, dict):
        return {k: to_storage(v) for k, v in value.items()}
    return value


def from_storage(value: Any) -> Any:
    """A value from TypeDeserializer: whole numbers as int, Binary as bytes, sets frozen."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, Binary):
        data: Any = value  # boto3-stubs give Binary no `value` (and a __bytes__ returning str)
        return data.value
    if isinstance(value, set):
        return frozenset(from_storage(v) for v in value)
    if isinstance(value, list):
        return [from_storage(v) for v in value]
    if isinstance(value, dict):
        return {k: from_storage(v) for k, v in value.items()}
    return value


def serialize_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's wire format. None and empty sets are left out: DynamoDB stores no empty set.

    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
    ("Empty Sets are not supported").
    """
    return {name: _serializer.serialize(to_storage(value)) for name, value in values.items()
            if value is not None and not (isinstance(value, frozenset | set) and not value)}


_stored_names: dict[type[BaseModel], frozenset[str]] = {}


def stored_names(model: type[BaseModel]) -> frozenset[str]:
    """The attribute names a model reads from DynamoDB (its aliases where a name is not a Python name)."""
    names = _stored_names.get(model)
    if names is None:
        names = _stored_names[model] = frozenset(
            f.serialization_alias or f.alias or n for n, f in model.model_fields.items())
    return names


def deserialize_item(raw: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The declared attributes of a stored item (others are left out: the models forbid extras)."""
    return {name: from_storage(_deserializer.deserialize(value))
            for name, value in raw.items() if name in names}


def _tenant_of(raw: Mapping[str, Any], attribute: str) -> str | None:
    value = raw.get(attribute)
    return value.get("S") if isinstance(value, dict) else None


def encode_cursor(last_key: Mapping[str, Any], *, scope: str, tenant: str | None,
                  secret: bytes | None) -> str:
    """LastEvaluatedKey as an opaque string naming its access pattern and tenant (signed with a secret)."""
    key: dict[str, list[str]] = {}
    for name, value in last_key.items():
        (kind, scalar), = value.items()
        key[name] = [kind, base64.b64encode(scalar).decode() if kind == "B" else str(scalar)]
    payload = json.dumps({"k": key, "s": scope, "t": tenant}, sort_keys=True, separators=(",", ":")).encode()
    text = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    if secret is not None:
        text += "." + hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return text


def decode_cursor(cursor: str, *, scope: str, tenant: str | None, secret: bytes | None,
                  tenancy_attribute: str) -> dict[str, Any]:
    """ExclusiveStartKey from a cursor, refused unless it came from this pattern and this tenant."""
    body, _, signature = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        data = json.loads(payload)
        key = {name: {kind: base64.b64decode(text) if kind == "B" else text}
               for name, (kind, text) in data["k"].items()}
        issued_scope, issued_tenant = data["s"], data["t"]
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise InvalidCursor(f"not a cursor of {scope}: {exc}") from None
    if secret is not None:
        expected = hmac.new(secret, payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise InvalidCursor(f"the cursor's signature does not match: not issued by {scope} "
                                "with this secret")
    if issued_scope != scope:
        raise InvalidCursor(f"the cursor belongs to {issued_scope}, not {scope}")
    if tenant is not None and (issued_tenant != tenant or _tenant_of(key, tenancy_attribute) != tenant):
        raise TenantIsolationError(f"the cursor of {scope} was issued to another tenant; "
                                   "start without a cursor")
    return key


def sort_condition(name: str, *, eq: Any = None, begins_with: Any = None,
                   between: tuple[Any, Any] | None = None) -> tuple[str, dict[str, Any]] | None:
    """The sort key part of a KeyConditionExpression: at most one of equality, begins_with, between."""
    given = [kind for kind, value in (("eq", eq), ("begins_with", begins_with), ("between", between))
             if value is not None]
    if len(given) > 1:
        raise ValueError(f"{name}: give one of {name}, {name}_begins_with or {name}_between, "
                         f"not {' and '.join(given)}")
    if eq is not None:
        return "#s = :s", {":s": _serializer.serialize(to_storage(eq))}
    if begins_with is not None:
        return "begins_with(#s, :s)", {":s": _serializer.serialize(to_storage(begins_with))}
    if between is not None:
        low, high = between
        return "#s BETWEEN :lo AND :hi", {":lo": _serializer.serialize(to_storage(low)),
                                          ":hi": _serializer.serialize(to_storage(high))}
    return None


_CONDITION_FAILED = "ConditionalCheckFailedException"
# Reasons DynamoDB gives for a cancelled transaction, per item, in request order:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
_RETRYABLE = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_ATTEMPTS = 8
# TransactWriteItems takes at most 100 actions; BatchGetItem 100 keys; BatchWriteItem 25 requests.
MAX_TRANSACTION_ITEMS = 100
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
# A guard key holds the value itself up to this length, a sha256 of it beyond (sort keys are at
# most 1,024 bytes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
_GUARD_VALUE_BYTES = 512
GLOBAL_GUARD_PREFIX = "#global#"


def _cancellation_codes(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons")
    if isinstance(reasons, list):
        return [str(r.get("Code", "None")) for r in reasons]
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if "[" in message and message.endswith("]"):  # "... cancellation reasons for specific reasons [A, B]"
        return [code.strip() for code in message[message.rindex("[") + 1:-1].split(",")]
    return []


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.01 * 2 ** attempt))  # full jitter


def _guard_text(value: Any) -> str:
    wire = _serializer.serialize(to_storage(value))
    (kind, scalar), = wire.items()
    if kind == "B":
        data: Any = scalar  # boto3-stubs give Binary no `value`
        text = base64.b64encode(data.value if isinstance(scalar, Binary) else data).decode()
    elif kind == "N":
        text = str(Decimal(str(scalar)).normalize())
    else:
        text = str(scalar)
    if len(text.encode()) > _GUARD_VALUE_BYTES:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return f"{kind}:{text}"


def guard_key(table: str, attribute: str, value: Any, *, scope: str, tenant: str | None,
              tenancy_attribute: str) -> dict[str, Any]:
    """Where the guard of one unique value lives: under the tenant's partition, or a global one.

    The deploy's backfill (jobwork_infra/deploy/unique_guards.py) writes the same keys.
    """
    text = _guard_text(value)
    if scope == "tenant" and tenant is not None:
        return serialize_item({tenancy_attribute: tenant, "guard": f"{table}#{attribute}#{text}"})
    partition = f"{GLOBAL_GUARD_PREFIX}{table}#{attribute}#{text}"
    return serialize_item({tenancy_attribute: partition, "guard": "#"})


def guard_owner(key: Mapping[str, Any]) -> str:
    """The item a guard belongs to: its key in wire format, as canonical JSON."""
    return json.dumps({k: _serializer.serialize(to_storage(v)) for k, v in key.items()}, sort_keys=True)


@dataclass
class _Write:
    """The actions of one write as TransactWriteItems takes them, and what a cancelled action means."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    unique: dict[int, tuple[str, Any]] = field(default_factory=dict)   # action index → (attribute, value)
    operation: str = "put"
    # A failed condition on the item itself is planned again when it only guarded what the plan read
    # (the old unique values, whether the item existed), never when it is the caller's condition.
    retry: bool = False


class Repository:
    """What every generated repository shares: the table, the tenant it is bound to (or None), the calls."""

    # Set by each generated repository class (the schema's facts about its table).
    TABLE_KEY: ClassVar[str] = ""
    KEY: ClassVar[tuple[str, ...]] = ()
    UNIQUE: ClassVar[Mapping[str, str]] = {}     # stored attribute → "tenant" | "global"
    VERSION: ClassVar[str | None] = None          # the optimistic version attribute, if any
    ALIASES: ClassVar[Mapping[str, str]] = {}      # Python field name → stored name, where they differ

    def __init__(self, client: DynamoDBClient, *, table: str, tenant: str | None, tenancy_attribute: str,
                 cursor_secret: bytes | None, guards: str | None = None) -> None:
        self._client = client
        self._table = table
        self._tenant = tenant
        self._tenancy_attribute = tenancy_attribute
        self._cursor_secret = cursor_secret
        self._guards = guards

    def _failed(self, exc: ClientError, operation: str) -> DataAccessError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = f"{self._table}: {operation} failed: {code}: {error.get('Message', exc)}"
        kind = ConditionFailed if code == "ConditionalCheckFailedException" else DataAccessError
        return kind(message, table=self._table, operation=operation, code=code)

    def _own(self, raw: Mapping[str, Any], operation: str) -> Mapping[str, Any]:
        # Defence in depth: a tenant-bound repository never hands out another tenant's item.
        if self._tenant is not None and _tenant_of(raw, self._tenancy_attribute) != self._tenant:
            raise TenantIsolationError(f"{self._table}: {operation} read an item of another tenant")
        return raw

    def _bind(self, values: dict[str, Any], operation: str) -> dict[str, Any]:
        """The item's values with the bound tenant filled in; another tenant's item is refused here."""
        if self._tenant is None:
            return values
        stated = values.get(self._tenancy_attribute)
        if stated is not None and str(stated) != self._tenant:
            raise TenantIsolationError(
                f"{self._table}: {operation} refused an item of tenant {stated} in the repository of "
                f"tenant {self._tenant}; use TenantData({stated!s}, ...) for that tenant")
        values[self._tenancy_attribute] = self._tenant
        return values

    def _get(self, model: type[ItemT], key: dict[str, Any], *, consistent: bool) -> ItemT | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=serialize_item(self._bind(key, "get")), ConsistentRead=consistent)
        except ClientError as exc:
            raise self._failed(exc, "get") from exc
        raw = response.get("Item")
        if raw is None:
            return None
        return model.model_validate(deserialize_item(self._own(raw, "get"), stored_names(model)))

    # -- writes ---------------------------------------------------------------------------------

    def _key_of(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {name: values[name] for name in self.KEY}

    def _guard_key(self, attribute: str, value: Any) -> dict[str, Any]:
        return guard_key(self.TABLE_KEY, attribute, value, scope=self.UNIQUE[attribute], tenant=self._tenant,
                         tenancy_attribute=self._tenancy_attribute)

    def _owner(self, key: Mapping[str, Any]) -> str:
        return guard_owner(key)

    def _old_values(self, key: Mapping[str, Any], operation: str) -> dict[str, Any] | None:
        """The stored unique and version attributes of the item (strongly consistent), None when absent."""
        wanted = [*self.KEY, *self.UNIQUE, *([self.VERSION] if self.VERSION else [])]
        names = {f"#o{i}": n for i, n in enumerate(wanted)}
        try:
            response = self._client.get_item(
                TableName=self._table, Key=serialize_item(key), ConsistentRead=True,
                ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        except ClientError as exc:
            raise self._failed(exc, operation) from exc
        raw = response.get("Item")
        if raw is None:
            return None
        return {k: from_storage(_deserializer.deserialize(v)) for k, v in self._own(raw, operation).items()}

    def _guard_actions(self, write: _Write, key: Mapping[str, Any], old: Mapping[str, Any] | None,
                       new: Mapping[str, Any] | None, touched: Iterable[str]) -> list[tuple[str, str, Any]]:
        """Claim the new values' guards and release the old ones'; returns the item's conditions on the
        old values (name, comparison, value) so that a concurrent change to them cancels the write."""
        if self.UNIQUE and self._guards is None:
            raise DataAccessError(f"{self._table}: the guard table of the unique attributes is not set",
                                  table=self._table, operation=write.operation, code="NoGuardTable")
        owner = self._owner(key)
        conditions: list[tuple[str, str, Any]] = []
        for attribute in touched:
            if attribute not in self.UNIQUE:
                continue
            before = None if old is None else old.get(attribute)
            after = None if new is None else new.get(attribute)
            if before is not None and after is not None and _guard_text(before) == _guard_text(after):
                conditions.append((attribute, "=", before))
                continue
            conditions.append((attribute, "=", before) if before is not None else (attribute, "absent", None))
            if after is not None:
                write.unique[len(write.actions)] = (attribute, after)
                guard = {**self._guard_key(attribute, after), **serialize_item(
                    {"owner": owner, "table": self.TABLE_KEY, "attribute": attribute,
                     "owner_tenant": self._tenant})}
                write.actions.append({"Put": {
                    "TableName": self._guards, "Item": guard,
                    "ConditionExpression": "attribute_not_exists(#t)",
                    "ExpressionAttributeNames": {"#t": self._tenancy_attribute}}})
            if before is not None:
                write.actions.append({"Delete": {
                    "TableName": self._guards, "Key": self._guard_key(attribute, before),
                    # Only a guard this item holds (a missing one is fine: nothing to release).
                    "ConditionExpression": "attribute_not_exists(#t) OR #o = :o",
                    "ExpressionAttributeNames": {"#t": self._tenancy_attribute, "#o": "owner"},
                    "ExpressionAttributeValues": {":o": {"S": owner}}}})
        return conditions

    @staticmethod
    def _condition(conditions: Sequence[tuple[str, str, Any]], names: dict[str, str],
                   values: dict[str, Any]) -> str:
        parts = []
        for n, (attribute, comparison, value) in enumerate(conditions):
            names[f"#c{n}"] = attribute
            if comparison == "absent":
                parts.append(f"attribute_not_exists(#c{n})")
            elif comparison == "exists":
                parts.append(f"attribute_exists(#c{n})")
            else:
                values[f":c{n}"] = _serializer.serialize(to_storage(value))
                parts.append(f"#c{n} = :c{n}")
        return " AND ".join(parts)

    def _plan_put(self, values: dict[str, Any], *, if_not_exists: bool) -> _Write:
        write = _Write(operation="put")
        key = self._key_of(values)
        old = self._old_values(key, "put") if self.UNIQUE else None
        conditions: list[tuple[str, str, Any]] = []
        if self.VERSION is not None:
            stated = values.get(self.VERSION)
            if stated is None and old is not None:
                raise ConditionFailed(f"{self._table}: put failed: the item exists; pass the version read "
                                      "to replace it", table=self._table, operation="put",
                                      code="ConditionalCheckFailedException")
            if stated is None:
                conditions.append((self.KEY[0], "absent", None))
                values[self.VERSION] = 1
            else:
                conditions.append((self.VERSION, "=", stated))
                values[self.VERSION] = int(stated) + 1
        if if_not_exists or (old is None and self.UNIQUE):
            if if_not_exists and old is not None:
                raise ConditionFailed(f"{self._table}: put failed: the item exists (if_not_exists=True)",
                                      table=self._table, operation="put", code=_CONDITION_FAILED)
            conditions.append((self.KEY[0], "absent", None))
        if self.UNIQUE:
            if old is not None:
                conditions.append((self.KEY[0], "exists", None))
            conditions += self._guard_actions(write, key, old, values, self.UNIQUE)
        names: dict[str, str] = {}
        condition_values: dict[str, Any] = {}
        action: dict[str, Any] = {"TableName": self._table, "Item": serialize_item(values)}
        expression = self._condition(list(dict.fromkeys(conditions)), names, condition_values)
        if expression:
            action.update(ConditionExpression=expression, ExpressionAttributeNames=names)
            if condition_values:
                action["ExpressionAttributeValues"] = condition_values
        write.actions.insert(0, {"Put": action})
        write.unique = {i + 1: v for i, v in write.unique.items()}
        write.retry = bool(self.UNIQUE) and not if_not_exists and not (
            self.VERSION is not None and conditions and conditions[0][1] == "=")
        return write

    def _plan_update(self, key: dict[str, Any], sets: Mapping[str, Any], removes: Iterable[str],
                     expected: Mapping[str, Any], expected_version: int | None) -> _Write:
        write = _Write(operation="update")
        removes = list(dict.fromkeys(removes))
        for name in [*sets, *removes]:
            if name in self.KEY or name == self._tenancy_attribute or name == self.VERSION:
                raise ValueError(f"{self._table}: update cannot change {name!r} (a key or the version); "
                                 "use put or delete")
        touched = [a for a in self.UNIQUE if a in sets or a in removes]
        old = self._old_values(key, "update") if touched else None
        if touched and old is None:
            raise ConditionFailed(f"{self._table}: update failed: no item with this key",
                                  table=self._table, operation="update", code=_CONDITION_FAILED)
        conditions: list[tuple[str, str, Any]] = [(self.KEY[0], "exists", None)]
        conditions += [(name, "=", value) for name, value in expected.items()]
        if expected_version is not None:
            if self.VERSION is None:
                raise ValueError(f"{self._table}: expected_version needs version: true on the table")
            conditions.append((self.VERSION, "=", expected_version))
        if touched:
            new = {**(old or {}), **sets, **dict.fromkeys(removes)}
            conditions += self._guard_actions(write, key, old, new, touched)
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        expression = self._condition(conditions, names, values)
        assignments = []
        for n, (name, value) in enumerate(sets.items()):
            names[f"#s{n}"] = name
            if value is None or (isinstance(value, frozenset | set) and not value):
                removes.append(name)
                continue
            values[f":s{n}"] = _serializer.serialize(to_storage(value))
            assignments.append(f"#s{n} = :s{n}")
        if self.VERSION is not None:
            names["#v"] = self.VERSION
            values[":zero"], values[":one"] = {"N": "0"}, {"N": "1"}
            assignments.append("#v = if_not_exists(#v, :zero) + :one")
        clauses = []
        if assignments:
            clauses.append("SET " + ", ".join(assignments))
        removed = []
        for n, name in enumerate(removes):
            names[f"#r{n}"] = name
            removed.append(f"#r{n}")
        if removed:
            clauses.append("REMOVE " + ", ".join(removed))
        if not clauses:
            raise ValueError(f"{self._table}: update needs set= or remove=")
        action: dict[str, Any] = {"TableName": self._table, "Key": serialize_item(key),
                                  "UpdateExpression": " ".join(clauses), "ConditionExpression": expression,
                                  "ExpressionAttributeNames": names}
        if values:
            action["ExpressionAttributeValues"] = values
        write.actions.insert(0, {"Update": action})
        write.unique = {i + 1: v for i, v in write.unique.items()}
        write.retry = bool(touched) and not expected and expected_version is None
        return write

    def _plan_delete(self, key: dict[str, Any], expected: Mapping[str, Any],
                     expected_version: int | None) -> _Write | None:
        write = _Write(operation="delete")
        conditions: list[tuple[str, str, Any]] = [(name, "=", value) for name, value in expected.items()]
        if expected_version is not None:
            if self.VERSION is None:
                raise ValueError(f"{self._table}: expected_version needs version: true on the table")
            conditions.append((self.VERSION, "=", expected_version))
        if self.UNIQUE:
            old = self._old_values(key, "delete")
            if old is None:
                if conditions:
                    raise ConditionFailed(f"{self._table}: delete failed: no item with this key",
                                          table=self._table, operation="delete",
                                          code="ConditionalCheckFailedException")
                return None  # nothing to delete, nothing to release
            conditions.append((self.KEY[0], "exists", None))
            conditions += self._guard_actions(write, key, old, None, self.UNIQUE)
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        action: dict[str, Any] = {"TableName": self._table, "Key": serialize_item(key)}
        expression = self._condition(conditions, names, values)
        if expression:
            action.update(ConditionExpression=expression, ExpressionAttributeNames=names)
            if values:
                action["ExpressionAttributeValues"] = values
        write.actions.insert(0, {"Delete": action})
        write.unique = {i + 1: v for i, v in write.unique.items()}
        write.retry = bool(self.UNIQUE) and not expected and expected_version is None
        return write

    def _run(self, plan: Any, operation: str) -> None:
        """Plan and write, again when a concurrent writer changed what the plan read (optimistic)."""
        for attempt in range(_ATTEMPTS):
            write: _Write | None = plan()
            if write is None:
                return
            if len(write.actions) == 1:
                try:
                    self._single(write.actions[0], operation)
                    return
                except ConditionFailed:
                    if not write.retry or attempt == _ATTEMPTS - 1:
                        raise
                    _backoff(attempt)   # what the plan read changed under it: read again
                    continue
            try:
                self._client.transact_write_items(TransactItems=write.actions)  # type: ignore[arg-type]
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise self._failed(exc, operation) from exc
                codes = _cancellation_codes(exc)
                for index, code in enumerate(codes):
                    if code == "ConditionalCheckFailed" and index in write.unique:
                        attribute, value = write.unique[index]
                        raise UniqueViolation(self._table, attribute, value, operation=operation) from exc
                item_failed = bool(codes) and codes[0] == "ConditionalCheckFailed"
                if not any(c in _RETRYABLE for c in codes) and not item_failed:
                    raise self._failed(exc, operation) from exc
                if item_failed and attempt == _ATTEMPTS - 1:
                    raise ConditionFailed(f"{self._table}: {operation} failed: the item changed or a "
                                          "condition "
                                          "did not hold", table=self._table, operation=operation,
                                          code="ConditionalCheckFailedException") from exc
                if item_failed and not write.retry:
                    raise ConditionFailed(f"{self._table}: {operation} failed: a condition did not hold",
                                          table=self._table, operation=operation,
                                          code="ConditionalCheckFailedException") from exc
                _backoff(attempt)
        raise DataAccessError(f"{self._table}: {operation} failed: conflicting after {_ATTEMPTS} attempts",
                              table=self._table, operation=operation, code="TransactionConflict")

    def _single(self, action: dict[str, Any], operation: str) -> None:
        (kind, request), = action.items()
        calls: dict[str, Any] = {"Put": self._client.put_item, "Update": self._client.update_item,
                                 "Delete": self._client.delete_item}
        call = calls[kind]
        try:
            call(**request)
        except ClientError as exc:
            raise self._failed(exc, operation) from exc

    def _put(self, item: BaseModel, *, partition_key: str, if_not_exists: bool,
             transaction: Transaction | None = None) -> None:
        values = self._bind(item.model_dump(by_alias=True, exclude_none=True), "put")
        if transaction is not None:
            transaction._add(self, self._plan_put(values, if_not_exists=if_not_exists))
            return
        if not self.UNIQUE and self.VERSION is None:
            request: dict[str, Any] = {"TableName": self._table, "Item": serialize_item(values)}
            if if_not_exists:
                request["ConditionExpression"] = "attribute_not_exists(#p)"
                request["ExpressionAttributeNames"] = {"#p": partition_key}
            try:
                self._client.put_item(**request)
            except ClientError as exc:
                raise self._failed(exc, "put") from exc
            return
        self._run(lambda: self._plan_put(dict(values), if_not_exists=if_not_exists), "put")

    def _update(self, key: dict[str, Any], *, sets: Mapping[str, Any], removes: Iterable[str],
                expected: Mapping[str, Any], expected_version: int | None = None,
                transaction: Transaction | None = None) -> None:
        key = self._bind(key, "update")
        sets, expected = self._stored(sets), self._stored(expected)
        removes = [self.ALIASES.get(name, name) for name in removes]
        if transaction is not None:
            transaction._add(self, self._plan_update(key, sets, removes, expected, expected_version))
            return
        self._run(lambda: self._plan_update(key, sets, removes, expected, expected_version), "update")

    def _delete(self, key: dict[str, Any], *, expected: Mapping[str, Any] | None = None,
                expected_version: int | None = None, transaction: Transaction | None = None) -> None:
        key = self._bind(key, "delete")
        stated = self._stored(expected or {})
        if transaction is not None:
            write = self._plan_delete(key, stated, expected_version)
            if write is not None:
                transaction._add(self, write)
            return
        self._run(lambda: self._plan_delete(key, stated, expected_version), "delete")

    def _stored(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values keyed by Python field name (update's set= and if_=) keyed by stored name."""
        return {self.ALIASES.get(name, name): value for name, value in values.items()}

    # -- batches --------------------------------------------------------------------------------

    def _batch_get(self, model: type[ItemT], keys: Sequence[dict[str, Any]], *,
                   consistent: bool) -> list[ItemT]:
        wanted = [serialize_item(self._bind(key, "batch_get")) for key in keys]
        order = {json.dumps(k, sort_keys=True): i for i, k in reversed(list(enumerate(wanted)))}
        unique_keys = list({json.dumps(k, sort_keys=True): k for k in wanted}.values())
        found: dict[str, ItemT] = {}
        names = stored_names(model)
        for start in range(0, len(unique_keys), BATCH_GET_LIMIT):
            pending: list[Any] = unique_keys[start:start + BATCH_GET_LIMIT]
            attempt = 0
            while pending:
                try:
                    response: Any = self._client.batch_get_item(
                        RequestItems={self._table: {"Keys": pending, "ConsistentRead": consistent}})
                except ClientError as exc:
                    raise self._failed(exc, "batch_get") from exc
                for raw in response.get("Responses", {}).get(self._table, []):
                    item = self._own(raw, "batch_get")
                    found[json.dumps({k: item[k] for k in self.KEY}, sort_keys=True)] = model.model_validate(
                        deserialize_item(item, names))
                pending = list(response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", []))
                if pending:
                    _backoff(min(attempt, 6))
                    attempt += 1
        return [found[k] for k in sorted(found, key=lambda k: order.get(k, 0))]

    def _batch_put(self, items: Sequence[BaseModel]) -> None:
        requests = [{"PutRequest": {"Item": serialize_item(
            self._bind(i.model_dump(by_alias=True, exclude_none=True), "batch_put"))}} for i in items]
        seen: set[str] = set()
        for request in requests:
            key = json.dumps({k: request["PutRequest"]["Item"][k] for k in self.KEY}, sort_keys=True)
            if key in seen:  # BatchWriteItem refuses two requests for one key
                raise ValueError(f"{self._table}: batch_put got two items with the key {key}")
            seen.add(key)
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending: list[Any] = requests[start:start + BATCH_WRITE_LIMIT]
            attempt = 0
            while pending:
                try:
                    written: Any = self._client.batch_write_item(RequestItems={self._table: pending})
                except ClientError as exc:
                    raise self._failed(exc, "batch_put") from exc
                pending = list(written.get("UnprocessedItems", {}).get(self._table, []))
                if pending:
                    _backoff(min(attempt, 6))
                    attempt += 1

    # -- reads ----------------------------------------------------------------------------------

    def _find_one(self, model: type[ItemT], *, scope: str, index: str,
                  partition: tuple[str, Any]) -> ItemT | None:
        """The one item of a unique value (a Query that reads two, to notice a second)."""
        page = self._query(model, scope=scope, index=index, partition=partition, sort=None, limit=2,
                           cursor=None)
        if len(page.items) > 1:
            raise IntegrityError(f"{self._table}: {scope} found more than one item for the unique value "
                                 f"{partition[1]!r} of {partition[0]}: the data breaks the unique rule")
        return page.items[0] if page.items else None

    def _query(self, model: type[ItemT], *, scope: str, index: str | None, partition: tuple[str, Any],
               sort: tuple[str, tuple[str, dict[str, Any]] | None] | None, limit: int | None,
               cursor: str | None) -> Page[ItemT]:
        """One Query call: a page of the access pattern `scope` (never a Scan)."""
        names = {"#p": partition[0]}
        values = {":p": _serializer.serialize(to_storage(partition[1]))}
        condition = "#p = :p"
        if sort is not None and sort[1] is not None:
            names["#s"] = sort[0]
            condition += " AND " + sort[1][0]
            values.update(sort[1][1])
        request: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": condition,
                                   "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if index is not None:
            request["IndexName"] = index
        if limit is not None:
            request["Limit"] = limit
        if cursor is not None:
            request["ExclusiveStartKey"] = decode_cursor(
                cursor, scope=scope, tenant=self._tenant, secret=self._cursor_secret,
                tenancy_attribute=self._tenancy_attribute)
        try:
            response = self._client.query(**request)
        except ClientError as exc:
            raise self._failed(exc, scope) from exc
        fields = stored_names(model)
        items = [model.model_validate(deserialize_item(self._own(raw, scope), fields))
                 for raw in response["Items"]]
        last = response.get("LastEvaluatedKey")
        next_cursor = None if last is None else encode_cursor(
            last, scope=scope, tenant=self._tenant, secret=self._cursor_secret)
        return Page(items, next_cursor)


def table_names(names: Mapping[str, Mapping[str, str]], env: str) -> Mapping[str, str]:
    """The physical table names of one environment, as `naming` formats them."""
    try:
        return names[env]
    except KeyError:
        raise ValueError(f"unknown environment {env!r}; the schema defines: {', '.join(names)}") from None


class Transaction:
    """Writes to tables of one tenant that happen together or not at all (one TransactWriteItems).

    `with data.transaction() as tx:` then `data.jobs.update(..., transaction=tx)`; the writes are
    sent when the block ends without an exception (at most 100 actions, unique guards included).
    """

    def __init__(self, client: DynamoDBClient, tenant: str | None) -> None:
        self._client = client
        self.tenant = tenant
        self._writes: list[tuple[Repository, _Write]] = []
        self._token = uuid.uuid4().hex   # idempotent if boto3 retries the call
        self.committed = False

    def _add(self, repository: Repository, write: _Write) -> None:
        if self.committed:
            raise RuntimeError("this transaction was committed already; start another")
        if repository._tenant != self.tenant or repository._client is not self._client:
            raise TenantIsolationError(f"{repository._table}: a transaction of tenant {self.tenant} takes "
                                       "writes "
                                       f"of that tenant only (got a repository of {repository._tenant})")
        self._writes.append((repository, write))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()

    def commit(self) -> None:
        actions: list[dict[str, Any]] = []
        unique: dict[int, tuple[Repository, str, Any]] = {}
        for repository, write in self._writes:
            for index, (attribute, value) in write.unique.items():
                unique[len(actions) + index] = (repository, attribute, value)
            actions += write.actions
        self.committed = True
        if not actions:
            return
        if len(actions) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction takes at most {MAX_TRANSACTION_ITEMS} actions (unique guards "
                             f"included); this one has {len(actions)}")
        try:
            self._client.transact_write_items(TransactItems=actions,  # type: ignore[arg-type]
                                              ClientRequestToken=self._token)
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            for index, code in enumerate(codes):
                if code == "ConditionalCheckFailed" and index in unique:
                    repository, attribute, value = unique[index]
                    raise UniqueViolation(repository._table, attribute, value,
                                          operation="transaction") from exc
            first = next((i for i, c in enumerate(codes) if c not in ("None", "")), None)
            owner = self._writes[0][0] if first is None else self._owner_of(first)
            error = owner._failed(exc, "transaction")
            if "ConditionalCheckFailed" in codes:
                raise ConditionFailed(str(error), table=error.table, operation="transaction",
                                      code="ConditionalCheckFailedException") from exc
            raise error from exc

    def _owner_of(self, index: int) -> Repository:
        seen = 0
        for repository, write in self._writes:
            seen += len(write.actions)
            if index < seen:
                return repository
        return self._writes[-1][0]


# The characters and length an IAM session tag value may have, which every tenant id must fit so
# that tenant_client can carry it: pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*, at most 256 characters
# (https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html). `#` is not among them, so no
# tenant id can name a global guard's partition (GLOBAL_GUARD_PREFIX).
TAG_VALUE_MAX = 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_safe(text: str) -> bool:
    return len(text) <= TAG_VALUE_MAX and all(
        c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN" for c in text)


def normalize_tenant(tenant_id: object, *, as_uuid: bool) -> str:
    """The tenant id as stored; TenantIsolationError for anything that is not a tenant id.

    A uuid tenancy attribute takes a UUID or its text (stored in canonical form); a string one takes
    non-empty text only (not None, bytes or a number, which would bind to "None" or "b'..'"). Either
    must fit an IAM session tag value, so that tenant_client can carry it.
    """
    if as_uuid:
        if isinstance(tenant_id, UUID):
            return str(tenant_id)
        if isinstance(tenant_id, str):
            try:
                return str(UUID(tenant_id))
            except ValueError:
                pass
        raise TenantIsolationError(f"{tenant_id!r} is not a tenant id (a UUID)")
    if not isinstance(tenant_id, str):
        raise TenantIsolationError(f"{tenant_id!r} is not a tenant id (a non-empty string)")
    text = str.__str__(tenant_id)  # a plain str, whatever subclass came in
    if not text:
        raise TenantIsolationError("the tenant id is empty")
    if not _tag_safe(text):
        raise TenantIsolationError(
            f"{text[:80]!r} is not a tenant id an IAM session tag can carry: at most {TAG_VALUE_MAX} "
            "letters, digits, spaces and _ . : / = + - @ "
            "(https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html)")
    return text


def tenant_client(tenant_id: str, *, role_arn: str, tenancy_attribute: str, region_name: str | None = None,
                  session_name: str | None = None, sts_client: Any = None,
                  endpoint_url: str | None = None) -> DynamoDBClient:
    """A DynamoDB client under `role_arn` assumed with the session tag tenancy_attribute=tenant_id.

    The TenantDataAccess policy that compile generates allows item actions only where
    dynamodb:LeadingKeys equals ${aws:PrincipalTag/<tenancy attribute>}, so IAM backs the repository's
    own check. The role's trust policy must allow sts:TagSession:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
    """
    import boto3

    if not isinstance(tenant_id, str) or not tenant_id or not _tag_safe(tenant_id):
        raise TenantIsolationError(f"{tenant_id!r} cannot be carried by an IAM session tag "
                                   "(https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html)")
    # RoleSessionName: 2-64 characters of [\w+=,.@-] (API_AssumeRole.html): other characters become '-'.
    session = session_name or "tenant-" + "".join(
        c if c.isascii() and (c.isalnum() or c in "_+=,.@-") else "-" for c in tenant_id)
    sts = sts_client if sts_client is not None else boto3.client("sts", region_name=region_name)
    credentials = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=session[:64],
        Tags=[{"Key": tenancy_attribute, "Value": tenant_id}])["Credentials"]
    return boto3.client(
        "dynamodb", region_name=region_name, endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"])


# Where `jobwork-infra local start` records the engine it started (see `jobwork-infra local status`).
ENGINE_STATE = Path(".jobwork") / "engine.json"


def local_client(root: str | os.PathLike[str] | None = None, *,
                 endpoint_url: str | None = None) -> DynamoDBClient:
    """A DynamoDB client for the local engine that `jobwork-infra local start` runs.

    The endpoint is read from .jobwork/engine.json under `root` ($JOBWORK_ROOT, else the working
    directory), as `jobwork-infra local status` shows it; the region and credentials are fixed
    dummies (a local engine ignores them, and real credentials never leave for it).
    """
    import boto3

    if endpoint_url is None:
        base = Path(root if root is not None else os.environ.get("JOBWORK_ROOT") or os.getcwd())
        try:
            state = json.loads((base / ENGINE_STATE).read_text())
            endpoint_url = str(state["endpoint"])
        except (OSError, ValueError, KeyError, TypeError):
            raise RuntimeError(f"no local engine recorded under {base}: start one with "
                               "`jobwork-infra local start` "
                               "(or pass root= the project folder, or endpoint_url=)") from None
        if not endpoint_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"{base / ENGINE_STATE} names {endpoint_url!r}, not an engine on 127.0.0.1")
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")
