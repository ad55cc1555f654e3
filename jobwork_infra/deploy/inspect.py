"""Any live table read back into the model, whoever made it: for `import`, `drift` and adoption.

live.py reads the tables this tool made for one environment (the registry says which); this module
reads any table by name (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups,
ListTagsOfResource) and keeps apart what the schema language cannot say (warm throughput, on-demand
limits, replicas, a TTL being switched, features the engine does not report), so `import` can
write it as a comment and `drift` can list it as not checked.

The reading is in two halves: `read_live_table` talks to DynamoDB; `shapes.table_from_live` is pure
(a `LiveTable` → `ResolvedTable`), in the one place AWS table shapes are read into the model. The CloudFormation half (`stack_tables`) reads the tables of
a stack from ListStackResources and GetTemplate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..errors import JobworkError
from ..model import ResolvedSchema, ResolvedTable
from .local_client import error_code, is_unsupported
from .shapes import LiveTable, table_from_live

TABLE_TYPE = "AWS::DynamoDB::Table"


# ---------------------------------------------------------------------------------------------
# DynamoDB → LiveTable

def read_live_table(client: Any, name: str, *, aws: bool = False) -> LiveTable | None:
    """The table named `name`, or None when there is none. `aws`: the endpoint answers as AWS does."""
    try:
        description = client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    return live_table(client, description, aws=aws)


def live_table(client: Any, description: dict, *, aws: bool = False) -> LiveTable:
    """A described table with its TTL, point-in-time recovery and tags (None where the engine lacks them)."""
    name = description["TableName"]
    ttl = _optional(lambda: client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]) or {}
    backups = _optional(lambda: client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"])
    pitr = None
    if backups is not None:
        status = (backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
        pitr = status == "ENABLED"
    return LiveTable(name, description, ttl, pitr, _tags(client, description["TableArn"]), aws)


def list_table_names(client: Any) -> list[str]:
    return sorted(n for page in client.get_paginator("list_tables").paginate() for n in page["TableNames"])


def _optional(call):
    """A call for a feature some engines lack (DynamoDB Local: tags): None instead of a failure."""
    try:
        return call()
    except ClientError as exc:
        if is_unsupported(exc):
            return None
        raise


def _tags(client: Any, arn: str) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    kwargs: dict = {"ResourceArn": arn}
    while True:  # no paginator exists for ListTagsOfResource
        page = _optional(lambda: client.list_tags_of_resource(**kwargs))
        if page is None:
            return None
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return dict(sorted(tags.items()))
        kwargs["NextToken"] = page["NextToken"]


def not_reported(live: LiveTable) -> list[str]:
    """The options this engine does not report for the table (they fall back on the schema's)."""
    d = live.description
    out = []
    if live.tags is None:
        out.append("tags")
    if live.pitr is None:
        out.append("point-in-time recovery")
    if not d.get("TableClassSummary") and not live.absent_is_default:
        out.append("table class")
    if not d.get("SSEDescription") and not live.absent_is_default:
        out.append("encryption")
    if "DeletionProtectionEnabled" not in d:
        out.append("deletion protection")
    return out


_WARM_READS, _WARM_WRITES = 12_000, 4_000


def unexpressed(live: LiveTable) -> list[str]:
    """What the live table has that the schema language cannot say, one line each."""
    d = live.description
    out = []
    status = live.ttl.get("TimeToLiveStatus")
    if status in ("ENABLING", "DISABLING"):
        out.append(f"TTL on {live.ttl.get('AttributeName')} is {status.lower()}: read it again once it settles")
    warm = d.get("WarmThroughput") or {}
    # Every new on-demand table starts at 12,000 reads/s and 4,000 writes/s of warm throughput
    # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html):
    # only a table pre-warmed or grown past that has something to say.
    if (warm.get("ReadUnitsPerSecond") or 0) > _WARM_READS or (warm.get("WriteUnitsPerSecond") or 0) > _WARM_WRITES:
        out.append(f"warm throughput {warm.get('ReadUnitsPerSecond')} reads/s, {warm.get('WriteUnitsPerSecond')} "
                   "writes/s (set by AWS; not in the schema language)")
    on_demand = d.get("OnDemandThroughput") or {}
    if on_demand.get("MaxReadRequestUnits") or on_demand.get("MaxWriteRequestUnits"):
        out.append(f"on-demand maximum throughput {on_demand.get('MaxReadRequestUnits')} reads, "
                   f"{on_demand.get('MaxWriteRequestUnits')} writes: not in the schema language")
    if d.get("Replicas"):
        regions = ", ".join(sorted(r.get("RegionName", "?") for r in d["Replicas"]))
        out.append(f"a global table with replicas in {regions}: the schema language has no replicas")
    arn = (d.get("SSEDescription") or {}).get("KMSMasterKeyArn")
    if arn:
        out.append(f"encrypted with the KMS key {arn}: read as aws_managed; if it is a customer managed key, "
                   f"write encryption: {{kms_key_arn: {arn}}}")
    if d.get("RestoreSummary"):
        out.append("restored from a backup or a point in time")
    for index in d.get("GlobalSecondaryIndexes") or []:
        if index.get("IndexStatus") not in (None, "ACTIVE"):
            out.append(f"index {index['IndexName']} is {index['IndexStatus']}")
    engine_gaps = not_reported(live)
    if engine_gaps:
        out.append(f"not reported by this engine, so the schema's defaults are assumed: {', '.join(engine_gaps)}")
    return out


# ---------------------------------------------------------------------------------------------
# CloudFormation: the tables of a stack

@dataclass(frozen=True)
class StackTable:
    logical_id: str
    physical_name: str
    resource: dict          # the template's resource (Type, Properties, DeletionPolicy, …)


def stack_template(cfn: Any, stack: str) -> dict:
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, str):  # botocore decodes JSON bodies; a YAML one stays text
        try:
            body = json.loads(body)
        except ValueError:
            import yaml  # CloudFormation YAML without tags (a CDK template is JSON)

            try:
                body = yaml.safe_load(body)
            except yaml.YAMLError:
                raise JobworkError(f"the template of stack {stack} uses YAML tags (!Ref …) this tool cannot read",
                                   "convert it to JSON (`cfn-flip`) or name the tables instead") from None
    return json.loads(json.dumps(body))


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
    from .cloudformation import schema_from_template

    # Give every table its physical name: CDK leaves TableName out when the app did not set one.
    resources = {lid: {**r, "Properties": {**(r.get("Properties") or {}), "TableName": names[lid]}}
                 for lid, r in (template.get("Resources") or {}).items() if lid in names}
    read = schema_from_template({"Resources": resources}, head)
    return {t.logical_id: t for t in read.tables.values()}


# ---------------------------------------------------------------------------------------------
# Where to read from

@dataclass
class Sources:
    """The clients `import` and `drift` read through, and how to name where they point."""

    dynamodb: Any
    cloudformation: Any | None     # None on the local engine
    label: str
    local: bool


def open_sources(*, local: bool, endpoint_url: str | None, profile: str | None, region: str | None,
                 env: str, env_region: str | None) -> Sources:
    """The local engine (it must be running), or AWS (or an endpoint standing in for it)."""
    if local and endpoint_url:
        raise JobworkError("choose one target: --local or --endpoint-url")
    if local:
        from . import engine as engines
        from .local_client import client_for

        state = engines.status()
        if state is None:
            raise JobworkError("no local engine is running, so there are no live tables to read",
                               "start it with `jobwork-infra local start` (or `deploy --env ENV --local`)")
        return Sources(client_for(state.endpoint), None, f"{state.label} ({state.endpoint})", True)
    from .cloudformation import aws_session

    session = aws_session(profile=profile, region=region or env_region, endpoint_url=endpoint_url, env=env)
    return Sources(session.client("dynamodb", endpoint_url=endpoint_url),
                   session.client("cloudformation", endpoint_url=endpoint_url),
                   endpoint_url or f"AWS ({session.region_name})", False)


# ---------------------------------------------------------------------------------------------
# For `import`

def read_for_import(sources: Sources, names: list[str], head: ResolvedSchema, from_stack: str | None) -> list:
    """The tables to import, as `importer.Imported`, in the order asked (a stack's: by logical id)."""
    from ..importer import Imported
    from ..load import did_you_mean

    if from_stack is not None:
        if sources.cloudformation is None:
            raise JobworkError("--from-stack reads a CloudFormation stack; the local engine has none",
                               "drop --local (use --endpoint-url for an emulator), or import the tables by name")
        template, tables = stack_tables(sources.cloudformation, from_stack)
        if not tables:
            raise JobworkError(f"stack {from_stack} has no DynamoDB tables", "check the stack name")
        by_id = {t.logical_id: t for t in tables}
        by_name = {t.physical_name: t for t in tables}
        wanted = []
        for name in names or list(by_id):
            found = by_name.get(name) or by_id.get(name)
            if found is None:
                hint = did_you_mean(name, [*by_name, *by_id])
                raise JobworkError(f"stack {from_stack} has no table {name!r} (its tables: "
                                   f"{', '.join(f'{t.physical_name} ({t.logical_id})' for t in tables)})", hint)
            wanted.append(found)
        empty = head.model_copy(update={"tables": {}})
        models = tables_from_template(template, {t.logical_id: t.physical_name for t in wanted}, empty)
        out = []
        for found in wanted:
            notes = []
            policy = found.resource.get("DeletionPolicy", "Delete")
            if policy == "Delete":
                notes.append(f"stack {from_stack} deletes this table with its data if the table leaves the stack or "
                             "the stack is deleted (DeletionPolicy Delete): adopt it before changing that stack "
                             "(docs/adopt.md)")
            out.append(Imported(models[found.logical_id], f"stack {from_stack}, resource {found.logical_id}",
                                tuple(notes)))
        return out
    if not names:
        raise JobworkError("name the tables to import", "e.g. jobwork-infra import --env dev --local users tenant")
    out = []
    for name in names:
        live = read_live_table(sources.dynamodb, name, aws=not sources.local)
        if live is None:
            hint = did_you_mean(name, list_table_names(sources.dynamodb))
            raise JobworkError(f"no table named {name!r} at {sources.label}",
                               hint or "list them with `aws dynamodb list-tables`")
        table = table_from_live(live, key=name, tenancy_attribute=head.tenancy_attribute)
        out.append(Imported(table, f"live table {name}", tuple(unexpressed(live))))
    return out


# ---------------------------------------------------------------------------------------------
# For `drift`: what was deployed and what is live, for one environment

@dataclass
class EnvironmentState:
    reference: ResolvedSchema          # what was deployed (CloudFormation) or the schema (local)
    live: ResolvedSchema
    reference_label: str
    where: str
    unmanaged: list[str] = field(default_factory=list)
    unadopted: list[str] = field(default_factory=list)
    not_reported: list[str] = field(default_factory=list)


def _unmanaged(client: Any, prefix: str | None, known: set[str]) -> list[str]:
    from .registry import REGISTRY

    if not prefix:  # a naming pattern that starts with {table}: every table would match
        return []
    return [n for n in list_table_names(client) if n.startswith(prefix) and n not in known and n != REGISTRY]


def read_local_environment(sources: Sources, head: ResolvedSchema, prefix: str | None) -> EnvironmentState:
    """The registry's tables of this environment, live. The registry records ownership, not a
    template: the schema stands in for what was deployed, so an undeployed schema edit shows too."""
    from .registry import owned, read_registry

    registry = read_registry(sources.dynamodb)
    ours = {n: e for n, e in registry.items() if (e.app, e.env) == (head.app, head.env)}
    reference: dict[str, ResolvedTable] = {}
    live: dict[str, ResolvedTable] = {}
    state = EnvironmentState(head, head, "the schema", f"environment {head.env} on {sources.label}")
    for key, table in head.tables.items():
        found = read_live_table(sources.dynamodb, table.physical_name)
        entry = registry.get(table.physical_name)
        if found is None:
            if table.physical_name in ours:  # registered, so deployed once: deleted behind our back
                reference[key] = table
            continue
        if not owned(entry, found.description, head.app, head.env):
            state.unadopted.append(table.physical_name)
            continue
        reference[key] = table
        live[key] = table_from_live(found, key=key, tenancy_attribute=head.tenancy_attribute, known=table,
                                    removal_policy=entry.removal_policy)
        state.not_reported += not_reported(found)
    state.reference = head.model_copy(update={"tables": reference})
    state.live = head.model_copy(update={"tables": live})
    known = {t.physical_name for t in head.tables.values()} | set(ours)
    state.unmanaged = _unmanaged(sources.dynamodb, prefix, known)
    return state


def read_stack_environment(sources: Sources, head: ResolvedSchema, prefix: str | None) -> EnvironmentState:
    """The stack's deployed template and its tables, live."""
    from botocore.exceptions import ClientError

    from .cloudformation import schema_from_template

    try:
        sources.cloudformation.describe_stacks(StackName=head.stack_name)
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            raise JobworkError(f"stack {head.stack_name} is not deployed at {sources.label}: nothing to compare",
                               f"deploy it first (`jobwork-infra deploy --env {head.env}`), or check --env "
                               "and the region") from None
        raise
    deployed = schema_from_template(stack_template(sources.cloudformation, head.stack_name), head)
    live: dict[str, ResolvedTable] = {}
    state = EnvironmentState(deployed, deployed, "the deployed template",
                             f"stack {head.stack_name} at {sources.label}")
    for key, table in deployed.tables.items():
        found = read_live_table(sources.dynamodb, table.physical_name, aws=True)
        if found is not None:
            live[key] = table_from_live(found, key=key, tenancy_attribute=head.tenancy_attribute, known=table,
                                        removal_policy=table.removal_policy)
            state.not_reported += not_reported(found)
    state.live = deployed.model_copy(update={"tables": live})
    stacked = {t.physical_name for t in deployed.tables.values()}
    for table in head.tables.values():
        if table.physical_name not in stacked and read_live_table(sources.dynamodb, table.physical_name):
            state.unadopted.append(table.physical_name)
    state.unmanaged = _unmanaged(sources.dynamodb, prefix,
                                 stacked | {t.physical_name for t in head.tables.values()})
    return state
