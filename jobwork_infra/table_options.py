"""The table-option registry: one entry per simple table option, and every stage reads it from here.

A table option is a setting of one table that maps onto one AWS::DynamoDB::Table property and one
DynamoDB API pair (read it, set it). Each entry knows, in one place, what the eleven stages used to
spell out one by one (alembic's `Operations.implementation_for` and autogenerate's comparators are
the anchor: one dispatch table instead of a branch per option in every module):

- `field`: the schema key (TableOptions and ResolvedTable carry a field of that name) and its default;
- `change`: the diff kind with its code and severity, taken from AWS's documented update behaviour;
- `to_cfn` / `from_cfn`: the CloudFormation property it compiles to and how a template reads back;
- `read_live` / `apply_live`: DynamoDB's read-back (import, drift, adoption) and the local engine's update;
- `property_rows`: the rows of table_properties.py's property table it makes "modelled";
- `docs`: the row docs/schema.md's option table shows.

This module imports neither boto3 nor aws_cdk (validate and diff read it): `read_live`/`apply_live`
take a client made elsewhere. Options with more structure (keys, indexes, billing and capacity,
encryption, stream, TTL) stay with their own code; an option that is one property goes here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


@dataclass(frozen=True)
class OptionChange:
    """The diff kind of changing the option (diff.py turns it into a ChangeKind)."""

    code: str
    kind: str
    severity: str              # a changes.Severity name: "SAFE", "ONLINE", ...
    title: str
    statement: str             # over {before} and {after}
    source: str                # where AWS documents the update behaviour
    # AWS refuses the change itself (deploy/gate.py R031 stops it before anything is applied).
    refused: bool = False


@dataclass(frozen=True)
class TableOption:
    field: str
    default: Any
    description: str                                   # the schema field's description, and the docs row
    cfn_property: str
    change: OptionChange
    to_cfn: Callable[[Any], Any]                       # model value -> the property's value
    from_cfn: Callable[[Any], Any]                     # the property's value in a template (absent: None)
    read_live: Callable[[Any, dict], Any]              # (DynamoDB client, DescribeTable's Table) -> value
    #                                                    or NOT_REPORTED
    apply_live: Callable[[Any, str, Any], None]        # (client, table name, value): set it on a live table
    feature: str                                       # how the local engine's note names it
    property_rows: tuple[str, ...]                     # table_properties.py paths this option models
    # Where one option has more than one kind of change (raising vs lowering): every kind, and which
    # one a change from `before` to `after` is (its `kind`). Unset: `change` alone.
    more_changes: tuple[OptionChange, ...] = ()
    change_of: Callable[[Any, Any], str] | None = None
    # (value DynamoDB reported, value the schema or template holds) -> the value to compare with it.
    # Unset: the reported value. For a setting AWS only ever raises (warm throughput) a live value at
    # or above the wanted one satisfies it.
    settle: Callable[[Any, Any], Any] | None = None
    # Read from DescribeTable's own answer, where AWS leaves a setting at its default out (as it does
    # TableClassSummary): not reported by AWS is the default; by another engine, unknown.
    described: bool = False
    # The same setting on each global secondary index (the GSI's own property of that name), where AWS
    # has one: (client, DescribeTable's Table, the index's description) -> value or NOT_REPORTED, and
    # (client, table name, index name, value). Unset: a table-only option.
    index_read_live: Callable[[Any, dict, dict], Any] | None = None
    index_apply_live: Callable[[Any, str, str, Any], None] | None = None
    index_property_rows: tuple[str, ...] = ()

    @property
    def changes(self) -> tuple[OptionChange, ...]:
        return (self.change, *self.more_changes)

    def change_between(self, before: Any, after: Any) -> OptionChange:
        kind = self.change_of(before, after) if self.change_of else self.change.kind
        return next(c for c in self.changes if c.kind == kind)


# What read_live returns when the engine's answer does not carry the setting at all (DynamoDB Local
# has no OnDemandThroughput or WarmThroughput in DescribeTable): not reported, which is not "unset".
NOT_REPORTED: Any = type("NotReported", (), {"__repr__": lambda self: "NOT_REPORTED"})()


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __str__(self) -> str:   # as deploy's progress lines and the diff show it: "max_read=100"
        return ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items())


def _true(value: Any) -> bool:
    # A template's booleans may come back as strings ("true") from YAML or CloudFormation.
    return str(value).lower() == "true"


# ---------------------------------------------------------------------------------------------
# contributor_insights

# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-table-contributorinsightsspecification.html
# (Enabled, Mode; update requires: no interruption) and
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateContributorInsights.html:
# an in-place switch of CloudWatch metrics; items, keys and capacity are untouched.
_INSIGHTS_SOURCE = ("CloudFormation reference, AWS::DynamoDB::Table ContributorInsightsSpecification "
                    "(update requires no interruption); DynamoDB API UpdateContributorInsights")


# The mode: ACCESSED_AND_THROTTLED_KEYS (AWS's default, `true`) or THROTTLED_KEYS (`throttled_keys`)
# (the CloudFormation reference's ContributorInsightsSpecification.Mode, UpdateContributorInsights'
# ContributorInsightsMode).
THROTTLED_KEYS = "throttled_keys"
_MODE_OF = {True: "ACCESSED_AND_THROTTLED_KEYS", THROTTLED_KEYS: "THROTTLED_KEYS"}


def _insights_value(enabled: bool, mode: Any) -> bool | str:
    if not enabled:
        return False
    return THROTTLED_KEYS if str(mode).upper() == "THROTTLED_KEYS" else True


def _insights_from_cfn(spec: Any) -> bool | str | None:
    if not isinstance(spec, dict):
        return None
    return _insights_value(_true(spec.get("Enabled", False)), spec.get("Mode"))


def _insights_to_cfn(value: bool | str) -> dict:
    # The default mode is left out (as AWS's default): templates of `true` tables stay as they were.
    return {"Enabled": bool(value), **({"Mode": _MODE_OF[value]} if value == THROTTLED_KEYS else {})}


def _insights_live(client: Any, description: dict) -> bool | str:
    # DescribeContributorInsights: ENABLING counts as on (the switch is under way), DISABLING as off;
    # ContributorInsightsMode with it.
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContributorInsights.html
    answer = client.describe_contributor_insights(TableName=description["TableName"])
    return _insights_value(answer.get("ContributorInsightsStatus") in ("ENABLED", "ENABLING"),
                           answer.get("ContributorInsightsMode"))


def _insights_apply(client: Any, name: str, value: bool | str) -> None:
    if not value:
        client.update_contributor_insights(TableName=name, ContributorInsightsAction="DISABLE")
        return
    # The mode named every time: `true` after `throttled_keys` must go back to AWS's default mode.
    client.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE",
                                       ContributorInsightsMode=_MODE_OF[value])


def _index_insights_live(client: Any, description: dict, index: dict) -> bool | str:
    answer = client.describe_contributor_insights(TableName=description["TableName"], IndexName=index["IndexName"])
    return _insights_value(answer.get("ContributorInsightsStatus") in ("ENABLED", "ENABLING"),
                           answer.get("ContributorInsightsMode"))


def _index_insights_apply(client: Any, name: str, index: str, value: bool | str) -> None:
    if not value:
        client.update_contributor_insights(TableName=name, IndexName=index, ContributorInsightsAction="DISABLE")
        return
    client.update_contributor_insights(TableName=name, IndexName=index, ContributorInsightsAction="ENABLE",
                                       ContributorInsightsMode=_MODE_OF[value])


def _insights_change(before: bool | str, after: bool | str) -> str:
    switched = {before, after} == {True, False}
    return "contributor_insights_changed" if switched else "contributor_insights_mode_changed"


CONTRIBUTOR_INSIGHTS = TableOption(
    field="contributor_insights",
    default=False,
    description=("CloudWatch Contributor Insights: graphs of the most accessed and most throttled keys "
                 "(true), or of the throttled keys only (throttled_keys); default off; CloudWatch charges "
                 "per event."),
    cfn_property="ContributorInsightsSpecification",
    change=OptionChange("D412", "contributor_insights_changed", "SAFE", "contributor insights switched",
                        "contributor insights are turned {after} (CloudWatch metrics only; items are untouched)",
                        _INSIGHTS_SOURCE),
    more_changes=(OptionChange("D415", "contributor_insights_mode_changed", "SAFE", "contributor insights mode changed",
                               "contributor insights go from {before} to {after} (which keys CloudWatch graphs; "
                               "items are untouched)", _INSIGHTS_SOURCE),),
    change_of=_insights_change,
    to_cfn=_insights_to_cfn,
    from_cfn=_insights_from_cfn,
    read_live=_insights_live,
    apply_live=_insights_apply,
    feature="contributor insights",
    property_rows=("ContributorInsightsSpecification", "ContributorInsightsSpecification.Enabled",
                   "ContributorInsightsSpecification.Mode"),
    index_read_live=_index_insights_live,
    index_apply_live=_index_insights_apply,
    index_property_rows=("GlobalSecondaryIndexes[].ContributorInsightsSpecification",
                         "GlobalSecondaryIndexes[].ContributorInsightsSpecification.Enabled",
                         "GlobalSecondaryIndexes[].ContributorInsightsSpecification.Mode"),
)


# ---------------------------------------------------------------------------------------------
# on_demand_throughput

# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-table-ondemandthroughput.html
# (MaxReadRequestUnits, MaxWriteRequestUnits: minimum 1, -1 removes the maximum; update requires no
# interruption) and https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_OnDemandThroughput.html.
# Requests above a maximum are throttled, so setting or lowering one is a change to know (ONLINE);
# raising or removing every maximum only lets more through (SAFE).
_ON_DEMAND_SOURCE = ("CloudFormation reference, AWS::DynamoDB::Table OnDemandThroughput (update requires no "
                     "interruption; -1 removes a maximum); DynamoDB API OnDemandThroughput")
_NO_MAXIMUM = -1


class OnDemandThroughput(_Value):
    """The most request units per second an on-demand table may use; requests above are throttled."""

    max_read: int | None = Field(default=None, ge=1, description="Maximum read request units per second "
                                 "(unset: no maximum).")
    max_write: int | None = Field(default=None, ge=1, description="Maximum write request units per second "
                                  "(unset: no maximum).")

    @model_validator(mode="after")
    def _one_at_least(self) -> OnDemandThroughput:
        if self.max_read is None and self.max_write is None:
            raise ValueError("set max_read, max_write or both (leave on_demand_throughput out for no maximum)")
        return self


def _units(value: Any) -> int | None:
    # A maximum in a template or a DescribeTable answer; -1 (or nothing) is "no maximum".
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return None if number == _NO_MAXIMUM else number


def _on_demand_from(spec: Any) -> OnDemandThroughput | None:
    if not isinstance(spec, dict):
        return None
    read, write = _units(spec.get("MaxReadRequestUnits")), _units(spec.get("MaxWriteRequestUnits"))
    return None if read is None and write is None else OnDemandThroughput(max_read=read, max_write=write)


def _on_demand_to(value: OnDemandThroughput) -> dict:
    # In a template only the maximums set: the registry schema of AWS::DynamoDB::Table gives both a
    # minimum of 1 (cfn-lint E3034 refuses -1), though the reference page says -1 removes one.
    return {k: v for k, v in (("MaxReadRequestUnits", value.max_read), ("MaxWriteRequestUnits", value.max_write))
            if v is not None}


def _on_demand_request(value: OnDemandThroughput | None) -> dict:
    # On the API both, an unset one as -1 ("to remove the maximum … set the value to -1",
    # API_OnDemandThroughput.html), so an old maximum never lingers.
    value = value or OnDemandThroughput.model_construct(max_read=None, max_write=None)
    return {"MaxReadRequestUnits": _NO_MAXIMUM if value.max_read is None else value.max_read,
            "MaxWriteRequestUnits": _NO_MAXIMUM if value.max_write is None else value.max_write}


def _on_demand_live(client: Any, description: dict) -> OnDemandThroughput | None:
    if "OnDemandThroughput" not in description:
        return NOT_REPORTED
    return _on_demand_from(description["OnDemandThroughput"])


def _on_demand_apply(client: Any, name: str, value: OnDemandThroughput | None) -> None:
    client.update_table(TableName=name, OnDemandThroughput=_on_demand_request(value))


def _index_on_demand_live(client: Any, description: dict, index: dict) -> OnDemandThroughput | None:
    # GlobalSecondaryIndexDescription.OnDemandThroughput (.../API_GlobalSecondaryIndexDescription.html).
    if "OnDemandThroughput" not in index:
        return NOT_REPORTED
    return _on_demand_from(index["OnDemandThroughput"])


def _index_on_demand_apply(client: Any, name: str, index: str, value: OnDemandThroughput | None) -> None:
    client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[
        {"Update": {"IndexName": index, "OnDemandThroughput": _on_demand_request(value)}}])


def _looser(before: int | None, after: int | None) -> bool:
    return after is None or (before is not None and after >= before)


def _on_demand_change(before: OnDemandThroughput | None, after: OnDemandThroughput | None) -> str:
    b = before or OnDemandThroughput.model_construct(max_read=None, max_write=None)
    a = after or OnDemandThroughput.model_construct(max_read=None, max_write=None)
    raised = _looser(b.max_read, a.max_read) and _looser(b.max_write, a.max_write)
    return "on_demand_throughput_raised" if raised else "on_demand_throughput_changed"


ON_DEMAND_THROUGHPUT = TableOption(
    field="on_demand_throughput",
    default=None,
    description=("On-demand tables only: the most read/write request units per second the table may use "
                 "({max_read: N, max_write: N}; requests above are throttled; default: no maximum)."),
    cfn_property="OnDemandThroughput",
    change=OptionChange("D317", "on_demand_throughput_changed", "ONLINE", "on-demand maximum set or lowered",
                        "the on-demand maximum goes from {before} to {after}: requests above it are throttled",
                        _ON_DEMAND_SOURCE),
    more_changes=(OptionChange("D413", "on_demand_throughput_raised", "SAFE", "on-demand maximum raised or removed",
                               "the on-demand maximum goes from {before} to {after} (more requests are let through)",
                               _ON_DEMAND_SOURCE),),
    change_of=_on_demand_change,
    to_cfn=_on_demand_to,
    from_cfn=_on_demand_from,
    read_live=_on_demand_live,
    apply_live=_on_demand_apply,
    feature="on-demand maximum throughput",
    described=True,
    property_rows=("OnDemandThroughput", "OnDemandThroughput.MaxReadRequestUnits",
                   "OnDemandThroughput.MaxWriteRequestUnits"),
    index_read_live=_index_on_demand_live,
    index_apply_live=_index_on_demand_apply,
    index_property_rows=("GlobalSecondaryIndexes[].OnDemandThroughput",
                         "GlobalSecondaryIndexes[].OnDemandThroughput.MaxReadRequestUnits",
                         "GlobalSecondaryIndexes[].OnDemandThroughput.MaxWriteRequestUnits"),
)


# ---------------------------------------------------------------------------------------------
# warm_throughput

# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-table-warmthroughput.html
# (ReadUnitsPerSecond, WriteUnitsPerSecond: minimum 1; update requires no interruption);
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html: every table
# has a warm throughput (from its history: an on-demand table starts at 12,000 reads / 4,000 writes);
# it can be increased ahead of a peak, is billed when increased, and "once increased, warm throughput
# cannot be decreased" (the Japanese edition says it in as many words); the update is asynchronous
# (UPDATING, then ACTIVE: .../update-warm-throughput.html).
_WARM_SOURCE = ("CloudFormation reference, AWS::DynamoDB::Table WarmThroughput (update requires no interruption); "
                "DynamoDB developer guide, Understanding warm throughput (can be increased, never decreased; "
                "billed when increased)")


class WarmThroughput(_Value):
    """A floor of reads and writes per second the table serves at once (pre-warming); AWS only raises it."""

    read: int | None = Field(default=None, ge=1, description="Read units per second the table serves at once.")
    write: int | None = Field(default=None, ge=1, description="Write units per second the table serves at once.")

    @model_validator(mode="after")
    def _one_at_least(self) -> WarmThroughput:
        if self.read is None and self.write is None:
            raise ValueError("set read, write or both (leave warm_throughput out to keep what the table has)")
        return self


def _warm_from(spec: Any) -> WarmThroughput | None:
    if not isinstance(spec, dict):
        return None
    read, write = _units(spec.get("ReadUnitsPerSecond")), _units(spec.get("WriteUnitsPerSecond"))
    return None if read is None and write is None else WarmThroughput(read=read, write=write)


def _warm_to(value: WarmThroughput | None) -> dict:
    # Only what the schema sets: an unset direction keeps the table's own warm throughput.
    if value is None:
        return {}
    return {k: v for k, v in (("ReadUnitsPerSecond", value.read), ("WriteUnitsPerSecond", value.write))
            if v is not None}


def _warm_live(client: Any, description: dict) -> WarmThroughput | None:
    # DescribeTable's TableWarmThroughputDescription (Status aside); absent on engines without it.
    if "WarmThroughput" not in description:
        return NOT_REPORTED
    return _warm_from(description["WarmThroughput"])


def _warm_apply(client: Any, name: str, value: WarmThroughput | None) -> None:
    if value is not None:   # nothing to do when the schema stops managing it: AWS keeps the value
        client.update_table(TableName=name, WarmThroughput=_warm_to(value))


def _index_warm_live(client: Any, description: dict, index: dict) -> WarmThroughput | None:
    # GlobalSecondaryIndexDescription.WarmThroughput (GlobalSecondaryIndexWarmThroughputDescription).
    if "WarmThroughput" not in index:
        return NOT_REPORTED
    return _warm_from(index["WarmThroughput"])


def _index_warm_apply(client: Any, name: str, index: str, value: WarmThroughput | None) -> None:
    if value is not None:
        client.update_table(TableName=name, GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": index, "WarmThroughput": _warm_to(value)}}])


def _covers(live: int | None, wanted: int | None) -> bool:
    return wanted is None or (live is not None and live >= wanted)


def _warm_settle(live: WarmThroughput | None, wanted: WarmThroughput | None) -> WarmThroughput | None:
    """A warm throughput is a floor, and DynamoDB raises it by itself as traffic grows: a live value
    at or above the wanted one is what was asked (no drift); below it, the live value of the
    directions the schema sets (a drift naming the shortfall). Nothing wanted: nothing to compare."""
    if wanted is None:
        return None
    if live is not None and _covers(live.read, wanted.read) and _covers(live.write, wanted.write):
        return wanted
    read = live.read if live and wanted.read is not None else None
    write = live.write if live and wanted.write is not None else None
    return None if read is None and write is None else WarmThroughput(read=read, write=write)


def _lower(before: int | None, after: int | None) -> bool:
    return before is not None and after is not None and after < before


def _warm_change(before: WarmThroughput | None, after: WarmThroughput | None) -> str:
    if after is None:
        return "warm_throughput_unmanaged"
    if before is not None and (_lower(before.read, after.read) or _lower(before.write, after.write)):
        return "warm_throughput_lowered"
    return "warm_throughput_raised"


WARM_THROUGHPUT = TableOption(
    field="warm_throughput",
    default=None,
    description=("Pre-warming: the reads/writes per second the table serves at once ({read: N, write: N}); "
                 "AWS bills the increase and never lowers it again (default: what the table has)."),
    cfn_property="WarmThroughput",
    change=OptionChange("D318", "warm_throughput_raised", "ONLINE", "warm throughput raised",
                        "the warm throughput goes from {before} to {after} (asynchronous; the increase is billed; "
                        "AWS cannot lower it again)", _WARM_SOURCE),
    more_changes=(
        OptionChange("D414", "warm_throughput_unmanaged", "SAFE", "warm throughput left to the table",
                     "warm throughput is no longer set ({before} before): the table keeps what it has, as AWS "
                     "cannot lower it", _WARM_SOURCE),
        OptionChange("D319", "warm_throughput_lowered", "ONLINE", "warm throughput lowered (refused)",
                     "the warm throughput would go from {before} down to {after}: AWS cannot lower warm throughput, "
                     "so deploy refuses it (R031); set it back, or remove warm_throughput to stop managing it",
                     _WARM_SOURCE, refused=True),
    ),
    change_of=_warm_change,
    settle=_warm_settle,
    to_cfn=_warm_to,
    from_cfn=_warm_from,
    read_live=_warm_live,
    apply_live=_warm_apply,
    feature="warm throughput",
    described=True,
    property_rows=("WarmThroughput", "WarmThroughput.ReadUnitsPerSecond", "WarmThroughput.WriteUnitsPerSecond"),
    index_read_live=_index_warm_live,
    index_apply_live=_index_warm_apply,
    index_property_rows=("GlobalSecondaryIndexes[].WarmThroughput",
                         "GlobalSecondaryIndexes[].WarmThroughput.ReadUnitsPerSecond",
                         "GlobalSecondaryIndexes[].WarmThroughput.WriteUnitsPerSecond"),
)


# ---------------------------------------------------------------------------------------------
# resource_policy

# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-table-resourcepolicy.html
# (PolicyDocument, JSON or YAML; update requires no interruption);
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html: at most
# 20 KB, whitespace counted; a later update of the policy is blocked for 15 seconds; CloudFormation
# neither detects nor overwrites a policy changed outside the template (so `drift` reads it live).
# PutResourcePolicy / GetResourcePolicy (PolicyNotFoundException when there is none) /
# DeleteResourcePolicy: .../APIReference/API_PutResourcePolicy.html (eventually consistent).
# Who may reach the items changes at once, so every change is ONLINE.
_POLICY_SOURCE = ("CloudFormation reference, AWS::DynamoDB::Table ResourcePolicy (update requires no interruption); "
                  "DynamoDB developer guide, Resource-based policy considerations; API PutResourcePolicy")
MAX_POLICY_BYTES = 20 * 1024


def policy_size(document: dict) -> int:
    # As CloudFormation sends it (compact JSON): DynamoDB counts whitespace too.
    return len(json.dumps(document, separators=(",", ":")).encode())


def _check_policy(document: dict[str, Any]) -> dict[str, Any]:
    statements = document.get("Statement")
    if not statements or not isinstance(statements, (list, dict)):
        raise ValueError("a policy document needs a Statement (a list of statements)")
    if policy_size(document) > MAX_POLICY_BYTES:
        raise ValueError(f"the policy is {policy_size(document)} bytes as JSON; DynamoDB takes at most "
                         f"{MAX_POLICY_BYTES} (20 KB)")
    return document


PolicyDocument = Annotated[dict[str, Any], AfterValidator(_check_policy)]


def _policy_from(spec: Any) -> dict | None:
    if not isinstance(spec, dict):
        return None
    document = spec.get("PolicyDocument")
    if isinstance(document, str):   # a Json property may be given as a string
        try:
            document = json.loads(document)
        except ValueError:
            return None
    return document if isinstance(document, dict) and document else None


def _policy_live(client: Any, description: dict) -> dict | None:
    from botocore.exceptions import ClientError  # only on the deploy side; validate never calls this

    try:
        answer = client.get_resource_policy(ResourceArn=description["TableArn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "PolicyNotFoundException":
            return None
        raise
    return json.loads(answer["Policy"]) if answer.get("Policy") else None


def _policy_apply(client: Any, name: str, value: dict | None) -> None:
    description = client.describe_table(TableName=name)["Table"]
    if value is not None:
        client.put_resource_policy(ResourceArn=description["TableArn"], Policy=json.dumps(value))
        return
    # Asked first: what DeleteResourcePolicy answers when there is no policy is not documented.
    if _policy_live(client, description) is not None:
        client.delete_resource_policy(ResourceArn=description["TableArn"])


def _policy_change(before: dict | None, after: dict | None) -> str:
    if before is None:
        return "resource_policy_attached"
    return "resource_policy_removed" if after is None else "resource_policy_changed"


RESOURCE_POLICY = TableOption(
    field="resource_policy",
    default=None,
    description=("A resource-based policy on the table (an IAM policy document: Version, Statement), e.g. to "
                 "grant another account access; at most 20 KB as JSON (default none)."),
    cfn_property="ResourcePolicy",
    change=OptionChange("D320", "resource_policy_attached", "ONLINE", "resource policy attached",
                        "a resource policy is attached to the table: the access it grants or denies applies at once",
                        _POLICY_SOURCE),
    more_changes=(
        OptionChange("D321", "resource_policy_changed", "ONLINE", "resource policy changed",
                     "the table's resource policy changes: the access it grants or denies changes at once",
                     _POLICY_SOURCE),
        OptionChange("D322", "resource_policy_removed", "ONLINE", "resource policy removed",
                     "the table's resource policy is removed: access it granted ends at once (IAM policies still "
                     "apply)", _POLICY_SOURCE),
    ),
    change_of=_policy_change,
    to_cfn=lambda value: {"PolicyDocument": value},
    from_cfn=_policy_from,
    read_live=_policy_live,
    apply_live=_policy_apply,
    feature="resource policies",
    property_rows=("ResourcePolicy", "ResourcePolicy.PolicyDocument"),
)

# ---------------------------------------------------------------------------------------------
# kinesis_destination

# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-table-kinesisstreamspecification.html
# (StreamArn: required, 37 to 1024 characters; ApproximateCreationDateTimePrecision: MILLISECOND or
# MICROSECOND; update requires no interruption); DynamoDB API EnableKinesisStreamingDestination,
# DisableKinesisStreamingDestination, UpdateKinesisStreamingDestination and
# DescribeKinesisStreamingDestination (statuses ENABLING, ACTIVE, DISABLING, DISABLED, ENABLE_FAILED,
# UPDATING). Item changes start or stop flowing to another service's stream, so every change is ONLINE.
_KINESIS_SOURCE = ("CloudFormation reference, AWS::DynamoDB::Table KinesisStreamSpecification (update requires no "
                   "interruption); DynamoDB API Enable/Disable/UpdateKinesisStreamingDestination")
_STREAMING = ("ENABLING", "ACTIVE", "UPDATING")


class KinesisDestination(_Value):
    """A Kinesis data stream that receives every item change of the table."""

    stream_arn: str = Field(min_length=37, max_length=1024,
                            pattern=r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]+$",
                            description="The Kinesis data stream's ARN.")
    timestamp_precision: Literal["millisecond", "microsecond"] = Field(
        default="millisecond", description="Precision of ApproximateCreationDateTime in the records "
                                           "(millisecond, AWS's default, or microsecond).")


def _kinesis_from(spec: Any) -> KinesisDestination | None:
    if not isinstance(spec, dict) or not isinstance(spec.get("StreamArn"), str):
        return None
    precision = str(spec.get("ApproximateCreationDateTimePrecision") or "MILLISECOND").lower()
    return KinesisDestination.model_construct(stream_arn=spec["StreamArn"], timestamp_precision=precision)


def _kinesis_to(value: KinesisDestination) -> dict:
    # AWS's default precision is left out, as teams write it.
    return {"StreamArn": value.stream_arn, **({"ApproximateCreationDateTimePrecision": "MICROSECOND"}
                                              if value.timestamp_precision == "microsecond" else {})}


def _streaming(client: Any, name: str) -> list[dict]:
    answer = client.describe_kinesis_streaming_destination(TableName=name)
    return [d for d in answer.get("KinesisDataStreamDestinations") or [] if d.get("DestinationStatus") in _STREAMING]


def _kinesis_live(client: Any, description: dict) -> KinesisDestination | None:
    # More than one active destination cannot be held by the schema: live_settings.py refuses that table.
    found = _streaming(client, description["TableName"])
    return _kinesis_from(found[0]) if found else None


def _kinesis_apply(client: Any, name: str, value: KinesisDestination | None) -> None:
    for current in _streaming(client, name):
        if value is not None and current["StreamArn"] == value.stream_arn:
            if _kinesis_from(current) != value:
                client.update_kinesis_streaming_destination(
                    TableName=name, StreamArn=value.stream_arn, UpdateKinesisStreamingConfiguration={
                        "ApproximateCreationDateTimePrecision": value.timestamp_precision.upper()})
            return
        client.disable_kinesis_streaming_destination(TableName=name, StreamArn=current["StreamArn"])
    if value is not None:
        client.enable_kinesis_streaming_destination(
            TableName=name, StreamArn=value.stream_arn, EnableKinesisStreamingConfiguration={
                "ApproximateCreationDateTimePrecision": value.timestamp_precision.upper()})


def _kinesis_change(before: KinesisDestination | None, after: KinesisDestination | None) -> str:
    if before is None:
        return "kinesis_destination_enabled"
    return "kinesis_destination_disabled" if after is None else "kinesis_destination_changed"


KINESIS_DESTINATION = TableOption(
    field="kinesis_destination",
    default=None,
    description=("A Kinesis data stream that receives every item change ({stream_arn: arn:aws:kinesis:…, "
                 "timestamp_precision: millisecond | microsecond}; default none; billed per change)."),
    cfn_property="KinesisStreamSpecification",
    change=OptionChange("D323", "kinesis_destination_enabled", "ONLINE", "Kinesis streaming destination enabled",
                        "item changes start flowing to the Kinesis stream {after} (from this point on, no "
                        "backfill of the items already there)", _KINESIS_SOURCE),
    more_changes=(
        OptionChange("D324", "kinesis_destination_changed", "ONLINE", "Kinesis streaming destination changed",
                     "the Kinesis destination goes from {before} to {after}: records go to the new setting from "
                     "this point on", _KINESIS_SOURCE),
        OptionChange("D325", "kinesis_destination_disabled", "ONLINE", "Kinesis streaming destination disabled",
                     "item changes stop flowing to the Kinesis stream {before}: its consumers get no more records",
                     _KINESIS_SOURCE),
    ),
    change_of=_kinesis_change,
    to_cfn=_kinesis_to,
    from_cfn=_kinesis_from,
    read_live=_kinesis_live,
    apply_live=_kinesis_apply,
    feature="Kinesis streaming destinations",
    property_rows=("KinesisStreamSpecification", "KinesisStreamSpecification.StreamArn",
                   "KinesisStreamSpecification.ApproximateCreationDateTimePrecision"),
)

TABLE_OPTIONS: tuple[TableOption, ...] = (CONTRIBUTOR_INSIGHTS, ON_DEMAND_THROUGHPUT, WARM_THROUGHPUT,
                                       RESOURCE_POLICY, KINESIS_DESTINATION)
BY_FIELD: dict[str, TableOption] = {o.field: o for o in TABLE_OPTIONS}
# The options a global secondary index has too (the same schema key on the index, its own GSI property).
INDEX_OPTIONS: tuple[TableOption, ...] = tuple(o for o in TABLE_OPTIONS if o.index_read_live is not None)
# Changes AWS refuses outright: deploy refuses them before anything is applied (gate.py R031).
REFUSED_KINDS: frozenset[str] = frozenset(c.kind for o in TABLE_OPTIONS for c in o.changes if c.refused)


def option_values(get: Callable[[str], Any]) -> dict[str, Any]:
    """{field: value} for every registered option, each from `get(field)`."""
    return {o.field: get(o.field) for o in TABLE_OPTIONS}


def settled(option: TableOption, live: Any, wanted: Any) -> Any:
    """The live value as compared with `wanted` (the schema's, or the template's): TableOption.settle."""
    return option.settle(live, wanted) if option.settle else live


def options_from_template(props: dict) -> dict[str, Any]:
    """The registered options a template's table properties set (absent property: the default)."""
    out = {}
    for o in TABLE_OPTIONS:
        value = o.from_cfn(props.get(o.cfn_property))
        out[o.field] = o.default if value is None else value
    return out


def options_to_template(table: Any) -> dict[str, Any]:
    """The table properties of the registered options that are not at their defaults. Left out at the
    default so templates near CloudFormation's size limit (rule B003) do not grow for every table; an
    absent ContributorInsightsSpecification is read as disabled (the strict double applies it so)."""
    return {o.cfn_property: o.to_cfn(value) for o in TABLE_OPTIONS
            if (value := getattr(table, o.field)) != o.default}


def index_options_from_template(spec: dict) -> dict[str, Any]:
    """The index options a template's (or DescribeTable's) GSI entry sets (absent: the default)."""
    out = {}
    for o in INDEX_OPTIONS:
        value = o.from_cfn(spec.get(o.cfn_property))
        out[o.field] = o.default if value is None else value
    return out


def index_options_to_template(index: Any) -> dict[str, Any]:
    """The GSI properties of the index options not at their defaults (as options_to_template)."""
    return {o.cfn_property: o.to_cfn(value) for o in INDEX_OPTIONS
            if (value := getattr(index, o.field)) != o.default}


def options_markdown() -> str:
    """The rows docs/schema.md's table-option table carries."""
    lines = ["| option | default | CloudFormation property | change kinds | AWS source |", "| --- | --- | --- | --- | --- |"]
    for o in TABLE_OPTIONS:
        kinds = ", ".join(f"{c.code} {c.severity}{' (refused: R031)' if c.refused else ''}" for c in o.changes)
        per_index = " (also per global index)" if o.index_read_live else ""
        lines.append(f"| `{o.field}`{per_index} | `{'none' if o.default is None else str(o.default).lower()}` | "
                     f"`{o.cfn_property}` | {kinds} | {o.change.source} |")
    return "\n".join(lines) + "\n"
