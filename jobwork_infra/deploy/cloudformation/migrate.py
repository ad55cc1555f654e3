"""A plan's migrate step on a CloudFormation stack (docs/migrate.md, "On AWS (CloudFormation)").

Three stages, each leaving the stack consistent:

    A  a stack update adds generation N under its own logical id (`UsersG2Table`) and physical
       name; generation N-1 stays under its id, DeletionPolicy and UpdateReplacePolicy Retain, its
       stream on (NEW_AND_OLD_IMAGES, turned on in place by the update step before this one);
    B  the copy, catch-up and verify, from the CLI process through the DynamoDB API at the
       endpoint: the same engine as the local target (jobwork_infra/migrate/);
    C  a stack update to the head's template (generation N is the table of record: the outputs
       manifest and `codegen python` name it), plus generation N-1, retained, and the stream
       consumer that replicates it into N until `migrate finish` (migrate/consumer.py).

Why a logical id per generation: a table's TableName cannot change without a replacement, and
CloudFormation replaces a resource under the same logical id by creating the new one, then
deleting the old one in the cleanup — the items of generation N-1 with it. A new logical id makes
generation N an Add and leaves N-1 untouched
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html,
TableName: "Update requires: Replacement").

The record of a migration in progress rides in the template's Metadata (`Migrating`: table key →
logical ids of N-1 and of the consumer's resources), so every later template of the stack carries
those resources over until `migrate finish` removes them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ...changes import Migration
from ...migrate.consumer import resources as consumer_resources
from ...migrate.stage import key_schema
from ...model import ResolvedSchema
from .template import RETAIN, deployed_tables

MIGRATING_RECORD = "Migrating"  # Metadata.JobworkInfra.Migrating: table key → {"previous": lid, "resources": [lids]}


def generation_logical_id(logical_id: str, generation: int) -> str:
    """`UsersTable` at generation 1, `UsersG2Table` at 2: one logical id per generation."""
    if generation <= 1:
        return logical_id
    return f"{logical_id.removesuffix('Table')}G{generation}Table"


def with_generation_ids(template: dict, head: ResolvedSchema) -> dict:
    """The synthesized template with each table of generation N > 1 under its generation's logical id,
    every reference (Ref, Fn::GetAtt, DependsOn, the manifest's LogicalId) renamed with it."""
    renames = {t.logical_id: generation_logical_id(t.logical_id, t.generation)
               for t in head.tables.values() if t.generation > 1}
    if not renames:
        return template
    text = json.dumps(template)
    for old, new in renames.items():
        # Whole JSON strings only (`"UsersTable"`), and `${UsersTable` / `${UsersTable.Arn}` in Fn::Sub.
        text = text.replace(f'"{old}"', f'"{new}"').replace(f"${{{old}}}", f"${{{new}}}") \
                   .replace(f"${{{old}.", f"${{{new}.")
    return json.loads(text)


def migrating_record(template: dict | None) -> dict[str, dict]:
    record = (((template or {}).get("Metadata") or {}).get("JobworkInfra") or {}).get(MIGRATING_RECORD) or {}
    return {k: v for k, v in record.items() if isinstance(v, dict)} if isinstance(record, dict) else {}


def _retained(resource: dict) -> dict:
    return {**json.loads(json.dumps(resource)), "DeletionPolicy": RETAIN, "UpdateReplacePolicy": RETAIN}


def staged_template(current: dict, head_template: dict, migrations: tuple[Migration, ...],
                    head: ResolvedSchema) -> dict:
    """Stage A: the stack's template as it is, generation N-1 retained, generation N added."""
    out = json.loads(json.dumps(current))
    resources = out.setdefault("Resources", {})
    new_tables = deployed_tables(head_template)
    for migration in migrations:
        table = head.tables[migration.table]
        old_lid = generation_logical_id(table.logical_id, migration.from_generation)
        new_lid = generation_logical_id(table.logical_id, migration.to_generation)
        was = {k: resources[old_lid][k] for k in ("DeletionPolicy", "UpdateReplacePolicy") if k in resources[old_lid]}
        record = migrating_record(current).get(migration.table) or {}
        was = record.get("was", was)  # a rerun of stage A: the policies before the first one
        resources[old_lid] = _retained(resources[old_lid])
        resources[new_lid] = json.loads(json.dumps(new_tables[new_lid]))
        # Stage A done, C not: a rerun reads the stack without N (`unstaged`) and resumes the copy.
        meta = out.setdefault("Metadata", {}).setdefault("JobworkInfra", {})
        meta.setdefault(MIGRATING_RECORD, {})[migration.table] = {
            "previous": old_lid, "staged": new_lid, "source": migration.source, "target": migration.target,
            "resources": [], "was": was}
    return out


def _staged(template: dict | None) -> list[str]:
    return [entry["staged"] for entry in migrating_record(template).values() if entry.get("staged")]


def unstaged(template: dict) -> dict:
    """The template without the generations a stage A added and no stage C made the table of record
    yet, and their N-1 with the policies it had: what the deployed schema is read from, so a rerun
    plans the migrate step again."""
    entries = [e for e in migrating_record(template).values() if e.get("staged")]
    if not entries:
        return template
    out = json.loads(json.dumps(template))
    for entry in entries:
        out["Resources"].pop(entry["staged"], None)
        previous = out["Resources"].get(entry["previous"])
        if previous is not None:
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                previous.pop(policy, None)
            previous.update(entry.get("was") or {})
    return out


def staged_names(template: dict | None) -> set[str]:
    """Physical names of the generations a stage A added (the stack holds them, the deployed schema not yet)."""
    resources = (template or {}).get("Resources") or {}
    return {(resources.get(lid, {}).get("Properties") or {}).get("TableName") for lid in _staged(template)} - {None}


def record_template(head_template: dict, current: dict, migrations: tuple[Migration, ...],
                    head: ResolvedSchema) -> dict:
    """Stage C: the head's template, plus each generation N-1 (retained) and its stream consumer."""
    out = json.loads(json.dumps(head_template))
    resources = out.setdefault("Resources", {})
    record = dict(migrating_record(current))
    for migration in migrations:
        table = head.tables[migration.table]
        old_lid = generation_logical_id(table.logical_id, migration.from_generation)
        new_lid = generation_logical_id(table.logical_id, migration.to_generation)
        resources[old_lid] = _retained(current["Resources"][old_lid])
        consumer = consumer_resources(old_lid.removesuffix("Table"), source_logical_id=old_lid,
                                      target_logical_id=new_lid, key=key_schema(migration))
        resources.update(consumer)
        record[migration.table] = {"previous": old_lid, "source": migration.source, "target": migration.target,
                                   "resources": [old_lid, *consumer]}
    out.setdefault("Metadata", {}).setdefault("JobworkInfra", {})[MIGRATING_RECORD] = record
    return out


def carry_over(template: dict, current: dict | None) -> dict:
    """A later template of the stack, with the resources of the migrations in progress kept (N-1 and
    its consumer): leaving them out would delete the consumer and orphan N-1 before `migrate finish`."""
    record = migrating_record(current)
    if not record:
        return template
    out = json.loads(json.dumps(template))
    resources = out.setdefault("Resources", {})
    held = (current or {}).get("Resources", {})
    for entry in record.values():
        for lid in [*(entry.get("resources") or []), *([entry["staged"]] if entry.get("staged") else [])]:
            if lid not in resources and lid in held:
                resources[lid] = held[lid]
        if entry.get("previous") in resources:
            resources[entry["previous"]] = _retained(resources[entry["previous"]])
    out.setdefault("Metadata", {}).setdefault("JobworkInfra", {})[MIGRATING_RECORD] = record
    return out


def finished_template(current: dict, table: str) -> tuple[dict, str]:
    """`migrate finish`: the template without generation N-1 and its consumer; and N-1's logical id."""
    out = json.loads(json.dumps(current))
    record = migrating_record(out)
    entry = record.pop(table)
    for lid in entry.get("resources") or []:
        out["Resources"].pop(lid, None)
    meta = out["Metadata"]["JobworkInfra"]
    if record:
        meta[MIGRATING_RECORD] = record
    else:
        meta.pop(MIGRATING_RECORD, None)
    return out, entry["previous"]


def retire(clients: Any, stack_name: str, table: str, *, allow_destructive: bool, emit: Any,
           timeout: float) -> bool:
    """Take generation N-1 of `table` and its consumer out of the stack; True when N-1 was deleted.

    CloudFormation deletes a resource that leaves the template according to the DeletionPolicy it
    was last deployed with ("you can't modify the DeletionPolicy attribute ... during the delete",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html):
    with --allow-destructive (the caller took a backup) a first update sets it to Delete, the
    second removes the resources; without, N-1 leaves the stack retained, with its items, unmanaged.
    """
    from ...errors import JobworkError
    from .stack import ChangeSets, Stack

    stack = Stack(clients.cloudformation, stack_name)
    current = stack.template()
    if table not in migrating_record(current):
        raise JobworkError(f"stack {stack_name} has no migration of {table} in progress",
                           "`jobwork-infra migrate status` lists the migrations")
    runner = ChangeSets(clients.cloudformation, emit, timeout, clients.s3, None)

    def update(body: dict, what: str) -> None:
        from .template import SERIAL_RECORD, serial_of

        latest = stack.template()
        body.setdefault("Metadata", {}).setdefault("JobworkInfra", {})[SERIAL_RECORD] = serial_of(latest) + 1
        def rejected(reason: str) -> JobworkError:
            return JobworkError(f"CloudFormation rejected the change set for stack {stack_name}: {reason}",
                                "rerun `migrate finish`")
        run = runner.run(stack_name, body, "UPDATE", what, rejected=rejected,
                         name=f"jobwork-infra-finish-{table.replace('_', '-')}-{int(time.time() * 1000)}")
        if run.outcome == "failed":
            raise run.failure(f"update of stack {stack_name}")

    body, previous = finished_template(current, table)
    if allow_destructive:
        marked = json.loads(json.dumps(current))
        marked["Resources"][previous]["DeletionPolicy"] = "Delete"
        marked["Resources"][previous]["UpdateReplacePolicy"] = "Delete"
        update(marked, f"let the stack delete the old generation of {table}")
    update(body, f"retire the old generation of {table}")
    return allow_destructive
