"""Settings a live table has that the schema cannot keep yet are found and named (live_settings.py), on the strict double."""

from __future__ import annotations

from jobwork_infra.deploy.live_settings import read_live_settings


def _create(ddb, name: str, **extra) -> dict:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "kind", "AttributeType": "S"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by_kind",
                                              "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "KEYS_ONLY"}}], **extra)
    return ddb.describe_table(TableName=name)["Table"]


def test_a_plain_table_has_nothing_to_refuse(strict_aws):
    ddb = strict_aws.client("dynamodb")
    found = read_live_settings(ddb, _create(ddb, "plain"), pitr_period=35)
    assert (found.refusals, found.not_reported) == ([], [])


def test_each_setting_the_schema_cannot_keep_is_named(strict_aws):
    ddb = strict_aws.client("dynamodb")
    table = _create(ddb, "busy", OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": -1})
    ddb.update_contributor_insights(TableName="busy", IndexName="by_kind", ContributorInsightsAction="ENABLE")
    ddb.enable_kinesis_streaming_destination(TableName="busy", StreamArn="arn:aws:kinesis:us-east-1:123456789012:stream/s")
    ddb.put_resource_policy(ResourceArn=table["TableArn"], Policy='{"Version": "2012-10-17", "Statement": []}')
    found = read_live_settings(ddb, ddb.describe_table(TableName="busy")["Table"], pitr_period=7)
    # The table's own on-demand maximum, resource policy and Kinesis destination are modelled
    # (table_options.py): not refused.
    # Contributor insights per index are modelled too (table_options.py, read by dynamodb.live_table).
    assert [r.path for r in found.refusals] == ["PointInTimeRecoverySpecification.RecoveryPeriodInDays"]
    assert all(r.property.reason and r.property.way_forward for r in found.refusals)


def test_an_on_demand_maximum_of_minus_one_is_no_maximum(strict_aws):
    ddb = strict_aws.client("dynamodb")
    table = _create(ddb, "free", OnDemandThroughput={"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1})
    assert read_live_settings(ddb, table).refusals == []


def test_an_engine_without_those_calls_says_so(moto_endpoint):
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    found = read_live_settings(ddb, _create(ddb, "plain-moto"))
    assert found.refusals == []
    # Contributor insights are read by the registry (dynamodb.live_table), which keeps the schema's value
    # where the engine cannot say (tests/unit/test_table_options.py).
    assert found.not_reported == ["Kinesis streaming destinations"]


def test_a_customer_key_is_told_from_the_aws_managed_one(strict_aws):
    from jobwork_infra.deploy.live_settings import key_is_customers

    kms = strict_aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    assert key_is_customers(kms, key["Arn"]) is True
    assert key_is_customers(kms, "arn:aws:kms:us-east-1:123456789012:key/does-not-exist") is None


def test_import_by_name_writes_what_the_schema_cannot_keep_as_a_comment(strict_aws, project_schema):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    ddb = strict_aws.client("dynamodb")
    _create(ddb, "busy", OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50})
    ddb.update_contributor_insights(TableName="busy", ContributorInsightsAction="ENABLE")
    result = CliRunner().invoke(app, ["import", "--env", "dev", "--endpoint-url", strict_aws.endpoint,
                                      "--schema", str(project_schema), "busy"])
    assert result.exit_code == 0, result.output
    # Contributor insights and the on-demand maximum are modelled (table_options.py): written as
    # options, not as comments.
    assert "    contributor_insights: true\n" in result.output
    assert "    on_demand_throughput: {max_read: 100, max_write: 50}\n" in result.output
    assert "not kept by the schema yet: OnDemandThroughput" not in result.output
    # Every table reports a warm throughput (12,000/4,000 here): nobody set it, so none is written.
    assert "warm_throughput" not in result.output
    assert "not kept by the schema yet: ContributorInsightsSpecification" not in result.output


def test_import_by_name_writes_a_customer_key_as_customer_managed(strict_aws, project_schema):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    key = strict_aws.client("kms").create_key()["KeyMetadata"]
    ddb = strict_aws.client("dynamodb")
    _create(ddb, "payments", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
    result = CliRunner().invoke(app, ["import", "--env", "dev", "--endpoint-url", strict_aws.endpoint,
                                      "--schema", str(project_schema), "payments"])
    assert result.exit_code == 0, result.output
    assert f"    encryption: {{kms_key_arn: {key['Arn']}}}\n" in result.output
    assert "read as aws_managed" not in result.output
