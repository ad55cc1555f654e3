"""Any live table read back into the model, whoever made it: for `import`, `drift` and adoption.

local/live.py reads the tables this tool made for one environment (the registry says which); this module
reads any table by name (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups,
ListTagsOfResource) and keeps apart what the schema language cannot say (warm throughput, on-demand
limits, replicas, a TTL being switched, features the engine does not report), so `import` can
write it as a comment and `drift` can list it as not checked.

The reading is in two halves: `read_live_table` talks to DynamoDB; `shapes.table_from_live` is pure
(a `LiveTable` → `ResolvedTable`), in the one place AWS table shapes are read into the model. The
CloudFormation half (cloudformation/read.py) reads the tables of a stack from ListStackResources and
GetTemplate. `Sources` and `EnvironmentState` are what `import` and `drift` read through and get back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..followup import Invocation
from ..model import TOOL_TABLE_PREFIX, ResolvedSchema
from ..table_options import INDEX_OPTIONS, NOT_REPORTED, TABLE_OPTIONS
from .aws import describe_table_or_none, is_unsupported
from .shapes import LiveTable

# The local engine's record of which tables are whose (local/registry.py): never a table of the schema.
REGISTRY_TABLE = f"{TOOL_TABLE_PREFIX}.registry"


# ---------------------------------------------------------------------------------------------
# DynamoDB → LiveTable

def read_live_table(client: Any, name: str, *, aws: bool = False) -> LiveTable | None:
    """The table named `name`, or None when there is none. `aws`: the endpoint answers as AWS does."""
    description = describe_table_or_none(client, name)
    if description is None:
        return None
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
    options = {}
    for option in TABLE_OPTIONS:  # table_options.py: each read where the engine has it
        value = _optional(lambda option=option: option.read_live(client, description), lacking=_LACKING_ACTION,
                          absent=NOT_REPORTED)
        if value is not NOT_REPORTED:
            options[option.field] = value
    index_options: dict[str, dict[str, Any]] = {}
    for index in description.get("GlobalSecondaryIndexes") or []:   # the same, per global index
        found = index_options[index["IndexName"]] = {}
        for option in INDEX_OPTIONS:
            value = _optional(lambda option=option, index=index: option.index_read_live(client, description, index),
                              lacking=_LACKING_ACTION + ("ResourceNotFoundException",), absent=NOT_REPORTED)
            if value is not NOT_REPORTED:
                found[option.field] = value
    return LiveTable(name, description, ttl, pitr, _tags(client, description["TableArn"]), aws, options,
                     index_options)


def list_table_names(client: Any) -> list[str]:
    return sorted(n for page in client.get_paginator("list_tables").paginate() for n in page["TableNames"])


# How engines without an action answer it: DynamoDB Local UnknownOperationException (is_unsupported);
# moto's server a bare 500 or "not yet implemented" (the same answers live_settings.py reads as "not reported").
_LACKING_ACTION = ("500", "InternalFailure")


def _optional(call, lacking: tuple[str, ...] = (), absent: Any = None):
    """A call for a feature some engines lack (DynamoDB Local: tags): `absent` instead of a failure."""
    try:
        return call()
    except ClientError as exc:
        if is_unsupported(exc) or (lacking and (exc.response.get("Error", {}).get("Code", "") in lacking
                                                or "not implemented" in str(exc).lower())):
            return absent
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


def unexpressed(live: LiveTable, table: Any = None) -> list[str]:
    """What the live table has that the schema language cannot say, one line each (`table`: the
    model read from it, so what it already holds is not said twice)."""
    d = live.description
    out = []
    status = live.ttl.get("TimeToLiveStatus")
    if status in ("ENABLING", "DISABLING"):
        out.append(f"TTL on {live.ttl.get('AttributeName')} is {status.lower()}: read it again once it settles")
    warm = d.get("WarmThroughput") or {}
    # Every new on-demand table starts at 12,000 reads/s and 4,000 writes/s of warm throughput
    # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html):
    # only a table pre-warmed or grown past that has something to say, unless the schema already sets
    # it (`warm_throughput`, table_options.py; the on-demand maximum is always written as an option).
    grown = (warm.get("ReadUnitsPerSecond") or 0) > _WARM_READS or (warm.get("WriteUnitsPerSecond") or 0) > _WARM_WRITES
    if grown and (table is None or table.warm_throughput is None):
        out.append(f"warm throughput {warm.get('ReadUnitsPerSecond')} reads/s, {warm.get('WriteUnitsPerSecond')} "
                   "writes/s: AWS keeps it (it never lowers one); write warm_throughput to manage it")
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
# What `import` and `drift` read through, and what `drift` gets back

@dataclass
class Sources:
    """The clients `import` and `drift` read through, and how to name where they point."""

    dynamodb: Any
    cloudformation: Any | None     # None on the local engine
    label: str
    local: bool
    kms: Any | None = None         # tells a customer managed key from AWS's (import); None on the local engine
    # The command reading through them: the follow-up commands it prints repeat its target (followup.py).
    rerun: Invocation | None = None


@dataclass
class EnvironmentState:
    reference: ResolvedSchema          # what was deployed (CloudFormation) or the schema (local)
    live: ResolvedSchema
    reference_label: str
    where: str
    unmanaged: list[str] = field(default_factory=list)
    unadopted: list[str] = field(default_factory=list)
    not_reported: list[str] = field(default_factory=list)


def unmanaged_tables(client: Any, prefix: str | None, known: set[str]) -> list[str]:
    """Tables under the environment's naming prefix that neither the schema nor the record of the
    deployed environment knows (`known` holds the tool's own tables too)."""
    if not prefix:  # a naming pattern that starts with {table}: every table would match
        return []
    return [n for n in list_table_names(client) if n.startswith(prefix) and n not in known and n != REGISTRY_TABLE]
