"""`import --write` output passes `validate --strict`: each warning a live table raises is acknowledged with its reason.

The tables are AWS's own: the AWS::DynamoDB::Table reference's example "DynamoDB Table with Local and
Secondary Indexes" (key attributes in INCLUDE lists: I107), aws-cdk's DynamoDB integration test (a
local index on the table's own sort key: I104), and a tenant table with a cross-tenant lookup (T002).
"""

from __future__ import annotations

import shutil

from jobwork_infra.errors import Severity
from jobwork_infra.project import check_project
from tests.conftest import ROOT
from tests.helpers import run_cli as run


def _key(*pairs):
    return [{"AttributeName": n, "KeyType": t} for n, t in pairs]


def create_docs_example(client) -> None:
    """The reference's example, as CloudFormation creates it (provisioned 5/5 everywhere)."""
    five = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    client.create_table(
        TableName="music", ProvisionedThroughput=five,
        AttributeDefinitions=[{"AttributeName": "Album", "AttributeType": "S"},
                              {"AttributeName": "Artist", "AttributeType": "S"},
                              {"AttributeName": "Sales", "AttributeType": "N"},
                              {"AttributeName": "NumberOfSongs", "AttributeType": "N"}],
        KeySchema=_key(("Album", "HASH"), ("Artist", "RANGE")),
        GlobalSecondaryIndexes=[
            {"IndexName": "myGSI", "KeySchema": _key(("Sales", "HASH"), ("Artist", "RANGE")),
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Album", "NumberOfSongs"]},
             "ProvisionedThroughput": five},
            {"IndexName": "myGSI2", "KeySchema": _key(("NumberOfSongs", "HASH"), ("Sales", "RANGE")),
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Album", "Artist"]},
             "ProvisionedThroughput": five}],
        LocalSecondaryIndexes=[
            {"IndexName": "myLSI", "KeySchema": _key(("Album", "HASH"), ("Sales", "RANGE")),
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Artist", "NumberOfSongs"]}},
            # aws-cdk's integration test: an LSI on the table's own sort key, which AWS accepts.
            {"IndexName": "byArtist", "KeySchema": _key(("Album", "HASH"), ("Artist", "RANGE")),
             "Projection": {"ProjectionType": "ALL"}}])
    client.create_table(
        TableName="members", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                              {"AttributeName": "member_id", "AttributeType": "S"},
                              {"AttributeName": "email", "AttributeType": "S"}],
        KeySchema=_key(("tenant_id", "HASH"), ("member_id", "RANGE")),
        GlobalSecondaryIndexes=[{"IndexName": "by_email", "KeySchema": _key(("email", "HASH"),),
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["display_name"]}}])


def test_import_write_of_tables_aws_accepts_passes_validate_strict(strict_aws, tmp_path):
    create_docs_example(strict_aws.client("dynamodb"))
    schema = tmp_path / "tables.yaml"
    shutil.copy(ROOT / "schema" / "tables.yaml", schema)
    before = check_project(schema)
    assert before.ok and not [d for d in before.diagnostics if d.severity is not Severity.NOTE]

    written = run("import", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", str(schema),
                  "music", "members", "--write")
    assert written.exit_code == 0, written.output
    strict = run("validate", "--strict", "--schema", str(schema))
    assert strict.exit_code == 0, strict.output

    project = check_project(schema)
    notes = {(d.code, d.path[1], d.path[3] if len(d.path) > 3 else None)
             for d in project.diagnostics if d.severity is Severity.NOTE and d.path[1] in ("music", "members")}
    assert notes == {
        ("I107", "music", "myGSI"),       # Album: the table's partition key
        ("I107", "music", "myGSI2"),      # Album and Artist: the table's keys
        ("I107", "music", "myLSI"),       # Artist: the table's sort key
        ("I104", "music", "byArtist"),    # the LSI on the table's own sort key
        ("T002", "members", "by_email"),  # crosses tenants
        ("I108", "members", "by_email"),  # display_name: a non-key attribute DynamoDB has no type for
    }
    # Every imported index keeps its live shape: nothing was removed to make the warnings go away.
    music = project.resolve("dev").tables["music"]
    assert {i.name: i.projection.attributes for i in music.global_indexes} == {
        "myGSI": ("Album", "NumberOfSongs"), "myGSI2": ("Album", "Artist")}
    assert {i.name: (i.sort_key.name, i.projection.attributes) for i in music.local_indexes} == {
        "byArtist": ("Artist", ()), "myLSI": ("Sales", ("Artist", "NumberOfSongs"))}
    assert all("(acknowledged: imported" in d.message for d in project.diagnostics
               if d.severity is Severity.NOTE and d.path[1] in ("music", "members"))



def test_a_live_tag_under_one_of_the_tools_keys_is_named_before_it_is_replaced(project_schema):
    from jobwork_infra.deploy.shapes import LiveTable, table_from_live
    from jobwork_infra.importer import Imported, build_entries, render_tables

    description = {"TableName": "ledger", "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                   "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                   "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}
    live = LiveTable("ledger", description, pitr=False, tags={"env": "production", "Env": "x", "team": "ops"},
                     absent_is_default=True)
    table = table_from_live(live, key="ledger", tenancy_attribute="tenant_id")
    text = render_tables(build_entries([Imported(table, "live table ledger")],
                                       check_project(project_schema).schema, "dev"))
    assert "  # tag env='production' becomes env='dev' on the first deploy" in text
    assert "Env: x" in text and "team: ops" in text        # tags differing only in case are kept apart
