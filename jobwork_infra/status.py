"""`status`: what is deployed, per stack: each table with its keys, indexes, TTL, billing, protections
and item count, as the live tables report them.

Built from DynamoDB's own descriptions (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups),
never from the schema alone: a table the schema has but the target lacks reads "not deployed". No
boto3 here: deploy/ reads, this module shapes, report/status.py prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .followup import Invocation, command
from .migrate.checkpoint import MigrationState, migrations
from .model import KeyAttribute, ResolvedSchema, ResolvedTable
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
class MigrationStatus:
    """A generation bump not finished (its checkpoint under .jobwork/migrations/ENV/) and what to run next."""

    table: str
    from_generation: int
    to_generation: int
    source: str
    target: str
    phase: str                     # migrate/checkpoint.py's PHASES
    items_copied: int
    next: tuple[tuple[str, str], ...] = ()  # (when, command): built by followup.py, so each runs as printed


@dataclass(frozen=True)
class StatusReport:
    env: str
    where: str
    stacks: tuple[StackStatus, ...] = field(default=())
    migrations: tuple[MigrationStatus, ...] = field(default=())

    def as_dict(self) -> dict:
        return asdict(self)


def migrations_in_progress(root: Path, head: ResolvedSchema, rerun: Invocation) -> tuple[MigrationStatus, ...]:
    """The environment's migrations of this schema's tables that are not finished, each with its next command.

    Read from the checkpoints only (what `migrate status` reads); other projects sharing the root are
    left out, as `migrate status` leaves them out.
    """
    names = {t.physical_name for t in head.tables.values()}
    out = []
    for _, state in migrations(root, head.env):
        if state.table not in head.tables or not ({state.source, state.target} & names) or state.phase == "finished":
            continue
        out.append(MigrationStatus(state.table, state.from_generation, state.to_generation, state.source,
                                   state.target, state.phase, state.copied, _next_steps(state, rerun)))
    return tuple(out)


def _next_steps(state: MigrationState, rerun: Invocation) -> tuple[tuple[str, str], ...]:
    if not state.at_least("copied"):
        return (("the copy stopped; it resumes from its checkpoint with", command(rerun, "deploy")),)
    when = f"once the application reads and writes only generation {state.to_generation}"
    finish = (when, command(rerun, "migrate finish", state.table))
    if rerun.local:  # locally nothing replicates between runs (on AWS the stack's stream consumer does)
        return (("until then, replay the old generation's writes with", command(rerun, "migrate sync")), finish)
    return (finish,)


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
