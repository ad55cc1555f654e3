"""Every property of AWS::DynamoDB::Table: modelled by the schema, or refused by import/adopt with a reason.

A table another team made may carry any property CloudFormation knows. Adopting it must keep each
one managed or stop before any change naming it — never drop it silently (the setting would go
unmanaged while the user believes the tool manages the table). This module is that list, as data:
one row per property path (`GlobalSecondaryIndexes[].Projection.NonKeyAttributes`), with where the
schema holds it, or why it is refused and the way forward. docs/schema.md's property table is
generated from it (`python -m jobwork_infra.table_properties`), and a test checks it against the
resource schema cfn-lint ships (the CloudFormation registry's schema of AWS::DynamoDB::Table), so
a property AWS adds shows up as a failing test, not as a silent drop.

`refusals(properties)` is what import and adopt ask of a source template's resolved properties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .table_options import options_markdown

MODELLED = "modelled"
REFUSED = "refused"
CREATION_ONLY = "creation only"   # acts only when CloudFormation creates the table: read, noted, not carried

# What the way forward is for a setting the schema cannot hold yet.
_TURN_OFF = ("turn it off in the app that deploys the source stack and deploy that, then adopt; or leave the "
             "table where it is")
_NOT_YET = "the schema language has no {what} yet"


@dataclass(frozen=True)
class Property:
    path: str                      # "SSESpecification.KMSMasterKeyId"; "[]" marks a list's items
    status: str                    # MODELLED, REFUSED or CREATION_ONLY
    schema: str = ""               # where the schema holds it (MODELLED)
    reason: str = ""               # why it is refused or not carried
    way_forward: str = ""
    # For REFUSED rows: whether a value means something the tool would lose (default: any value).
    matters: Callable[[Any], bool] | None = None


def _not_default_period(value: Any) -> bool:
    # 35 days is the default and the maximum recovery period (CloudFormation reference, PointInTimeRecoverySpecification).
    return str(value) != "35"


def _present(value: Any) -> bool:
    return value not in (None, [], {})


def _rows() -> list[Property]:
    rows: list[Property] = []

    def modelled(path: str, schema: str) -> None:
        rows.append(Property(path, MODELLED, schema=schema))

    def refused(path: str, reason: str, way_forward: str = _TURN_OFF,
                matters: Callable[[Any], bool] | None = _present) -> None:
        rows.append(Property(path, REFUSED, reason=reason, way_forward=way_forward, matters=matters))

    def part_of(path: str, parent: str) -> None:
        # A field of a refused property: refused with it (its parent's row names the property).
        rows.append(Property(path, REFUSED, reason=f"part of {parent}", way_forward=f"see {parent}", matters=None))

    modelled("AttributeDefinitions[]", "`attributes` (key attributes: their types)")
    modelled("AttributeDefinitions[].AttributeName", "the attribute's name under `attributes`")
    modelled("AttributeDefinitions[].AttributeType", "`string`/`number`/`binary` (S/N/B)")
    modelled("BillingMode", "`billing: on_demand | provisioned`")
    modelled("ContributorInsightsSpecification", "`contributor_insights` (table_options.py)")
    modelled("ContributorInsightsSpecification.Enabled", "`contributor_insights: true | false`")
    modelled("ContributorInsightsSpecification.Mode",
             "`contributor_insights: true` (ACCESSED_AND_THROTTLED_KEYS) or `throttled_keys` (THROTTLED_KEYS)")
    modelled("DeletionProtectionEnabled", "`deletion_protection`")
    modelled("GlobalSecondaryIndexes[]", "`global_indexes`")
    modelled("GlobalSecondaryIndexes[].ContributorInsightsSpecification", "`contributor_insights` of the index")
    modelled("GlobalSecondaryIndexes[].ContributorInsightsSpecification.Enabled",
             "`contributor_insights: true | false` of the index")
    modelled("GlobalSecondaryIndexes[].ContributorInsightsSpecification.Mode",
             "`contributor_insights: throttled_keys` of the index")
    modelled("GlobalSecondaryIndexes[].IndexName", "the index's name under `global_indexes`")
    modelled("GlobalSecondaryIndexes[].KeySchema[]", "`partition_key`, `sort_key` of the index")
    modelled("GlobalSecondaryIndexes[].KeySchema[].AttributeName", "`partition_key`, `sort_key` of the index")
    modelled("GlobalSecondaryIndexes[].KeySchema[].KeyType", "HASH: `partition_key`, RANGE: `sort_key`")
    modelled("GlobalSecondaryIndexes[].OnDemandThroughput", "`on_demand_throughput` of the index")
    modelled("GlobalSecondaryIndexes[].OnDemandThroughput.MaxReadRequestUnits",
             "`on_demand_throughput.max_read` of the index (-1: unset)")
    modelled("GlobalSecondaryIndexes[].OnDemandThroughput.MaxWriteRequestUnits",
             "`on_demand_throughput.max_write` of the index (-1: unset)")
    modelled("GlobalSecondaryIndexes[].Projection", "`projection`")
    modelled("GlobalSecondaryIndexes[].Projection.NonKeyAttributes[]",
             "`projection: [a, b]` (key attributes allowed: rule I107 warns)")
    modelled("GlobalSecondaryIndexes[].Projection.ProjectionType", "`projection: all | keys_only | [list]`")
    modelled("GlobalSecondaryIndexes[].ProvisionedThroughput", "`capacity` of the index")
    modelled("GlobalSecondaryIndexes[].ProvisionedThroughput.ReadCapacityUnits", "`capacity.read` of the index")
    modelled("GlobalSecondaryIndexes[].ProvisionedThroughput.WriteCapacityUnits", "`capacity.write` of the index")
    modelled("GlobalSecondaryIndexes[].WarmThroughput", "`warm_throughput` of the index (a floor, as the table's)")
    modelled("GlobalSecondaryIndexes[].WarmThroughput.ReadUnitsPerSecond", "`warm_throughput.read` of the index")
    modelled("GlobalSecondaryIndexes[].WarmThroughput.WriteUnitsPerSecond", "`warm_throughput.write` of the index")
    creation = ("acts only when CloudFormation creates the table (it loads the items from S3); the adopted table "
                "exists, so it has nothing left to do and the IMPORT template leaves it out")
    for path in ("ImportSourceSpecification", "ImportSourceSpecification.InputCompressionType",
                 "ImportSourceSpecification.InputFormat", "ImportSourceSpecification.InputFormatOptions",
                 "ImportSourceSpecification.InputFormatOptions.Csv",
                 "ImportSourceSpecification.InputFormatOptions.Csv.Delimiter",
                 "ImportSourceSpecification.InputFormatOptions.Csv.HeaderList[]",
                 "ImportSourceSpecification.S3BucketSource", "ImportSourceSpecification.S3BucketSource.S3Bucket",
                 "ImportSourceSpecification.S3BucketSource.S3BucketOwner",
                 "ImportSourceSpecification.S3BucketSource.S3KeyPrefix"):
        rows.append(Property(path, CREATION_ONLY, reason=creation,
                             way_forward="nothing to do: import notes it on the table"))
    modelled("KeySchema", "`partition_key`, `sort_key`")
    modelled("KeySchema[].AttributeName", "`partition_key`, `sort_key`")
    modelled("KeySchema[].KeyType", "HASH: `partition_key`, RANGE: `sort_key`")
    modelled("KinesisStreamSpecification", "`kinesis_destination` (table_options.py)")
    modelled("KinesisStreamSpecification.ApproximateCreationDateTimePrecision",
             "`kinesis_destination.timestamp_precision: millisecond | microsecond`")
    modelled("KinesisStreamSpecification.StreamArn", "`kinesis_destination.stream_arn`")
    modelled("LocalSecondaryIndexes[]", "`local_indexes`")
    modelled("LocalSecondaryIndexes[].IndexName", "the index's name under `local_indexes`")
    modelled("LocalSecondaryIndexes[].KeySchema[]", "`sort_key` of the index (the partition key is the table's)")
    modelled("LocalSecondaryIndexes[].KeySchema[].AttributeName", "`sort_key` of the index")
    modelled("LocalSecondaryIndexes[].KeySchema[].KeyType", "RANGE: `sort_key` of the index")
    modelled("LocalSecondaryIndexes[].Projection", "`projection`")
    modelled("LocalSecondaryIndexes[].Projection.NonKeyAttributes[]",
             "`projection: [a, b]` (key attributes allowed: rule I107 warns)")
    modelled("LocalSecondaryIndexes[].Projection.ProjectionType", "`projection: all | keys_only | [list]`")
    modelled("OnDemandThroughput", "`on_demand_throughput` (table_options.py)")
    modelled("OnDemandThroughput.MaxReadRequestUnits", "`on_demand_throughput.max_read` (-1: unset)")
    modelled("OnDemandThroughput.MaxWriteRequestUnits", "`on_demand_throughput.max_write` (-1: unset)")
    modelled("PointInTimeRecoverySpecification", "`point_in_time_recovery`")
    modelled("PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled", "`point_in_time_recovery: true`")
    refused("PointInTimeRecoverySpecification.RecoveryPeriodInDays",
            "the schema has no recovery period: point_in_time_recovery keeps AWS's default, 35 days",
            "set it back to 35 days in the source app, or leave the table where it is", matters=_not_default_period)
    modelled("ProvisionedThroughput", "`capacity`")
    modelled("ProvisionedThroughput.ReadCapacityUnits", "`capacity.read`")
    modelled("ProvisionedThroughput.WriteCapacityUnits", "`capacity.write`")
    modelled("ResourcePolicy", "`resource_policy` (table_options.py)")
    modelled("ResourcePolicy.PolicyDocument", "`resource_policy: {Version: …, Statement: […]}`")
    modelled("SSESpecification", "`encryption`")
    modelled("SSESpecification.KMSMasterKeyId", "`encryption: {kms_key_arn: …}` (the live table's key ARN)")
    modelled("SSESpecification.SSEEnabled", "`encryption: aws_owned` (false) or a KMS key (true)")
    modelled("SSESpecification.SSEType", "`encryption` (KMS is the only type)")
    modelled("StreamSpecification", "`stream`")
    refused("StreamSpecification.ResourcePolicy", _NOT_YET.format(what="stream resource policy"),
            "remove the stream's policy in the source app, or leave the table where it is")
    part_of("StreamSpecification.ResourcePolicy.PolicyDocument", "StreamSpecification.ResourcePolicy")
    modelled("StreamSpecification.StreamViewType", "`stream: keys_only | new_image | old_image | new_and_old_images`")
    refused("StreamSpecification.Tags[]", _NOT_YET.format(what="tags on the stream"),
            "remove the stream's tags in the source app, or leave the table where it is")
    part_of("StreamSpecification.Tags[].Key", "StreamSpecification.Tags[]")
    part_of("StreamSpecification.Tags[].Value", "StreamSpecification.Tags[]")
    modelled("TableClass", "`table_class: standard | infrequent_access`")
    modelled("TableName", "`table_name` (written when the name does not follow `naming`)")
    modelled("Tags[]", "`tags` (keys are case-sensitive; their order means nothing to DynamoDB)")
    modelled("Tags[].Key", "a key under `tags`")
    modelled("Tags[].Value", "its value")
    modelled("TimeToLiveSpecification", "`ttl`")
    modelled("TimeToLiveSpecification.AttributeName", "`ttl: attribute`")
    modelled("TimeToLiveSpecification.Enabled", "`ttl` set (true) or absent (false)")
    refused("VectorIndexes[]", "the schema language has no vector indexes",
            "leave the table where it is (a vector index is part of the table's design)")
    for field in ("Dimensions", "DistanceFunction", "IndexName", "Projection", "Projection.NonKeyAttributes[]",
                  "Projection.ProjectionType", "SearchSchema[]", "SearchSchema[].AttributeName",
                  "SearchSchema[].SearchSchemaElementType", "VectorAttribute", "VectorAttribute.AttributeName"):
        part_of(f"VectorIndexes[].{field}", "VectorIndexes[]")
    modelled("WarmThroughput", "`warm_throughput` (table_options.py; a live value at or above it satisfies it)")
    modelled("WarmThroughput.ReadUnitsPerSecond", "`warm_throughput.read`")
    modelled("WarmThroughput.WriteUnitsPerSecond", "`warm_throughput.write`")
    return rows


PROPERTIES: dict[str, Property] = {p.path: p for p in _rows()}
# Properties of type Json: their value is a document (an IAM policy), not more properties.
JSON_PROPERTIES = ("ResourcePolicy.PolicyDocument", "StreamSpecification.ResourcePolicy.PolicyDocument")

# The resource attributes (not properties) a table may carry, and what adoption does with each.
RESOURCE_ATTRIBUTES = [
    ("DeletionPolicy", ("modelled: `removal_policy`; `Delete` in the source stack is first set to Retain there "
                       "(adopt) and noted by import")),
    ("UpdateReplacePolicy", "modelled: written with the removal policy; set to Retain in the source stack first"),
    ("Condition", "read: a table whose condition is false is not in the stack"),
    ("DependsOn", "read: a resource that depends on the table refers to it (it blocks taking the table out)"),
    ("Metadata", "not carried: CDK's construct paths and the like say nothing about the table"),
]


@dataclass(frozen=True)
class Refusal:
    path: str              # with indexes named: "GlobalSecondaryIndexes(by_kind).OnDemandThroughput"
    property: Property


def _walk(node: Any, path: str, shown: str) -> Iterator[tuple[str, str, Any]]:
    """(registry path, path with index names, value) for every property in a resolved properties map."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _visit(value, f"{path}.{key}" if path else str(key), f"{shown}.{key}" if shown else str(key))


def _visit(value: Any, path: str, shown: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, list):
        yield path + "[]", shown, value
        for n, item in enumerate(value):
            name = item.get("IndexName") if isinstance(item, dict) else None
            # Parentheses, not brackets: the console reads [name] as markup.
            label = f"{shown}({name if isinstance(name, str) else n})"
            if isinstance(item, dict):
                yield from _walk(item, path + "[]", label)
        return
    yield path, shown, value
    if isinstance(value, dict):
        yield from _walk(value, path, shown)


def refusals(properties: dict, unresolved: Callable[[Any], bool] = lambda value: False) -> list[Refusal]:
    """The properties of a resolved AWS::DynamoDB::Table that the schema cannot keep, in template order.

    A property the registry does not know (AWS added it after this list) is refused too: unknown is
    never silently dropped. `unresolved` tells a value the template reader could not resolve: one
    under a refused property may matter, so it is refused.
    """
    out: list[Refusal] = []
    for path, shown, value in _walk(properties, "", ""):
        if any(shown.startswith((r.path + ".", r.path + "[")) for r in out):
            continue  # inside a property already refused: named once
        if any(path.startswith((j + ".", j + "[")) for j in JSON_PROPERTIES):
            continue  # the content of a policy document: its keys are IAM's, not properties
        row = PROPERTIES.get(path) or PROPERTIES.get(path.removesuffix("[]"))
        if row is None:
            row = Property(path, REFUSED, reason="a property this version of jobwork-infra does not know",
                           way_forward="upgrade jobwork-infra, or leave the table where it is")
            out.append(Refusal(shown, row))
        elif row.status == REFUSED and row.matters is not None and (row.matters(value)
                                                                    or _contains(value, unresolved)):
            out.append(Refusal(shown, row))  # a value the template does not let us read may matter: refused
    return out


def _contains(value: Any, test: Callable[[Any], bool]) -> bool:
    if isinstance(value, dict):
        return any(_contains(v, test) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, test) for v in value)
    return test(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def properties_markdown() -> str:
    """The table docs/schema.md carries (between its `properties` markers)."""
    counts = {s: sum(1 for p in PROPERTIES.values() if p.status == s) for s in (MODELLED, REFUSED, CREATION_ONLY)}
    lines = [(f"{len(PROPERTIES)} property paths: {counts[MODELLED]} modelled, {counts[REFUSED]} refused, "
             f"{counts[CREATION_ONLY]} creation only."), "",
             "| property | status | in the schema, or why not | way forward |", "| --- | --- | --- | --- |"]
    for p in PROPERTIES.values():
        detail = p.schema if p.status == MODELLED else p.reason
        lines.append(f"| `{p.path}` | {p.status} | {_cell(detail)} | {_cell(p.way_forward)} |")
    lines += ["", "| resource attribute | what adoption does |", "| --- | --- |"]
    lines += [f"| `{name}` | {what} |" for name, what in RESOURCE_ATTRIBUTES]
    lines += ["", "Options of the table-option registry (`jobwork_infra/table_options.py`):", "",
              options_markdown().rstrip("\n")]
    return "\n".join(lines) + "\n"


START, END = "<!-- properties:start (generated: python -m jobwork_infra.table_properties) -->", \
    "<!-- properties:end -->"

if __name__ == "__main__":  # regenerate the table in docs/schema.md
    from pathlib import Path

    target = Path(__file__).resolve().parent.parent / "docs" / "schema.md"
    text = target.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    from .fsio import atomic_write

    atomic_write(target, f"{head}{START}\n{properties_markdown()}{END}{tail}")
    print(f"wrote {target}")
