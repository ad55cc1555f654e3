"""AWS::DynamoDB::Table under CloudFormation: what an update does, decided before anything changes.

A table is updated in place (items kept) unless a property that requires replacement changed;
the DynamoDB rules (tests/double/dynamodb.py) apply to what CloudFormation does on the live table.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.models import Stack
from moto.dynamodb.models.table import Table

from . import dynamodb as ddb
from . import settings
from .stacks import (
    TABLE,
    ResourceFailure,
    live_resource,
    owner_of_table,
    props_of,
    resources_of,
    service_error,
    tables_of,
    true,
)

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
# "you can't update the KeySchema or Projection of an existing index"); the message as CloudFormation
# reports it: aws-amplify/amplify-category-api#988, aws-amplify/amplify-hosting#2667.
GSI_CHANGED_IN_PLACE = ("Cannot update GSI's properties other than Provisioned Throughput and Contributor "
                        "Insights Specification. You can create a new GSI with a different name.")
# A physical name already taken (Sceptre#424, serverless#1677).
NAME_TAKEN = "{name} already exists"
NAME_TAKEN_IN_STACK = "{name} already exists in stack {stack_id}"


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


def _index_name(spec: dict) -> str:
    """An index's name as the template spells it: `!Sub "by-status-${Stage}"` compares as its text (the
    double diffs templates as written; with the parameters unchanged, equal text is an equal name)."""
    name = spec.get("IndexName")
    return name if isinstance(name, str) else json.dumps(name, sort_keys=True)


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
    old_gsis = {_index_name(g): g for g in old.get("GlobalSecondaryIndexes") or []}
    new_gsis = {_index_name(g): g for g in new.get("GlobalSecondaryIndexes") or []}
    plan.creates = [g for name, g in new_gsis.items() if name not in old_gsis]
    plan.deletes = [name for name in old_gsis if name not in new_gsis]
    old_ttl, new_ttl = old.get("TimeToLiveSpecification"), new.get("TimeToLiveSpecification")
    # Leaving TimeToLiveSpecification out changes nothing: TTL stays as it was (aws-cdk#10576).
    if new_ttl is not None and new_ttl != old_ttl:
        plan.ttl = (true(new_ttl.get("Enabled")), new_ttl.get("AttributeName"))
    return plan


def gsi_changed_in_place(old: dict, new: dict) -> list[str]:
    old_gsis = {_index_name(g): g for g in old.get("GlobalSecondaryIndexes") or []}
    changed = []
    for g in new.get("GlobalSecondaryIndexes") or []:
        before = old_gsis.get(_index_name(g))
        if before and (before.get("KeySchema") != g.get("KeySchema")
                       or before.get("Projection") != g.get("Projection")):
            changed.append(g["IndexName"])
    return changed


def check_table_update(stack: Stack, lid: str, old_res: dict, new_res: dict) -> TablePlan:
    old, new = props_of(old_res), props_of(new_res)
    plan = diff_table(old, new)
    live = live_resource(stack, lid)
    old_name = getattr(live, "name", old.get("TableName"))
    if plan.replacement:
        new_name = new.get("TableName")
        if new_name and new_name == old_name:
            raise ResourceFailure(lid, TABLE, CUSTOM_NAME_REPLACEMENT.format(name=new_name))
        if new_name and new_name in tables_of(stack):
            raise ResourceFailure(lid, TABLE, NAME_TAKEN.format(name=new_name))
        return plan
    if gsi_changed_in_place(old, new):
        raise ResourceFailure(lid, TABLE, GSI_CHANGED_IN_PLACE)
    if len(plan.creates) + len(plan.deletes) > 1:
        raise ResourceFailure(lid, TABLE, ONE_GSI_PER_UPDATE)
    table = tables_of(stack).get(old_name)
    if table is None:
        raise ResourceFailure(lid, TABLE, f"Requested resource not found: Table: {old_name} not found")
    problem = ddb.check_index_operations(table, [g["IndexName"] for g in plan.creates], plan.deletes)
    if problem == ddb.ONE_ONLINE_INDEX:
        raise ResourceFailure(lid, TABLE, service_error(problem, "LimitExceededException"))
    if problem:
        raise ResourceFailure(lid, TABLE, service_error(problem, "ValidationException"))
    if _ttl_changes(plan, table):
        problem = ddb.check_ttl(table, *plan.ttl)
        if problem:
            raise ResourceFailure(lid, TABLE, service_error(problem, "ValidationException"))
    problem = ddb.check_billing_switch(table, _billing_mode(new))
    if problem:
        raise ResourceFailure(lid, TABLE, service_error(problem, "LimitExceededException"))
    problem = settings.warm_problems(table, new, new.get("GlobalSecondaryIndexes") or [])   # never decreased
    if problem:
        raise ResourceFailure(lid, TABLE, service_error(problem, "ValidationException"))
    return plan


def _billing_mode(props: dict) -> str:
    return "PAY_PER_REQUEST" if props.get("BillingMode") == "PAY_PER_REQUEST" else "PROVISIONED"


def _ttl_changes(plan: TablePlan, table: Table) -> bool:
    """Whether the template's TTL differs from the live one (disabled is disabled, any attribute)."""
    if plan.ttl is None:
        return False
    live_on, live_attribute = ddb.ttl_state(table)
    if not plan.ttl[0] and not live_on:
        return False
    return plan.ttl != (live_on, live_attribute)


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
    ddb.record_billing_switch(table, _billing_mode(new))
    table.billing_mode = _billing_mode(new)
    if new.get("ProvisionedThroughput"):
        table.throughput = {**new["ProvisionedThroughput"], "NumberOfDecreasesToday": 0}
    stream = new.get("StreamSpecification")
    current = table.stream_specification if table.stream_specification.get("StreamEnabled") else None
    if (stream or None) != (_stream_view(current) or None):
        table.latest_stream_label = None
        table.set_stream_specification(copy.deepcopy(stream) if stream else None)
    _apply_pitr(table, new.get("PointInTimeRecoverySpecification"))
    table.deletion_protection_enabled = true(new.get("DeletionProtectionEnabled"))
    table.tags = copy.deepcopy(new.get("Tags") or [])
    _apply_sse(table, new.get("SSESpecification"))
    table.strict_table_class = new.get("TableClass", "STANDARD")
    settings.apply_template(table, new)
    if _ttl_changes(plan, table):
        ddb.apply_ttl(table, *plan.ttl)


def _stream_view(spec: dict | None) -> dict | None:
    return {"StreamViewType": spec.get("StreamViewType")} if spec else None


def _apply_pitr(table: Table, spec: dict | None) -> None:
    enabled = true((spec or {}).get("PointInTimeRecoveryEnabled"))
    table.continuous_backups["PointInTimeRecoveryDescription"] = (
        {"PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": 35} if enabled
        else {"PointInTimeRecoveryStatus": "DISABLED"})


def table_name(stack: Stack, resource: dict, template: dict, parameters: dict | None) -> str | None:
    """The TableName CloudFormation gives the table: `!Sub "orders-${Stage}"` and the like resolved over the
    stack's parameters, pseudo parameters, mappings and conditions (moto's resolver, on a scratch map so
    that nothing is created). None when it names another resource (it is not known before creation)."""
    name = props_of(resource).get("TableName")
    if name is None or isinstance(name, str):
        return name
    if _references(name) & set(resources_of(template)):
        return None
    from moto.cloudformation.parsing import ResourceMap, clean_json

    scratch = ResourceMap(stack.stack_id, stack.name, dict(parameters or stack.parameters or {}), {},
                          region_name=stack.region_name, account_id=stack.account_id, template=template,
                          cross_stack_resources=None)
    scratch.load_mapping()
    scratch.load_parameters()
    scratch.load_conditions()
    resolved = clean_json(name, scratch)
    return resolved if isinstance(resolved, str) else None


def check_table_create(stack: Stack, lid: str, resource: dict, template: dict | None = None,
                       parameters: dict | None = None) -> None:
    name = table_name(stack, resource, template or {"Resources": {lid: resource}}, parameters)
    if not name or name not in tables_of(stack):
        return
    owner = owner_of_table(stack, name)
    message = (NAME_TAKEN_IN_STACK.format(name=name, stack_id=owner.stack_id) if owner
               else NAME_TAKEN.format(name=name))
    raise ResourceFailure(lid, TABLE, message)


def finish_table_create(table: Table, props: dict) -> None:
    """What moto's create leaves out: TTL (whose hour starts now), PITR, SSE as the API spells it,
    the table class."""
    ttl = props.get("TimeToLiveSpecification")
    if ttl and true(ttl.get("Enabled")):
        ddb.apply_ttl(table, True, ttl.get("AttributeName"))
    _apply_pitr(table, props.get("PointInTimeRecoverySpecification"))
    _apply_sse(table, props.get("SSESpecification"))
    table.strict_table_class = props.get("TableClass", "STANDARD")
    settings.apply_template(table, props)


def _apply_sse(table: Table, spec: dict | None) -> None:
    """The template's SSESpecification (SSEEnabled) in the API's shape (Enabled), which moto reads.

    SSEEnabled true without a key is the AWS managed key (alias/aws/dynamodb); false or absent is
    the AWS owned key, which DescribeTable does not report.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-dynamodb-table-ssespecification.html
    """
    if not spec or not true(spec.get("SSEEnabled")):
        table.sse_specification = None
        return
    key = spec.get("KMSMasterKeyId") or table._get_default_encryption_key(table.account_id, table.region_name)
    table.sse_specification = {"Enabled": True, "SSEType": spec.get("SSEType", "KMS"), "KMSMasterKeyId": key}


# Tables with secondary indexes created at the same time. The CloudFormation reference: "if your
# template includes multiple DynamoDB tables with indexes, you must declare dependencies so that
# the tables are created sequentially. Amazon DynamoDB limits the number of tables with secondary
# indexes that are in the creating state." The number has changed over the years (1, then 25 in
# the CreateTable API reference's LimitExceededException: "You can have up to 25 such requests
# running at a time"; issue 10 quotes 250); the double takes the conservative 25, settable per test
# (`strict_aws.creating_with_indexes_limit`).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
TOO_MANY_CREATING_WITH_INDEXES = ("Subscriber limit exceeded: You can have up to {limit} tables with secondary "
                                  "indexes in the CREATING state at a time")


def _references(value: Any) -> set[str]:
    """Logical ids a resource refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub): implicit dependencies."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                found |= _references(item if isinstance(item, list) else [])
            else:
                found |= _references(item)
    return found


def creation_waves(new: dict[str, dict], adds: list[str]) -> list[list[str]]:
    """The resources being created, by wave: a resource starts once everything it depends on exists.

    A wave is the longest chain of new resources before it; resources in one wave are created in
    parallel, as CloudFormation does.
    """
    creating = set(adds)
    depends: dict[str, set[str]] = {}
    for lid in adds:
        explicit = new[lid].get("DependsOn") or []
        explicit = [explicit] if isinstance(explicit, str) else explicit
        depends[lid] = (set(explicit) | _references(new[lid].get("Properties"))) & creating - {lid}
    level: dict[str, int] = {}

    def depth(lid: str, seen: frozenset = frozenset()) -> int:
        if lid not in level:
            level[lid] = 1 + max((depth(d, seen | {lid}) for d in depends[lid] if d not in seen), default=-1)
        return level[lid]

    waves: dict[int, list[str]] = {}
    for lid in adds:
        waves.setdefault(depth(lid), []).append(lid)
    return [waves[i] for i in sorted(waves)]


def check_concurrent_creates(new: dict[str, dict], adds: list[str], limit: int) -> None:
    for wave in creation_waves(new, adds):
        with_indexes = [lid for lid in wave if new[lid].get("Type") == TABLE and (
            props_of(new[lid]).get("GlobalSecondaryIndexes") or props_of(new[lid]).get("LocalSecondaryIndexes"))]
        if len(with_indexes) > limit:
            raise ResourceFailure(with_indexes[limit], TABLE, service_error(
                TOO_MANY_CREATING_WITH_INDEXES.format(limit=limit), "LimitExceededException"))
