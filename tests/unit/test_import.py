"""`import`: live tables (DynamoDB Local, moto's CloudFormation) printed in the schema language."""

from __future__ import annotations

import json
import re

import pytest

from jobwork_infra.deploy.dynamodb import unexpressed
from jobwork_infra.deploy.shapes import LiveTable, table_from_live
from jobwork_infra.importer import Imported, build_entries, merge_tables, render_tables, table_key
from jobwork_infra.model import resolve
from jobwork_infra.project import check_project
from tests.conftest import ROOT
from tests.helpers import run_cli as run

SEED_TABLES = ("tenant", "users")


def with_tables(schema_text: str, tables_yaml: str) -> str:
    """The schema with its `tables:` replaced (the tables of the project schema are at the end)."""
    head = schema_text[:schema_text.index("\ntables:")]
    return head + "\n" + tables_yaml


# ---------------------------------------------------------------------------------------------
# The seed's tables, made by hand on DynamoDB Local as the seed's CDK app made them on AWS

def create_seed_tables(client) -> None:
    """`tenant` (tenant_id) and `users` (tenant_id, user_id), on demand, with items, as in the seed."""
    for name, keys in (("tenant", ["tenant_id"]), ("users", ["tenant_id", "user_id"])):
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"))],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys])
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    client.put_item(TableName="tenant", Item={"tenant_id": {"S": "t-1"}, "name": {"S": "DD Demo"},
                                              "code": {"S": "DD-DEMO"}})
    for n in range(3):
        client.put_item(TableName="users", Item={
            "tenant_id": {"S": "t-1"}, "user_id": {"S": f"u-{n}"}, "cognito_sub": {"S": f"sub-{n}"},
            "email": {"S": f"user{n}@example.com"}, "role": {"S": "OWNER" if n == 0 else "OPERATOR"}})


@pytest.fixture
def seed_tables(local_engine):
    """The seed's two tables under their real names; removed after the test (no other test uses them)."""
    client = local_engine.client()
    for name in SEED_TABLES:
        try:
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
        except client.exceptions.ResourceNotFoundException:
            pass
    create_seed_tables(client)
    yield client
    for name in SEED_TABLES:
        try:
            client.delete_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            pass


SEED_YAML = """\
tables:
  # imported from live table tenant
  # not reported by this engine, so the schema's defaults are assumed: tags, point-in-time recovery, table class, encryption
  tenant:
    table_name: tenant
    # DynamoDB stores only the key attributes: declare the others here
    attributes:
      tenant_id: string
    # environment dev deletes removed tables; this one keeps its data
    removal_policy: retain
    access_patterns:
      - {name: get an item by its key, key: [tenant_id]}
  # imported from live table users
  # not reported by this engine, so the schema's defaults are assumed: tags, point-in-time recovery, table class, encryption
  users:
    table_name: users
    sort_key: user_id
    # DynamoDB stores only the key attributes: declare the others here
    attributes:
      tenant_id: string
      user_id: string
    # environment dev deletes removed tables; this one keeps its data
    removal_policy: retain
    access_patterns:
      - {name: get an item by its key, key: [tenant_id, user_id]}
"""


@pytest.mark.slow
def test_import_prints_the_seed_tables_and_they_resolve_to_the_project_schemas_keys(seed_tables, project_schema):
    result = run("import", "--env", "dev", "--local", "--schema", str(project_schema), "tenant", "users")
    assert result.exit_code == 0, result.output
    assert result.output == SEED_YAML

    # The printed YAML validates in the project's schema, and resolves to the keys the project gives them.
    checked = check_project("imported.yaml", text=with_tables(project_schema.read_text(), result.stdout))
    assert checked.ok, checked.diagnostics
    imported = resolve(checked.schema, "dev").tables
    project = check_project(project_schema).resolve("dev").tables
    for key in SEED_TABLES:
        assert imported[key].physical_name == key
        assert (imported[key].partition_key, imported[key].sort_key) == (project[key].partition_key,
                                                                         project[key].sort_key)
        assert imported[key].local_indexes == project[key].local_indexes == ()
    # Every item is still there: import only reads.
    assert seed_tables.scan(TableName="users", Select="COUNT")["Count"] == 3


@pytest.mark.slow
def test_import_write_merges_into_the_schema_keeping_its_comments(seed_tables, project_schema, tmp_path):
    original = with_tables(project_schema.read_text(), "tables:   # the tables, one per key\n  jobs:\n"
                                                        "    sort_key: job_id   # jobs of a tenant\n"
                                                        "    attributes: {tenant_id: uuid, job_id: uuid}\n")
    schema = tmp_path / "tables.yaml"
    schema.write_text(original)
    result = run("import", "--env", "dev", "--local", "--schema", str(schema), "users", "--write")
    assert result.exit_code == 0, result.output
    assert f"Wrote 1 table(s) to {schema}: users" in result.output

    merged = schema.read_text()
    # The file as it was, comments, order and flow style included, then the imported table.
    assert merged.startswith(original)
    assert merged[len(original):].startswith("  # imported from live table users\n")
    checked = check_project(schema)
    assert checked.ok, checked.diagnostics
    assert list(checked.schema.tables) == ["jobs", "users"]

    again = run("import", "--env", "dev", "--local", "--schema", str(schema), "users", "--write")
    assert again.exit_code == 1
    assert f"error: {schema} already has table users: not overwriting" in again.output
    assert schema.read_text() == merged


@pytest.mark.slow
def test_import_of_an_unknown_table_names_the_close_one(seed_tables, project_schema):
    result = run("import", "--env", "dev", "--local", "--schema", str(project_schema), "user")
    assert result.exit_code == 1
    assert re.search(r"error: no table named 'user' at DynamoDB Local \(http://127\.0\.0\.1:\d+\)", result.output)
    assert "did you mean 'users'?" in result.output
    assert "Traceback" not in result.output


def test_import_needs_a_running_engine(project_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))  # no engine was ever started here
    result = run("import", "--env", "dev", "--local", "--schema", str(project_schema), "users")
    assert result.exit_code == 1
    assert "error: no local engine is running, so there are no live tables to read" in result.output
    assert "jobwork-infra local start" in result.output


# ---------------------------------------------------------------------------------------------
# Everything DescribeTable can say, as AWS answers (no engine: the answer is written out here)

AWS_DESCRIPTION = {
    "TableName": "legacy-events",
    "TableArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/legacy-events",
    "TableStatus": "ACTIVE",
    "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"}, {"AttributeName": "event_id", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "at", "AttributeType": "S"}, {"AttributeName": "event_id", "AttributeType": "S"},
        {"AttributeName": "kind", "AttributeType": "S"}, {"AttributeName": "tenant_id", "AttributeType": "S"},
        {"AttributeName": "seq", "AttributeType": "N"}],
    "BillingModeSummary": {"BillingMode": "PROVISIONED"},
    "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 2, "NumberOfDecreasesToday": 0},
    "GlobalSecondaryIndexes": [
        {"IndexName": "by_kind", "IndexStatus": "ACTIVE",
         "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
         "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["payload", "actor"]},
         "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 1},
         "WarmThroughput": {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"}}],
    "LocalSecondaryIndexes": [
        {"IndexName": "by_seq", "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                               {"AttributeName": "seq", "KeyType": "RANGE"}],
         "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    "TableClassSummary": {"TableClass": "STANDARD_INFREQUENT_ACCESS"},
    "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS",
                       "KMSMasterKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/0b1f"},
    "DeletionProtectionEnabled": True,
    "WarmThroughput": {"ReadUnitsPerSecond": 30000, "WriteUnitsPerSecond": 10000, "Status": "ACTIVE"},
}
AWS_LIVE = LiveTable("legacy-events", AWS_DESCRIPTION, {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"},
                     pitr=True, tags={"app": "legacy", "cost-center": "ops", "managed-by": "hand"})


def test_every_option_dynamodb_reports_is_written_and_resolves_back_to_the_live_table(project_schema):
    project = check_project(project_schema)
    table = table_from_live(AWS_LIVE, key="legacy_events", tenancy_attribute="tenant_id")
    entries = build_entries([Imported(table, "live table legacy-events", tuple(unexpressed(AWS_LIVE)))],
                            project.schema, "prod")
    text = render_tables(entries)
    assert text == """\
tables:
  # imported from live table legacy-events
  # warm throughput 30000 reads/s, 10000 writes/s: AWS keeps it (it never lowers one); write warm_throughput to manage it
  # encrypted with the KMS key arn:aws:kms:eu-west-1:123456789012:key/0b1f: read as aws_managed; if it is a customer managed key, write encryption: {kms_key_arn: arn:aws:kms:eu-west-1:123456789012:key/0b1f}
  # tag app='legacy' becomes app='jobwork' on the first deploy: jobwork-infra sets the tags app, env, table, managed-by itself (copy the value under another tag key to keep it)
  # tag managed-by='hand' becomes managed-by='jobwork-infra' on the first deploy: jobwork-infra sets the tags app, env, table, managed-by itself (copy the value under another tag key to keep it)
  legacy_events:
    table_name: legacy-events
    sort_key: event_id
    # DynamoDB stores only the key attributes: declare the others here
    attributes:
      tenant_id: string
      event_id: string
      kind: string
      at: string
      seq: number
      expires: epoch_seconds
    global_indexes:
      by_kind:
        partition_key: kind
        sort_key: at
        projection: [payload, actor]
        tenant_scoped: false
        capacity: {read: 3, write: 1}
    local_indexes:
      by_seq:
        sort_key: seq
        projection: keys_only
    ttl: expires
    stream: new_and_old_images
    billing: provisioned
    table_class: infrequent_access
    capacity: {read: 5, write: 2}
    encryption: aws_managed
    tags:
      cost-center: ops
    access_patterns:
      - {name: get an item by its key, key: [tenant_id, event_id]}
"""
    # prod already has PITR and deletion protection on: neither is repeated; the rest round-trips.
    checked = check_project("imported.yaml", text=with_tables(project_schema.read_text(), text))
    assert checked.ok, [str(d.message) for d in checked.diagnostics]
    back = resolve(checked.schema, "prod").tables["legacy_events"]
    compared = ("physical_name", "partition_key", "sort_key", "local_indexes", "ttl", "stream", "billing",
                "capacity", "table_class", "encryption", "point_in_time_recovery", "deletion_protection")
    assert {f: getattr(back, f) for f in compared} == {f: getattr(table, f) for f in compared}
    assert [(i.name, i.partition_key, i.sort_key, i.projection, i.capacity) for i in back.global_indexes] == [
        (i.name, i.partition_key, i.sort_key, i.projection, i.capacity) for i in table.global_indexes]
    assert back.tags["cost-center"] == "ops" and back.tags["managed-by"] == "jobwork-infra"


def test_table_keys_follow_the_naming_pattern(project_schema):
    schema = check_project(project_schema).schema
    assert table_key(schema, "dev", "jobwork-dev-job_orders") == ("job_orders", False)
    assert table_key(schema, "dev", "jobwork-prod-users") == ("jobwork_prod_users", True)
    assert table_key(schema, "dev", "users") == ("users", True)
    assert table_key(schema, "dev", "2024.Audit-Log") == ("t_2024_audit_log", True)


def test_merge_refuses_a_top_level_that_is_not_a_map():
    from jobwork_infra.errors import JobworkError

    with pytest.raises(JobworkError, match="the top level is not a map"):
        merge_tables("- a\n- b\n", build_entries([], check_project(ROOT / "schema/tables.yaml").schema, "dev"),
                     "x.yaml")


# ---------------------------------------------------------------------------------------------
# --from-stack: the seed's CDK stack on moto's CloudFormation (no synth: the template CDK makes)

SEED_STACK = {
    "Resources": {
        "TenantTable": {
            "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"TableName": "tenant", "BillingMode": "PAY_PER_REQUEST",
                           "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"}],
                           "AttributeDefinitions": [{"AttributeName": "tenant_id", "AttributeType": "S"}]}},
        "UsersTable": {
            "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"TableName": "users", "BillingMode": "PAY_PER_REQUEST",
                           "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                         {"AttributeName": "user_id", "KeyType": "RANGE"}],
                           "AttributeDefinitions": [{"AttributeName": "tenant_id", "AttributeType": "S"},
                                                    {"AttributeName": "user_id", "AttributeType": "S"}]}},
    },
}


def test_import_from_stack_reads_the_seed_stacks_tables(strict_aws, project_schema):
    import boto3

    cfn = boto3.client("cloudformation", endpoint_url=strict_aws.endpoint, region_name="us-east-1")
    cfn.create_stack(StackName="JobworkSeedStack", TemplateBody=json.dumps(SEED_STACK))
    result = run("import", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", str(project_schema),
                 "--from-stack", "JobworkSeedStack")
    assert result.exit_code == 0, result.output
    warning = ("  # stack JobworkSeedStack deletes this table with its data if the table leaves the stack or the "
               "stack is deleted (DeletionPolicy Delete): adopt it before changing that stack (docs/adopt.md)\n")
    assert result.stdout.startswith("tables:\n  # imported from stack JobworkSeedStack, resource TenantTable\n"
                                    + warning + "  tenant:\n    table_name: tenant\n")
    assert "  # imported from stack JobworkSeedStack, resource UsersTable\n" + warning + \
        "  users:\n    table_name: users\n    sort_key: user_id\n" in result.output
    checked = check_project("imported.yaml", text=with_tables(project_schema.read_text(), result.stdout))
    assert checked.ok, checked.diagnostics
    project = check_project(project_schema).resolve("dev").tables
    imported = resolve(checked.schema, "dev").tables
    assert {k: (t.physical_name, t.partition_key, t.sort_key) for k, t in imported.items()} == {
        k: (k, project[k].partition_key, project[k].sort_key) for k in SEED_TABLES}

    one = run("import", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", str(project_schema),
              "--from-stack", "JobworkSeedStack", "UsersTable")
    assert one.exit_code == 0 and "  users:\n" in one.output and "tenant:" not in one.output
    wrong = run("import", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", str(project_schema),
                "--from-stack", "JobworkSeedStack", "user")
    assert wrong.exit_code == 1
    assert ("error: stack JobworkSeedStack has no table 'user' (its tables: tenant (TenantTable), "
            "users (UsersTable))") in wrong.output


@pytest.mark.slow
def test_import_from_stack_on_the_local_engine_is_refused(project_schema, local_engine):
    result = run("import", "--env", "dev", "--local", "--schema", str(project_schema), "--from-stack", "X")
    assert result.exit_code == 1
    assert "error: --from-stack reads a CloudFormation stack; the local engine has none" in result.output



def test_import_by_name_from_an_aws_endpoint_reads_ttl_pitr_tags_and_stream(strict_aws, project_schema):
    import boto3

    client = boto3.client("dynamodb", endpoint_url=strict_aws.endpoint, region_name="us-east-1")
    client.create_table(
        TableName="audit-log", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                              {"AttributeName": "at", "AttributeType": "S"},
                              {"AttributeName": "actor", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_actor", "KeySchema": [{"AttributeName": "actor", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "team", "Value": "platform"}])
    client.update_time_to_live(TableName="audit-log", TimeToLiveSpecification={"Enabled": True,
                                                                               "AttributeName": "purge_at"})
    client.update_continuous_backups(TableName="audit-log",
                                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    result = run("import", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", str(project_schema),
                 "audit-log")
    assert result.exit_code == 0, result.output
    body = result.output[result.output.index("  audit_log:\n"):]
    assert body.startswith("""\
  audit_log:
    table_name: audit-log
    sort_key: at
    # DynamoDB stores only the key attributes: declare the others here
    attributes:
      tenant_id: string
      at: string
      actor: string
      purge_at: epoch_seconds
    global_indexes:
      by_actor:
        partition_key: actor
        projection: keys_only
        tenant_scoped: false
        acknowledge:
          T002: 'imported as it is live: this index crosses tenants; review who may query it'
    ttl: purge_at
""")
    for line in ("    stream: new_image\n", "    point_in_time_recovery: true\n", "      team: platform\n"):
        assert line in body
    checked = check_project("imported.yaml", text=with_tables(project_schema.read_text(), result.stdout))
    assert checked.ok, checked.diagnostics
    table = resolve(checked.schema, "dev").tables["audit_log"]
    assert (table.ttl, table.stream, table.point_in_time_recovery, table.tags["team"]) == (
        "purge_at", "new_image", True, "platform")
