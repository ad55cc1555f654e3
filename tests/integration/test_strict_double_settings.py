"""The strict double reports the table settings adoption reads (tests/double/settings.py): each as AWS does.

What is tested is the double, through boto3; the AWS source of each fact is in tests/double/settings.py.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FIXTURES


def _keys(*names: str) -> dict:
    return {"KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in zip(names, ("HASH", "RANGE"))],
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in names]}


def test_create_table_keeps_the_table_class_and_the_on_demand_maximums(strict_aws):
    ddb = strict_aws.client("dynamodb")
    keys = _keys("pk", "kind")
    ddb.create_table(
        TableName="events", BillingMode="PAY_PER_REQUEST", KeySchema=keys["KeySchema"][:1],
        AttributeDefinitions=keys["AttributeDefinitions"], TableClass="STANDARD_INFREQUENT_ACCESS",
        OnDemandThroughput={"MaxReadRequestUnits": 4000, "MaxWriteRequestUnits": 1000},
        GlobalSecondaryIndexes=[{"IndexName": "by_kind", "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "OnDemandThroughput": {"MaxReadRequestUnits": 500, "MaxWriteRequestUnits": 100}}])
    table = ddb.describe_table(TableName="events")["Table"]
    assert table["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 4000, "MaxWriteRequestUnits": 1000}
    assert table["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxReadRequestUnits": 500,
                                                                        "MaxWriteRequestUnits": 100}
    ddb.update_table(TableName="events", OnDemandThroughput={"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": 2000},
                     TableClass="STANDARD")
    table = ddb.describe_table(TableName="events")["Table"]
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": 2000}
    assert table["TableClassSummary"]["TableClass"] == "STANDARD"
    plain = dict(_keys("pk"), TableName="plain", BillingMode="PAY_PER_REQUEST")
    ddb.create_table(**plain)
    described = ddb.describe_table(TableName="plain")["Table"]
    assert "OnDemandThroughput" not in described and "TableClassSummary" not in described


def test_contributor_insights_per_table_and_index(strict_aws):
    ddb = strict_aws.client("dynamodb")
    keys = _keys("pk", "kind")
    ddb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST", KeySchema=keys["KeySchema"][:1],
                     AttributeDefinitions=keys["AttributeDefinitions"],
                     GlobalSecondaryIndexes=[{"IndexName": "by_kind",
                                              "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    assert ddb.describe_contributor_insights(TableName="events")["ContributorInsightsStatus"] == "DISABLED"
    answer = ddb.update_contributor_insights(TableName="events", ContributorInsightsAction="ENABLE",
                                             ContributorInsightsMode="THROTTLED_KEYS")
    assert answer["ContributorInsightsStatus"] == "ENABLING"
    table = ddb.describe_contributor_insights(TableName="events")
    assert (table["ContributorInsightsStatus"], table["ContributorInsightsMode"]) == ("ENABLED", "THROTTLED_KEYS")
    index = ddb.describe_contributor_insights(TableName="events", IndexName="by_kind")
    assert (index["IndexName"], index["ContributorInsightsStatus"]) == ("by_kind", "DISABLED")
    ddb.update_contributor_insights(TableName="events", IndexName="by_kind", ContributorInsightsAction="ENABLE")
    assert ddb.describe_contributor_insights(TableName="events", IndexName="by_kind")[
        "ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"      # the default mode
    with pytest.raises(ClientError) as missing:
        ddb.describe_contributor_insights(TableName="events", IndexName="by_nothing")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_sse_reports_the_arn_of_the_key_named_by_id(strict_aws):
    kms = strict_aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    ddb = strict_aws.client("dynamodb")
    ddb.create_table(TableName="payments", BillingMode="PAY_PER_REQUEST", **_keys("pk"),
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
    sse = ddb.describe_table(TableName="payments")["Table"]["SSEDescription"]
    assert sse["KMSMasterKeyArn"] == key["Arn"]


def test_a_stack_with_insights_and_maximums_in_short_form_yaml_is_described_as_aws_does(strict_aws):
    cfn = strict_aws.client("cloudformation")
    body = (FIXTURES / "templates" / "insights_and_throughput.yaml").read_text()
    cfn.create_stack(StackName="events", TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(StackName="events", WaiterConfig={"Delay": 0.2})
    ddb = strict_aws.client("dynamodb")
    table = ddb.describe_table(TableName="events")["Table"]
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 4000, "MaxWriteRequestUnits": 1000}
    assert table["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == {"MaxReadRequestUnits": 500,
                                                                        "MaxWriteRequestUnits": 100}
    insights = ddb.describe_contributor_insights(TableName="events")
    assert (insights["ContributorInsightsStatus"], insights["ContributorInsightsMode"]) == (
        "ENABLED", "THROTTLED_KEYS")
    assert ddb.describe_contributor_insights(TableName="events", IndexName="by_kind")[
        "ContributorInsightsStatus"] == "ENABLED"


def test_a_customer_key_made_in_the_same_stack_is_reported_by_its_arn(strict_aws):
    cfn = strict_aws.client("cloudformation")
    body = (FIXTURES / "templates" / "customer_kms_key.yaml").read_text()
    cfn.create_stack(StackName="payments", TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(StackName="payments", WaiterConfig={"Delay": 0.2})
    key_id = cfn.describe_stack_resource(StackName="payments", LogicalResourceId="TableKey")[
        "StackResourceDetail"]["PhysicalResourceId"]
    table = strict_aws.client("dynamodb").describe_table(TableName="payments")["Table"]
    account = table["TableArn"].split(":")[4]
    # (moto's DescribeKey fails on a key made by CloudFormation: its policy is kept as a map; the ARN's form is KMS's.)
    assert (table["SSEDescription"]["Status"], table["SSEDescription"]["KMSMasterKeyArn"]) == (
        "ENABLED", f"arn:aws:kms:us-east-1:{account}:key/{key_id}")


def test_the_short_form_condition_inside_not_and_or_is_a_condition(strict_aws):
    """`!Not [!Condition IsProd]` is false in prod, and a table under `!Or [!Condition IsProd, …]` exists."""
    cfn = strict_aws.client("cloudformation")
    body = (FIXTURES / "templates" / "conditional_throughput.yaml").read_text()
    cfn.create_stack(StackName="sessions", TemplateBody=body,
                     Parameters=[{"ParameterKey": "Environment", "ParameterValue": "prod"}])
    cfn.get_waiter("stack_create_complete").wait(StackName="sessions", WaiterConfig={"Delay": 0.2})
    ddb = strict_aws.client("dynamodb")
    assert sorted(ddb.list_tables()["TableNames"]) == ["audit", "sessions-prod"]
    assert ddb.describe_table(TableName="sessions-prod")["Table"]["DeletionProtectionEnabled"] is True
