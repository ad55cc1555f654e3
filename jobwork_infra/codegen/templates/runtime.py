"""Runtime of the generated data layer: storage conversion, cursors, errors and the calls to DynamoDB.

Copied verbatim into every generated package as `_runtime.py`; it imports only pydantic and boto3.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar
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
    """A conditional write found the item in a state it did not allow (put with if_not_exists=True)."""


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


class Repository:
    """What every generated repository shares: the table, the tenant it is bound to (or None), the calls."""

    def __init__(self, client: DynamoDBClient, *, table: str, tenant: str | None, tenancy_attribute: str,
                 cursor_secret: bytes | None) -> None:
        self._client = client
        self._table = table
        self._tenant = tenant
        self._tenancy_attribute = tenancy_attribute
        self._cursor_secret = cursor_secret

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

    def _put(self, item: BaseModel, *, partition_key: str, if_not_exists: bool) -> None:
        values = self._bind(item.model_dump(by_alias=True, exclude_none=True), "put")
        request: dict[str, Any] = {"TableName": self._table, "Item": serialize_item(values)}
        if if_not_exists:
            request["ConditionExpression"] = "attribute_not_exists(#p)"
            request["ExpressionAttributeNames"] = {"#p": partition_key}
        try:
            self._client.put_item(**request)
        except ClientError as exc:
            raise self._failed(exc, "put") from exc

    def _delete(self, key: dict[str, Any]) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=serialize_item(self._bind(key, "delete")))
        except ClientError as exc:
            raise self._failed(exc, "delete") from exc

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


def normalize_tenant(tenant_id: str | UUID, *, as_uuid: bool) -> str:
    """The tenant id as stored: a UUID in its canonical text when the tenancy attribute is a uuid."""
    if as_uuid:
        try:
            return str(tenant_id if isinstance(tenant_id, UUID) else UUID(tenant_id))
        except ValueError:
            raise TenantIsolationError(f"{tenant_id!r} is not a tenant id (a UUID)") from None
    text = str(tenant_id)
    if not text:
        raise TenantIsolationError("the tenant id is empty")
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

    sts = sts_client if sts_client is not None else boto3.client("sts", region_name=region_name)
    credentials = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=session_name or f"tenant-{tenant_id}"[:64],
        Tags=[{"Key": tenancy_attribute, "Value": tenant_id}])["Credentials"]
    return boto3.client(
        "dynamodb", region_name=region_name, endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"])
