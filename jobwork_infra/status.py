"""`status`: what is deployed, per stack: each table with its keys, indexes, TTL, billing, protections
and item count, as the live tables report them.

Built from DynamoDB's own descriptions (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups),
never from the schema alone: a table the schema has but the target lacks reads "not deployed". No
boto3 here: deploy/ reads, this module shapes, report/status.py prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .model import KeyAttribute, ResolvedTable
from .outline import key_text

_TYPES = {"S": "S", "N": "N", "B": "B"}


@dataclass(frozen=True)
class IndexStatus:
    name: str
    kind: str            # global | local
    keys: str            # tenant_id (S) + email (S)
    status: str          # ACTIVE, CREATING, … (a local index is always ACTIVE with its table)


@dataclass(frozen=True)
class TableStatus:
    key: str                       # the schema's key ("users"); "" for a table the schema no longer has
    physical_name: str
    status: str                    # ACTIVE, UPDATING, … or "not deployed"
    keys: str = ""
    indexes: tuple[IndexStatus, ...] = ()
    ttl: str | None = None         # "expires_at (ENABLED)"
    billing: str | None = None
    protections: str | None = None
    item_count: int | None = None  # DynamoDB's ItemCount (AWS updates it about every six hours) or a Scan count
    item_count_exact: bool = False  # True: counted by a Scan (the local engine)


@dataclass(frozen=True)
class StackStatus:
    name: str
    status: str                    # CloudFormation's stack status, or "local engine"
    deployed_at: str | None        # ISO time of the last deploy (the stack's last update, or the tables' creation)
    tables: tuple[TableStatus, ...] = ()
    serial: int | None = None      # the deploy serial, where the deployed state keeps one


@dataclass(frozen=True)
class StatusReport:
    env: str
    where: str
    stacks: tuple[StackStatus, ...] = field(default=())

    def as_dict(self) -> dict:
        return asdict(self)


def table_status(key: str, description: dict | None, *, ttl: dict | None, pitr: bool | None,
                 removal_policy: str | None, schema_table: ResolvedTable | None = None,
                 exact_count: bool = False) -> TableStatus:
    """One table as DynamoDB describes it (None: not deployed)."""
    if description is None:
        name = schema_table.physical_name if schema_table else key
        return TableStatus(key, name, "not deployed")
    attributes = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    partition, sort = _keys(description.get("KeySchema", []), attributes)
    indexes = [IndexStatus(i["IndexName"], "global", key_text(*_keys(i["KeySchema"], attributes)),
                           i.get("IndexStatus", "ACTIVE")) for i in description.get("GlobalSecondaryIndexes") or []]
    indexes += [IndexStatus(i["IndexName"], "local", key_text(*_keys(i["KeySchema"], attributes)), "ACTIVE")
                for i in description.get("LocalSecondaryIndexes") or []]
    ttl_text = None
    if ttl and ttl.get("AttributeName"):
        ttl_text = f"{ttl['AttributeName']} ({ttl.get('TimeToLiveStatus', '?')})"
    billing = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    billing = {"PAY_PER_REQUEST": "on_demand", "PROVISIONED": "provisioned"}.get(billing, billing.lower())
    protection = description.get("DeletionProtectionEnabled")
    parts = [f"removal_policy {removal_policy}" if removal_policy else None,
             "point-in-time recovery " + ("not reported" if pitr is None else "on" if pitr else "off"),
             "deletion protection " + ("not reported" if protection is None else "on" if protection else "off")]
    return TableStatus(key, description["TableName"], description.get("TableStatus", "?"), key_text(partition, sort),
                       tuple(indexes), ttl_text, billing, ", ".join(p for p in parts if p),
                       description.get("ItemCount"), exact_count)


def _keys(schema: list[dict], attributes: dict[str, str]) -> tuple[KeyAttribute, KeyAttribute | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
    make = lambda name: KeyAttribute(name=name, type=_TYPES.get(attributes.get(name, "S"), "S"))
    return make(by_type["HASH"]), (make(by_type["RANGE"]) if "RANGE" in by_type else None)
