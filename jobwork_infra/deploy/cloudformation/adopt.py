"""`deploy --adopt` through CloudFormation: live tables brought into the environment's stack.

A table under one of the schema's physical names that this environment's stack does not manage is
an adoption candidate (adopt.py gates it: exit 3 without --adopt, keys and local indexes compared
with it). After the deploy is approved, before its first step, `run_adoption`:

1. with `--from-stack NAME`, for the candidates that stack still holds: an update of that stack
   setting DeletionPolicy and UpdateReplacePolicy to Retain on them, the template otherwise
   unchanged, parameters kept (UsePreviousValue) — so that removing them cannot delete them;
2. an update removing them from that stack (they stay, DELETE_SKIPPED), with the outputs that
   referred to them;
3. an IMPORT change set into the environment's stack holding only the candidates (DeletionPolicy
   Retain, nothing else changed, no new outputs) — it creates the stack when there is none.

Each step is waited for and verified, and each detects it was done (a rerun resumes where a
failure stopped it). A failure leaves the tables with their items where they are and says how to
continue. The normal staged update (the schema's indexes, TTL, outputs, policy…) follows in the
flow, from the imported tables' live shape.

AWS rules, each with its source:
- an IMPORT change set holds only the imported resources, each with a DeletionPolicy, changes no
  other resource and adds no output; CreateChangeSet with ChangeSetType IMPORT on a stack that does
  not exist creates it (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import.html,
  .../resource-import-new-stack.html);
- a resource can be in one stack only: importing a table another stack holds is refused, so it is
  first retained, then removed from that stack (.../resource-import-existing-stack.html, "Moving
  resources between stacks": "add a DeletionPolicy attribute … Retain", then remove it);
- a template needs at least one resource ("At least one Resources member must be defined"): a
  stack left with none keeps a WaitConditionHandle, which creates nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ...errors import JobworkError
from ...model import ResolvedSchema
from ...table_properties import refusals
from ..adopt import Adoption, Candidate
from ..aws import TABLE_TYPE, aws_errors
from ..dynamodb import read_live_table
from ..events import Applied, Emit, Note
from ..gate import Refused
from ..live_settings import read_live_settings
from ..shapes import table_from_live
from .move import released_template
from .read import stack_tables, stack_template
from .source import Unresolved
from .source_stack import read_stack_source
from .stack import ChangeSets
from .template import (
    RETAIN,
    deployed_tables,
    import_template,
    removed_template,
    retained_template,
    schema_hash_of,
)


def find_stack_adoption(dynamodb: Any, cfn: Any, head: ResolvedSchema, deployed: ResolvedSchema | None,
                        from_stack: str | None) -> Adoption:
    """The schema's tables that exist live but are not in the environment's stack."""
    stacked = {t.physical_name for t in deployed.tables.values()} if deployed is not None else set()
    adoption = Adoption()
    for key, table in head.tables.items():
        if table.physical_name in stacked:
            continue
        live = read_live_table(dynamodb, table.physical_name, aws=True)
        if live is None:
            continue
        # Imported with Retain: that is what the stack's template says of it until the next step.
        model = table_from_live(live, key=key, tenancy_attribute=head.tenancy_attribute, known=table,
                                removal_policy="retain")
        adoption.candidates.append(Candidate(key, live, model, held_by=holding_stack(cfn, table.physical_name)))
    if adoption.candidates and from_stack:
        held = _held_by(cfn, from_stack)
        adoption.candidates = [Candidate(c.key, c.live, c.table, c.previous,
                                         from_stack if c.live.name in held else None, held_by=c.held_by)
                               for c in adoption.candidates]
    if adoption.candidates:
        adoption.candidates = [replace(c, unkept=tuple(unkept)) if (unkept := _unkept(dynamodb, cfn, c)) else c
                               for c in adoption.candidates]
    return adoption


def _unkept(dynamodb: Any, cfn: Any, candidate: Candidate) -> list[str]:
    """What the candidate has that the schema cannot keep: read live (live_settings.py) and, when it comes out
    of a stack, from that stack's template (table_properties.py), each as "PROPERTY: reason; way forward"."""
    found = {r.path: r.property for r in read_live_settings(dynamodb, candidate.live.description).refusals}
    if candidate.stack:
        source = read_stack_source(cfn, candidate.stack)
        for table, physical in source.tables():
            if physical == candidate.live.name:
                found.update({r.path: r.property for r in refusals(
                    table.properties, unresolved=lambda v: isinstance(v, Unresolved))})
    return [f"{path}: {p.reason}; {p.way_forward}" for path, p in found.items()]


def holding_stack(cfn: Any, name: str) -> str | None:
    """The stack that holds table `name`, None when no stack does.

    DescribeStackResources by physical id alone answers with the holding stack's resource
    (API_DescribeStackResources.html: "If you don't specify PhysicalResourceId, you must specify
    StackName"; cloudformation-coverage-roadmap#998 shows the call), and a ValidationError when no
    stack holds it.
    """
    from botocore.exceptions import ClientError

    try:
        resources = cfn.describe_stack_resources(PhysicalResourceId=name)["StackResources"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            return None
        raise
    return next((r["StackName"] for r in resources if r.get("ResourceType") == TABLE_TYPE), None)


def gate_stack_adoption(adoption: Adoption, stack: str, cfn: Any) -> None:
    """With --adopt, what CloudFormation would refuse, before anything (a dry run exits as the deploy would):
    a table another stack holds that --from-stack does not name (R016), and a --from-stack whose other
    resources refer to the tables (R015)."""
    elsewhere = [c for c in adoption.candidates if c.held_by and c.held_by != stack and c.stack is None]
    if elsewhere:
        holders = sorted({c.held_by for c in elsewhere})
        raise Refused(
            "R016",
            "; ".join(f"stack {h} holds {', '.join(c.live.name for c in elsewhere if c.held_by == h)}"
                      for h in holders) + ": CloudFormation imports a table into one stack only; nothing was changed",
            f"rerun with --adopt --from-stack {holders[0]}: the tables are retained in stack {holders[0]}, removed "
            "from it (they stay, with their items), then imported" if len(holders) == 1 else
            "adopt the tables of one stack at a time, each with --from-stack NAME")
    by_stack: dict[str, list[Candidate]] = {}
    for c in adoption.candidates:
        if c.stack:
            by_stack.setdefault(c.stack, []).append(c)
    for source, moving in by_stack.items():
        with _errors(f"reading stack {source}"):
            template = stack_template(cfn, source)
            held = _held_by(cfn, source)
        remove = released_template if schema_hash_of(template) else removed_template
        remove(template, [held[c.live.name] for c in moving], source)  # Refused R015 if referred to


def _held_by(cfn: Any, stack: str) -> dict[str, str]:
    """Physical name → logical id of the tables `stack` holds ({} once the stack is gone)."""
    from botocore.exceptions import ClientError

    try:
        _, tables = stack_tables(cfn, stack)
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return {}
        raise
    return {t.physical_name: t.logical_id for t in tables}


# ---------------------------------------------------------------------------------------------
# Applying

class StackSteps:
    """Adoption's change sets, through the one runner (stack.ChangeSets); True when the stack completed."""

    def __init__(self, cfn: Any, emit: Emit, timeout: float):
        self.change_sets = ChangeSets(cfn, emit, timeout)

    def run(self, stack: str, template: dict, kind: str, summary: str, *, parameters: list[dict] | None = None,
            resources_to_import: list[dict] | None = None) -> bool:
        """Create, execute and wait for one change set; False when the stack ended in failure."""
        def rejected(reason: str) -> JobworkError:
            return JobworkError(f"CloudFormation rejected the change set to {summary} (stack {stack}): "
                                f"{reason}; nothing was changed")

        run = self.change_sets.run(stack, template, kind, summary, name=f"jobwork-infra-{kind.lower()}-"
                                   f"{int(time.time() * 1000)}", rejected=rejected, parameters=parameters,
                                   resources_to_import=resources_to_import)
        return run.outcome != "failed"


def run_adoption(clients: Any, stack: str, current: dict | None, adoption: Adoption, head: ResolvedSchema,
                 synth: Callable[[ResolvedSchema], dict], emit: Emit, timeout: float) -> dict:
    """Retain, remove (--from-stack) and import the candidates; returns the stack's template after the import."""
    cfn, steps = clients.cloudformation, StackSteps(clients.cloudformation, emit, timeout)
    rerun = (f"rerun `jobwork-infra deploy --env {head.env} --adopt"
             + (f" --from-stack {adoption.candidates[0].stack}`" if any(c.stack for c in adoption.candidates)
                else "`") + ": it resumes where this stopped")
    by_stack: dict[str, list[Candidate]] = {}
    for c in adoption.candidates:
        if c.stack:
            by_stack.setdefault(c.stack, []).append(c)
    plans = []
    for source, moving in by_stack.items():
        with _errors(f"reading stack {source}"):
            template = stack_template(cfn, source)
            held = _held_by(cfn, source)
        lids = [held[c.live.name] for c in moving]
        # Both templates before any change: a table other resources refer to is refused with nothing done.
        # One of this tool's own stacks (a `stack:` changed, D206): its tenant policies name the tables by ARN.
        remove = released_template if schema_hash_of(template) else removed_template
        plans.append((source, moving, lids, template, remove(template, lids, source)))
    for source, moving, lids, template, removed in plans:
        parameters = [{"ParameterKey": k, "UsePreviousValue": True} for k in (template.get("Parameters") or {})]
        _retain(steps, cfn, source, moving, lids, template, parameters, emit, rerun)
        _take_out(steps, clients, source, moving, removed, parameters, emit, rerun)
    return _import(steps, clients, stack, current, adoption, head, synth, emit, rerun)


def _retain(steps: StackSteps, cfn: Any, source: str, moving: list[Candidate], lids: list[str], template: dict,
            parameters: list[dict], emit: Emit, rerun: str) -> None:
    """Step 1: DeletionPolicy and UpdateReplacePolicy Retain on the tables in `source`, checked after."""
    names = ", ".join(c.live.name for c in moving)
    unretained = [lid for lid in lids if any(template["Resources"][lid].get(p) != RETAIN
                                             for p in ("DeletionPolicy", "UpdateReplacePolicy"))]
    if not unretained:
        emit(Note(f"stack {source} already retains {names}"))
        return
    summary = f"retain {names} in stack {source} (DeletionPolicy and UpdateReplacePolicy Retain)"
    emit(Note(f"{summary}: the template is otherwise unchanged"))
    if not steps.run(source, retained_template(template, lids), "UPDATE", summary, parameters=parameters):
        raise JobworkError(
            f"the update of stack {source} to retain {names} failed and was rolled back: the tables and "
            f"their items are where they were, in stack {source}",
            f"fix the cause shown above, then {rerun}")
    with _errors(f"reading stack {source}"):
        after = stack_template(cfn, source)["Resources"]
    wrong = [lid for lid in lids if (after[lid].get("DeletionPolicy"), after[lid].get("UpdateReplacePolicy"))
             != (RETAIN, RETAIN)]
    if wrong:
        raise JobworkError(f"stack {source} does not retain {', '.join(wrong)} after its update; "
                           "not going on: removing them now could delete them", rerun)
    emit(Applied(f"stack {source} retains {names}"))


def _take_out(steps: StackSteps, clients: Any, source: str, moving: list[Candidate], removed: dict,
              parameters: list[dict], emit: Emit, rerun: str) -> None:
    """Step 2: the retained tables removed from `source`; they must stay, and the stack must not hold them."""
    names = ", ".join(c.live.name for c in moving)
    summary = f"remove {names} from stack {source} (retained: they stay, with their items)"
    emit(Note(summary))
    if not steps.run(source, removed, "UPDATE", summary, parameters=parameters):
        raise JobworkError(
            f"the update of stack {source} removing {names} failed and was rolled back: the tables and their "
            f"items are where they were, retained, in stack {source}", f"fix the cause shown above, then {rerun}")
    with _errors(f"reading stack {source}"):
        still = set(_held_by(clients.cloudformation, source)) & {c.live.name for c in moving}
        gone = [c.live.name for c in moving if read_live_table(clients.dynamodb, c.live.name, aws=True) is None]
    if still or gone:
        raise JobworkError(f"after the update of stack {source}: " + "; ".join(
            ([f"it still holds {', '.join(sorted(still))}"] if still else [])
            + ([f"{', '.join(gone)} no longer exist"] if gone else [])), rerun)
    emit(Applied(f"stack {source} no longer manages {names}; the tables stay"))


def _import(steps: StackSteps, clients: Any, stack: str, current: dict | None, adoption: Adoption,
            head: ResolvedSchema, synth: Callable[[ResolvedSchema], dict], emit: Emit, rerun: str) -> dict:
    # Each table's resource as the tool writes it, from the live table's own shape: what CloudFormation
    # holds after the import is what the table is, so the next update changes exactly what the plan says.
    live_schema = head.model_copy(update={"tables": {c.key: c.table for c in adoption.candidates}})
    synthesized = deployed_tables(synth(live_schema))
    resources = {c.table.logical_id: synthesized[c.table.logical_id] for c in adoption.candidates}
    template = import_template(current, resources)
    names = ", ".join(adoption.names)
    summary = f"import {names} into stack {stack} (DeletionPolicy Retain, nothing else changed)"
    emit(Note(summary))
    to_import = [{"ResourceType": TABLE_TYPE, "LogicalResourceId": c.table.logical_id,
                  "ResourceIdentifier": {"TableName": c.live.name}} for c in adoption.candidates]
    try:
        imported = steps.run(stack, template, "IMPORT", summary, resources_to_import=to_import)
    except JobworkError as exc:
        if "already in a stack" not in exc.message:
            raise
        raise Refused("R016", f"{exc.message}; nothing was changed",
                      "a table is in one stack at a time: name the stack that holds it, `deploy --adopt "
                      "--from-stack NAME`, to take it out of that stack first (retained, so it stays)") from None
    if not imported:
        raise JobworkError(
            f"the import of {names} into stack {stack} failed and was rolled back: the tables and their items are "
            "where they were, managed by no stack now (do not delete them)", f"fix the cause shown above, then {rerun}")
    with _errors(f"reading stack {stack}"):
        held = _held_by(clients.cloudformation, stack)
    missing = [c.live.name for c in adoption.candidates if held.get(c.live.name) != c.table.logical_id]
    if missing:
        raise JobworkError(f"after the import, stack {stack} does not hold {', '.join(missing)}", rerun)
    for c in adoption.candidates:
        emit(Applied(f"adopted table {c.live.name} into stack {stack} as {c.table.logical_id}"))
    return template


def _errors(action: str):
    return aws_errors(action)
