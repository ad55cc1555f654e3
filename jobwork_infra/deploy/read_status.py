"""`status`: read what is deployed for one environment (the local registry, or each CloudFormation stack),
table by table, into jobwork_infra/status.py's records. Reads only; report/status.py prints.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..followup import Invocation
from ..model import ResolvedSchema
from ..status import StackStatus, StatusReport, TableStatus, migrations_in_progress, table_status
from .cloudformation.environment import environment_stack_names
from .cloudformation.read import stack_tables
from .cloudformation.template import serial_of
from .dynamodb import Sources, read_live_table

_POLICY = {"Retain": "retain", "RetainExceptOnCreate": "retain", "Delete": "destroy", "Snapshot": "retain"}


def read_status(sources: Sources, head: ResolvedSchema) -> StatusReport:
    """What is deployed, and the migrations in progress (from the checkpoints under the project root)."""
    from .local.engine import project_root

    report = _local(sources, head) if sources.local else _cloudformation(sources, head)
    rerun = sources.rerun or Invocation(env=head.env, local=sources.local)
    return replace(report, migrations=migrations_in_progress(project_root(), head, rerun))


def _serial_number(serial: str) -> int | None:
    """The NUMBER of a "LINEAGE:NUMBER" deploy serial; None when nothing was recorded."""
    number = serial.rpartition(":")[2]
    return int(number) if number.isdigit() else None


def _table(client: Any, key: str, name: str, removal_policy: str | None, *, aws: bool, exact_count: bool,
           schema_table=None) -> TableStatus:
    live = read_live_table(client, name, aws=aws)
    if live is None:
        return table_status(key, None, ttl=None, pitr=None, removal_policy=None, schema_table=schema_table)
    description = dict(live.description)
    if exact_count:  # the local engine: a Scan COUNT is cheap and exact (AWS's ItemCount lags up to 6 h)
        pages = client.get_paginator("scan").paginate(TableName=name, Select="COUNT")
        description["ItemCount"] = sum(page["Count"] for page in pages)
    return table_status(key, description, ttl=live.ttl, pitr=live.pitr, removal_policy=removal_policy,
                        exact_count=exact_count)


def _local(sources: Sources, head: ResolvedSchema) -> StatusReport:
    from .local.registry import read_registry, read_serial

    registry = read_registry(sources.dynamodb)
    serial = _serial_number(read_serial(sources.dynamodb, head.app, head.env))  # one per environment locally
    ours = {n: e for n, e in registry.items() if (e.app, e.env) == (head.app, head.env)}
    stacks = []
    seen: set[str] = set()
    for stack, tables in head.stacks.items():
        rows = []
        for key, table in tables.items():
            entry = ours.get(table.physical_name)
            seen.add(table.physical_name)
            if entry is None:  # not ours (or not there): never read as deployed by this environment
                rows.append(table_status(key, None, ttl=None, pitr=None, removal_policy=None, schema_table=table))
                continue
            rows.append(_table(sources.dynamodb, key, table.physical_name, entry.removal_policy, aws=False,
                               exact_count=True))
        stacks.append(StackStatus(stack, "local engine", _created(ours, tables), tuple(rows), serial))
    gone = [e for n, e in ours.items() if n not in seen]  # deployed once, no longer in the schema
    if gone:
        rows = [_table(sources.dynamodb, "", e.table_name, e.removal_policy, aws=False, exact_count=True)
                for e in sorted(gone, key=lambda e: e.table_name)]
        stacks.append(StackStatus("(no longer in the schema)", "local engine", None, tuple(rows)))
    return StatusReport(head.env, f"environment {head.env} on {sources.label}", tuple(stacks))


def _created(entries: dict, tables: dict) -> str | None:
    """The latest creation of the stack's tables (the local engine keeps no deploy time of its own)."""
    from datetime import UTC, datetime

    times = [entries[t.physical_name].created for t in tables.values()
             if t.physical_name in entries and entries[t.physical_name].created]
    return datetime.fromtimestamp(max(times) / 1000, UTC).isoformat(timespec="seconds") if times else None


def _cloudformation(sources: Sources, head: ResolvedSchema) -> StatusReport:
    from botocore.exceptions import ClientError

    cfn = sources.cloudformation
    stacks = []
    by_name = {t.physical_name: k for k, t in head.tables.items()}
    # Every stack of the environment, the main stack too when the schema no longer puts a table in it
    # (environment.py): a stack still holding a table the schema dropped is shown with it.
    for stack in environment_stack_names(cfn, head):
        tables = head.stacks.get(stack, {})
        try:
            described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" not in exc.response.get("Error", {}).get("Message", ""):
                raise
            rows = tuple(table_status(k, None, ttl=None, pitr=None, removal_policy=None, schema_table=t)
                         for k, t in tables.items())
            stacks.append(StackStatus(stack, "not deployed", None, rows))
            continue
        at = described.get("LastUpdatedTime") or described.get("CreationTime")
        template, deployed = stack_tables(cfn, stack)
        rows = []
        for found in deployed:
            policy = _POLICY.get(found.resource.get("DeletionPolicy", "Delete"), "destroy")
            rows.append(_table(sources.dynamodb, by_name.get(found.physical_name, ""), found.physical_name, policy,
                               aws=True, exact_count=False))
        in_stack = {found.physical_name for found in deployed}
        rows += [table_status(k, None, ttl=None, pitr=None, removal_policy=None, schema_table=t)
                 for k, t in tables.items() if t.physical_name not in in_stack]
        stacks.append(StackStatus(stack, described["StackStatus"], at.isoformat(timespec="seconds") if at else None,
                                  tuple(rows), serial_of(template) or None))
    return StatusReport(head.env, f"environment {head.env} at {sources.label}", tuple(stacks))
