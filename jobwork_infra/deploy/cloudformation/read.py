"""Reading CloudFormation without changing it: a stack's template (one decoder), its tables, and the
schema a deployed template stands for. The read-only half every other CloudFormation module builds on.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ...errors import JobworkError
from ...followup import Invocation, command
from ...model import Attribute, ResolvedSchema, ResolvedTable
from ...table_options import options_from_template
from ..aws import TABLE_TYPE
from ..dynamodb import EnvironmentState, Sources, not_reported, read_live_table, unmanaged_tables
from ..shapes import (
    billing_from,
    capacity_from,
    encryption_from_spec,
    indexes_from,
    keys_from,
    table_class_from,
    table_from_live,
    tags_from,
    tenant_scoped_from,
)
from .template import deployed_tables

# The live tables of a stack are read (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups,
# ListTagsOfResource: local/live.py reads the same four) side by side on this many threads: one after
# the other, a stack of 250 tables was a thousand round trips in turn. boto3 clients are thread-safe
# ("Low-level clients are thread safe",
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients),
# and a throttled call is retried by botocore's retry handler.
LIVE_READERS = 8

_DELETION_POLICY = {"Delete": "destroy", "Retain": "retain", "RetainExceptOnCreate": "retain",
                    "Snapshot": "retain"}


def schema_from_template(template: dict, head: ResolvedSchema) -> ResolvedSchema:
    """The schema a deployed template stands for, as far as the template can tell.

    Keys, indexes, TTL, stream, billing, capacity, table class, encryption, PITR, deletion
    protection, tags and DeletionPolicy come from the template. What only the YAML knows
    (descriptions, non-key attributes, access patterns, tenant scoping) is taken from the head, so it never shows up as a change.
    """
    by_logical_id = {t.logical_id: t for t in head.tables.values()}
    by_name = {t.physical_name: t for t in head.tables.values()}
    tables: dict[str, ResolvedTable] = {}
    for lid, resource in deployed_tables(template).items():
        props = resource.get("Properties") or {}
        tags = {t.get("Key"): t.get("Value") for t in props.get("Tags") or [] if isinstance(t, dict)}
        # The built-in `table` tag is the YAML key; a stack made elsewhere falls back on ids and names.
        mine = (head.tables.get(tags.get("table", "")) or by_logical_id.get(lid)
                or by_name.get(props.get("TableName")))
        key = tags.get("table") or (mine.key if mine else _key_from_logical_id(lid))
        table = _table_from_resource(key, lid, resource, mine, head)
        if key in tables and tables[key].generation > table.generation:
            continue  # generation N-1, retained until `migrate finish`: N is the table of record
        tables[key] = table
    # The head's order where it can tell: the dict order is what a plan lists tables in.
    ordered = {k: tables[k] for k in head.tables if k in tables}
    ordered.update({k: t for k, t in tables.items() if k not in ordered})
    return head.model_copy(update={"tables": ordered})


def _generation_of(lid: str, mine: ResolvedTable | None) -> int:
    """A table's generation, from its logical id: generation N > 1 is deployed under `UsersGNTable`
    (cloudformation/migrate.py), the head's own table under `UsersTable`. DynamoDB keeps no
    generation, and deploy must know the deployed one to refuse going back (G101, R028)."""
    if mine is None:
        return 1
    found = re.fullmatch(re.escape(mine.logical_id.removesuffix("Table")) + r"G([2-9]|[1-9][0-9]+)Table", lid)
    return int(found.group(1)) if found else 1


def _key_from_logical_id(logical_id: str) -> str:
    stem = logical_id.removesuffix("Table") or logical_id
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


def _table_from_resource(key: str, lid: str, resource: dict, mine: ResolvedTable | None,
                         head: ResolvedSchema) -> ResolvedTable:
    props = resource.get("Properties") or {}
    partition_key, sort_key = keys_from(props.get("AttributeDefinitions"), props.get("KeySchema"))
    billing = billing_from(props.get("BillingMode"))
    global_indexes, local_indexes = indexes_from(props, mine, head.tenancy_attribute, billing == "provisioned")
    ttl_spec = props.get("TimeToLiveSpecification") or {}
    stream = (props.get("StreamSpecification") or {}).get("StreamViewType")
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    removal = _DELETION_POLICY.get(resource.get("DeletionPolicy", "Delete"), "destroy")
    attributes = dict(mine.attributes) if mine else {
        a.get("AttributeName"): Attribute(type={"N": "number", "B": "binary"}.get(a.get("AttributeType"), "string"))
        for a in props.get("AttributeDefinitions") or [] if isinstance(a, dict)}
    return ResolvedTable(
        key=key,
        logical_id=lid,
        generation=_generation_of(lid, mine),
        physical_name=props.get("TableName") if isinstance(props.get("TableName"), str) else lid,
        description=mine.description if mine else None,
        tenant_scoped=tenant_scoped_from(partition_key, mine, head.tenancy_attribute),
        partition_key=partition_key,
        sort_key=sort_key,
        attributes=attributes,
        global_indexes=global_indexes,
        local_indexes=local_indexes,
        ttl=ttl_spec.get("AttributeName") if ttl_spec.get("Enabled") in (True, "true") else None,
        stream=stream.lower() if isinstance(stream, str) else None,
        billing=billing,
        capacity=capacity_from(props.get("ProvisionedThroughput")) if billing == "provisioned" else None,
        table_class=table_class_from(props.get("TableClass")),
        encryption=encryption_from_spec(props.get("SSESpecification"), mine),
        point_in_time_recovery=pitr.get("PointInTimeRecoveryEnabled") in (True, "true"),
        deletion_protection=props.get("DeletionProtectionEnabled") in (True, "true"),
        removal_policy=removal,
        tags=tags_from(props.get("Tags")),
        access_patterns=mine.access_patterns if mine else (),
        **options_from_template(props),
    )


# ---------------------------------------------------------------------------------------------
# A stack's template and tables, as deployed

@dataclass(frozen=True)
class StackTable:
    logical_id: str
    physical_name: str
    resource: dict          # the template's resource (Type, Properties, DeletionPolicy, …)


def stack_template(cfn: Any, stack: str) -> dict:
    """The stack's original template in long form: JSON or YAML with short-form tags (`!Ref` is
    {"Ref": …}); what update and removal send back."""
    # botocore decodes a JSON TemplateBody into OrderedDicts (`json_decode_template_body`, an
    # after-call handler), which then had to be encoded and decoded again into plain dicts: three
    # passes over a template of up to 1 MB. Without the handler the body stays text, decoded once here:
    # JSON (every template this tool deploys) with json, YAML with cfn-lint's decoder (source.py).
    from botocore.handlers import json_decode_template_body

    from .source import decode_template

    cfn.meta.events.unregister("after-call.cloudformation.GetTemplate", json_decode_template_body)
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    if not isinstance(body, str):  # a client that decoded it anyway
        return json.loads(json.dumps(body))
    try:
        return json.loads(body)  # decoded just now: plain dicts and lists, nothing shared
    except ValueError:
        return json.loads(json.dumps(decode_template(body, f"{stack}.template")))


def stack_tables(cfn: Any, stack: str) -> tuple[dict, list[StackTable]]:
    """The stack's template and its DynamoDB tables, with the physical names CloudFormation gave them."""
    template = stack_template(cfn, stack)
    resources = template.get("Resources") or {}
    out = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page["StackResourceSummaries"]:
            if summary.get("ResourceType") != TABLE_TYPE or not summary.get("PhysicalResourceId"):
                continue
            lid = summary["LogicalResourceId"]
            out.append(StackTable(lid, summary["PhysicalResourceId"], resources.get(lid) or {}))
    return template, sorted(out, key=lambda t: t.logical_id)


def tables_from_template(template: dict, names: dict[str, str], head: ResolvedSchema) -> dict[str, ResolvedTable]:
    """The template's tables in the model (logical id → table), their physical names from the stack."""
    # Give every table its physical name: CDK leaves TableName out when the app did not set one.
    resources = {lid: {**r, "Properties": {**(r.get("Properties") or {}), "TableName": names[lid]}}
                 for lid, r in (template.get("Resources") or {}).items() if lid in names}
    read = schema_from_template({"Resources": resources}, head)
    return {t.logical_id: t for t in read.tables.values()}


def read_stack_environment(sources: Sources, head: ResolvedSchema, prefix: str | None) -> EnvironmentState:
    """The stack's deployed template and its tables, live."""
    from botocore.exceptions import ClientError

    try:
        sources.cloudformation.describe_stacks(StackName=head.stack_name)
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            raise JobworkError(f"stack {head.stack_name} is not deployed at {sources.label}: nothing to compare",
                               f"deploy it first (`{command(sources.rerun or Invocation(env=head.env), 'deploy')}`), "
                               "or check --env and the region") from None
        raise
    deployed = schema_from_template(stack_template(sources.cloudformation, head.stack_name), head)
    live: dict[str, ResolvedTable] = {}
    state = EnvironmentState(deployed, deployed, "the deployed template",
                             f"stack {head.stack_name} at {sources.label}")
    with ThreadPoolExecutor(max_workers=LIVE_READERS) as pool:
        reads = list(pool.map(lambda t: read_live_table(sources.dynamodb, t.physical_name, aws=True),
                              deployed.tables.values()))
    for (key, table), found in zip(deployed.tables.items(), reads, strict=True):
        if found is not None:
            live[key] = table_from_live(found, key=key, tenancy_attribute=head.tenancy_attribute, known=table,
                                        removal_policy=table.removal_policy)
            state.not_reported += not_reported(found)
    state.live = deployed.model_copy(update={"tables": live})
    stacked = {t.physical_name for t in deployed.tables.values()}
    for table in head.tables.values():
        if table.physical_name not in stacked and read_live_table(sources.dynamodb, table.physical_name):
            state.unadopted.append(table.physical_name)
    state.unmanaged = unmanaged_tables(sources.dynamodb, prefix,
                                       stacked | {t.physical_name for t in head.tables.values()})
    return state
