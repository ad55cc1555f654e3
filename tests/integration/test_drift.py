"""`drift`: hand-made changes found on the local engines and on a CloudFormation stack (the strict double)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import boto3
import pytest

from tests.conftest import after_caller
from tests.helpers import run_cli as run
from tests.helpers import schema_text
from tests.plugins.dynamodb_local import running_dynamodb_local


@pytest.fixture(scope="module")
def dynamodb_local(tmp_path_factory):
    """This module's own DynamoDB Local: it adds indexes by hand (see tests/plugins/dynamodb_local.py)."""
    yield from running_dynamodb_local(tmp_path_factory)

pytestmark = pytest.mark.slow

USERS = schema_text(app="{app}", tables="""\
  users:
    sort_key: user_id
    attributes:
      tenant_id: uuid
      user_id: uuid
      email: string
      expires_at: epoch_seconds
{extra}""")


def write_schema(tmp_path: Path, app_name: str, extra: str = "") -> str:
    path = tmp_path / "tables.yaml"
    path.write_text(USERS.format(app=app_name, extra=textwrap.indent(extra, "    ")))
    return str(path)


def drift(schema: str, *args: str):
    return run("drift", "--env", "dev", "--schema", schema, *args)


def deployed(local_engine, tmp_path, app_name) -> tuple[str, object, str]:
    schema = write_schema(tmp_path, app_name)
    result = run("deploy", "--env", "dev", "--local", "--schema", schema, "--yes")
    assert result.exit_code == 0, result.output
    return schema, local_engine.client(), f"{app_name}-dev-users"


# What each hand-made change does, and what drift must say about it (code, drift, next deploy).
def add_index(client, name):
    client.update_table(TableName=name, AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
                        GlobalSecondaryIndexUpdates=[{"Create": {
                            "IndexName": "by_email_manual", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"}}}])


def enable_ttl(client, name):
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


def enable_stream(client, name):
    client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})


def switch_billing(client, name):
    client.update_table(TableName=name, BillingMode="PROVISIONED",
                        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})


def enable_pitr(client, name):
    client.update_continuous_backups(TableName=name,
                                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def add_tag(client, name):
    arn = client.describe_table(TableName=name)["Table"]["TableArn"]
    client.tag_resource(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "someone"}])


HAND_MADE = {
    "index": (add_index, "D301", "online",
              "index by_email_manual exists on the live table only: added outside jobwork-infra",
              ("deploy will undo it: index by_email_manual is deleted; queries that use it fail from then on")),
    "ttl": (enable_ttl, "D303", "online", "ttl: none in the schema, expires_at live",
            ("deploy will undo it: TTL on expires_at is disabled (Enabled: false): expired items are no longer "
             "deleted, and AWS allows the next TTL change on the table only 1 h later")),
    "stream": (enable_stream, "D306", "online", "stream: none in the schema, new_image live",
               ("deploy will undo it: the stream changes from new_image to none: consumers (triggers, pipes) stop "
                "receiving changes and its records expire")),
    "billing": (switch_billing, "D305", "online", "billing: on_demand in the schema, provisioned live",
                ("deploy will undo it: billing switches from provisioned to on_demand in place; AWS allows at "
                 "most four switches to on_demand per table in a rolling 24 h (back to provisioned any time)")),
    "pitr": (enable_pitr, "D402", "safe", "point-in-time recovery: off in the schema, on live",
             ("deploy will undo it: point-in-time recovery is turned off: the restore window (up to 35 days of "
              "continuous backups) is discarded; turning it on again starts an empty one")),
    "tags": (add_tag, "D404", "safe", "tags differ live: owner=someone added",
             "deploy will undo it: tags change: -owner"),
}
# DynamoDB Local has neither tags nor point-in-time recovery: those two run on moto's engine.
CASES = [pytest.param(kind, "moto" if kind in ("pitr", "tags") else "dynamodb-local", id=kind) for kind in HAND_MADE]


def test_a_clean_deployed_environment_has_no_drift(local_engine, app_name, tmp_path):
    schema, _, _ = deployed(local_engine, tmp_path, app_name)
    result = drift(schema, "--local")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Drift of environment dev on DynamoDB Local ({local_engine.endpoint}): "
                                    "the live tables against the schema\nNot checked: provisioned capacity, ")
    # DynamoDB Local does not report these: said, not silently assumed; all of it on one line (issue 23).
    assert "; tags, " in result.output and "(not reported by this engine)\n" in result.output
    assert len(result.output.splitlines()) == 3
    assert result.output.endswith("No drift: the live tables match the schema.\n")
    document = json.loads(drift(schema, "--local", "--format", "json").stdout)
    assert (document["drifted"], document["drift"], document["severity"]) == (False, [], None)


@pytest.mark.parametrize(("kind", "local_engine"), CASES, indirect=["local_engine"])
def test_each_hand_made_change_is_found_with_what_deploy_does(local_engine, app_name, tmp_path, kind):
    schema, client, name = deployed(local_engine, tmp_path, app_name)
    make, code, severity, what, next_deploy = HAND_MADE[kind]
    make(client, name)

    result = drift(schema, "--local")
    assert result.exit_code == 3, result.output
    assert f"users\n  {severity:<11}  {code}  {what}\n{'':21}next deploy: {next_deploy}\n" in result.output
    assert "1 difference: 1 " + severity in result.output
    assert "error: 1 difference at or above safe (--fail-on safe)" in result.output

    document = json.loads(drift(schema, "--local", "--format", "json").stdout)
    assert [(d["code"], d["severity"], d["table"], d["drift"], d["next_deploy"]) for d in document["drift"]] == [
        (code, severity, "users", what, next_deploy)]
    assert drift(schema, "--local", "--fail-on", "never").exit_code == 0
    assert drift(schema, "--local", "--fail-on", "destructive").exit_code == 0

    # The deploy does what drift said: afterwards nothing has drifted.
    assert run("deploy", "--env", "dev", "--local", "--schema", schema, "--yes").exit_code == 0
    after = drift(schema, "--local")
    assert after.exit_code == 0, after.output


def test_index_and_ttl_added_by_hand_are_both_named(local_engine, app_name, tmp_path):
    schema, client, name = deployed(local_engine, tmp_path, app_name)
    add_index(client, name)
    enable_ttl(client, name)
    result = drift(schema, "--local", "--format", "markdown")
    assert result.exit_code == 3
    assert result.output.startswith(f"### Drift of environment dev on DynamoDB Local ({local_engine.endpoint})\n\n"
                                    "**2 differences: 2 online**\n\n| severity | table | what differs | next deploy |\n")
    assert "| 🟡 online | users | `D301` index by_email_manual exists on the live table only" in result.output
    assert "| 🟡 online | users | `D303` ttl: none in the schema, expires_at live |" in result.output
    github = drift(schema, "--local", "--format", "github").output.splitlines()
    assert github[0].startswith("::warning title=drift D301 (users)::index by_email_manual exists")
    assert github[1].startswith("::warning title=drift D303 (users)::ttl: none in the schema")


def test_a_table_deleted_by_hand_is_destructive_drift(local_engine, app_name, tmp_path):
    schema, client, name = deployed(local_engine, tmp_path, app_name)
    client.delete_table(TableName=name)
    client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    result = drift(schema, "--local", "--fail-on", "destructive")
    assert result.exit_code == 3, result.output
    assert (f"  destructive  D101  table users is gone from the engine, but the schema has it\n{'':21}"
            f"next deploy: deploy will undo it: table {name} is created\n") in result.output


def test_unmanaged_tables_with_the_prefix_and_taken_names_are_listed(local_engine, app_name, tmp_path):
    schema = write_schema(tmp_path, app_name)
    client = local_engine.client()
    for name in (f"{app_name}-dev-scratch", f"{app_name}-dev-users"):  # neither made by jobwork-infra
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    result = drift(schema, "--local")
    assert result.exit_code == 0, result.output
    assert (f"Under the schema's names but not managed by environment dev: {app_name}-dev-users (a deploy refuses "
            "them; adopt them: docs/adopt.md)\n") in result.output
    assert f"With the environment's name prefix but in no schema: {app_name}-dev-scratch\n" in result.output
    document = json.loads(drift(schema, "--local", "--format", "json").stdout)
    assert (document["unadopted"], document["unmanaged"]) == ([f"{app_name}-dev-users"], [f"{app_name}-dev-scratch"])


# ---------------------------------------------------------------------------------------------
# CloudFormation: the deployed template is the reference (the strict AWS double)

def test_drift_of_a_deployed_stack(strict_aws, tmp_path, fast_polls):
    schema = write_schema(tmp_path, "shop")
    result = run("deploy", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", schema, "--yes")
    assert result.exit_code == 0, result.output

    clean = drift(schema, "--endpoint-url", strict_aws.endpoint)
    assert clean.exit_code == 0, clean.output
    assert after_caller(clean.output).startswith(
        f"Drift of stack shop-dev at {strict_aws.endpoint}: the live tables against the deployed template\n")
    assert clean.output.endswith("No drift: the live tables match the deployed template.\n")
    # An AWS endpoint leaves out the default table class and encryption: read as the defaults, not unknown.
    assert "not reported by this engine" not in clean.output

    client = boto3.client("dynamodb", endpoint_url=strict_aws.endpoint, region_name="us-east-1")
    add_index(client, "shop-dev-users")
    strict_aws.wait_indexes_active("shop-dev-users")
    enable_stream(client, "shop-dev-users")
    enable_pitr(client, "shop-dev-users")
    client.create_table(TableName="shop-dev-scratch", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    found = drift(schema, "--endpoint-url", strict_aws.endpoint)
    assert found.exit_code == 3, found.output
    leaves = ("next deploy: deploy leaves it drifted: CloudFormation changes only what differs between the "
              "deployed template and the new one; undo it by hand, or write it into the schema")
    assert re.search(r"online\s+D301  index by_email_manual exists on the live table only: added outside "
                     r"jobwork-infra\n\s+" + re.escape(leaves), found.output)
    assert re.search(r"online\s+D306  stream: none in the deployed template, new_image live\n\s+" + re.escape(leaves),
                     found.output)
    assert re.search(r"safe\s+D402  point-in-time recovery: off in the deployed template, on live\n", found.output)
    assert "With the environment's name prefix but in no schema: shop-dev-scratch\n" in found.output

    # deploy runs the same check first: it refuses to go over drift silently.
    refused = run("deploy", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", schema, "--yes")
    assert refused.exit_code == 3, refused.output
    assert "error: 3 change(s) made to stack shop-dev" in refused.output
    assert "users: index by_email_manual exists on the live table only" in refused.output
    assert "--allow-drift deploys anyway" in refused.output
    allowed = run("deploy", "--env", "dev", "--endpoint-url", strict_aws.endpoint, "--schema", schema, "--yes",
                  "--allow-drift")
    assert allowed.exit_code == 0, allowed.output
    assert after_caller(allowed.output).startswith("No changes: stack shop-dev matches the schema")

    # The other hand-made changes, each found: TTL, tags and billing.
    enable_ttl(client, "shop-dev-users")
    add_tag(client, "shop-dev-users")
    every = json.loads(drift(schema, "--endpoint-url", strict_aws.endpoint, "--format", "json").stdout)
    assert [d["code"] for d in every["drift"]] == ["D301", "D303", "D306", "D402", "D404"]

    # The schema now asks for what was done by hand: CloudFormation would do it again, and AWS refuses.
    edited = write_schema(tmp_path, "shop", "stream: new_image\n")
    ahead = drift(edited, "--endpoint-url", strict_aws.endpoint)
    assert ahead.exit_code == 3
    assert re.search(r"D306  stream: none in the deployed template, new_image live\n\s+next deploy: deploy will "
                     r"fail: stream already enabled, and CloudFormation would enable it again", ahead.output)
    document = json.loads(drift(edited, "--endpoint-url", strict_aws.endpoint, "--format", "json").stdout)
    assert [d["code"] for d in document["drift"]] == ["D301", "D303", "D306", "D402", "D404"]
    assert document["reference"] == "the deployed template"


def test_drift_of_a_stack_that_is_not_deployed(strict_aws, tmp_path):
    result = drift(write_schema(tmp_path, "shop"), "--endpoint-url", strict_aws.endpoint)
    assert result.exit_code == 1
    assert f"error: stack shop-dev is not deployed at {strict_aws.endpoint}: nothing to compare" in result.output
