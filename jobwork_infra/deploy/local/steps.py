"""Applying one step on the local engine: reconcile the live tables with the step's target, one table
at a time (create, update options and indexes, remove), each call waited for; what the engine lacks
becomes a note, not a failure. Which tables are ours is the registry's business (registry.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ...changes import Step
from ...diff import gsi_operations, replaces_table
from ...errors import JobworkError
from ...model import Encryption, KeyAttribute, ResolvedSchema, ResolvedTable
from ...table_options import INDEX_OPTIONS, TABLE_OPTIONS
from ..aws import describe_table_or_none, error_code, is_unsupported
from ..events import Applied, Note
from ..shapes import (
    BILLING_MODES,
    TABLE_CLASSES,
    attribute_definitions,
    gsi_spec,
    key_schema,
    lsi_spec,
    throughput,
)
from .client import RunContext
from .live import READERS
from .registry import (
    Entry,
    claim_all_for_create,
    created_ms,
    read_registry,
    record_created,
    register,
    release_claim,
    unregister,
)

# ---------------------------------------------------------------------------------------------
# Applying: reconcile live → target, one table at a time

def _sse_spec(encryption: Encryption) -> dict:
    if encryption.type == "aws_owned":
        return {"Enabled": False}
    spec = {"Enabled": True, "SSEType": "KMS"}
    if encryption.kms_key_arn:
        spec["KMSMasterKeyId"] = encryption.kms_key_arn
    return spec


def _try(ctx: RunContext, feature: str, call: Callable[[], Any], lacking: tuple[str, ...] = ()) -> bool:
    """Run an optional feature's call; an engine that lacks the feature gets a note, not a failure
    (`lacking`: more error codes that say so for this call)."""
    try:
        call()
        return True
    except ClientError as exc:
        if is_unsupported(exc) or error_code(exc) in lacking:
            ctx.note(feature)
            return False
        raise


# DynamoDB Local answers a GlobalSecondaryIndexUpdates Update with WarmThroughput by InternalFailure
# (seen with the 2026 release), not UnknownOperationException: for the registry's index options it
# says the same thing, the engine has no such setting.
_INDEX_OPTION_LACKING = ("InternalFailure",)


def _say(ctx: RunContext, text: str) -> None:
    ctx.emit(Applied(text))


def _create(ctx: RunContext, table: ResolvedTable, head: ResolvedSchema) -> None:
    _create_all(ctx, [table], head)
    _finish_create(ctx, table)


def _create_all(ctx: RunContext, tables: list[ResolvedTable], head: ResolvedSchema, role: str = "") -> None:
    """Claim the names, ask for every table, wait until all are ACTIVE, then record them as ours.

    The registry writes are batched (registry.py: one transaction per 100 claims, one per 100
    records) rather than two conditional writes per table, each a disk commit on DynamoDB Local.
    """
    entries = [Entry(t.physical_name, head.app, head.env, t.key, 0, t.removal_policy, ctx.source, role=role,
                     generation=t.generation) for t in tables]
    # Claimed before they exist: if the engine dies in between, the next run still knows they are ours.
    claim_all_for_create(ctx, entries)
    created: list[dict] = []
    for table in tables:
        try:
            created.append(_start_create(ctx, table))
        except ClientError as exc:
            # The engine refused this create_table: neither it nor the ones after it became tables. Their
            # claims go, or the registry would hand this environment a table someone else created between
            # the claim and create_table (`owned` accepts created 0).
            for entry in entries[len(created):]:
                release_claim(ctx, entry)
            if error_code(exc) == "ResourceInUseException":
                raise JobworkError(
                    f"table {table.physical_name} appeared on the local engine while this deploy was creating it, "
                    "and jobwork-infra did not create it: leaving it alone",
                    "rerun the deploy to plan again; rename this environment's table, or delete that table "
                    "yourself if it is expendable") from None
            raise
    # Waited for side by side (boto3 clients are thread-safe; live.py cites it): one waiter after the
    # other paid a round trip per table in turn.
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        list(pool.map(ctx.wait_active, [t.physical_name for t in tables]))
    record_created(ctx, [replace(e, created=created_ms(d)) for e, d in zip(entries, created, strict=True)])


def _start_create(ctx: RunContext, table: ResolvedTable) -> dict:
    """Ask for the (already claimed) table; its description as CreateTable returned it."""
    c = ctx.client
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
    return created


def _finish_create(ctx: RunContext, table: ResolvedTable) -> None:
    """Report a created (ACTIVE, recorded) table, then set its other options."""
    indexes = len(table.global_indexes) + len(table.local_indexes)
    _say(ctx, f"created table {table.physical_name}" + (f" with {indexes} index(es)" if indexes else ""))
    # Options DynamoDB Local rejects inside create_table are applied one by one, each optional.
    base = table.model_copy(update={"ttl": None, "point_in_time_recovery": False, "table_class": "standard",
                                    "encryption": Encryption(type="aws_owned"), "tags": {},
                                    **{o.field: o.default for o in TABLE_OPTIONS},
                                    "global_indexes": tuple(i.model_copy(update={o.field: o.default for o in INDEX_OPTIONS})
                                                            for i in table.global_indexes)})
    _update_options(ctx, base, table)


def _delete(ctx: RunContext, table: ResolvedTable, why: str) -> None:
    description = describe_table_or_none(ctx.client, table.physical_name)
    if description is not None:
        if description.get("DeletionProtectionEnabled"):
            raise JobworkError(
                f"table {table.physical_name} has deletion protection on: not deleting it",
                f"set deletion_protection: false for it, deploy that, then {why} again",
            )
        try:
            ctx.client.delete_table(TableName=table.physical_name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        ctx.wait_gone(table.physical_name)
    unregister(ctx, table.physical_name)
    _say(ctx, f"deleted table {table.physical_name} ({why})")


def _orphan(ctx: RunContext, table: ResolvedTable) -> None:
    unregister(ctx, table.physical_name)
    ctx.emit(Note(f"table {table.physical_name} is left in place with its data (removal_policy: retain); "
                  "it is no longer managed"))


def remove(ctx: RunContext, table: ResolvedTable, why: str) -> None:
    if table.removal_policy == "destroy":
        _delete(ctx, table, why)
    else:
        _orphan(ctx, table)


def _billing(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    c, name = ctx.client, tgt.physical_name
    if (cur.billing, cur.capacity) == (tgt.billing, tgt.capacity):
        return
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


def _stream(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    c, name = ctx.client, tgt.physical_name
    if cur.stream == tgt.stream:
        return
    # A stream's view type cannot change while enabled: disable first, then enable the new one.
    if cur.stream:
        c.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
        ctx.wait_active(name)
    if tgt.stream:
        c.update_table(TableName=name,
                       StreamSpecification={"StreamEnabled": True, "StreamViewType": tgt.stream.upper()})
        ctx.wait_active(name)
    _say(ctx, f"{name}: stream {tgt.stream or 'off'}")


def _update_table_option(ctx: RunContext, feature: str, said: str, **update: Any) -> None:
    """One UpdateTable call for an optional feature, waited for and reported when the engine has it."""
    name = update["TableName"]
    if _try(ctx, feature, lambda: ctx.client.update_table(**update)):
        ctx.wait_active(name)
        _say(ctx, f"{name}: {said}")


def _table_settings(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    """Deletion protection, table class and encryption: each its own optional UpdateTable."""
    name = tgt.physical_name
    if cur.deletion_protection != tgt.deletion_protection:
        _update_table_option(ctx, "deletion protection", f"deletion protection {'on' if tgt.deletion_protection else 'off'}",
                             TableName=name, DeletionProtectionEnabled=tgt.deletion_protection)
    if cur.table_class != tgt.table_class:
        _update_table_option(ctx, "table classes", f"table class {tgt.table_class}",
                             TableName=name, TableClass=TABLE_CLASSES[tgt.table_class])
    if cur.encryption != tgt.encryption:
        _update_table_option(ctx, "encryption settings", f"encryption {tgt.encryption.type}",
                             TableName=name, SSESpecification=_sse_spec(tgt.encryption))


def _ttl(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    c, name = ctx.client, tgt.physical_name
    if cur.ttl == tgt.ttl:
        return
    if cur.ttl and _try(ctx, "TTL", lambda: c.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": cur.ttl})):
        _say(ctx, f"{name}: TTL off ({cur.ttl})")
    if tgt.ttl and _try(ctx, "TTL", lambda: c.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": tgt.ttl})):
        _say(ctx, f"{name}: TTL on {tgt.ttl}")


def _point_in_time_recovery(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    name = tgt.physical_name
    if cur.point_in_time_recovery != tgt.point_in_time_recovery and _try(
            ctx, "point-in-time recovery", lambda: ctx.client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": tgt.point_in_time_recovery})):
        _say(ctx, f"{name}: point-in-time recovery {'on' if tgt.point_in_time_recovery else 'off'}")


def _registered_options(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    """The options of table_options.py, each through its own call; an engine without one gets a note
    (DynamoDB Local has no contributor insights: UnknownOperationException)."""
    name = tgt.physical_name
    for option in TABLE_OPTIONS:
        value = getattr(tgt, option.field)
        if getattr(cur, option.field) != value and _try(
                ctx, option.feature, lambda option=option, value=value: option.apply_live(ctx.client, name, value)):
            _say(ctx, f"{name}: {option.feature} {_shown(value)}")
    current = {i.name: i for i in cur.global_indexes}
    for index in tgt.global_indexes:   # the index options (an index just created starts at the defaults)
        before = current.get(index.name)
        for option in INDEX_OPTIONS:
            value = getattr(index, option.field)
            was = getattr(before, option.field) if before is not None else option.default
            if was != value and _try(ctx, option.feature, lambda option=option, index=index, value=value:
                                     option.index_apply_live(ctx.client, name, index.name, value),
                                     lacking=_INDEX_OPTION_LACKING):
                _say(ctx, f"{name}: index {index.name} {option.feature} {_shown(value)}")


def _shown(value: object) -> str:
    return "on" if value is True else "off" if value is False else "none" if value is None else str(value)


def _tags(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    # An engine that refused tagging once in this run (DynamoDB Local: "Tagging is not currently
    # supported") refuses it for every table: not asked again, one DescribeTable + TagResource each.
    c, name = ctx.client, tgt.physical_name
    if cur.tags == tgt.tags or "tags" in ctx.notes:
        return
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


# In this order: billing before the rest (as the engine applies them), tags last.
OPTION_UPDATES: tuple[Callable[[RunContext, ResolvedTable, ResolvedTable], None], ...] = (
    _billing, _stream, _table_settings, _ttl, _point_in_time_recovery, _registered_options, _tags)


def _update_options(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
    """Everything but keys and indexes, in place; each option the engine lacks becomes a note."""
    for update in OPTION_UPDATES:
        update(ctx, cur, tgt)


def _update_indexes(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
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


def _reconcile(ctx: RunContext, cur: ResolvedTable | None, tgt: ResolvedTable | None, head: ResolvedSchema) -> None:
    if tgt is None:
        remove(ctx, cur, "removed from the schema")
    elif cur is None:
        _create(ctx, tgt, head)
    elif replaces_table(cur, tgt):
        remove(ctx, cur, "replaced")
        if describe_table_or_none(ctx.client, tgt.physical_name) is not None:
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
                          created_ms(ctx.client.describe_table(TableName=tgt.physical_name)["Table"]),
                          tgt.removal_policy, ctx.source, generation=tgt.generation)
            register(ctx, entry)
            _say(ctx, f"{tgt.physical_name}: removal policy {tgt.removal_policy}")


def migrate_step(ctx: RunContext, step: Step, head: ResolvedSchema, root: Path, skip_unkeyed: bool) -> None:
    """The plan's migrate step: create each generation N (registered as "next", not yet the table of
    record), fill it (jobwork_infra/migrate/), and once verified make it the table of record, keeping
    generation N-1 as "previous" until `migrate finish`. Run again after a failure, it resumes."""
    from ...migrate.aws import local_clients
    from ...migrate.stage import run_migrations

    registry = read_registry(ctx.client)
    for migration in step.migrations:
        held = registry.get(migration.target)
        if describe_table_or_none(ctx.client, migration.target) is None:
            _create_all(ctx, [head.tables[migration.table]], head, role="next")
            _finish_create(ctx, head.tables[migration.table])  # says so, and sets the other options
        elif held is None or (held.app, held.env, held.role) != (head.app, head.env, "next"):
            raise JobworkError(f"table {migration.target} exists and is not generation {migration.to_generation} "
                               f"of {head.app}/{head.env}'s {migration.table} being filled: not copying into it",
                               "rename it, or delete it if it is expendable, then rerun the deploy")
    _, streams = local_clients(ctx.engine.endpoint)
    run_migrations(ctx.client, streams, step, head.env, root, skip_unkeyed=skip_unkeyed,
                   retry=f"jobwork-infra deploy --env {head.env} --local", emit=ctx.emit)
    registry = read_registry(ctx.client)
    flips = []
    for migration in step.migrations:
        flips += [replace(registry[migration.target], role=""), replace(registry[migration.source], role="previous")]
        _say(ctx, f"{migration.target} is the table of record of {migration.table}; {migration.source} stays, "
                  f"replicated by `jobwork-infra migrate sync`, until `jobwork-infra migrate finish {migration.table}`")
    record_created(ctx, flips)


def run_step(ctx: RunContext, current: ResolvedSchema | None, step: Step, head: ResolvedSchema) -> None:
    """Bring every table from `current` to `step.target`."""
    before = current.tables if current is not None else {}
    after = step.target.tables
    # New tables are all asked for before any is waited for: the engine creates them side by side,
    # where one create-and-wait after the other paid every table's wait in turn. They are still all
    # claimed in the registry before the first CreateTable and recorded once ACTIVE (_create_all).
    # Local engines only: AWS limits how many tables with indexes may be CREATING at once (compile
    # puts them in lanes for CloudFormation), DynamoDB Local and moto do not.
    new = [t for k, t in after.items() if k not in before]
    if new:
        _create_all(ctx, new, head)
    for key in [*after, *(k for k in before if k not in after)]:
        cur, tgt = before.get(key), after.get(key)
        if cur is None:
            _finish_create(ctx, tgt)
        elif cur != tgt:
            _reconcile(ctx, cur, tgt, head)

