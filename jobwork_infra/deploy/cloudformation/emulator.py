"""What an emulator's CloudFormation leaves out of a table, set through the DynamoDB API as AWS would have.

Plain moto (5.x) creates an `AWS::DynamoDB::Table` from KeySchema, indexes, billing, stream, SSE,
tags and deletion protection, and ignores `PointInTimeRecoverySpecification`: DescribeContinuousBackups
then answers DISABLED for a table whose template enables it (moto/dynamodb/models/table.py,
`Table.create_from_cloudformation_json`). Rehearsing prod on a moto server (docs/deploy.md) therefore
failed its verify and `drift` reported point-in-time recovery "on in the deployed template, off live"
where nothing had changed (issue 23, item 8).

On AWS, CloudFormation turns point-in-time recovery on or off when it creates the table or when the
property changes ("PointInTimeRecoverySpecification ... Update requires: No interruption",
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html).
So, only on an endpoint on this machine (an emulator, never AWS: `is_loopback`), only for the tables a
step creates or whose setting it changes, and only where the table reads otherwise right after the
stack settled, the setting is applied with UpdateContinuousBackups and the deploy says so. A change
made by hand later is not touched: `drift` still reports it, and CloudFormation would not undo it either.

Time to live is the same gap: `create_from_cloudformation_json` above reads no `TimeToLiveSpecification`
either (the table's TTL stays `{"TimeToLiveStatus": "DISABLED"}`, set in `Table.__init__`), and moto's
`Table` has no `update_from_cloudformation_json` at all, so an update that changes TTL changes nothing
(moto/cloudformation/parsing.py, `parse_and_update_resource`). The deploy's verify then failed ("the next
deploy would find that TTL is enabled on …", issue 23). On AWS CloudFormation sets TTL at creation and on a
change of the property ("TimeToLiveSpecification ... Update requires: No interruption", same page), so it
is set the same way, with UpdateTimeToLive, for the same tables. A TTL still ENABLING (or DISABLING) on the
attribute wanted is taken as applied: AWS and the strict double report that state for a while.
"""

from __future__ import annotations

from typing import Any

from ...model import ResolvedSchema
from ..aws import is_loopback
from ..events import Emit, Note


def pitr_set_by_step(before: ResolvedSchema | None, after: ResolvedSchema) -> dict[str, bool]:
    """Physical name → point-in-time recovery, for the tables whose setting CloudFormation applies in this
    step: created by it, or with the setting changed."""
    old = before.tables if before is not None else {}
    return {t.physical_name: t.point_in_time_recovery for k, t in after.tables.items()
            if k not in old or old[k].physical_name != t.physical_name
            or old[k].point_in_time_recovery != t.point_in_time_recovery}


def apply_dropped_pitr(client: Any, endpoint_url: str | None, wanted: dict[str, bool], emit: Emit) -> list[str]:
    """On an emulator only: set the point-in-time recovery its CloudFormation did not; the tables set."""
    if not is_loopback(endpoint_url):
        return []
    fixed = []
    for name, enabled in sorted(wanted.items()):
        described = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        status = (described.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
        if (status == "ENABLED") == enabled:
            continue
        client.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": enabled})
        fixed.append(name)
    if fixed:
        emit(Note(f"the engine at {endpoint_url} did not apply point-in-time recovery from the template to "
                  f"{', '.join(fixed)} (moto's CloudFormation ignores PointInTimeRecoverySpecification); set through "
                  "the DynamoDB API, as CloudFormation does on AWS"))
    return fixed


def ttl_set_by_step(before: ResolvedSchema | None, after: ResolvedSchema) -> dict[str, str | None]:
    """Physical name → TTL attribute (None: off), for the tables whose TTL CloudFormation applies in this step:
    created by it, or with TTL changed."""
    old = before.tables if before is not None else {}
    return {t.physical_name: t.ttl for k, t in after.tables.items()
            if k not in old or old[k].physical_name != t.physical_name or old[k].ttl != t.ttl}


def apply_dropped_ttl(client: Any, endpoint_url: str | None, wanted: dict[str, str | None], emit: Emit) -> list[str]:
    """On an emulator only: set the time to live its CloudFormation did not; the tables set."""
    if not is_loopback(endpoint_url):
        return []
    fixed = []
    for name, attribute in sorted(wanted.items()):
        live = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription") or {}
        status, live_attribute = live.get("TimeToLiveStatus", "DISABLED"), live.get("AttributeName")
        on = status in ("ENABLED", "ENABLING")
        if (on and live_attribute == attribute) if attribute is not None else not on:
            continue
        if on and attribute is not None:
            # Moving TTL to another attribute: off first, as UpdateTimeToLive takes one change at a time.
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": False, "AttributeName": live_attribute})
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=(
            {"Enabled": True, "AttributeName": attribute} if attribute is not None
            else {"Enabled": False, "AttributeName": live_attribute}))
        fixed.append(name)
    if fixed:
        emit(Note(f"the engine at {endpoint_url} did not apply time to live from the template to "
                  f"{', '.join(fixed)} (moto's CloudFormation ignores TimeToLiveSpecification); set through "
                  "the DynamoDB API, as CloudFormation does on AWS"))
    return fixed
