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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OptionChange:
    """The diff kind of changing the option (diff.py turns it into a ChangeKind)."""

    code: str
    kind: str
    severity: str              # a changes.Severity name: "SAFE", "ONLINE", ...
    title: str
    statement: str             # over {before} and {after}
    source: str                # where AWS documents the update behaviour


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
    apply_live: Callable[[Any, str, Any], None]        # (client, table name, value): set it on a live table
    feature: str                                       # how the local engine's note names it
    property_rows: tuple[str, ...]                     # table_properties.py paths this option models


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


def _insights_from_cfn(spec: Any) -> bool | None:
    if not isinstance(spec, dict):
        return None
    return _true(spec.get("Enabled", False))


def _insights_live(client: Any, description: dict) -> bool:
    # DescribeContributorInsights: ENABLING counts as on (the switch is under way), DISABLING as off.
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContributorInsights.html
    answer = client.describe_contributor_insights(TableName=description["TableName"])
    return answer.get("ContributorInsightsStatus") in ("ENABLED", "ENABLING")


def _insights_apply(client: Any, name: str, value: bool) -> None:
    client.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE" if value else "DISABLE")


CONTRIBUTOR_INSIGHTS = TableOption(
    field="contributor_insights",
    default=False,
    description=("CloudWatch Contributor Insights: graphs of the most accessed and most throttled keys "
                 "(default off; CloudWatch charges per event)."),
    cfn_property="ContributorInsightsSpecification",
    change=OptionChange("D412", "contributor_insights_changed", "SAFE", "contributor insights switched",
                        "contributor insights are turned {after} (CloudWatch metrics only; items are untouched)",
                        _INSIGHTS_SOURCE),
    to_cfn=lambda value: {"Enabled": bool(value)},
    from_cfn=_insights_from_cfn,
    read_live=_insights_live,
    apply_live=_insights_apply,
    feature="contributor insights",
    property_rows=("ContributorInsightsSpecification", "ContributorInsightsSpecification.Enabled"),
)


TABLE_OPTIONS: tuple[TableOption, ...] = (CONTRIBUTOR_INSIGHTS,)
BY_FIELD: dict[str, TableOption] = {o.field: o for o in TABLE_OPTIONS}


def option_values(get: Callable[[str], Any]) -> dict[str, Any]:
    """{field: value} for every registered option, each from `get(field)`."""
    return {o.field: get(o.field) for o in TABLE_OPTIONS}


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


def options_markdown() -> str:
    """The rows docs/schema.md's table-option table carries."""
    lines = ["| option | default | CloudFormation property | change kind | AWS source |", "| --- | --- | --- | --- | --- |"]
    for o in TABLE_OPTIONS:
        lines.append(f"| `{o.field}` | `{str(o.default).lower()}` | `{o.cfn_property}` | "
                     f"{o.change.code} {o.change.severity} | {o.change.source} |")
    return "\n".join(lines) + "\n"
