"""`deploy --local` and `destroy --local`: the schema applied to the local engine through the DynamoDB API.

The live tables are read by live.py into the same `ResolvedSchema` that `diff` compares, so the
plan, the staging and the safety gate are the ones a CloudFormation deploy gets. This module owns
the applying: each step is applied by reconciling the live tables with the step's target, and the
public entry points (`deploy_local`, `destroy_local`; `client_for` and `read_live` are re-exported).
Which tables are ours is the registry's business (registry.py).

Layering: local.py → live.py → registry.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from ..changes import Plan, Step
from ..diff import gsi_operations, replaces_table
from ..errors import JobworkError
from ..model import (
    Encryption,
    KeyAttribute,
    ResolvedSchema,
    ResolvedTable,
)
from ..plan import plan_changes
from ..project import Project
from . import DeployRequest
from . import engine as engines
from .adopt import Adoption, announce, claim, find_adoption, gate_adoption
from .gate import approve, refuse_destructive, refuse_replacement_in_place
from .live import Live, read_live
from .local_client import RunContext, client_for, engine_errors, error_code, is_unsupported
from .registry import Entry, created_ms, describe_or_none, register, unregister
from .shapes import (
    BILLING_MODES,
    TABLE_CLASSES,
    attribute_definitions,
    gsi_spec,
    key_schema,
    lsi_spec,
    throughput,
)

__all__ = ["client_for", "deploy_local", "destroy_local", "read_live", "run_step"]


# ---------------------------------------------------------------------------------------------
# Applying: reconcile live → target, one table at a time

def _sse_spec(encryption: Encryption) -> dict:
    if encryption.type == "aws_owned":
        return {"Enabled": False}
    spec = {"Enabled": True, "SSEType": "KMS"}
    if encryption.kms_key_arn:
        spec["KMSMasterKeyId"] = encryption.kms_key_arn
    return spec


def _try(ctx: RunContext, feature: str, call: Callable[[], Any]) -> bool:
    """Run an optional feature's call; an engine that lacks the feature gets a note, not a failure."""
    try:
        call()
        return True
    except ClientError as exc:
        if is_unsupported(exc):
            ctx.note(feature)
            return False
        raise


def _say(ctx: RunContext, text: str) -> None:
    ctx.console.print(f"  [green]✓[/] {text}", markup=True)


def _create(ctx: RunContext, table: ResolvedTable, head: ResolvedSchema) -> None:
    c = ctx.client
    # Registered before it exists: if the engine dies in between, the next run still knows it is ours.
    register(ctx, Entry(table.physical_name, head.app, head.env, table.key, 0, table.removal_policy))
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
    register(ctx, Entry(table.physical_name, head.app, head.env, table.key, created_ms(created),
                         table.removal_policy))
    indexes = len(table.global_indexes) + len(table.local_indexes)
    _say(ctx, f"created table {table.physical_name}" + (f" with {indexes} index(es)" if indexes else ""))
    # Options DynamoDB Local rejects inside create_table are applied one by one, each optional.
    base = table.model_copy(update={"ttl": None, "point_in_time_recovery": False, "table_class": "standard",
                                    "encryption": Encryption(type="aws_owned"), "tags": {}})
    _update_options(ctx, base, table)


def _delete(ctx: RunContext, table: ResolvedTable, why: str) -> None:
    description = describe_or_none(ctx.client, table.physical_name)
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
    ctx.console.print(f"  [yellow]note:[/] table {table.physical_name} is left in place with its data "
                      "(removal_policy: retain); it is no longer managed", markup=True)


def _remove(ctx: RunContext, table: ResolvedTable, why: str) -> None:
    if table.removal_policy == "destroy":
        _delete(ctx, table, why)
    else:
        _orphan(ctx, table)


def _update_options(ctx: RunContext, cur: ResolvedTable, tgt: ResolvedTable) -> None:
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
        _remove(ctx, cur, "removed from the schema")
    elif cur is None:
        _create(ctx, tgt, head)
    elif replaces_table(cur, tgt):
        _remove(ctx, cur, "replaced")
        if describe_or_none(ctx.client, tgt.physical_name) is not None:
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
                          tgt.removal_policy)
            register(ctx, entry)
            _say(ctx, f"{tgt.physical_name}: removal policy {tgt.removal_policy}")


def run_step(ctx: RunContext, current: ResolvedSchema | None, step: Step, head: ResolvedSchema) -> None:
    """Bring every table from `current` to `step.target`."""
    before = current.tables if current is not None else {}
    after = step.target.tables
    for key in [*after, *(k for k in before if k not in after)]:
        cur, tgt = before.get(key), after.get(key)
        if cur != tgt:
            _reconcile(ctx, cur, tgt, head)


def _apply(ctx: RunContext, plan: Plan) -> None:
    steps = plan.steps or (Step(1, "apply the changes", plan.changes, plan.head),)
    current = plan.base
    total = len(steps)
    for step in steps:
        ctx.console.print(f"[bold]Step {step.number}/{total}:[/] {step.summary}", markup=True)
        doing = f"applying step {step.number}/{total} ({step.summary})"
        with engine_errors(ctx.engine, lambda doing=doing: doing):
            if ctx.console.is_terminal:
                with ctx.console.status(f"step {step.number}/{total}: {step.summary}"):
                    run_step(ctx, current, step, plan.head)
            else:
                run_step(ctx, current, step, plan.head)
        current = step.target


def _cleanup_stale(ctx: RunContext, live: Live) -> None:
    for name in live.stale:  # registered, but the table is gone (deleted by hand)
        unregister(ctx, name)


# ---------------------------------------------------------------------------------------------
# Public

def _open(project: Project, request: DeployRequest, console: Console, *, adopting: bool = False,
          ) -> tuple[ResolvedSchema, RunContext, Live, str, Adoption]:
    """The environment's head, the engine (started when none runs), its live tables, and where they are.

    With `adopting` (deploy), the schema's tables that exist but are not managed are gated
    (adopt.py) and added to the live base; otherwise (destroy) they are left alone.
    """
    head = project.resolve(request.env)
    running = engines.status()
    state = running or engines.ensure_running()
    if running is None:
        console.print(f"Started {state.label} at {state.endpoint} (stop it with `jobwork-infra local stop`)")
    ctx = RunContext(client_for(state.endpoint), state, console)
    with engine_errors(state, lambda: "reading the live tables"):
        adoption = find_adoption(ctx.client, head)
        if adopting:
            gate_adoption(adoption, head, adopt=request.adopt)
        live = read_live(ctx.client, adoption.managed(head))
    if adopting:
        live.base = adoption.base(live.base, head)
    else:
        adoption = Adoption()
    return head, ctx, live, f"{head.stack_name} on {state.label} ({state.endpoint})", adoption


def _render(plan: Plan, console: Console) -> None:
    from ..report.changes import render_plan_text

    render_plan_text(plan, console)


def deploy_local(project: Project, request: DeployRequest, console: Console, confirm: Callable[[str], bool]) -> int:
    """Plan the environment against the local engine's live tables, gate, then apply step by step."""
    head, ctx, live, where, adoption = _open(project, request, console, adopting=True)
    plan = plan_changes(live.base, head)
    announce(adoption, head, console)
    if plan.is_empty:
        if not request.dry_run:
            with engine_errors(ctx.engine, lambda: "cleaning the registry"):
                _cleanup_stale(ctx, live)
                claim(ctx, adoption, head)
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
    with engine_errors(ctx.engine, lambda: "cleaning the registry"):
        _cleanup_stale(ctx, live)
        claim(ctx, adoption, head)
    _apply(ctx, plan)
    console.print(f"Deployed {where}: {len(plan.steps) or 1} step(s) in {time.monotonic() - started:.1f} s.")
    return 0


def destroy_local(project: Project, request: DeployRequest, console: Console, confirm: Callable[[str], bool]) -> int:
    """Delete the environment's tables from the local engine; retained tables stay and are listed."""
    head, ctx, live, where, _ = _open(project, request, console)
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
    with engine_errors(ctx.engine, lambda: "destroying the tables"):
        _cleanup_stale(ctx, live)
        for table in live.base.tables.values():
            _remove(ctx, table, "destroy")
    console.print(f"Destroyed {where}" + (f"; kept (retained): {', '.join(kept)}." if kept else "."))
    return 0
