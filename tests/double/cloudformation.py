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

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack
from moto.cloudformation.parsing import parse_and_update_resource
from moto.core.exceptions import ServiceException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from werkzeug.exceptions import HTTPException

from . import dynamodb as ddb
from .state import DOUBLE

TABLE = "AWS::DynamoDB::Table"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"
# Kept when removed from the template or when the stack is deleted. RetainExceptOnCreate retains
# too, except when the resource is rolled back during its own creation (never applied here).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
RETAINED = ("Retain", "RetainExceptOnCreate")

# Properties of AWS::DynamoDB::Table whose change requires replacement ("Update requires:
# Replacement"): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html
REPLACING = ("KeySchema", "LocalSecondaryIndexes", "TableName")

# A replacement keeps the physical name only by deleting the old resource first, which
# CloudFormation never does: it refuses (serverless#716, convox/rack#2941, ministack#1433).
CUSTOM_NAME_REPLACEMENT = ("CloudFormation cannot update a stack when a custom-named resource requires "
                           "replacing. Rename {name} and update the stack again.")
# One GSI created or deleted per table per stack update (aws-cdk#14920, aws-cdk#12246,
# cloudformation-coverage-roadmap#229 and #881).
ONE_GSI_PER_UPDATE = "Cannot perform more than one GSI creation or deletion in a single update"
# Changing an existing GSI's key schema or projection in place is refused; the index must be
# deleted and re-created under another name (AWS::DynamoDB::Table GlobalSecondaryIndexes:
# "you can't update the KeySchema or Projection of an existing index").
GSI_CHANGED_IN_PLACE = ("Cannot update GSI's properties other than Provisioned Throughput and Contributor "
                        "Insights Specification. You can create a new GSI with a different name.")
# A physical name already taken (Sceptre#424, serverless#1677).
NAME_TAKEN = "{name} already exists"
NAME_TAKEN_IN_STACK = "{name} already exists in stack {stack_id}"
# IAM: "The size of each managed policy cannot exceed 6,144 characters. IAM doesn't count white
# space when computing the size of a policy against this limit."
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
POLICY_SIZE_LIMIT = 6144
POLICY_TOO_BIG = "Cannot exceed quota for PolicySize: 6144"
ACCOUNT_ID = "123456789012"


class ResourceFailure(Exception):
    def __init__(self, logical_id: str, resource_type: str, message: str):
        super().__init__(message)
        self.logical_id, self.resource_type, self.message = logical_id, resource_type, message


def _resources(template: dict | None) -> dict[str, dict]:
    return dict((template or {}).get("Resources") or {})


def _diff(old: dict[str, dict], new: dict[str, dict]) -> tuple[list[str], list[str], list[str]]:
    adds = [lid for lid in new if lid not in old]
    modifies = [lid for lid in new if lid in old and new[lid] != old[lid]]
    removes = [lid for lid in old if lid not in new]
    return adds, modifies, removes


def _props(resource: dict | None) -> dict:
    return (resource or {}).get("Properties") or {}


def _backend_tables(stack: Stack) -> dict[str, Table]:
    return dynamodb_backends[stack.account_id][stack.region_name].tables


def _live(stack: Stack, logical_id: str) -> Any:
    return stack.resource_map._parsed_resources.get(logical_id)


# ---------------------------------------------------------------------------------------------
# Tables: what an update does, decided before anything changes

@dataclass
class TablePlan:
    replacement: bool = False
    replaced_properties: list[str] = field(default_factory=list)
    changed_properties: list[str] = field(default_factory=list)
    creates: list[dict] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    ttl: tuple[bool, str] | None = None


def _key_types(props: dict) -> dict[str, str]:
    types = {a.get("AttributeName"): a.get("AttributeType") for a in props.get("AttributeDefinitions") or []}
    return {k.get("AttributeName"): types.get(k.get("AttributeName")) for k in props.get("KeySchema") or []}


def diff_table(old: dict, new: dict) -> TablePlan:
    """What CloudFormation will do to a table whose properties go from `old` to `new`."""
    plan = TablePlan()
    keys = sorted(set(old) | set(new))
    plan.changed_properties = [k for k in keys if old.get(k) != new.get(k)]
    plan.replaced_properties = [k for k in REPLACING if old.get(k) != new.get(k)]
    # A key attribute's type lives in AttributeDefinitions; changing it replaces the table.
    if ("AttributeDefinitions" in plan.changed_properties and old.get("KeySchema") == new.get("KeySchema")
            and _key_types(old) != _key_types(new)):
        plan.replaced_properties.append("AttributeDefinitions")
    plan.replacement = bool(plan.replaced_properties)
    old_gsis = {g["IndexName"]: g for g in old.get("GlobalSecondaryIndexes") or []}
    new_gsis = {g["IndexName"]: g for g in new.get("GlobalSecondaryIndexes") or []}
    plan.creates = [g for name, g in new_gsis.items() if name not in old_gsis]
    plan.deletes = [name for name in old_gsis if name not in new_gsis]
    old_ttl, new_ttl = old.get("TimeToLiveSpecification"), new.get("TimeToLiveSpecification")
    # Leaving TimeToLiveSpecification out changes nothing: TTL stays as it was (aws-cdk#10576).
    if new_ttl is not None and new_ttl != old_ttl:
        plan.ttl = (_true(new_ttl.get("Enabled")), new_ttl.get("AttributeName"))
    return plan


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def gsi_changed_in_place(old: dict, new: dict) -> list[str]:
    old_gsis = {g["IndexName"]: g for g in old.get("GlobalSecondaryIndexes") or []}
    changed = []
    for g in new.get("GlobalSecondaryIndexes") or []:
        before = old_gsis.get(g["IndexName"])
        if before and (before.get("KeySchema") != g.get("KeySchema")
                       or before.get("Projection") != g.get("Projection")):
            changed.append(g["IndexName"])
    return changed


def check_table_update(stack: Stack, lid: str, old_res: dict, new_res: dict) -> TablePlan:
    old, new = _props(old_res), _props(new_res)
    plan = diff_table(old, new)
    live = _live(stack, lid)
    old_name = getattr(live, "name", old.get("TableName"))
    if plan.replacement:
        new_name = new.get("TableName")
        if new_name and new_name == old_name:
            raise ResourceFailure(lid, TABLE, CUSTOM_NAME_REPLACEMENT.format(name=new_name))
        if new_name and new_name in _backend_tables(stack):
            raise ResourceFailure(lid, TABLE, NAME_TAKEN.format(name=new_name))
        return plan
    if gsi_changed_in_place(old, new):
        raise ResourceFailure(lid, TABLE, GSI_CHANGED_IN_PLACE)
    if len(plan.creates) + len(plan.deletes) > 1:
        raise ResourceFailure(lid, TABLE, ONE_GSI_PER_UPDATE)
    table = _backend_tables(stack).get(old_name)
    if table is None:
        raise ResourceFailure(lid, TABLE, f"Requested resource not found: Table: {old_name} not found")
    problem = ddb.check_index_operations(table, [g["IndexName"] for g in plan.creates], plan.deletes)
    if problem == ddb.ONE_ONLINE_INDEX:
        raise ResourceFailure(lid, TABLE, _service_error(problem, "LimitExceededException"))
    if problem:
        raise ResourceFailure(lid, TABLE, _service_error(problem, "ValidationException"))
    if _ttl_changes(plan, table):
        problem = ddb.check_ttl(table, *plan.ttl)
        if problem:
            raise ResourceFailure(lid, TABLE, _service_error(problem, "ValidationException"))
    return plan


def _ttl_changes(plan: TablePlan, table: Table) -> bool:
    """Whether the template's TTL differs from the live one (disabled is disabled, any attribute)."""
    if plan.ttl is None:
        return False
    live_on, live_attribute = ddb.ttl_state(table)
    if not plan.ttl[0] and not live_on:
        return False
    return plan.ttl != (live_on, live_attribute)


def _service_error(message: str, code: str) -> str:
    # How CloudFormation quotes a DynamoDB error in a resource's status reason.
    return (f"{message} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: {code}; "
            "Request ID: 00000000-0000-0000-0000-000000000000)")


def apply_table_update(table: Table, new: dict, plan: TablePlan) -> None:
    """The table updated in place: its items stay, new indexes backfill, deleted ones drain."""
    table.attr = copy.deepcopy(new.get("AttributeDefinitions") or table.attr)
    for name in plan.deletes:
        ddb.start_delete(table, name)
    for spec in plan.creates:
        ddb.start_create(table, copy.deepcopy(spec))
    new_gsis = {g["IndexName"]: g for g in new.get("GlobalSecondaryIndexes") or []}
    for index in table.global_indexes:
        spec = new_gsis.get(index.name)
        if spec and spec.get("ProvisionedThroughput") and index.status == "ACTIVE":
            index.throughput = copy.deepcopy(spec["ProvisionedThroughput"])
    table.billing_mode = "PAY_PER_REQUEST" if new.get("BillingMode") == "PAY_PER_REQUEST" else "PROVISIONED"
    if new.get("ProvisionedThroughput"):
        table.throughput = {**new["ProvisionedThroughput"], "NumberOfDecreasesToday": 0}
    stream = new.get("StreamSpecification")
    current = table.stream_specification if table.stream_specification.get("StreamEnabled") else None
    if (stream or None) != (_stream_view(current) or None):
        table.latest_stream_label = None
        table.set_stream_specification(copy.deepcopy(stream) if stream else None)
    _apply_pitr(table, new.get("PointInTimeRecoverySpecification"))
    table.deletion_protection_enabled = _true(new.get("DeletionProtectionEnabled"))
    table.tags = copy.deepcopy(new.get("Tags") or [])
    _apply_sse(table, new.get("SSESpecification"))
    table.strict_table_class = new.get("TableClass", "STANDARD")
    if _ttl_changes(plan, table):
        ddb.apply_ttl(table, *plan.ttl)


def _stream_view(spec: dict | None) -> dict | None:
    return {"StreamViewType": spec.get("StreamViewType")} if spec else None


def _apply_pitr(table: Table, spec: dict | None) -> None:
    enabled = _true((spec or {}).get("PointInTimeRecoveryEnabled"))
    table.continuous_backups["PointInTimeRecoveryDescription"] = (
        {"PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": 35} if enabled
        else {"PointInTimeRecoveryStatus": "DISABLED"})


def check_table_create(stack: Stack, lid: str, resource: dict) -> None:
    name = _props(resource).get("TableName")
    if not name or name not in _backend_tables(stack):
        return
    owner = _owner_of_table(stack, name)
    message = (NAME_TAKEN_IN_STACK.format(name=name, stack_id=owner.stack_id) if owner
               else NAME_TAKEN.format(name=name))
    raise ResourceFailure(lid, TABLE, message)


def finish_table_create(table: Table, props: dict) -> None:
    """What moto's create leaves out: TTL (whose hour starts now), PITR, SSE as the API spells it,
    the table class."""
    ttl = props.get("TimeToLiveSpecification")
    if ttl and _true(ttl.get("Enabled")):
        ddb.apply_ttl(table, True, ttl.get("AttributeName"))
    _apply_pitr(table, props.get("PointInTimeRecoverySpecification"))
    _apply_sse(table, props.get("SSESpecification"))
    table.strict_table_class = props.get("TableClass", "STANDARD")


def _apply_sse(table: Table, spec: dict | None) -> None:
    """The template's SSESpecification (SSEEnabled) in the API's shape (Enabled), which moto reads.

    SSEEnabled true without a key is the AWS managed key (alias/aws/dynamodb); false or absent is
    the AWS owned key, which DescribeTable does not report.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-dynamodb-table-ssespecification.html
    """
    if not spec or not _true(spec.get("SSEEnabled")):
        table.sse_specification = None
        return
    key = spec.get("KMSMasterKeyId") or table._get_default_encryption_key(table.account_id, table.region_name)
    table.sse_specification = {"Enabled": True, "SSEType": spec.get("SSEType", "KMS"), "KMSMasterKeyId": key}


def _stacks(stack: Stack) -> dict[str, Stack]:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[stack.account_id][stack.region_name].stacks


# ---------------------------------------------------------------------------------------------
# IAM managed policies: size counted as IAM does, ARNs resolved

def policy_size(document: Any, stack: Stack, template: dict) -> int:
    resolved = _resolve(document, stack, template)
    return len(re.sub(r"\s", "", json.dumps(resolved, separators=(",", ":"))))


def _physical_name(lid: str, stack: Stack, template: dict) -> str:
    live = _live(stack, lid)
    if live is not None and not isinstance(live, str):
        return getattr(live, "physical_resource_id", lid)
    resource = _resources(template).get(lid) or {}
    if resource.get("Type") == TABLE:
        return _props(resource).get("TableName") or f"{stack.name}-{lid}-ABCDEFGHIJKL"
    return f"{stack.name}-{lid}-ABCDEFGHIJKL"


def _attribute(lid: str, attribute: str, stack: Stack, template: dict) -> str:
    resource = _resources(template).get(lid) or {}
    region = stack.region_name
    if resource.get("Type") == TABLE:
        arn = f"arn:aws:dynamodb:{region}:{stack.account_id}:table/{_physical_name(lid, stack, template)}"
        return arn + "/stream/2026-01-01T00:00:00.000" if attribute == "StreamArn" else arn
    return f"arn:aws:service:{region}:{stack.account_id}:{lid}/{attribute}"


def _pseudo(name: str, stack: Stack) -> str | None:
    return {"AWS::Region": stack.region_name, "AWS::AccountId": stack.account_id, "AWS::Partition": "aws",
            "AWS::StackName": stack.name, "AWS::StackId": stack.stack_id,
            "AWS::URLSuffix": "amazonaws.com"}.get(name)


def _resolve(value: Any, stack: Stack, template: dict) -> Any:
    if isinstance(value, list):
        return [_resolve(v, stack, template) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return _pseudo(arg, stack) or stack.resource_map.resolved_parameters.get(arg) \
                or _physical_name(arg, stack, template)
        if fn == "Fn::GetAtt":
            lid, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return _attribute(lid, attribute, stack, template)
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(str(_resolve(p, stack, template)) for p in _resolve_list(parts, stack, template))
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg

            def sub(match: re.Match) -> str:
                name = match.group(1)
                if name in variables:
                    return str(_resolve(variables[name], stack, template))
                if "." in name and not name.startswith("AWS::"):
                    lid, attribute = name.split(".", 1)
                    return _attribute(lid, attribute, stack, template)
                return str(_resolve({"Ref": name}, stack, template))
            return re.sub(r"\$\{([^!}][^}]*)\}", sub, text)
    return {k: _resolve(v, stack, template) for k, v in value.items()}


def _resolve_list(parts: Any, stack: Stack, template: dict) -> list:
    resolved = _resolve(parts, stack, template)
    return resolved if isinstance(resolved, list) else [resolved]


def check_policy(stack: Stack, lid: str, resource: dict, template: dict) -> None:
    document = _props(resource).get("PolicyDocument")
    if document is not None and policy_size(document, stack, template) > POLICY_SIZE_LIMIT:
        raise ResourceFailure(lid, MANAGED_POLICY, POLICY_TOO_BIG + " (Service: Iam, Status Code: 409, "
                              "Request ID: 00000000-0000-0000-0000-000000000000)")


# ---------------------------------------------------------------------------------------------
# Events

def event(stack: Stack, lid: str, resource_type: str, status: str, reason: str | None = None,
          physical_id: str = "") -> None:
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=lid,
                              physical_resource_id=physical_id, resource_type=resource_type,
                              resource_status=status, resource_status_reason=reason,
                              resource_properties=None))


def stack_event(stack: Stack, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack.stack_status_reason = reason
    event(stack, stack.name, "AWS::CloudFormation::Stack", status, reason, stack.stack_id)


# ---------------------------------------------------------------------------------------------
# Execution

def execute(stack: Stack, body: str, kind: str, parameters: dict | None = None) -> None:
    """Run a CREATE or UPDATE of `stack` to the template `body`, as CloudFormation would."""
    with DOUBLE.lock:
        new_template = Stack.parse_template(body)
        old_resources = _resources(stack.resource_map._template) if stack.resource_map._template else {}
        new_resources = _resources(new_template)
        adds, modifies, removes = _diff(old_resources, new_resources)
        creating = kind == "CREATE"
        stack_event(stack, "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS", "User Initiated")
        try:
            plans = _check(stack, new_template, old_resources, adds, modifies, removes)
        except ResourceFailure as failure:
            _roll_back(stack, failure, creating, action="CREATE" if failure.logical_id in adds else "UPDATE")
            if creating:
                stack.template = body
            return
        cleaned = _apply(stack, body, new_template, parameters, old_resources, adds, modifies, removes, plans)
        # A resource that cannot be deleted in the cleanup leaves the stack but stays; the update
        # still completes (AWS troubleshooting guide, "Resource removed from stack but not deleted";
        # cloudformation-coverage-roadmap#744, serverless#9144).
        stack_event(stack, "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE",
                    None if cleaned else "Update successful. One or more resources could not be deleted.")


def _check(stack: Stack, template: dict, old: dict, adds: list[str], modifies: list[str],
           removes: list[str]) -> dict[str, TablePlan]:
    new = _resources(template)
    for lid in adds + modifies + removes:
        if lid in DOUBLE.failures:
            resource = new.get(lid) or old.get(lid) or {}
            raise ResourceFailure(lid, resource.get("Type", ""), DOUBLE.failures.pop(lid))
    plans = {}
    for lid in adds:
        if new[lid].get("Type") == TABLE:
            check_table_create(stack, lid, new[lid])
        if new[lid].get("Type") == MANAGED_POLICY:
            check_policy(stack, lid, new[lid], template)
    for lid in modifies:
        if new[lid].get("Type") == TABLE and old[lid].get("Type") == TABLE:
            plans[lid] = check_table_update(stack, lid, old[lid], new[lid])
        if new[lid].get("Type") == MANAGED_POLICY:
            check_policy(stack, lid, new[lid], template)
    return plans


def _roll_back(stack: Stack, failure: ResourceFailure, creating: bool, action: str) -> None:
    event(stack, failure.logical_id, failure.resource_type, f"{action}_IN_PROGRESS")
    event(stack, failure.logical_id, failure.resource_type, f"{action}_FAILED", failure.message)
    if creating:
        stack_event(stack, "ROLLBACK_IN_PROGRESS",
                    f"The following resource(s) failed to create: [{failure.logical_id}]. "
                    "Rollback requested by user.")
        stack_event(stack, "ROLLBACK_COMPLETE")
    else:
        stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS",
                    f"The following resource(s) failed to {action.lower()}: [{failure.logical_id}]. ")
        stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        stack_event(stack, "UPDATE_ROLLBACK_COMPLETE")


def _apply(stack: Stack, body: str, template: dict, parameters: dict | None, old: dict, adds: list[str],
           modifies: list[str], removes: list[str], plans: dict[str, TablePlan]) -> bool:
    """Creates and in-place updates, then the cleanup; False when something could not be deleted."""
    rm = stack.resource_map
    rm._template = template
    if parameters:
        rm.input_parameters = parameters
    rm.load_mapping()
    rm.load_parameters()
    rm.load_conditions()
    rm._resource_json_map = template["Resources"]
    new = _resources(template)
    replaced: list[tuple[str, Any, dict]] = []
    for lid in adds:
        event(stack, lid, new[lid]["Type"], "CREATE_IN_PROGRESS")
        created = rm[lid]
        if isinstance(created, Table):
            finish_table_create(created, _props(new[lid]))
        event(stack, lid, new[lid]["Type"], "CREATE_COMPLETE", physical_id=_physical(created))
    for lid in modifies:
        event(stack, lid, new[lid]["Type"], "UPDATE_IN_PROGRESS", physical_id=_physical(_live(stack, lid)))
        if lid in plans and not plans[lid].replacement:
            table = _backend_tables(stack)[_live(stack, lid).name]
            apply_table_update(table, _props(new[lid]), plans[lid])
        elif lid in plans:  # replaced under a new name: the old one goes in the cleanup
            replaced.append((lid, rm._parsed_resources.pop(lid), old[lid]))
            created = rm[lid]
            finish_table_create(created, _props(new[lid]))
        else:
            changed = parse_and_update_resource(lid, new[lid], rm, account_id=stack.account_id,
                                                region_name=stack.region_name)
            if changed is not None:
                rm._parsed_resources[lid] = changed
        event(stack, lid, new[lid]["Type"], "UPDATE_COMPLETE", physical_id=_physical(_live(stack, lid)))
    stack.template = body
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    if not stack.status.startswith("CREATE"):
        stack_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    cleaned = True
    for lid in removes:
        cleaned &= _clean_up(stack, lid, rm._parsed_resources.pop(lid, None), old[lid], "DeletionPolicy")
    for lid, resource, old_json in replaced:
        cleaned &= _clean_up(stack, lid, resource, old_json, "UpdateReplacePolicy")
    return cleaned


def _physical(resource: Any) -> str:
    if resource is None or isinstance(resource, str):
        return ""
    return str(getattr(resource, "physical_resource_id", ""))


def _clean_up(stack: Stack, lid: str, resource: Any, resource_json: dict, policy: str) -> bool:
    """Delete a resource that left the template; False when it could not be deleted."""
    rtype = resource_json.get("Type", "")
    physical = _physical(resource)
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
            event(stack, lid, rtype, "DELETE_FAILED", _service_error(exc.exception_msg, exc.short_code),
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
    old = _resources(stack.resource_map._template) if stack.resource_map._template else {}
    new = _resources(template)
    adds, modifies, removes = _diff(old, new)
    changes = []
    for lid in adds:
        changes.append({"Type": "Resource", "ResourceChange": {
            "Action": "Add", "LogicalResourceId": lid, "ResourceType": new[lid]["Type"],
            "Scope": [], "Details": []}})
    for lid in modifies:
        rtype = new[lid]["Type"]
        change: dict[str, Any] = {"Action": "Modify", "LogicalResourceId": lid,
                                  "PhysicalResourceId": _physical(_live(stack, lid)), "ResourceType": rtype}
        if rtype == TABLE:
            plan = diff_table(_props(old[lid]), _props(new[lid]))
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
        change["Scope"] = ["Properties"] if _props(old[lid]) != _props(new[lid]) else []
        changes.append({"Type": "Resource", "ResourceChange": change})
    for lid in removes:
        changes.append({"Type": "Resource", "ResourceChange": {
            "Action": "Remove", "LogicalResourceId": lid, "ResourceType": old[lid]["Type"],
            "PhysicalResourceId": _physical(_live(stack, lid)),
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
    if resources > MAX_RESOURCES:
        raise ValidationError(message=(f"Template format error: Number of resources, {resources}, "
                                       f"is greater than maximum allowed, {MAX_RESOURCES}"))
    outputs = len(template.get("Outputs") or {})
    if outputs > MAX_OUTPUTS:
        raise ValidationError(message=(f"Template format error: Number of outputs, {outputs}, "
                                       f"is greater than maximum allowed, {MAX_OUTPUTS}"))


# ---------------------------------------------------------------------------------------------
# IMPORT change sets: adopt live resources into a stack, nothing else changes
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import.html
# Messages as AWS gives them: DeletionPolicy (aws-quickstart/quickstart-awx#38), outputs
# (awslabs/aws-security-assessment-solution#6), already in a stack
# (cloudformation-coverage-roadmap#1607).

IMPORT_NEEDS_DELETION_POLICY = ("The following resources to import [{ids}] must have DeletionPolicy attribute "
                                "specified in the template.")
IMPORT_OTHER_CHANGES = ("You have modified resources [{ids}] in your template that are not being imported. "
                        "Update, create or delete operations cannot be executed during import operations.")
IMPORT_OUTPUTS = "As part of the import operation, you cannot modify or add [Outputs]"
IMPORT_ALREADY_IN_STACK = ("Resources [{ids}] passed in ResourceToImport are already in a stack and cannot be "
                           "imported.")
IMPORT_NOT_FOUND = "Resources [{ids}] passed in ResourceToImport do not exist."
IMPORT_NOT_IN_TEMPLATE = "Resources [{ids}] passed in ResourceToImport are not in the template."


def _owner_of_table(stack: Stack, name: str) -> Stack | None:
    for other in _stacks(stack).values():
        for resource in other.resource_map._parsed_resources.values():
            if isinstance(resource, Table) and resource.name == name:
                return other
    return None


def _import_target(stack: Stack, resources_to_import: list[dict], template: dict) -> dict[str, Table]:
    """The live table of each resource to import; AWS's ValidationError when one cannot be imported."""
    new = _resources(template)
    missing = [r["LogicalResourceId"] for r in resources_to_import if r["LogicalResourceId"] not in new]
    if missing:
        raise ValidationError(message=IMPORT_NOT_IN_TEMPLATE.format(ids=", ".join(missing)))
    unpoliced = [r["LogicalResourceId"] for r in resources_to_import
                 if not new[r["LogicalResourceId"]].get("DeletionPolicy")]
    if unpoliced:
        raise ValidationError(message=IMPORT_NEEDS_DELETION_POLICY.format(ids=", ".join(unpoliced)))
    tables = _backend_tables(stack)
    found: dict[str, Table] = {}
    gone, owned = [], []
    for r in resources_to_import:
        lid = r["LogicalResourceId"]
        name = (r.get("ResourceIdentifier") or {}).get("TableName") or _props(new[lid]).get("TableName")
        table = tables.get(name)
        if r.get("ResourceType") != TABLE or new[lid].get("Type") != TABLE or table is None:
            gone.append(lid)
        elif _owner_of_table(stack, name) is not None:
            owned.append(lid)
        else:
            found[lid] = table
    if gone:
        raise ValidationError(message=IMPORT_NOT_FOUND.format(ids=", ".join(gone)))
    if owned:
        raise ValidationError(message=IMPORT_ALREADY_IN_STACK.format(ids=", ".join(owned)))
    return found


def create_import_change_set(backend: Any, stack_name: str, change_set_name: str, body: str | None,
                             resources_to_import: list[dict], description: str | None) -> tuple[str, str]:
    from moto.cloudformation.models import ChangeSet
    from moto.cloudformation.utils import generate_changeset_id, generate_stack_id

    with DOUBLE.lock:
        if body is None:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
        template = Stack.parse_template(body)
        stack = next((s for s in backend.stacks.values() if s.name == stack_name), None)
        if stack is None:
            stack = Stack(stack_id=generate_stack_id(stack_name, backend.region_name, backend.account_id),
                          name=stack_name, template={}, parameters={}, account_id=backend.account_id,
                          region_name=backend.region_name)
            creating = True
        else:
            creating = False
        old = _resources(stack.resource_map._template) if stack.resource_map._template else {}
        new = _resources(template)
        importing = {r["LogicalResourceId"] for r in resources_to_import}
        adds, modifies, removes = _diff(old, new)
        others = [lid for lid in adds + modifies + removes if lid not in importing]
        if others:
            raise ValidationError(message=IMPORT_OTHER_CHANGES.format(ids=", ".join(others)))
        old_outputs = (stack.resource_map._template or {}).get("Outputs") or {}
        if (template.get("Outputs") or {}) != old_outputs:
            raise ValidationError(message=IMPORT_OUTPUTS)
        _import_target(stack, resources_to_import, template)
        if creating:
            backend.stacks[stack.stack_id] = stack
            stack.status = "REVIEW_IN_PROGRESS"
            stack_event(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        change_set = ChangeSet(change_set_type="IMPORT",
                               change_set_id=generate_changeset_id(change_set_name, backend.region_name,
                                                                   backend.account_id),
                               change_set_name=change_set_name, stack=stack, template=body, parameters={},
                               description=description)
        change_set.resources_to_import = copy.deepcopy(resources_to_import)
        from .install import _shape

        change_set.changes = [_shape({
            "Action": "Import", "LogicalResourceId": r["LogicalResourceId"], "ResourceType": r["ResourceType"],
            "PhysicalResourceId": (r.get("ResourceIdentifier") or {}).get("TableName", ""),
            "Scope": [], "Details": []}) for r in resources_to_import]
        change_set.status = "CREATE_COMPLETE"
        change_set.execution_status = "AVAILABLE"
        backend.change_sets[change_set.change_set_id] = change_set
        return change_set.change_set_id, stack.stack_id


def execute_import(stack: Stack, body: str, resources_to_import: list[dict]) -> None:
    """The live tables join the stack as they are: same objects, same items, nothing re-created."""
    with DOUBLE.lock:
        template = Stack.parse_template(body)
        stack_event(stack, "IMPORT_IN_PROGRESS", "User Initiated")
        new = _resources(template)
        try:
            for r in resources_to_import:
                lid = r["LogicalResourceId"]
                if lid in DOUBLE.failures:
                    raise ResourceFailure(lid, new[lid]["Type"], DOUBLE.failures.pop(lid))
            found = _import_target(stack, resources_to_import, template)
        except ValidationError as exc:
            found, failure = {}, ResourceFailure(resources_to_import[0]["LogicalResourceId"], TABLE, exc.message)
        except ResourceFailure as exc:
            found, failure = {}, exc
        else:
            failure = None
        if failure is not None:
            event(stack, failure.logical_id, failure.resource_type, "IMPORT_IN_PROGRESS")
            event(stack, failure.logical_id, failure.resource_type, "IMPORT_FAILED", failure.message)
            stack_event(stack, "IMPORT_ROLLBACK_IN_PROGRESS",
                        f"The following resource(s) failed to import: [{failure.logical_id}]. ")
            stack_event(stack, "IMPORT_ROLLBACK_COMPLETE")
            return
        rm = stack.resource_map
        rm._template = template
        rm.load_mapping()
        rm.load_parameters()
        rm.load_conditions()
        rm._resource_json_map = template["Resources"]
        for lid, table in found.items():
            event(stack, lid, TABLE, "IMPORT_IN_PROGRESS", physical_id=table.name)
            table.cf_resource_type = TABLE
            table.logical_resource_id = lid
            rm._parsed_resources[lid] = table
            event(stack, lid, TABLE, "IMPORT_COMPLETE", physical_id=table.name)
        stack.template = body
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        stack_event(stack, "IMPORT_COMPLETE")


# ---------------------------------------------------------------------------------------------
# IAM API: CreatePolicy / CreatePolicyVersion refuse a document over the size quota too

def policy_size_of_json(document: str) -> int:
    return len(re.sub(r"\s", "", document))


def create_policy(original: Any) -> Any:
    def create(self: Any, description: str, path: str, policy_document: str, policy_name: str,
               tags: list) -> Any:
        _refuse_big_policy(policy_document)
        return original(self, description, path, policy_document, policy_name, tags)
    return create


def create_policy_version(original: Any) -> Any:
    def create(self: Any, policy_arn: str, policy_document: str, set_as_default: bool) -> Any:
        _refuse_big_policy(policy_document)
        return original(self, policy_arn, policy_document, set_as_default)
    return create


def _refuse_big_policy(document: str) -> None:
    from moto.iam.exceptions import LimitExceededException

    if policy_size_of_json(document) > POLICY_SIZE_LIMIT:
        raise LimitExceededException(POLICY_TOO_BIG)


# Stack statuses no change set may update ("Stack:ARN is in ROLLBACK_COMPLETE state and can not be
# updated."): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html
NOT_UPDATABLE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED",
                 "CREATE_FAILED", "DELETE_COMPLETE")
