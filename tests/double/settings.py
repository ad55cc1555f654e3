"""Table settings moto leaves out or reports wrongly, as DynamoDB reports them.

moto 5.2 keeps no table class for CreateTable/UpdateTable, no on-demand maximum throughput, no
contributor insights at all, and echoes an SSE key id back where AWS reports the key's ARN. Adoption
reads every one of them from the live table, so the double keeps them on moto's table objects
(`strict_settings`) and reports them as AWS does; the CloudFormation executor applies the template's
properties through `apply_template` (tests/double/tables.py).

AWS sources, one per fact:
- DescribeContributorInsights / UpdateContributorInsights: a status per table and per global index
  (ENABLING, ENABLED, DISABLING, DISABLED, FAILED), DISABLED until enabled; the mode
  (ACCESSED_AND_THROTTLED_KEYS or THROTTLED_KEYS) is returned with it
  (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContributorInsights.html,
  .../API_UpdateContributorInsights.html). UpdateContributorInsights answers ENABLING/DISABLING; the
  double settles it by the next read.
- OnDemandThroughput (MaxReadRequestUnits, MaxWriteRequestUnits) on CreateTable and UpdateTable, for
  the table and per global index, reported by DescribeTable in the table's and index's description
  (.../API_OnDemandThroughput.html, .../API_TableDescription.html, .../API_GlobalSecondaryIndexDescription.html).
- TableClassSummary {TableClass, LastUpdateDateTime} in DescribeTable once a class was set
  (.../API_TableClassSummary.html).
- SSEDescription.KMSMasterKeyArn: "The KMS key ARN used for the KMS encryption", whatever form of
  key (id, ARN, alias) the request named (.../API_SSEDescription.html).
- WarmThroughput (ReadUnitsPerSecond, WriteUnitsPerSecond): every table has one; it can be increased,
  for reads, writes or both (the other keeps its value), and "once increased, warm throughput cannot be
  decreased" (.../developerguide/warm-throughput.html, .../developerguide/update-warm-throughput.html).
  moto replaces the whole value on UpdateTable (dropping the direction not named) and lets it go down;
  the double keeps the other direction and refuses a decrease with a ValidationException, on the API
  and in a stack update; for the table and for each global index alike.
- ResourcePolicy.PolicyDocument of a template (moto's CloudFormation ignores it): attached, replaced or
  deleted as the template's policy changes; "resource-based policies don't support out-of-band
  changes: if you add, update, or delete a policy outside of the CloudFormation template, the change
  won't be overwritten if there are no changes to the policy within the template"
  (CloudFormation reference, AWS::DynamoDB::Table ResourcePolicy), so an update whose template keeps
  the same policy leaves the live one alone. CreateTable's ResourcePolicy likewise
  (.../APIReference/API_CreateTable.html).
- Kinesis streaming destinations: DescribeKinesisStreamingDestination lists them (an empty
  KinesisDataStreamDestinations when none); EnableKinesisStreamingDestination answers ENABLING,
  DisableKinesisStreamingDestination DISABLING; a template's KinesisStreamSpecification enables one
  (.../API_DescribeKinesisStreamingDestination.html, .../API_EnableKinesisStreamingDestination.html).
  UpdateKinesisStreamingDestination changes the precision of an existing destination (UPDATING); one
  the table does not stream to is a ResourceNotFoundException (.../API_UpdateKinesisStreamingDestination.html).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from moto.dynamodb.models.table import Table

from .dynamodb import DynamoError
from .state import DOUBLE

INSIGHTS_MODES = ("ACCESSED_AND_THROTTLED_KEYS", "THROTTLED_KEYS")
TABLE = None  # the key of the table's own insights in `insights`


def settings(table: Table) -> dict:
    """The double's settings of one table (kept on moto's object, so a moto reset forgets them)."""
    if not hasattr(table, "strict_settings"):
        table.strict_settings = {"insights": {}, "on_demand": {}, "class_changed": None, "kinesis": {}}
    return table.strict_settings


def true(value: Any) -> bool:
    return str(value).lower() == "true"


# ---------------------------------------------------------------------------------------------
# Contributor insights

def set_insights(table: Table, index: str | None, enabled: bool, mode: str | None) -> None:
    insights = settings(table)["insights"]
    if enabled:
        insights[index] = mode or "ACCESSED_AND_THROTTLED_KEYS"
    else:
        insights.pop(index, None)


def _check_target(table: Table, index: str | None) -> None:
    if index is not None and index not in {i.name for i in table.global_indexes}:
        raise DynamoError("ResourceNotFoundException", f"Requested resource not found: Index: {index} not found")


def describe_contributor_insights(table: Table, index: str | None) -> dict:
    _check_target(table, index)
    mode = settings(table)["insights"].get(index)
    out: dict = {"TableName": table.name, "ContributorInsightsStatus": "ENABLED" if mode else "DISABLED"}
    if index is not None:
        out["IndexName"] = index
    if mode:
        out["ContributorInsightsMode"] = mode
        out["ContributorInsightsRuleList"] = [f"DynamoDBContributorInsights-PKC-{table.name}"]
    return out


def update_contributor_insights(table: Table, index: str | None, action: str, mode: str | None) -> dict:
    _check_target(table, index)
    if action not in ("ENABLE", "DISABLE"):
        raise DynamoError("ValidationException", f"Invalid ContributorInsightsAction: {action}")
    if mode is not None and mode not in INSIGHTS_MODES:
        raise DynamoError("ValidationException", f"Invalid ContributorInsightsMode: {mode}")
    set_insights(table, index, action == "ENABLE", mode)
    out: dict = {"TableName": table.name,
                 "ContributorInsightsStatus": "ENABLING" if action == "ENABLE" else "DISABLING"}
    if index is not None:
        out["IndexName"] = index
    if action == "ENABLE":
        out["ContributorInsightsMode"] = settings(table)["insights"][index]
    return out


# ---------------------------------------------------------------------------------------------
# Kinesis streaming destinations

def set_kinesis(table: Table, spec: dict | None) -> None:
    kinesis = settings(table)["kinesis"]
    kinesis.clear()
    if spec and spec.get("StreamArn"):
        kinesis[spec["StreamArn"]] = spec.get("ApproximateCreationDateTimePrecision", "MILLISECOND")


def describe_kinesis(table: Table) -> dict:
    return {"TableName": table.name, "KinesisDataStreamDestinations": [
        {"StreamArn": arn, "DestinationStatus": "ACTIVE", "ApproximateCreationDateTimePrecision": precision}
        for arn, precision in settings(table)["kinesis"].items()]}


def change_kinesis(table: Table, body: dict, enable: bool) -> dict:
    arn = body.get("StreamArn")
    if enable:
        settings(table)["kinesis"][arn] = (body.get("EnableKinesisStreamingConfiguration") or {}).get(
            "ApproximateCreationDateTimePrecision", "MILLISECOND")
    else:
        settings(table)["kinesis"].pop(arn, None)
    return {"TableName": table.name, "StreamArn": arn, "DestinationStatus": "ENABLING" if enable else "DISABLING"}


def update_kinesis(table: Table, body: dict) -> dict:
    arn = body.get("StreamArn")
    if arn not in settings(table)["kinesis"]:
        raise DynamoError("ResourceNotFoundException", f"Requested resource not found: no Kinesis destination {arn}")
    precision = (body.get("UpdateKinesisStreamingConfiguration") or {}).get("ApproximateCreationDateTimePrecision")
    if precision not in ("MILLISECOND", "MICROSECOND"):
        raise DynamoError("ValidationException", f"Invalid ApproximateCreationDateTimePrecision: {precision}")
    settings(table)["kinesis"][arn] = precision
    return {"TableName": table.name, "StreamArn": arn, "DestinationStatus": "UPDATING",
            "UpdateKinesisStreamingConfiguration": {"ApproximateCreationDateTimePrecision": precision}}


# ---------------------------------------------------------------------------------------------
# On-demand maximum throughput, table class

def set_on_demand(table: Table, index: str | None, spec: dict | None) -> None:
    on_demand = settings(table)["on_demand"]
    if spec:
        on_demand[index] = {k: int(v) for k, v in spec.items() if k in ("MaxReadRequestUnits", "MaxWriteRequestUnits")}
    else:
        on_demand.pop(index, None)


WARM = (("ReadUnitsPerSecond", "read"), ("WriteUnitsPerSecond", "write"))


def warm_problem(table: Any, spec: dict | None, what: str = "table") -> str | None:
    """Why AWS refuses this WarmThroughput for `table` or a global index of it (a decrease), or None."""
    current = getattr(table, "warm_throughput", None) or {}
    for key, direction in WARM:
        if spec and key in spec and key in current and int(spec[key]) < int(current[key]):
            return (f"One or more parameter values were invalid: Requested {key} for WarmThroughput for {what} "
                    f"is lower than the current {direction} warm throughput ({current[key]}): warm throughput "
                    "cannot be decreased")
    return None


def warm_problems(table: Table, props: dict, index_specs: list[dict]) -> str | None:
    """The table's and its global indexes' (each spec naming IndexName) refusals, the first one."""
    indexes = {i.name: i for i in table.global_indexes}
    found = [warm_problem(table, props.get("WarmThroughput"))]
    # A stack update's template is checked as written: an index named by an intrinsic (`!Sub …`) is
    # not looked up here (the table's own value still is).
    found += [warm_problem(indexes[spec["IndexName"]], spec.get("WarmThroughput"), f"index {spec['IndexName']}")
              for spec in index_specs if isinstance(spec.get("IndexName"), str) and spec["IndexName"] in indexes]
    return next((p for p in found if p), None)


def raise_warm(table: Any, spec: dict | None) -> None:
    """The directions `spec` names go up; the others keep their value (table or global index)."""
    if spec:
        table.warm_throughput = {**(getattr(table, "warm_throughput", None) or {}),
                                 **{k: int(spec[k]) for k, _ in WARM if k in spec}, "Status": "ACTIVE"}


def _policies(table: Table) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[table.account_id][table.region_name]


def set_policy(table: Table, document: Any) -> None:
    backend = _policies(table)
    if document:
        text = document if isinstance(document, str) else json.dumps(document)
        backend.put_resource_policy(table.table_arn, text, None)
    else:
        backend.resource_policies.pop(table.table_arn, None)


def policy_from_template(table: Table, props: dict) -> None:
    """A template's ResourcePolicy, applied only when it differs from the last template's (see above)."""
    document = (props.get("ResourcePolicy") or {}).get("PolicyDocument")
    if document != settings(table).get("policy_template"):
        settings(table)["policy_template"] = copy.deepcopy(document)
        set_policy(table, document)


def set_table_class(table: Table, table_class: str | None) -> None:
    if table_class:
        table.strict_table_class = table_class
        settings(table)["class_changed"] = DOUBLE.clock.now()


def _index_updates(body: dict) -> list[dict]:
    return [u["Update"] for u in body.get("GlobalSecondaryIndexUpdates") or [] if u.get("Update")]


def check_request(table: Table, body: dict) -> None:
    """An UpdateTable AWS refuses before changing anything (a warm throughput decrease, table or index)."""
    problem = warm_problems(table, body, _index_updates(body))
    if problem:
        raise DynamoError("ValidationException", problem)


def warm_before(table: Table) -> dict:
    """The warm throughput of the table (key None) and each global index, before moto replaces them."""
    return {None: dict(getattr(table, "warm_throughput", None) or {}),
            **{i.name: dict(getattr(i, "warm_throughput", None) or {}) for i in table.global_indexes}}


def apply_request(table: Table, body: dict, before: dict | None = None) -> None:
    """What CreateTable / UpdateTable asked that moto dropped: the table class, on-demand maximums, the
    warm throughput direction not named (`before`: the values moto replaced, warm_before)."""
    if before is None and (body.get("ResourcePolicy")):   # CreateTable's policy (moto drops it)
        set_policy(table, body["ResourcePolicy"])
    if before is not None and body.get("WarmThroughput"):
        table.warm_throughput = before[None]
        raise_warm(table, body["WarmThroughput"])
    indexes = {i.name: i for i in table.global_indexes}
    for spec in _index_updates(body) if before is not None else []:
        if spec.get("WarmThroughput") and isinstance(spec.get("IndexName"), str) and spec["IndexName"] in indexes \
                and spec["IndexName"] in before:
            indexes[spec["IndexName"]].warm_throughput = before[spec["IndexName"]]
            raise_warm(indexes[spec["IndexName"]], spec["WarmThroughput"])
    set_table_class(table, body.get("TableClass"))
    if "OnDemandThroughput" in body:
        set_on_demand(table, TABLE, body["OnDemandThroughput"])
    for spec in body.get("GlobalSecondaryIndexes") or []:
        if spec.get("OnDemandThroughput"):
            set_on_demand(table, spec["IndexName"], spec["OnDemandThroughput"])
    for update in body.get("GlobalSecondaryIndexUpdates") or []:
        for action in ("Create", "Update"):
            spec = update.get(action) or {}
            if spec.get("OnDemandThroughput"):
                set_on_demand(table, spec["IndexName"], spec["OnDemandThroughput"])


def apply_template(table: Table, props: dict) -> None:
    """An AWS::DynamoDB::Table's ContributorInsightsSpecification and OnDemandThroughput (table and GSIs)."""
    for index, spec in [(TABLE, props), *[(g.get("IndexName"), g) for g in props.get("GlobalSecondaryIndexes") or []]]:
        insights = spec.get("ContributorInsightsSpecification") or {}
        set_insights(table, index, true(insights.get("Enabled")), insights.get("Mode"))
        set_on_demand(table, index, spec.get("OnDemandThroughput"))
    set_kinesis(table, props.get("KinesisStreamSpecification"))
    raise_warm(table, props.get("WarmThroughput"))
    indexes = {i.name: i for i in table.global_indexes}
    for spec in props.get("GlobalSecondaryIndexes") or []:
        if isinstance(spec.get("IndexName"), str) and spec["IndexName"] in indexes:
            raise_warm(indexes[spec["IndexName"]], spec.get("WarmThroughput"))
    policy_from_template(table, props)


# ---------------------------------------------------------------------------------------------
# DescribeTable

def _key_arn(table: Table, key: str | None) -> str | None:
    if not key or key.startswith("arn:"):
        return key
    from moto.kms.exceptions import NotFoundException
    from moto.kms.models import kms_backends

    backend = kms_backends[table.account_id][table.region_name]
    try:
        return backend.describe_key(backend.any_id_to_key_id(key)).arn
    except (NotFoundException, KeyError):  # a key unknown to moto's KMS: AWS would report its ARN all the same
        return f"arn:aws:kms:{table.region_name}:{table.account_id}:key/{key}"


def describe(table: Table, description: dict) -> None:
    """DescribeTable's description of `table` completed with what moto leaves out."""
    extra = getattr(table, "strict_settings", None) or {}
    on_demand = extra.get("on_demand") or {}
    if TABLE in on_demand:
        description["OnDemandThroughput"] = copy.deepcopy(on_demand[TABLE])
    for index in description.get("GlobalSecondaryIndexes") or []:
        if index.get("IndexName") in on_demand:
            index["OnDemandThroughput"] = copy.deepcopy(on_demand[index["IndexName"]])
    if extra.get("class_changed") and "TableClassSummary" in description:
        description["TableClassSummary"]["LastUpdateDateTime"] = extra["class_changed"].timestamp()
    sse = description.get("SSEDescription")
    if sse:
        sse["KMSMasterKeyArn"] = _key_arn(table, sse.get("KMSMasterKeyArn"))
