"""DynamoDB's shapes for keys, indexes, projections and throughput, read into the model and written back.

describe_table and the properties of an AWS::DynamoDB::Table resource spell these the same way
(KeySchema, AttributeDefinitions, GlobalSecondaryIndexes, Projection, ProvisionedThroughput, Tags), so one
set of readers rebuilds the model from either (encryption differs: a template asks, a description
reports; both readers live here): local/live.py and dynamodb.py from the engine, cloudformation/read.py
from the deployed template. What neither can tell (the order of an include list and of the indexes, whether
an index is tenant-scoped) is taken from the schema's own table, `known`, so it never shows as a
change. The writers build local/steps.py's requests; compile.py has CDK write the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import (
    Capacity,
    Encryption,
    KeyAttribute,
    Projection,
    ResolvedGlobalIndex,
    ResolvedLocalIndex,
    ResolvedTable,
    logical_id,
)
from ..table_options import INDEX_OPTIONS, TABLE_OPTIONS, index_options_from_template, settled

BILLING_MODES = {"on_demand": "PAY_PER_REQUEST", "provisioned": "PROVISIONED"}
TABLE_CLASSES = {"standard": "STANDARD", "infrequent_access": "STANDARD_INFREQUENT_ACCESS"}
_PROJECTION_TYPES = {"ALL": "all", "KEYS_ONLY": "keys_only", "INCLUDE": "include"}


# ---------------------------------------------------------------------------------------------
# API → model

@dataclass(frozen=True)
class LiveTable:
    """One table as DynamoDB describes it. None for a part the engine does not report."""

    name: str
    description: dict
    ttl: dict = field(default_factory=dict)       # TimeToLiveDescription
    pitr: bool | None = None                      # PointInTimeRecoveryStatus == ENABLED
    tags: dict[str, str] | None = None
    # AWS leaves TableClassSummary and SSEDescription out for the defaults (standard, AWS owned
    # key); DynamoDB Local leaves them out because it has neither. True: read as AWS does.
    absent_is_default: bool = False
    # The registered options (table_options.py) the engine reported, by field; one it could not say is absent.
    options: dict[str, Any] = field(default_factory=dict)
    # The same for each global index's options (table_options.INDEX_OPTIONS): {index: {field: value}}.
    index_options: dict[str, dict[str, Any]] = field(default_factory=dict)


def billing_from(mode: str | None) -> str:
    return "on_demand" if mode == "PAY_PER_REQUEST" else "provisioned"  # the API's default is PROVISIONED


def table_class_from(value: str | None) -> str:
    return "infrequent_access" if value == TABLE_CLASSES["infrequent_access"] else "standard"


def keys_from(attribute_definitions: list | None, key_schema: list | None) -> tuple[KeyAttribute | None,
                                                                                   KeyAttribute | None]:
    """(partition key, sort key) of a KeySchema, typed by the AttributeDefinitions."""
    types = {a.get("AttributeName"): a.get("AttributeType", "S")
             for a in attribute_definitions or [] if isinstance(a, dict)}
    found = {k.get("KeyType"): k.get("AttributeName") for k in key_schema or [] if isinstance(k, dict)}
    make = lambda name: KeyAttribute(name=name, type=types.get(name, "S")) if name else None
    return make(found.get("HASH")), make(found.get("RANGE"))


def projection_from(spec: dict | None, known: Projection | None) -> Projection:
    spec = spec or {}
    kind = _PROJECTION_TYPES.get(spec.get("ProjectionType"), "all")
    attributes = tuple(spec.get("NonKeyAttributes") or ())
    if known is not None and known.type == kind and sorted(known.attributes) == sorted(attributes):
        return known  # the order of an INCLUDE list means nothing to DynamoDB
    return Projection(type=kind, attributes=attributes)


def capacity_from(spec: dict | None) -> Capacity | None:
    if not isinstance(spec, dict) or not spec.get("ReadCapacityUnits"):
        return None  # absent, or the zeros describe_table reports for on-demand
    return Capacity(read=int(spec["ReadCapacityUnits"]), write=int(spec["WriteCapacityUnits"]))


def tags_from(tags: list | None) -> dict[str, str]:
    """A Tags list ([{Key, Value}], as templates and ListTagsOfResource give it), sorted by key."""
    return dict(sorted((t["Key"], t["Value"]) for t in tags or []
                       if isinstance(t, dict) and isinstance(t.get("Value"), str)))


def encryption_from_spec(spec: dict | None, known: ResolvedTable | None) -> Encryption:
    """A template's SSESpecification (what was asked for)."""
    if not spec or spec.get("SSEEnabled") not in (True, "true"):
        return Encryption(type="aws_owned")
    key = spec.get("KMSMasterKeyId")
    if key is None:
        return Encryption(type="aws_managed")
    if isinstance(key, str) and key.startswith("arn:"):
        return Encryption(type="customer_managed", kms_key_arn=key)
    # An intrinsic function or an alias: the schema's key when it is customer managed too.
    if known is not None and known.encryption.type == "customer_managed":
        return known.encryption
    return Encryption(type="customer_managed")


def encryption_from_description(sse: dict | None, known: ResolvedTable | None) -> Encryption:
    """describe_table's SSEDescription (what the table has); absent: the engine does not model it."""
    if not sse:
        return known.encryption if known else Encryption(type="aws_owned")
    if sse.get("Status") not in ("ENABLED", "ENABLING"):
        return Encryption(type="aws_owned")
    arn = sse.get("KMSMasterKeyArn")
    if known is not None and known.encryption.type == "customer_managed" and arn == known.encryption.kms_key_arn:
        return known.encryption
    # DescribeTable does not say whether the key is the AWS managed one (alias/aws/dynamodb) or a
    # customer's (that takes kms:DescribeKey): read as AWS managed; `inspect.unexpressed` names the key.
    return Encryption(type="aws_managed")


def tenant_scoped_from(partition_key: KeyAttribute | None, known: ResolvedTable | None,
                       tenancy_attribute: str) -> bool:
    if known is not None:
        return known.tenant_scoped
    return partition_key is not None and partition_key.name == tenancy_attribute


def indexes_from(source: dict, known: ResolvedTable | None, tenancy_attribute: str, provisioned: bool,
                 ) -> tuple[tuple[ResolvedGlobalIndex, ...], tuple[ResolvedLocalIndex, ...]]:
    """The global and local indexes of a table description or template resource's properties.

    In the schema's order; indexes the schema lacks come last, in the order `source` lists them.
    A global index being deleted is left out: a plan must not try to delete it again.
    """
    definitions = source.get("AttributeDefinitions")
    table_scoped = tenant_scoped_from(keys_from(definitions, source.get("KeySchema"))[0], known, tenancy_attribute)
    known_gsis = {i.name: i for i in known.global_indexes} if known else {}
    known_lsis = {i.name: i for i in known.local_indexes} if known else {}
    gsis = []
    for spec in source.get("GlobalSecondaryIndexes") or []:
        if spec.get("IndexStatus") == "DELETING":
            continue
        partition_key, sort_key = keys_from(definitions, spec.get("KeySchema"))
        mine = known_gsis.get(spec.get("IndexName"))
        gsis.append(ResolvedGlobalIndex(
            name=spec.get("IndexName"), partition_key=partition_key, sort_key=sort_key,
            projection=projection_from(spec.get("Projection"), mine.projection if mine else None),
            # Unknown to the schema: scoped as `model.index_tenant_scoped` would default it.
            tenant_scoped=mine.tenant_scoped if mine else (
                table_scoped and partition_key is not None and partition_key.name == tenancy_attribute),
            capacity=capacity_from(spec.get("ProvisionedThroughput")) if provisioned else None,
            # A template's GSI properties; a live table's are settled in table_from_live (_live_index_options).
            **index_options_from_template(spec),
        ))
    lsis = []
    for spec in source.get("LocalSecondaryIndexes") or []:
        mine = known_lsis.get(spec.get("IndexName"))
        lsis.append(ResolvedLocalIndex(
            name=spec.get("IndexName"), sort_key=keys_from(definitions, spec.get("KeySchema"))[1],
            projection=projection_from(spec.get("Projection"), mine.projection if mine else None),
        ))
    return _in_order(gsis, list(known_gsis)), _in_order(lsis, list(known_lsis))


def _in_order(indexes: list, names: list[str]) -> tuple:
    position = {name: n for n, name in enumerate(names)}
    return tuple(sorted(indexes, key=lambda i: position.get(i.name, len(position))))


# ---------------------------------------------------------------------------------------------
# Model → API

def attribute_definitions(*keys: KeyAttribute | None) -> list[dict]:
    seen: dict[str, str] = {}
    for key in keys:
        if key is not None:
            seen.setdefault(key.name, key.type)
    return [{"AttributeName": n, "AttributeType": t} for n, t in seen.items()]


def key_schema(partition_key: KeyAttribute, sort_key: KeyAttribute | None) -> list[dict]:
    schema = [{"AttributeName": partition_key.name, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key.name, "KeyType": "RANGE"})
    return schema


def projection_spec(projection: Projection) -> dict:
    spec: dict = {"ProjectionType": projection.type.upper()}
    if projection.type == "include":
        spec["NonKeyAttributes"] = list(projection.attributes)
    return spec


def throughput(capacity: Capacity | None) -> dict:
    capacity = capacity or Capacity(read=1, write=1)
    return {"ReadCapacityUnits": capacity.read, "WriteCapacityUnits": capacity.write}


def gsi_spec(table: ResolvedTable, index: ResolvedGlobalIndex) -> dict:
    spec = {"IndexName": index.name, "KeySchema": key_schema(index.partition_key, index.sort_key),
            "Projection": projection_spec(index.projection)}
    if table.billing == "provisioned":
        spec["ProvisionedThroughput"] = throughput(index.capacity or table.capacity)
    return spec


def lsi_spec(table: ResolvedTable, index: ResolvedLocalIndex) -> dict:
    return {"IndexName": index.name, "KeySchema": key_schema(table.partition_key, index.sort_key),
            "Projection": projection_spec(index.projection)}


# ---------------------------------------------------------------------------------------------
# A live table (DescribeTable and its companions) → the model

_BUILT_IN_ENCRYPTION = Encryption(type="aws_owned")


def table_from_live(live: LiveTable, *, key: str, tenancy_attribute: str, known: ResolvedTable | None = None,
                    removal_policy: str = "retain") -> ResolvedTable:
    """The model of a live table. `known` (the schema's or the deployed template's table) supplies
    what DynamoDB does not store (descriptions, non-key attributes, access patterns, tenant scoping,
    the order of indexes) and every option the engine does not report; without it the built-ins."""
    d = live.description
    billing = billing_from((d.get("BillingModeSummary") or {}).get("BillingMode"))
    provisioned = billing == "provisioned"
    partition_key, sort_key = keys_from(d.get("AttributeDefinitions"), d.get("KeySchema"))
    # Engines list indexes in an order of their own: by name unless `known` orders them.
    listed = {**d, **{kind: sorted(d.get(kind) or [], key=lambda i: i["IndexName"])
                      for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")}}
    global_indexes, local_indexes = indexes_from(listed, known, tenancy_attribute, provisioned)
    global_indexes = _live_index_options(live, global_indexes, known)
    stream = d.get("StreamSpecification") or {}
    sse = d.get("SSEDescription")
    return ResolvedTable(
        key=key,
        logical_id=known.logical_id if known else logical_id(key),
        physical_name=d["TableName"],
        description=known.description if known else None,
        tenant_scoped=tenant_scoped_from(partition_key, known, tenancy_attribute),
        partition_key=partition_key,
        sort_key=sort_key,
        attributes=dict(known.attributes) if known else {},
        global_indexes=global_indexes,
        local_indexes=local_indexes,
        ttl=live.ttl.get("AttributeName") if live.ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None,
        stream=stream["StreamViewType"].lower() if stream.get("StreamEnabled") else None,
        billing=billing,
        capacity=capacity_from(d.get("ProvisionedThroughput")) if provisioned else None,
        table_class=(table_class_from(d["TableClassSummary"].get("TableClass")) if d.get("TableClassSummary")
                     else known.table_class if known and not live.absent_is_default else "standard"),
        encryption=(_BUILT_IN_ENCRYPTION if not sse and live.absent_is_default
                    else encryption_from_description(sse, known)),
        point_in_time_recovery=(live.pitr if live.pitr is not None
                                else known.point_in_time_recovery if known else False),
        deletion_protection=bool(d.get("DeletionProtectionEnabled", known.deletion_protection if known else False)),
        removal_policy=removal_policy,
        tags=live.tags if live.tags is not None else dict(known.tags) if known else {},
        access_patterns=known.access_patterns if known else (),
        # What only the generated data layer and the tenant policies know: never on the live table.
        version=known.version if known else False,
        tenant_access=known.tenant_access if known else "write",
        **_registered_options(live, known),
    )


def _live_index_options(live: LiveTable, indexes: tuple[ResolvedGlobalIndex, ...],
                        known: ResolvedTable | None) -> tuple[ResolvedGlobalIndex, ...]:
    """Each index's options as the engine reported them (settled against the known index's), else as
    `known` has them; on AWS an option DescribeTable leaves out is the default, as for the table."""
    known_gsis = {i.name: i for i in known.global_indexes} if known else {}
    out = []
    for index in indexes:
        reported = live.index_options.get(index.name, {})
        mine = known_gsis.get(index.name)
        update = {}
        for o in INDEX_OPTIONS:
            wanted = getattr(mine, o.field) if mine else o.default
            if o.field in reported:
                update[o.field] = settled(o, reported[o.field], wanted)
            else:
                update[o.field] = o.default if live.absent_is_default and o.described else wanted
        out.append(index.model_copy(update=update))
    return tuple(out)


def _registered_options(live: LiveTable, known: ResolvedTable | None) -> dict[str, Any]:
    """table_options.py's options: as the engine reported them, else as `known` has them, else the default."""
    out = {}
    for o in TABLE_OPTIONS:
        wanted = getattr(known, o.field) if known else o.default
        if o.field in live.options:
            out[o.field] = settled(o, live.options[o.field], wanted)
        else:  # not reported: AWS leaves a setting out at its default; another engine lacks it (keep `known`)
            out[o.field] = o.default if live.absent_is_default and o.described else wanted
    return out
