"""What a live table has that the schema cannot keep yet, read from DynamoDB, as table_properties' refusals.

Adoption takes the live table as the truth. A setting DescribeTable and its companion calls report
that the schema does not model (more than one Kinesis destination, a stream's resource policy, a
recovery period other than 35 days) would go unmanaged — and CloudFormation's
next update of the adopted table could turn it off — so `deploy --adopt` refuses the table before
any change, naming the property as table_properties.py does, with the same reason and way forward.
An engine that does not report one of them (DynamoDB Local has no contributor insights) is said so,
not assumed clean.

AWS sources: DescribeContributorInsights (.../API_DescribeContributorInsights.html: status per table
and per global index), TableDescription.OnDemandThroughput and GlobalSecondaryIndexDescription.OnDemandThroughput
(-1: no maximum, .../API_OnDemandThroughput.html), DescribeKinesisStreamingDestination
(.../API_DescribeKinesisStreamingDestination.html), GetResourcePolicy (PolicyNotFoundException when
there is none, .../API_GetResourcePolicy.html), DescribeContinuousBackups' RecoveryPeriodInDays
(.../API_PointInTimeRecoveryDescription.html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..table_properties import PROPERTIES, REFUSED, Property, Refusal

_ABSENT = ("ResourceNotFoundException", "PolicyNotFoundException")
# DynamoDB Local answers UnknownOperationException; an emulator without the action, a bare 500.
_UNSUPPORTED = ("UnknownOperationException", "UnrecognizedClientException", "500")


_MANY_DESTINATIONS = Property(
    "KinesisStreamSpecification", REFUSED,
    reason="the table streams to more than one Kinesis destination; the schema's kinesis_destination holds one "
           "(as KinesisStreamSpecification does)",
    way_forward="disable all destinations but one, or leave the table where it is")


@dataclass
class LiveSettings:
    refusals: list[Refusal] = field(default_factory=list)
    not_reported: list[str] = field(default_factory=list)     # what this engine could not tell


def _call(call: Callable[[], Any], what: str, found: LiveSettings) -> Any:
    """The answer; None when there is nothing (absent) or the engine cannot say (noted)."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _ABSENT:
            return None
        if code in _UNSUPPORTED or "not implemented" in str(exc).lower() or "not supported" in str(exc).lower():
            found.not_reported.append(what)
            return None
        raise


def _refuse(found: LiveSettings, path: str, shown: str) -> None:
    found.refusals.append(Refusal(shown, PROPERTIES[path]))


def read_live_settings(client: Any, description: dict, pitr_period: int | None = None) -> LiveSettings:
    """The live table's settings the schema cannot keep (refusals), and what the engine could not say."""
    found = LiveSettings()
    name = description["TableName"]
    # Contributor insights (table and per index, with the mode), the on-demand maximums and warm
    # throughput (table and per index) are modelled (table_options.py): read by dynamodb.live_table.
    kinesis = _call(lambda: client.describe_kinesis_streaming_destination(TableName=name),
                    "Kinesis streaming destinations", found)
    # One destination is modelled (`kinesis_destination`, table_options.py); the schema holds one only.
    if kinesis and sum(d.get("DestinationStatus") in ("ACTIVE", "ENABLING", "UPDATING")
                       for d in kinesis.get("KinesisDataStreamDestinations") or []) > 1:
        found.refusals.append(Refusal("KinesisStreamSpecification", _MANY_DESTINATIONS))
    # The table's own resource policy is modelled (`resource_policy`, table_options.py).
    stream = description.get("LatestStreamArn")
    if stream and _call(lambda: client.get_resource_policy(ResourceArn=stream), "stream resource policy", found):
        _refuse(found, "StreamSpecification.ResourcePolicy", "StreamSpecification.ResourcePolicy")
    if pitr_period is not None and pitr_period != 35:
        _refuse(found, "PointInTimeRecoverySpecification.RecoveryPeriodInDays",
                "PointInTimeRecoverySpecification.RecoveryPeriodInDays")
    return found


def key_is_customers(kms: Any, arn: str) -> bool | None:
    """Whether a table's KMS key is a customer managed key (KMS DescribeKey's KeyManager: CUSTOMER or AWS);
    None when KMS will not say (no kms:DescribeKey permission, an emulator without KMS).
    https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html"""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return kms.describe_key(KeyId=arn)["KeyMetadata"].get("KeyManager") == "CUSTOMER"
    except (ClientError, BotoCoreError):
        return None
