"""`deploy --local` and `destroy --local`: the schema applied to the local engine through the DynamoDB API.

The live state is read from the engine on every run (describe_table, describe_time_to_live,
describe_continuous_backups, tags) and turned into the same `ResolvedSchema` that `diff` compares,
so the plan, the staging and the safety gate are the ones a CloudFormation deploy gets. Each step
is applied by reconciling the live tables with the step's target.

Ownership. DynamoDB Local does not support tags (TagResource and ListTagsOfResource fail with
"Tagging is not currently supported"), so the app/env/managed-by tags cannot say which tables are
ours. Instead the engine itself keeps a registry table, `_jobwork-infra.registry`: one item per table
this tool created, with its app, env, YAML key, removal policy and the table's CreationDateTime. A
table belongs to an environment only when its registry item names that app and env *and* its
creation time matches, so a table of another app, another environment or another tool — or one
deleted and re-created by someone else under the same name — is never touched. The registry lives
with the data (same engine, same -dbPath), never in a file beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    WaiterError,
)
from botocore.waiter import WaiterModel, create_waiter_with_client
from rich.console import Console

from ..changes import Plan, Step
from ..diff import gsi_operations, replaces_table
from ..errors import JobworkError
from ..model import (
    MANAGED_BY,
    Encryption,
    KeyAttribute,
    ResolvedSchema,
    ResolvedTable,
    logical_id,
)
from ..plan import plan_changes
from ..project import Project
from . import DeployRequest
from . import engine as engines
from .gate import approve, refuse_destructive, refuse_replacement_in_place
from .shapes import (
    BILLING_MODES,
    TABLE_CLASSES,
    attribute_definitions,
    billing_from,
    capacity_from,
    gsi_spec,
    indexes_from,
    key_schema,
    keys_from,
    lsi_spec,
    table_class_from,
    tenant_scoped_from,
    throughput,
)

REGISTRY = "_jobwork-infra.registry"
# Local engines ignore credentials and (with -sharedDb) regions; fixed values keep real AWS
# credentials out of the picture and give moto (which is per region) one predictable region.
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
WAIT_DELAY = 0.2
WAIT_ATTEMPTS = 1500  # 5 minutes

_UNSUPPORTED_CODES = {"UnknownOperationException", "UnrecognizedClientException", "NotImplementedError"}
_LOST = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)

# A table and every global index ACTIVE: boto3 has `table_exists` for the table, none for indexes.
_WAITERS = WaiterModel({"version": 2, "waiters": {"IndexesActive": {
    "operation": "DescribeTable", "delay": 1, "maxAttempts": WAIT_ATTEMPTS,
    "acceptors": [
        {"state": "success", "matcher": "path", "expected": True,
         "argument": "Table.TableStatus == 'ACTIVE' && "
                     "length(Table.GlobalSecondaryIndexes[?IndexStatus != 'ACTIVE'] || `[]`) == `0`"},
        {"state": "failure", "matcher": "error", "expected": "ResourceNotFoundException"},
    ],
}}})


# ---------------------------------------------------------------------------------------------
# Client and engine

def client_for(endpoint: str):
    """A DynamoDB client for a local endpoint: short timeouts so a dead engine fails fast."""
    return boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS,
        config=Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"}),
    )


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _unsupported(error: ClientError) -> bool:
    message = error.response.get("Error", {}).get("Message", "")
    return _code(error) in _UNSUPPORTED_CODES or "not currently supported" in message \
        or "Nothing to update" in message or "not supported" in message.lower()


@dataclass
class _Context:
    client: Any
    engine: engines.EngineState
    console: Console
    notes: set[str] = field(default_factory=set)
    registry_ready: bool = False

    def note(self, feature: str) -> None:
        if feature not in self.notes:
            self.notes.add(feature)
            self.console.print(f"  [yellow]note:[/] {self.engine.label} does not support {feature}: "
                               "not applied locally (AWS applies it)", markup=True)

    def wait_active(self, name: str) -> None:
        create_waiter_with_client("IndexesActive", _WAITERS, self.client).wait(
            TableName=name, WaiterConfig={"Delay": WAIT_DELAY, "MaxAttempts": WAIT_ATTEMPTS})

    def wait_gone(self, name: str) -> None:
        self.client.get_waiter("table_not_exists").wait(
            TableName=name, WaiterConfig={"Delay": WAIT_DELAY, "MaxAttempts": WAIT_ATTEMPTS})


@contextmanager
def _engine_errors(state: engines.EngineState, doing: Callable[[], str]) -> Iterator[None]:
    """botocore failures → a JobworkError that says what to do (no traceback)."""
    try:
        yield
    except _LOST as exc:
        raise JobworkError(
            f"lost the local engine at {state.endpoint} while {doing()}: {exc}",
            "start it again (`jobwork-infra local start`, or just rerun the deploy, which starts it) "
            "and rerun the same deploy: it plans from the live tables and finishes the remaining steps",
        ) from exc
    except WaiterError as exc:
        raise JobworkError(f"the local engine did not settle while {doing()}: {exc}",
                           "check the engine's log (`jobwork-infra local status`), then rerun the deploy") from exc
    except ClientError as exc:
        raise JobworkError(f"the local engine refused a request while {doing()}: {exc}",
                           "rerun with --debug for details; the deploy can be rerun once fixed") from exc


# ---------------------------------------------------------------------------------------------
# The registry: which live tables belong to which environment

@dataclass(frozen=True)
class Entry:
    table_name: str
    app: str
    env: str
    table_key: str
    created: int          # CreationDateTime in ms; 0 while a create_table is under way
    removal_policy: str


def _created_ms(description: dict) -> int:
    return round(description["CreationDateTime"].timestamp() * 1000)


def read_registry(client) -> dict[str, Entry]:
    try:
        pages = client.get_paginator("scan").paginate(TableName=REGISTRY, ConsistentRead=True)
        items = [item for page in pages for item in page["Items"]]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return {}
        raise
    out = {}
    for item in items:
        entry = Entry(item["table_name"]["S"], item["app"]["S"], item["env"]["S"], item["table_key"]["S"],
                      int(item["created"]["N"]), item["removal_policy"]["S"])
        out[entry.table_name] = entry
    return out


def _ensure_registry(ctx: _Context) -> None:
    if ctx.registry_ready:
        return
    try:
        ctx.client.create_table(
            TableName=REGISTRY, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "table_name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "table_name", "AttributeType": "S"}],
        )
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":
            raise
    ctx.client.get_waiter("table_exists").wait(TableName=REGISTRY, WaiterConfig={"Delay": WAIT_DELAY})
    ctx.registry_ready = True


def _register(ctx: _Context, entry: Entry) -> None:
    _ensure_registry(ctx)
    ctx.client.put_item(TableName=REGISTRY, Item={
        "table_name": {"S": entry.table_name}, "app": {"S": entry.app}, "env": {"S": entry.env},
        "table_key": {"S": entry.table_key}, "created": {"N": str(entry.created)},
        "removal_policy": {"S": entry.removal_policy}, "managed_by": {"S": MANAGED_BY},
    })


def _unregister(ctx: _Context, table_name: str) -> None:
    _ensure_registry(ctx)
    ctx.client.delete_item(TableName=REGISTRY, Key={"table_name": {"S": table_name}})


def _describe(client, name: str) -> dict | None:
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise


def _owned(entry: Entry | None, description: dict, app: str, env: str) -> bool:
    # created == 0: our create_table was interrupted after registering; the table is ours to finish.
    return (entry is not None and entry.app == app and entry.env == env
            and entry.created in (0, _created_ms(description)))


def _foreign_error(name: str, entry: Entry | None, head: ResolvedSchema) -> JobworkError:
    if entry is not None and (entry.app, entry.env) != (head.app, head.env):
        owner = f"environment {entry.env} of app {entry.app}"
    else:
        owner = ("another tool (jobwork-infra did not create it for this environment, "
                 "or left it behind as a retained table)")
    return JobworkError(
        f"table {name} already exists on the local engine and belongs to {owner}: leaving it alone",
        "give this environment's tables other names (naming: or table_name: in the schema), "
        "or delete that table yourself if it is expendable",
    )


# ---------------------------------------------------------------------------------------------
# Live state → ResolvedTable

@dataclass
class Live:
    """What the engine holds for one environment."""

    base: ResolvedSchema | None                              # None: nothing of this environment deployed
    entries: dict[str, Entry]                                # physical name → registry entry (ours)
    descriptions: dict[str, dict] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)           # registry entries whose table is gone


def read_live(client, head: ResolvedSchema, notes: Callable[[str], None] | None = None) -> Live:
    """The environment's live tables as a ResolvedSchema; raises on a name owned by someone else.

    What the engine cannot tell (descriptions, non-key attributes, access patterns, tenancy, and
    any option the engine does not support) is taken from `head`, so it never shows as a change.
    """
    registry = read_registry(client)
    by_name = {t.physical_name: t for t in head.tables.values()}
    ours = {n: e for n, e in registry.items() if (e.app, e.env) == (head.app, head.env)}
    live: dict[str, ResolvedTable] = {}
    result = Live(None, {})
    for name in list(dict.fromkeys([*by_name, *ours])):
        description = _describe(client, name)
        entry = registry.get(name)
        if description is None:
            if name in ours:
                result.stale.append(name)
            continue
        if not _owned(entry, description, head.app, head.env):
            if name in by_name:
                raise _foreign_error(name, entry, head)
            continue  # re-created by someone else after we made it: not ours any more
        head_table = head.tables.get(entry.table_key)
        live[entry.table_key] = _to_resolved(client, description, entry, head_table, head)
        result.entries[name] = entry
        result.descriptions[name] = description
    if live:
        order = [k for k in head.tables if k in live] + [k for k in live if k not in head.tables]
        result.base = head.model_copy(update={"tables": {k: live[k] for k in order}})
    return result


def _to_resolved(client, d: dict, entry: Entry, head: ResolvedTable | None, schema: ResolvedSchema) -> ResolvedTable:
    billing = billing_from(d.get("BillingModeSummary", {}).get("BillingMode"))
    provisioned = billing == "provisioned"
    partition_key, sort_key = keys_from(d["AttributeDefinitions"], d["KeySchema"])
    # The engine lists indexes in an order of its own: by name, a plan reads the same on every run.
    listed = {**d, **{kind: sorted(d.get(kind, []), key=lambda i: i["IndexName"])
                      for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")}}
    global_indexes, local_indexes = indexes_from(listed, head, schema.tenancy_attribute, provisioned)
    ttl = client.describe_time_to_live(TableName=d["TableName"])["TimeToLiveDescription"]
    stream = d.get("StreamSpecification") or {}
    fallback = head or _bare_table(entry, schema)
    return ResolvedTable(
        key=entry.table_key,
        logical_id=fallback.logical_id,
        physical_name=d["TableName"],
        description=fallback.description,
        tenant_scoped=tenant_scoped_from(partition_key, head, schema.tenancy_attribute),
        partition_key=partition_key,
        sort_key=sort_key,
        attributes=fallback.attributes,
        global_indexes=global_indexes,
        local_indexes=local_indexes,
        ttl=ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None,
        stream=stream["StreamViewType"].lower() if stream.get("StreamEnabled") else None,
        billing=billing,
        capacity=capacity_from(d.get("ProvisionedThroughput")) if provisioned else None,
        table_class=_table_class(d, fallback),
        encryption=_encryption(d, fallback),
        point_in_time_recovery=_pitr(client, d["TableName"], fallback),
        deletion_protection=d.get("DeletionProtectionEnabled", fallback.deletion_protection),
        removal_policy=entry.removal_policy,
        tags=_tags(client, d["TableArn"], fallback),
        access_patterns=fallback.access_patterns,
    )


def _bare_table(entry: Entry, schema: ResolvedSchema) -> ResolvedTable:
    """Defaults for a live table the schema no longer has (only what the engine shows matters)."""
    return ResolvedTable(
        key=entry.table_key, logical_id=logical_id(entry.table_key), physical_name=entry.table_name,
        description=None, tenant_scoped=False, partition_key=KeyAttribute(name="_", type="S"), sort_key=None,
        attributes={}, global_indexes=(), local_indexes=(), ttl=None, stream=None, billing="on_demand",
        capacity=None, table_class="standard", encryption=Encryption(type="aws_owned"),
        point_in_time_recovery=False, deletion_protection=False, removal_policy=entry.removal_policy,
        tags={"app": schema.app, "env": schema.env, "table": entry.table_key, "managed-by": MANAGED_BY},
        access_patterns=(),
    )


def _table_class(d: dict, fallback: ResolvedTable) -> str:
    summary = d.get("TableClassSummary")
    if not summary:
        return fallback.table_class  # DynamoDB Local does not report it
    return table_class_from(summary.get("TableClass"))


def _encryption(d: dict, fallback: ResolvedTable) -> Encryption:
    sse = d.get("SSEDescription")
    if not sse:
        return fallback.encryption  # not reported: the engine does not model encryption
    if sse.get("Status") not in ("ENABLED", "ENABLING"):
        return Encryption(type="aws_owned")
    arn = sse.get("KMSMasterKeyArn")
    if fallback.encryption.type == "customer_managed" and arn == fallback.encryption.kms_key_arn:
        return fallback.encryption
    return Encryption(type="aws_managed")


def _pitr(client, name: str, fallback: ResolvedTable) -> bool:
    try:
        description = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    except ClientError as exc:
        if _unsupported(exc):
            return fallback.point_in_time_recovery
        raise
    status = description.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    return status == "ENABLED"


def _tags(client, arn: str, fallback: ResolvedTable) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict = {"ResourceArn": arn}
    try:
        while True:  # no paginator exists for ListTagsOfResource
            page = client.list_tags_of_resource(**kwargs)
            tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    except ClientError as exc:
        if _unsupported(exc):
            return fallback.tags
        raise
    return dict(sorted(tags.items()))


# ---------------------------------------------------------------------------------------------
# Applying: reconcile live → target, one table at a time

def _sse_spec(encryption: Encryption) -> dict:
    if encryption.type == "aws_owned":
        return {"Enabled": False}
    spec = {"Enabled": True, "SSEType": "KMS"}
    if encryption.kms_key_arn:
        spec["KMSMasterKeyId"] = encryption.kms_key_arn
    return spec


def _try(ctx: _Context, feature: str, call: Callable[[], Any]) -> bool:
    """Run an optional feature's call; an engine that lacks the feature gets a note, not a failure."""
    try:
        call()
        return True
    except ClientError as exc:
        if _unsupported(exc):
            ctx.note(feature)
            return False
        raise


def _say(ctx: _Context, text: str) -> None:
    ctx.console.print(f"  [green]✓[/] {text}", markup=True)


def _create(ctx: _Context, table: ResolvedTable, head: ResolvedSchema) -> None:
    c = ctx.client
    # Registered before it exists: if the engine dies in between, the next run still knows it is ours.
    _register(ctx, Entry(table.physical_name, head.app, head.env, table.key, 0, table.removal_policy))
    request: dict = {
        "TableName": table.physical_name,
        "KeySchema": key_schema(table.partition_key, table.sort_key),
        "AttributeDefinitions": attribute_definitions(
            table.partition_key, table.sort_key,
            *[k for i in table.global_indexes for k in (i.partition_key, i.sort_key)],
            *[i.sort_key for i in table.local_indexes]),
        "BillingMode": BILLING_MODES[table.billing],
    }
    if table.billing == "provisioned":
        request["ProvisionedThroughput"] = throughput(table.capacity)
    if table.global_indexes:
        request["GlobalSecondaryIndexes"] = [gsi_spec(table, i) for i in table.global_indexes]
    if table.local_indexes:
        request["LocalSecondaryIndexes"] = [lsi_spec(table, i) for i in table.local_indexes]
    if table.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream.upper()}
    if table.deletion_protection:
        request["DeletionProtectionEnabled"] = True
    created = c.create_table(**request)["TableDescription"]
    ctx.wait_active(table.physical_name)
    _register(ctx, Entry(table.physical_name, head.app, head.env, table.key, _created_ms(created),
                         table.removal_policy))
    indexes = len(table.global_indexes) + len(table.local_indexes)
    _say(ctx, f"created table {table.physical_name}" + (f" with {indexes} index(es)" if indexes else ""))
    # Options DynamoDB Local rejects inside create_table are applied one by one, each optional.
    base = table.model_copy(update={"ttl": None, "point_in_time_recovery": False, "table_class": "standard",
                                    "encryption": Encryption(type="aws_owned"), "tags": {}})
    _update_options(ctx, base, table)


def _delete(ctx: _Context, table: ResolvedTable, why: str) -> None:
    description = _describe(ctx.client, table.physical_name)
    if description is not None:
        if description.get("DeletionProtectionEnabled"):
            raise JobworkError(
                f"table {table.physical_name} has deletion protection on: not deleting it",
                f"set deletion_protection: false for it, deploy that, then {why} again",
            )
        try:
            ctx.client.delete_table(TableName=table.physical_name)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        ctx.wait_gone(table.physical_name)
    _unregister(ctx, table.physical_name)
    _say(ctx, f"deleted table {table.physical_name} ({why})")


def _orphan(ctx: _Context, table: ResolvedTable) -> None:
    _unregister(ctx, table.physical_name)
    ctx.console.print(f"  [yellow]note:[/] table {table.physical_name} is left in place with its data "
                      "(removal_policy: retain); it is no longer managed", markup=True)


def _remove(ctx: _Context, table: ResolvedTable, why: str) -> None:
    if table.removal_policy == "destroy":
        _delete(ctx, table, why)
    else:
        _orphan(ctx, table)


def _update_options(ctx: _Context, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    """Everything but keys and indexes, in place; each option the engine lacks becomes a note."""
    c, name = ctx.client, tgt.physical_name
    if (cur.billing, cur.capacity) != (tgt.billing, tgt.capacity):
        request: dict = {"TableName": name, "BillingMode": BILLING_MODES[tgt.billing]}
        if tgt.billing == "provisioned":
            request["ProvisionedThroughput"] = throughput(tgt.capacity)
            if cur.billing != "provisioned" and tgt.global_indexes:
                request["GlobalSecondaryIndexUpdates"] = [
                    {"Update": {"IndexName": i.name, "ProvisionedThroughput": throughput(i.capacity or tgt.capacity)}}
                    for i in tgt.global_indexes]
        c.update_table(**request)
        ctx.wait_active(name)
        _say(ctx, f"{name}: billing {tgt.billing}" + (f" ({tgt.capacity.read} RCU / {tgt.capacity.write} WCU)"
                                                      if tgt.capacity else ""))
    if cur.stream != tgt.stream:
        # A stream's view type cannot change while enabled: disable first, then enable the new one.
        if cur.stream:
            c.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            ctx.wait_active(name)
        if tgt.stream:
            c.update_table(TableName=name,
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": tgt.stream.upper()})
            ctx.wait_active(name)
        _say(ctx, f"{name}: stream {tgt.stream or 'off'}")
    if cur.deletion_protection != tgt.deletion_protection and _try(
            ctx, "deletion protection",
            lambda: c.update_table(TableName=name, DeletionProtectionEnabled=tgt.deletion_protection)):
        ctx.wait_active(name)
        _say(ctx, f"{name}: deletion protection {'on' if tgt.deletion_protection else 'off'}")
    if cur.table_class != tgt.table_class and _try(
            ctx, "table classes", lambda: c.update_table(TableName=name, TableClass=TABLE_CLASSES[tgt.table_class])):
        ctx.wait_active(name)
        _say(ctx, f"{name}: table class {tgt.table_class}")
    if cur.encryption != tgt.encryption and _try(
            ctx, "encryption settings",
            lambda: c.update_table(TableName=name, SSESpecification=_sse_spec(tgt.encryption))):
        ctx.wait_active(name)
        _say(ctx, f"{name}: encryption {tgt.encryption.type}")
    if cur.ttl != tgt.ttl:
        if cur.ttl and _try(ctx, "TTL", lambda: c.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": cur.ttl})):
            _say(ctx, f"{name}: TTL off ({cur.ttl})")
        if tgt.ttl and _try(ctx, "TTL", lambda: c.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": tgt.ttl})):
            _say(ctx, f"{name}: TTL on {tgt.ttl}")
    if cur.point_in_time_recovery != tgt.point_in_time_recovery and _try(
            ctx, "point-in-time recovery", lambda: c.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": tgt.point_in_time_recovery})):
        _say(ctx, f"{name}: point-in-time recovery {'on' if tgt.point_in_time_recovery else 'off'}")
    if cur.tags != tgt.tags:
        arn = c.describe_table(TableName=name)["Table"]["TableArn"]
        gone = [k for k in cur.tags if k not in tgt.tags]
        changed = [{"Key": k, "Value": v} for k, v in tgt.tags.items() if cur.tags.get(k) != v]
        done = True
        if gone:
            done = _try(ctx, "tags", lambda: c.untag_resource(ResourceArn=arn, TagKeys=gone))
        if changed and done:
            done = _try(ctx, "tags", lambda: c.tag_resource(ResourceArn=arn, Tags=changed))
        if done:
            _say(ctx, f"{name}: tags set ({len(tgt.tags)})")


def _update_indexes(ctx: _Context, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    """One global index created or deleted per update_table call, each waited for until ACTIVE."""
    name = tgt.physical_name
    wanted = {i.name: i for i in tgt.global_indexes}
    for op, index in gsi_operations(cur, tgt):
        if op == "delete":
            ctx.client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index}}])
        else:
            spec = wanted[index]
            # Some engines (moto) replace the definitions instead of merging them: send the live ones too.
            live = ctx.client.describe_table(TableName=name)["Table"]["AttributeDefinitions"]
            known = [KeyAttribute(name=a["AttributeName"], type=a["AttributeType"]) for a in live]
            ctx.client.update_table(
                TableName=name,
                AttributeDefinitions=attribute_definitions(*known, spec.partition_key, spec.sort_key),
                GlobalSecondaryIndexUpdates=[{"Create": gsi_spec(tgt, spec)}])
        ctx.wait_active(name)
        _say(ctx, f"{name}: {'created' if op == 'create' else 'deleted'} index {index}")


def _reconcile(ctx: _Context, cur: ResolvedTable | None, tgt: ResolvedTable | None, head: ResolvedSchema) -> None:
    if tgt is None:
        _remove(ctx, cur, "removed from the schema")
    elif cur is None:
        _create(ctx, tgt, head)
    elif replaces_table(cur, tgt):
        _remove(ctx, cur, "replaced")
        if _describe(ctx.client, tgt.physical_name) is not None:
            raise JobworkError(
                f"cannot replace table {tgt.physical_name}: the old table is kept (removal_policy: "
                f"{cur.removal_policy}) and has the same name",
                "give the new table another name, or set removal_policy: destroy to allow the replacement",
            )
        _create(ctx, tgt, head)
    else:
        _update_indexes(ctx, cur, tgt)
        _update_options(ctx, cur, tgt)
        if cur.removal_policy != tgt.removal_policy:
            entry = Entry(tgt.physical_name, head.app, head.env, tgt.key,
                          _created_ms(ctx.client.describe_table(TableName=tgt.physical_name)["Table"]),
                          tgt.removal_policy)
            _register(ctx, entry)
            _say(ctx, f"{tgt.physical_name}: removal policy {tgt.removal_policy}")


def run_step(ctx: _Context, current: ResolvedSchema | None, step: Step, head: ResolvedSchema) -> None:
    """Bring every table from `current` to `step.target`."""
    before = current.tables if current is not None else {}
    after = step.target.tables
    for key in [*after, *(k for k in before if k not in after)]:
        cur, tgt = before.get(key), after.get(key)
        if cur != tgt:
            _reconcile(ctx, cur, tgt, head)


def _apply(ctx: _Context, plan: Plan) -> None:
    steps = plan.steps or (Step(1, "apply the changes", plan.changes, plan.head),)
    current = plan.base
    total = len(steps)
    for step in steps:
        ctx.console.print(f"[bold]Step {step.number}/{total}:[/] {step.summary}", markup=True)
        doing = f"applying step {step.number}/{total} ({step.summary})"
        with _engine_errors(ctx.engine, lambda doing=doing: doing):
            if ctx.console.is_terminal:
                with ctx.console.status(f"step {step.number}/{total}: {step.summary}"):
                    run_step(ctx, current, step, plan.head)
            else:
                run_step(ctx, current, step, plan.head)
        current = step.target


def _cleanup_stale(ctx: _Context, live: Live) -> None:
    for name in live.stale:  # registered, but the table is gone (deleted by hand)
        _unregister(ctx, name)


# ---------------------------------------------------------------------------------------------
# Public

def _open(project: Project, request: DeployRequest, console: Console) -> tuple[ResolvedSchema, _Context, Live, str]:
    """The environment's head, the engine (started when none runs), its live tables, and where they are."""
    head = project.resolve(request.env)
    running = engines.status()
    state = running or engines.ensure_running()
    if running is None:
        console.print(f"Started {state.label} at {state.endpoint} (stop it with `jobwork-infra local stop`)")
    ctx = _Context(client_for(state.endpoint), state, console)
    with _engine_errors(state, lambda: "reading the live tables"):
        live = read_live(ctx.client, head)
    return head, ctx, live, f"{head.stack_name} on {state.label} ({state.endpoint})"


def _render(plan: Plan, console: Console) -> None:
    from ..report.changes import render_plan_text

    render_plan_text(plan, console)


def deploy_local(project: Project, request: DeployRequest, console: Console, confirm: Callable[[str], bool]) -> int:
    """Plan the environment against the local engine's live tables, gate, then apply step by step."""
    head, ctx, live, where = _open(project, request, console)
    plan = plan_changes(live.base, head)
    if plan.is_empty:
        if not request.dry_run:
            with _engine_errors(ctx.engine, lambda: "cleaning the registry"):
                _cleanup_stale(ctx, live)
        console.print(f"No changes: {where} matches the schema.")
        return 0
    _render(plan, console)
    refuse_destructive(plan, request.allow_destructive)
    refuse_replacement_in_place(plan, retained_only=True)
    if request.dry_run:
        console.print(f"Dry run: {len(plan.steps)} step(s) would be applied to {where}; nothing changed.")
        return 0
    if not approve(plan, yes=request.yes, confirm=confirm):
        console.print("Cancelled: nothing changed.")
        return 1
    started = time.monotonic()
    with _engine_errors(ctx.engine, lambda: "cleaning the registry"):
        _cleanup_stale(ctx, live)
    _apply(ctx, plan)
    console.print(f"Deployed {where}: {len(plan.steps) or 1} step(s) in {time.monotonic() - started:.1f} s.")
    return 0


def destroy_local(project: Project, request: DeployRequest, console: Console, confirm: Callable[[str], bool]) -> int:
    """Delete the environment's tables from the local engine; retained tables stay and are listed."""
    head, ctx, live, where = _open(project, request, console)
    if live.base is None:
        console.print(f"Nothing to destroy: {where} has no tables.")
        return 0
    empty = head.model_copy(update={"tables": {}})
    plan = plan_changes(live.base, empty)
    _render(plan, console)
    if not approve(plan, yes=request.yes, confirm=confirm):
        console.print("Cancelled: nothing changed.")
        return 1
    kept = [t.physical_name for t in live.base.tables.values() if t.removal_policy != "destroy"]
    with _engine_errors(ctx.engine, lambda: "destroying the tables"):
        _cleanup_stale(ctx, live)
        for table in live.base.tables.values():
            _remove(ctx, table, "destroy")
    console.print(f"Destroyed {where}" + (f"; kept (retained): {', '.join(kept)}." if kept else "."))
    return 0
