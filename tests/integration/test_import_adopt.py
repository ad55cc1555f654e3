"""The seed's tables taken over on DynamoDB Local: import, a refused deploy, `deploy --adopt`, drift.

The story of issue 11 as a new user runs it, without CloudFormation: the seed's `tenant` and `users`
made by hand with items, the project's schema with `naming: "{table}"`.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from jobwork_infra.deploy.local.registry import REGISTRY
from tests.helpers import run_cli as run
from tests.plugins.dynamodb_local import running_dynamodb_local
from tests.unit.test_import import SEED_TABLES, SEED_YAML, create_seed_tables


@pytest.fixture(scope="module")
def dynamodb_local(tmp_path_factory):
    """This module's own DynamoDB Local: it adds indexes by hand (see tests/plugins/dynamodb_local.py)."""
    yield from running_dynamodb_local(tmp_path_factory)

pytestmark = pytest.mark.slow


def count(client, name: str) -> int:
    return sum(p["Count"] for p in client.get_paginator("scan").paginate(TableName=name, Select="COUNT"))


def _drop(client, names) -> None:
    for name in names:
        try:
            client.delete_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            pass
        try:  # the registry exists once any deploy ran on the engine
            client.delete_item(TableName=REGISTRY, Key={"table_name": {"S": name}})
        except client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def seed(local_engine, project_schema, tmp_path):
    """The seed's tables with items, and the project's schema naming tables `{table}` (as the seed did)."""
    client = local_engine.client()
    _drop(client, SEED_TABLES)
    for name in SEED_TABLES:
        client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    create_seed_tables(client)
    schema = tmp_path / "tables.yaml"
    schema.write_text(project_schema.read_text().replace('table: "{app}-{env}-{table}"', 'table: "{table}"'))
    yield client, str(schema)
    _drop(client, SEED_TABLES)


@pytest.mark.parametrize("local_engine", ["dynamodb-local", "moto"], indirect=True)
def test_the_seed_is_adopted_keeping_every_item(local_engine, seed, project_schema):
    client, schema = seed
    imported = run("import", "--env", "dev", "--local", "--schema", str(project_schema), "tenant", "users")
    assert imported.exit_code == 0, imported.output
    if local_engine.name == "dynamodb-local":
        assert imported.output == SEED_YAML
    else:  # moto reports tags and PITR
        assert imported.output == SEED_YAML.replace("tags, point-in-time recovery, table class", "table class")

    plain = run("deploy", "--env", "dev", "--local", "--schema", schema, "--yes")
    assert plain.exit_code == 3, plain.output
    assert ("error: tables tenant, users already exist under the schema's names but are not managed by "
            "environment dev") in plain.output
    label = "DynamoDB Local" if local_engine.name == "dynamodb-local" else "moto server"
    assert "rerun with --adopt" in plain.output

    dry = run("deploy", "--env", "dev", "--local", "--schema", schema, "--adopt", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Adopting table users (3 items as last counted) as users: keys and local indexes match" in dry.output
    assert "D301  index by_cognito_sub is created and backfilled" in dry.output
    assert "nothing was changed" in dry.output
    assert not client.describe_table(TableName="users")["Table"].get("GlobalSecondaryIndexes")

    adopted = run("deploy", "--env", "dev", "--local", "--schema", schema, "--adopt", "--yes")
    assert adopted.exit_code == 0, adopted.output
    assert "  ✓ adopted table tenant\n  ✓ adopted table users\n" in adopted.output
    assert "  ✓ users: created index by_cognito_sub\n" in adopted.output
    assert "note: removal_policy is destroy for users" in adopted.output
    assert (count(client, "tenant"), count(client, "users")) == (1, 3)
    found = client.query(TableName="users", IndexName="by_cognito_sub", KeyConditionExpression="cognito_sub = :s",
                         ExpressionAttributeValues={":s": {"S": "sub-2"}})["Items"]
    assert [i["user_id"]["S"] for i in found] == ["u-2"]

    for args in ((), ("--adopt",)):  # a rerun, with or without --adopt, has nothing to do
        again = run("deploy", "--env", "dev", "--local", "--schema", schema, "--yes", *args)
        assert again.exit_code == 0, again.output
        assert again.output.startswith(f"No changes: jobwork-dev on {label}")
    assert run("drift", "--env", "dev", "--local", "--schema", schema).exit_code == 0

    client.update_table(TableName="users", AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
                        GlobalSecondaryIndexUpdates=[{"Create": {
                            "IndexName": "by_email_manual", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"}}}])
    client.update_time_to_live(TableName="users", TimeToLiveSpecification={"Enabled": True, "AttributeName": "gone_at"})
    drifted = run("drift", "--env", "dev", "--local", "--schema", schema)
    assert drifted.exit_code == 3
    assert "D301  index by_email_manual exists on the live table only" in drifted.output
    assert "next deploy: deploy will undo it: index by_email_manual is deleted" in drifted.output
    assert "D303  ttl: none in the schema, gone_at live" in drifted.output
    document = json.loads(run("drift", "--env", "dev", "--local", "--schema", schema, "--format", "json").stdout)
    assert [(d["code"], d["subject"]) for d in document["drift"]] == [("D301", "index by_email_manual"),
                                                                       ("D303", "ttl")]
    assert (count(client, "tenant"), count(client, "users")) == (1, 3)


def test_a_table_whose_keys_differ_is_refused_with_the_fix(seed, tmp_path):
    client, schema = seed
    text = Path(schema).read_text().replace("    sort_key: user_id\n", "    sort_key: email\n").replace(
        "{type: string, unique: tenant}", "string")  # a key is unique already (U001)
    text = text.replace("key: [tenant_id, user_id]", "key: [tenant_id, email]")
    other = tmp_path / "other.yaml"
    other.write_text(text)
    result = run("deploy", "--env", "dev", "--local", "--schema", str(other), "--adopt", "--yes")
    assert result.exit_code == 3, result.output
    assert ("error: cannot adopt users: sort key user_id (S) live, email (S) in the schema: DynamoDB cannot "
            "change a table's keys or local indexes") in result.output
    assert "jobwork-infra import --env dev --local tenant users" in result.output
    # Nothing claimed, nothing changed: the next plain deploy still names --adopt.
    assert count(client, "users") == 3
    assert run("deploy", "--env", "dev", "--local", "--schema", schema, "--yes").exit_code == 3


def test_a_local_index_that_differs_is_refused(seed, tmp_path):
    _, schema = seed
    text = Path(schema).read_text().replace("    global_indexes:\n", textwrap.indent(
        "local_indexes:\n  by_email: {sort_key: email}\nglobal_indexes:\n", "    "), 1)
    other = tmp_path / "lsi.yaml"
    other.write_text(text)
    result = run("deploy", "--env", "dev", "--local", "--schema", str(other), "--adopt", "--yes")
    assert result.exit_code == 3, result.output
    assert re.search(r"cannot adopt users: local index by_email is in the schema only", result.output)


def test_another_environments_table_is_never_adopted(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        naming:
          table: "{{app}}-{{table}}"
        environments:
          dev: {{}}
          prod: {{}}
        tables:
          tenant:
            attributes: {{tenant_id: uuid}}
        """))
    assert run("deploy", "--env", "dev", "--local", "--schema", str(schema), "--yes").exit_code == 0
    result = run("deploy", "--env", "prod", "--local", "--schema", str(schema), "--yes", "--adopt")
    assert result.exit_code == 1
    assert f"belongs to environment dev of app {app_name}: leaving it alone" in result.output
