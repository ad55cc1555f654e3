"""CloudFormation's execution as AWS runs it, on moto's stacks: check everything, then apply.

moto applies a template by re-creating what changed (a DynamoDB table loses its items), never
fails a resource, keeps no per-resource events and no Outputs after a change set. This executor
replaces moto's `execute_change_set`, `create_stack`, `update_stack` and `delete_stack`:

1. diff the stack's template with the new one (Add / Modify / Remove, as CloudFormation does);
2. check every rule for every touched resource (tables, IAM managed policies, injected failures)
   *before* changing anything: a failure ends in ROLLBACK_COMPLETE (create) or
   UPDATE_ROLLBACK_COMPLETE (update) with a FAILED resource event carrying AWS's message, and the
   live resources exactly as they were;
3. apply: creates and in-place updates first, then the cleanup (removed resources, honouring
   DeletionPolicy), like CloudFormation's UPDATE_COMPLETE_CLEANUP_IN_PROGRESS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import yaml
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack
from moto.cloudformation.parsing import parse_and_update_resource
from moto.core.exceptions import ServiceException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from werkzeug.exceptions import HTTPException

from . import dynamodb as ddb
from . import iam, tables
from .stacks import (
    MANAGED_POLICY,
    RETAINED,
    TABLE,
    ResourceFailure,
    diff_resources,
    event,
    live_resource,
    physical_id_of,
    props_of,
    resources_of,
    service_error,
    stack_event,
    tables_of,
)
from .state import DOUBLE

# ---------------------------------------------------------------------------------------------
# Execution

def execute(stack: Stack, body: str, kind: str, parameters: dict | None = None,
            done: Callable[[Stack], None] | None = None) -> None:
    """Run a CREATE or UPDATE of `stack` to the template `body`, as CloudFormation would.

    The stack is `*_IN_PROGRESS` from the call on; with `DOUBLE.stack_operation_seconds` above 0 the
    operation runs that much later, in a timer thread, and the call returns at once, as AWS's does
    (API_ExecuteChangeSet.html: "the stack status changes to UPDATE_IN_PROGRESS"). `done(stack)` runs
    when the operation has ended.
    """
    with DOUBLE.lock:
        stack_event(stack, "CREATE_IN_PROGRESS" if kind == "CREATE" else "UPDATE_IN_PROGRESS", "User Initiated")
    if DOUBLE.stack_operation_seconds <= 0:
        _run(stack, body, kind, parameters, done)
        return
    _later(lambda: _run(stack, body, kind, parameters, done))


def _later(work: Callable[[], None]) -> None:
    """Run `work` once `stack_operation_seconds` have passed (or when a test calls finish_operations)."""
    operation = Operation(work)
    timer = threading.Timer(DOUBLE.stack_operation_seconds, operation.run)
    timer.daemon = True
    operation.timer = timer
    DOUBLE.pending.append(operation)
    timer.start()


class Operation:
    """A stack operation under way: run by its timer, or at once by `finish_operations` (tests), never twice."""

    def __init__(self, work: Callable[[], None]):
        self.work, self.timer, self.done = work, None, False

    def run(self) -> None:
        with DOUBLE.lock:
            if self.done:
                return
            self.done = True
        self.work()

    def cancel(self) -> None:
        with DOUBLE.lock:
            self.done = True
        if self.timer is not None:
            self.timer.cancel()


def _run(stack: Stack, body: str, kind: str, parameters: dict | None, done: Callable[[Stack], None] | None) -> None:
    with DOUBLE.lock:
        new_template = Stack.parse_template(body)
        old_resources = resources_of(stack.resource_map._template) if stack.resource_map._template else {}
        new_resources = resources_of(new_template)
        adds, modifies, removes = diff_resources(old_resources, new_resources)
        creating = kind == "CREATE"
        try:
            plans = _check(stack, new_template, old_resources, adds, modifies, removes, parameters)
        except ResourceFailure as failure:
            touched = {lid: (new_resources.get(lid) or old_resources.get(lid) or {}).get("Type", "")
                       for lid in adds + modifies + removes}
            _roll_back(stack, failure, creating, action="CREATE" if failure.logical_id in adds else "UPDATE",
                       touched=touched)
            if creating:
                stack.template = body
            if done is not None:
                done(stack)
            return
        cleanup = _apply(stack, body, new_template, parameters, old_resources, adds, modifies, removes, plans)
        if creating or DOUBLE.stack_operation_seconds <= 0:
            _complete(stack, creating, cleanup, done)
        else:
            # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS lasts as well: the removed resources are deleted at its end.
            _later(lambda: _complete(stack, False, cleanup, done))


def _complete(stack: Stack, creating: bool, cleanup: Callable[[], bool], done: Callable[[Stack], None] | None) -> None:
    with DOUBLE.lock:
        cleaned = cleanup()
        # A resource that cannot be deleted in the cleanup leaves the stack but stays; the update
        # still completes (AWS troubleshooting guide, "Resource removed from stack but not deleted";
        # cloudformation-coverage-roadmap#744, serverless#9144).
        stack_event(stack, "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE",
                    None if cleaned else "Update successful. One or more resources could not be deleted.")
        if done is not None:
            done(stack)


def _check(stack: Stack, template: dict, old: dict, adds: list[str], modifies: list[str],
           removes: list[str], parameters: dict | None = None) -> dict[str, tables.TablePlan]:
    new = resources_of(template)
    for lid in adds + modifies + removes:
        if lid in DOUBLE.failures:
            resource = new.get(lid) or old.get(lid) or {}
            raise ResourceFailure(lid, resource.get("Type", ""), DOUBLE.failures.pop(lid))
    plans = {}
    tables.check_concurrent_creates(new, adds, DOUBLE.creating_with_indexes_limit)
    for lid in adds:
        if new[lid].get("Type") == TABLE:
            tables.check_table_create(stack, lid, new[lid], template, parameters)
        if new[lid].get("Type") == MANAGED_POLICY:
            iam.check_policy(stack, lid, new[lid], template)
    for lid in modifies:
        if new[lid].get("Type") == TABLE and old[lid].get("Type") == TABLE:
            plans[lid] = tables.check_table_update(stack, lid, old[lid], new[lid])
        if new[lid].get("Type") == MANAGED_POLICY:
            iam.check_policy(stack, lid, new[lid], template)
    return plans


def _roll_back(stack: Stack, failure: ResourceFailure, creating: bool, action: str,
               touched: dict[str, str] | None = None) -> None:
    event(stack, failure.logical_id, failure.resource_type, f"{action}_IN_PROGRESS")
    event(stack, failure.logical_id, failure.resource_type, f"{action}_FAILED", failure.message)
    if creating:
        stack_event(stack, "ROLLBACK_IN_PROGRESS",
                    f"The following resource(s) failed to create: [{failure.logical_id}]. "
                    "Rollback requested by user.")
        stack_event(stack, "ROLLBACK_COMPLETE")
        return
    stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS",
                f"The following resource(s) failed to {action.lower()}: [{failure.logical_id}]. ")
    # A resource CloudFormation cannot roll back leaves the stack UPDATE_ROLLBACK_FAILED: "A stack goes into the
    # UPDATE_ROLLBACK_FAILED state when CloudFormation can't roll back all changes after a failed stack update"
    # (API_ContinueUpdateRollback.html); its event is UPDATE_FAILED with the reason.
    stuck = {lid: DOUBLE.rollback_failures[lid] for lid in (touched or {}) if lid in DOUBLE.rollback_failures}
    if stuck:
        for lid, message in stuck.items():
            event(stack, lid, (touched or {})[lid], "UPDATE_FAILED", message)
        DOUBLE.stuck[stack.stack_id] = {lid: (touched or {})[lid] for lid in stuck}
        stack_event(stack, "UPDATE_ROLLBACK_FAILED",
                    f"The following resource(s) failed to update: [{', '.join(stuck)}]. ")
        return
    stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    stack_event(stack, "UPDATE_ROLLBACK_COMPLETE")


def continue_update_rollback(stack: Stack, skip: list[str]) -> None:
    """ContinueUpdateRollback: the rollback runs again; skipped resources are marked UPDATE_COMPLETE and left as they
    are. "You can specify only resources that are in the UPDATE_FAILED state because a rollback failed"
    (API_ContinueUpdateRollback.html, ResourcesToSkip); a resource whose cause is still there fails again."""
    with DOUBLE.lock:
        if stack.status != "UPDATE_ROLLBACK_FAILED":
            raise ValidationError(message=f"Stack [{stack.name}] is in {stack.status} state and can not continue "
                                          "update rollback.")  # paraphrased
        stuck = DOUBLE.stuck.get(stack.stack_id, {})
        unknown = [lid for lid in skip if lid not in stuck]
        if unknown:
            raise ValidationError(message=f"Resources {unknown} cannot be skipped: only resources in UPDATE_FAILED "
                                          "state because a rollback failed can be skipped.")  # paraphrased
        stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
        still = {}
        for lid, rtype in stuck.items():
            if lid in skip:
                DOUBLE.rollback_failures.pop(lid, None)
                event(stack, lid, rtype, "UPDATE_COMPLETE", "Resource skipped during UpdateRollback")
            elif lid in DOUBLE.rollback_failures:
                event(stack, lid, rtype, "UPDATE_FAILED", DOUBLE.rollback_failures[lid])
                still[lid] = rtype
            else:
                event(stack, lid, rtype, "UPDATE_COMPLETE")
        if still:
            DOUBLE.stuck[stack.stack_id] = still
            stack_event(stack, "UPDATE_ROLLBACK_FAILED",
                        f"The following resource(s) failed to update: [{', '.join(still)}]. ")
            return
        DOUBLE.stuck.pop(stack.stack_id, None)
        stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        stack_event(stack, "UPDATE_ROLLBACK_COMPLETE")


def _apply(stack: Stack, body: str, template: dict, parameters: dict | None, old: dict, adds: list[str],
           modifies: list[str], removes: list[str], plans: dict[str, tables.TablePlan]) -> Callable[[], bool]:
    """Creates and in-place updates; returns the cleanup (removed and replaced resources deleted; False when
    something could not be deleted), which CloudFormation runs in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS."""
    rm = stack.resource_map
    rm._template = template
    if parameters:
        rm.input_parameters = parameters
    rm.load_mapping()
    rm.load_parameters()
    rm.load_conditions()
    rm._resource_json_map = template["Resources"]
    new = resources_of(template)
    replaced: list[tuple[str, Any, dict]] = []

    def resolved(resource: dict) -> dict:
        # The properties with Ref, Fn::GetAtt, Fn::Sub… resolved, as CloudFormation hands them to DynamoDB
        # (a KMS key given by `!GetAtt Key.Arn` reaches the table as the key's ARN).
        from moto.cloudformation.parsing import clean_json

        return clean_json(props_of(resource), rm)
    for lid in adds:
        event(stack, lid, new[lid]["Type"], "CREATE_IN_PROGRESS")
        created = rm[lid]
        if isinstance(created, Table):
            tables.finish_table_create(created, resolved(new[lid]))
        event(stack, lid, new[lid]["Type"], "CREATE_COMPLETE", physical_id=physical_id_of(created))
    for lid in modifies:
        event(stack, lid, new[lid]["Type"], "UPDATE_IN_PROGRESS", physical_id=physical_id_of(live_resource(stack, lid)))
        if lid in plans and not plans[lid].replacement:
            table = tables_of(stack)[live_resource(stack, lid).name]
            tables.apply_table_update(table, resolved(new[lid]), plans[lid])
        elif lid in plans:  # replaced under a new name: the old one goes in the cleanup
            replaced.append((lid, rm._parsed_resources.pop(lid), old[lid]))
            created = rm[lid]
            tables.finish_table_create(created, resolved(new[lid]))
        else:
            changed = parse_and_update_resource(lid, new[lid], rm, account_id=stack.account_id,
                                                region_name=stack.region_name)
            if changed is not None:
                rm._parsed_resources[lid] = changed
        event(stack, lid, new[lid]["Type"], "UPDATE_COMPLETE", physical_id=physical_id_of(live_resource(stack, lid)))
    stack.template = body
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    if not stack.status.startswith("CREATE"):
        stack_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")

    def cleanup() -> bool:
        cleaned = True
        for lid in removes:
            cleaned &= _clean_up(stack, lid, rm._parsed_resources.pop(lid, None), old[lid], "DeletionPolicy")
        for lid, resource, old_json in replaced:
            cleaned &= _clean_up(stack, lid, resource, old_json, "UpdateReplacePolicy")
        return cleaned
    return cleanup


def _clean_up(stack: Stack, lid: str, resource: Any, resource_json: dict, policy: str) -> bool:
    """Delete a resource that left the template; False when it could not be deleted."""
    rtype = resource_json.get("Type", "")
    physical = physical_id_of(resource)
    if resource_json.get(policy) in RETAINED:
        event(stack, lid, rtype, "DELETE_SKIPPED", physical_id=physical)
        return True
    event(stack, lid, rtype, "DELETE_IN_PROGRESS", physical_id=physical)
    if lid in DOUBLE.failures:
        event(stack, lid, rtype, "DELETE_FAILED", DOUBLE.failures.pop(lid), physical_id=physical)
        return False
    if resource is not None and not isinstance(resource, str):
        try:
            if rtype == TABLE and resource_json.get(policy) == "Snapshot":
                dynamodb_backends[stack.account_id][stack.region_name].create_backup(
                    resource.name, f"{resource.name}-snapshot")
            stack.resource_map._delete_resource(resource, resource_json)
        except ddb.DynamoError as exc:
            event(stack, lid, rtype, "DELETE_FAILED", service_error(exc.exception_msg, exc.short_code),
                  physical_id=physical)
            return False
        except (ServiceException, HTTPException, KeyError, ValueError) as exc:  # moto's own refusals
            event(stack, lid, rtype, "DELETE_FAILED", str(exc), physical_id=physical)
            return False
    event(stack, lid, rtype, "DELETE_COMPLETE", physical_id=physical)
    return True


def delete(backend: Any, stack: Stack) -> None:
    """DeleteStack: every resource deleted, retained ones skipped; one failure → DELETE_FAILED."""
    with DOUBLE.lock:
        stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
        rm = stack.resource_map
        failed = []
        for lid in reversed(list(rm._resource_json_map)):
            resource = rm._parsed_resources.get(lid)
            if resource is None:
                continue
            if _clean_up(stack, lid, resource, rm._resource_json_map[lid], "DeletionPolicy"):
                rm._parsed_resources.pop(lid, None)
            else:
                failed.append(lid)
        if failed:
            rm._resource_json_map = {lid: r for lid, r in rm._resource_json_map.items() if lid in failed}
            stack_event(stack, "DELETE_FAILED",
                        f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
            return
        stack_event(stack, "DELETE_COMPLETE")
        backend.stacks.pop(stack.stack_id, None)
        backend.deleted_stacks[stack.stack_id] = stack
        for export in stack.exports:
            backend.exports.pop(export.name, None)


# ---------------------------------------------------------------------------------------------
# Change sets: per-resource Action, Replacement and Details as CloudFormation reports them

def describe_changes(stack: Stack, template: dict) -> list[dict]:
    old = resources_of(stack.resource_map._template) if stack.resource_map._template else {}
    new = resources_of(template)
    adds, modifies, removes = diff_resources(old, new)
    changes = []
    for lid in adds:
        changes.append({"Type": "Resource", "ResourceChange": {
            "Action": "Add", "LogicalResourceId": lid, "ResourceType": new[lid]["Type"],
            "Scope": [], "Details": []}})
    for lid in modifies:
        rtype = new[lid]["Type"]
        change: dict[str, Any] = {"Action": "Modify", "LogicalResourceId": lid,
                                  "PhysicalResourceId": physical_id_of(live_resource(stack, lid)), "ResourceType": rtype}
        if rtype == TABLE:
            plan = tables.diff_table(props_of(old[lid]), props_of(new[lid]))
            change["Replacement"] = "True" if plan.replacement else "False"
            change["Details"] = [{"Target": {"Attribute": "Properties", "Name": name,
                                             "RequiresRecreation": "Always" if name in plan.replaced_properties
                                             else "Never"},
                                  "Evaluation": "Static", "ChangeSource": "DirectModification"}
                                 for name in plan.changed_properties]
            if plan.replacement:
                change["PolicyAction"] = "ReplaceAndRetain" if old[lid].get("UpdateReplacePolicy") in RETAINED \
                    else "ReplaceAndDelete"
        else:
            # Only tables are modelled; other types say what moto knows: a direct modification.
            change["Replacement"] = "False"
            change["Details"] = []
        attributes = [a for a in ("Metadata", "CreationPolicy", "UpdatePolicy", "DeletionPolicy",
                                  "UpdateReplacePolicy") if old[lid].get(a) != new[lid].get(a)]
        change["Scope"] = (["Properties"] if props_of(old[lid]) != props_of(new[lid]) else []) + attributes
        change["Details"] += [{"Target": {"Attribute": a, "RequiresRecreation": "Never"},
                               "Evaluation": "Static", "ChangeSource": "DirectModification"} for a in attributes]
        changes.append({"Type": "Resource", "ResourceChange": change})
    for lid in removes:
        changes.append({"Type": "Resource", "ResourceChange": {
            "Action": "Remove", "LogicalResourceId": lid, "ResourceType": old[lid]["Type"],
            "PhysicalResourceId": physical_id_of(live_resource(stack, lid)),
            "PolicyAction": "Retain" if old[lid].get("DeletionPolicy") in RETAINED else "Delete",
            "Scope": [], "Details": []}})
    return changes


# ---------------------------------------------------------------------------------------------
# Template limits, checked when a template is submitted
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html

MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_BODY_BYTES = 51_200
MAX_URL_BYTES = 1_000_000


def check_template_limits(body: str | None, from_url: bool) -> None:
    if body is None:
        return
    size = len(body.encode())
    if not from_url and size > MAX_BODY_BYTES:
        raise ValidationError(message=(
            "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_BODY_BYTES}"))
    if from_url and size > MAX_URL_BYTES:
        raise ValidationError(message=f"Template may not exceed {MAX_URL_BYTES} bytes in size.")
    try:
        template = Stack.parse_template(body)
    except (ValueError, yaml.YAMLError):
        return  # moto reports malformed templates itself
    if not isinstance(template, dict):
        return
    resources = len(template.get("Resources") or {})
    if not resources:
        # "At least one Resources member must be defined" (a template format error, https://aws.amazon.com/
        # premiumsupport/knowledge-center/cloudformation-template-validation/).
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    if resources > MAX_RESOURCES:
        raise ValidationError(message=(f"Template format error: Number of resources, {resources}, "
                                       f"is greater than maximum allowed, {MAX_RESOURCES}"))
    outputs = len(template.get("Outputs") or {})
    if outputs > MAX_OUTPUTS:
        raise ValidationError(message=(f"Template format error: Number of outputs, {outputs}, "
                                       f"is greater than maximum allowed, {MAX_OUTPUTS}"))


# Stack statuses no change set may update ("Stack:ARN is in ROLLBACK_COMPLETE state and can not be
# updated."): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html
NOT_UPDATABLE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED",
                 "CREATE_FAILED", "DELETE_COMPLETE")
