"""The AWS stream consumer (jobwork_infra/migrate/consumer.py): its resources pass cfn-lint, and its inline
handler, run in-process on real DynamoDB Local stream records, leaves generation N equal to N-1.

moto cannot invoke a Lambda without docker, so the event-source mapping itself is not run here."""

from __future__ import annotations

import importlib.util
import json

import pytest

from jobwork_infra.migrate import consumer
from jobwork_infra.migrate.aws import local_clients
from jobwork_infra.migrate.catchup import list_shards
from tests.migrate_support import NEW_KEY, create_table, scan_all, user


def template() -> dict:
    def table(name: str, sort: str, stream: bool) -> dict:
        props = {"BillingMode": "PAY_PER_REQUEST", "TableName": name,
                 "AttributeDefinitions": [{"AttributeName": "tenant_id", "AttributeType": "S"},
                                          {"AttributeName": sort, "AttributeType": "S"}],
                 "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                               {"AttributeName": sort, "KeyType": "RANGE"}]}
        if stream:
            props["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
        return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                "Properties": props}

    resources = {"UsersTable": table("shop-dev-users-g2", "email", False),
                 "UsersG1Table": table("shop-dev-users", "user_id", True)}
    resources.update(consumer.resources("Users", source_logical_id="UsersG1Table", target_logical_id="UsersTable",
                                        key=NEW_KEY))
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def test_the_consumer_resources_pass_cfn_lint():
    import cfnlint.api

    found = [f"{m.rule.id}: {m.message}" for m in cfnlint.api.lint(json.dumps(template()), regions=["us-east-1"])
             if m.rule.id.startswith(("E", "W"))]
    assert found == []
    mapping = template()["Resources"]["UsersReplicationMapping"]["Properties"]
    assert (mapping["StartingPosition"], mapping["ParallelizationFactor"], mapping["MaximumRetryAttempts"]) == (
        "TRIM_HORIZON", 1, -1)
    assert len(consumer.HANDLER) < 4096
    compile(consumer.HANDLER, "index.py", "exec")


@pytest.mark.slow
@pytest.mark.local
def test_the_handler_replays_real_stream_records_into_the_new_generation(dynamodb_local, app_name, monkeypatch,
                                                                         tmp_path):
    client, streams = local_clients(dynamodb_local.endpoint)
    source, target = f"{app_name}-dev-users", f"{app_name}-dev-users-g2"
    create_table(client, source, "user_id")
    create_table(client, target, "email")
    client.update_table(TableName=source, StreamSpecification={"StreamEnabled": True,
                                                               "StreamViewType": "NEW_AND_OLD_IMAGES"})
    for n in range(12):
        client.put_item(TableName=source, Item=user(n))
    key = {"tenant_id": user(2)["tenant_id"], "user_id": user(2)["user_id"]}
    client.update_item(TableName=source, Key=key, UpdateExpression="SET email = :e",
                       ExpressionAttributeValues={":e": {"S": "moved@example.com"}})
    client.delete_item(TableName=source, Key={"tenant_id": user(5)["tenant_id"], "user_id": user(5)["user_id"]})
    arn = client.describe_table(TableName=source)["Table"]["LatestStreamArn"]
    records = []
    for shard in list_shards(streams, arn):
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            records += page["Records"]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    assert len(records) == 14

    for name, value in {**consumer.environment(target, NEW_KEY), "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
                        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    # As Lambda runs inline code: the ZipFile text becomes index.py, and index.handler is called.
    (tmp_path / "index.py").write_text(consumer.HANDLER)
    spec = importlib.util.spec_from_file_location("index", tmp_path / "index.py")
    index = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(index)
    # Lambda delivers the records in batches, in order: two batches here.
    assert index.handler({"Records": records[:7]}, None)["applied"] == 7
    index.handler({"Records": records[7:]}, None)

    def by_key(items):
        return {(i["tenant_id"]["S"], i["email"]["S"]): i for i in items}

    assert by_key(scan_all(client, target)) == by_key(scan_all(client, source))
    assert len(scan_all(client, target)) == 11
    for name in (source, target):
        client.delete_table(TableName=name)
