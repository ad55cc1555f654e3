"""`deploy --local` / `destroy --local` against a real DynamoDB Local (and the core scenario on moto)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.local import engine as engines
from jobwork_infra.deploy.local import target as local_deploy
from jobwork_infra.deploy.timing import TIMING

pytestmark = pytest.mark.slow

BOTH = pytest.mark.parametrize("local_engine", ["dynamodb-local", "moto"], indirect=True)
# DynamoDB Local with -delayTransientStatuses: the deploy meets CREATING/UPDATING/DELETING as on AWS.
# Its delays are long (a GSI stays CREATING ~20 s), so one scenario runs on it: a table created, an
# index deleted (DELETING) and TTL enabled, each waited for.
ALL = pytest.mark.parametrize("local_engine", ["dynamodb-local", "moto", "dynamodb-local-delayed"], indirect=True)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(TIMING, "first_poll", 0.1)
    monkeypatch.setattr(TIMING, "max_poll", 0.5)

TENANT = """
  tenant:
    attributes:
      tenant_id: uuid
      name: string
"""
USERS = """
  users:
    sort_key: user_id
    attributes:
      tenant_id: uuid
      user_id: uuid
      cognito_sub: string
      email: string
      role: string
    global_indexes:
      by_cognito_sub: {partition_key: cognito_sub, projection: keys_only, tenant_scoped: false}
"""
EVENTS = """
  events:
    sort_key: event_id
    ttl: expires_at
    attributes:
      tenant_id: uuid
      event_id: string
      at: datetime
      kind: string
      payload: map
      expires_at: epoch_seconds
    local_indexes:
      by_time: {sort_key: at}
    global_indexes:
      by_kind: {partition_key: kind, sort_key: at, projection: [payload], tenant_scoped: false}
"""


def schema_text(app_name: str, tables: str, naming: str = "{app}-{env}-{table}", policy: str = "destroy") -> str:
    return textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        naming:
          table: "{naming}"
        environments:
          dev:
            removal_policy: {policy}
          prod:
            removal_policy: retain
        tables:
        """) + tables


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def deploy(schema: str, *args: str, env: str = "dev"):
    return CliRunner().invoke(app, ["deploy", "--env", env, "--local", "--schema", schema, *args])


def describe(client, name: str) -> dict:
    return client.describe_table(TableName=name)["Table"]


def keys(table: dict) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]


def gsis(table: dict) -> dict[str, dict]:
    return {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}


def put_users(client, name: str, tenant: str = "t-1", count: int = 3) -> None:
    for n in range(count):
        client.put_item(TableName=name, Item={
            "tenant_id": {"S": tenant}, "user_id": {"S": f"u-{n}"}, "cognito_sub": {"S": f"sub-{n}"},
            "email": {"S": f"user{n}@example.com"}, "role": {"S": "OPERATOR" if n else "OWNER"}})


def count_items(client, name: str) -> int:
    return sum(p["Count"] for p in client.get_paginator("scan").paginate(TableName=name, Select="COUNT"))


# ---------------------------------------------------------------------------------------------

@BOTH
def test_first_deploy_creates_every_table_then_no_changes(local_engine, app_name, tmp_path):
    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT + USERS + EVENTS))
    result = deploy(schema, "--yes")
    assert result.exit_code == 0, result.output
    assert "Step 1/1: apply 3 changes in one update" in result.output
    assert f"  ✓ created table {app_name}-dev-events with 2 index(es)\n" in result.output

    client = local_engine.client()
    users = describe(client, f"{app_name}-dev-users")
    assert keys(users) == [("tenant_id", "HASH"), ("user_id", "RANGE")]
    assert gsis(users)["by_cognito_sub"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    events = describe(client, f"{app_name}-dev-events")
    assert keys(events) == [("tenant_id", "HASH"), ("event_id", "RANGE")]
    by_kind = gsis(events)["by_kind"]
    assert [k["AttributeName"] for k in by_kind["KeySchema"]] == ["kind", "at"]
    assert by_kind["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["payload"]}
    lsi = events["LocalSecondaryIndexes"][0]
    assert (lsi["IndexName"], keys(lsi)) == ("by_time", [("tenant_id", "HASH"), ("at", "RANGE")])
    ttl = client.describe_time_to_live(TableName=f"{app_name}-dev-events")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert describe(client, f"{app_name}-dev-tenant")["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    again = deploy(schema, "--yes")
    label = "DynamoDB Local" if local_engine.name == "dynamodb-local" else "moto server"
    assert (again.exit_code, again.output) == (
        0, f"No changes: {app_name}-dev on {label} ({local_engine.endpoint}) matches the schema.\n")


@BOTH
def test_two_gsis_added_to_a_table_with_data_land_in_two_steps(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS)), "--yes").exit_code == 0
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    put_users(client, name)

    more = USERS + "      by_email: {partition_key: email, tenant_scoped: false}\n      by_role: {partition_key: tenant_id, sort_key: role}\n"
    result = deploy(write(schema, schema_text(app_name, more)), "--yes")
    assert result.exit_code == 0, result.output
    assert "Step 1/2: users: create index by_email\n" in result.output
    assert f"  ✓ {name}: created index by_email\n" in result.output
    assert "Step 2/2: users: create index by_role\n" in result.output
    assert f"  ✓ {name}: created index by_role\n" in result.output

    assert count_items(client, name) == 3
    assert set(gsis(describe(client, name))) == {"by_cognito_sub", "by_email", "by_role"}
    found = client.query(TableName=name, IndexName="by_email", KeyConditionExpression="email = :e",
                         ExpressionAttributeValues={":e": {"S": "user2@example.com"}})["Items"]
    assert [i["user_id"]["S"] for i in found] == ["u-2"]
    owners = client.query(TableName=name, IndexName="by_role",
                          KeyConditionExpression="tenant_id = :t AND #r = :r",
                          ExpressionAttributeNames={"#r": "role"},
                          ExpressionAttributeValues={":t": {"S": "t-1"}, ":r": {"S": "OWNER"}})["Items"]
    assert [i["user_id"]["S"] for i in owners] == ["u-0"]
    assert deploy(str(schema), "--yes").output.startswith("No changes")


@ALL
def test_removing_a_gsi_and_enabling_ttl_keep_the_items(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS)), "--yes").exit_code == 0
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    put_users(client, name)

    without = USERS.replace("    global_indexes:\n      by_cognito_sub: {partition_key: cognito_sub, projection: "
                            "keys_only, tenant_scoped: false}\n", "    ttl: expires_at\n")
    without = without.replace("      role: string\n", "      role: string\n      expires_at: epoch_seconds\n")
    result = deploy(write(schema, schema_text(app_name, without)), "--yes")
    assert result.exit_code == 0, result.output
    assert f"  ✓ {name}: deleted index by_cognito_sub\n" in result.output
    assert f"  ✓ {name}: TTL on expires_at\n" in result.output
    assert gsis(describe(client, name)) == {}
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    assert count_items(client, name) == 3
    assert deploy(str(schema), "--yes").output.startswith("No changes")


@pytest.mark.parametrize("change", ["key", "lsi", "removal"])
def test_destructive_changes_are_refused_and_touch_nothing(local_engine, app_name, tmp_path, change):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS + EVENTS)), "--yes").exit_code == 0
    client = local_engine.client()
    users, events = f"{app_name}-dev-users", f"{app_name}-dev-events"
    put_users(client, users)
    client.put_item(TableName=events, Item={"tenant_id": {"S": "t-1"}, "event_id": {"S": "e-1"},
                                            "at": {"S": "2026-01-01"}, "kind": {"S": "login"}})
    before = {n: (keys(describe(client, n)), count_items(client, n)) for n in (users, events)}

    edited = {
        "key": USERS.replace("sort_key: user_id", "sort_key: email") + EVENTS,
        "lsi": USERS + EVENTS.replace("by_time: {sort_key: at}", "by_time: {sort_key: kind}"),
        "removal": USERS,
    }[change]
    write(schema, schema_text(app_name, edited))
    for args in (["--dry-run"], ["--yes"]):
        result = deploy(str(schema), *args)
        assert result.exit_code == 3, result.output
        assert "destructive" in result.output
        assert "error: refusing 1 destructive change(s)" in result.output
        # The plan says which table goes and how much data with it, counted on the engine (issue 13).
        lost, what = {"key": (users, "replaced: it holds 3 items"), "lsi": (events, "replaced: it holds 1 item"),
                      "removal": (events, "deleted: it holds 1 item")}[change]
        assert f"data at risk: table {lost} is {what}, lost with it" in " ".join(result.output.split())
    assert {n: (keys(describe(client, n)), count_items(client, n)) for n in (users, events)} == before


def test_allow_destructive_recreates_a_table_with_a_new_key(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS)), "--yes").exit_code == 0
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    put_users(client, name)
    write(schema, schema_text(app_name, USERS.replace("sort_key: user_id", "sort_key: email")))
    result = deploy(str(schema), "--yes", "--allow-destructive")
    assert result.exit_code == 0, result.output
    assert f"  ✓ deleted table {name} (replaced)\n" in result.output
    assert f"  ✓ created table {name} with 1 index(es)\n" in result.output
    assert keys(describe(client, name)) == [("tenant_id", "HASH"), ("email", "RANGE")]
    assert count_items(client, name) == 0
    assert deploy(str(schema), "--yes").output.startswith("No changes")


def test_key_change_of_a_retained_table_is_refused_before_anything_changes(local_engine, app_name, tmp_path):
    # The new table needs the name of the old one, which retain keeps: nothing can be applied.
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS, policy="retain")), "--yes").exit_code == 0
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    put_users(client, name)
    write(schema, schema_text(app_name, USERS.replace("sort_key: user_id", "sort_key: email"), policy="retain"))

    result = deploy(str(schema), "--yes", "--allow-destructive")

    assert result.exit_code == 3, result.output
    assert f"error: cannot replace {name} under the same name" in result.output
    assert "the old table is retained" in result.output
    assert keys(describe(client, name)) == [("tenant_id", "HASH"), ("user_id", "RANGE")]
    assert count_items(client, name) == 3
    # still ours: the registry was not touched, so the original schema is "No changes"
    write(schema, schema_text(app_name, USERS, policy="retain"))
    assert deploy(str(schema), "--yes").output.startswith("No changes")


def test_dry_run_changes_nothing(local_engine, app_name, tmp_path):
    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT))
    result = deploy(schema, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        f"Dry run: 1 step would be applied to {app_name}-dev on DynamoDB Local ({local_engine.endpoint}); "
        "nothing was changed.\n")
    assert f"{app_name}-dev-tenant" not in local_engine.client().list_tables()["TableNames"]


def test_a_foreign_table_with_a_matching_name_is_left_alone(local_engine, app_name, tmp_path):
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    client.put_item(TableName=name, Item={"id": {"S": "theirs"}})
    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT + USERS))
    for args in (["--dry-run"], ["--yes"]):
        result = deploy(schema, *args)
        assert result.exit_code == 3, result.output  # blocked: adopting it is the user's call (--adopt)
        assert (f"error: table {name} already exists under the schema's names but is not managed by "
                "environment dev") in result.output
        assert "rerun with --adopt" in result.output
    assert keys(describe(client, name)) == [("id", "HASH")]
    assert count_items(client, name) == 1
    assert f"{app_name}-dev-tenant" not in client.list_tables()["TableNames"]  # nothing half-done


def test_another_environment_with_the_same_table_names_is_left_alone(local_engine, app_name, tmp_path):
    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT, naming="{app}-{table}"))
    assert deploy(schema, "--yes").exit_code == 0
    result = deploy(schema, "--yes", env="prod")
    assert result.exit_code == 1
    assert f"belongs to environment dev of app {app_name}: leaving it alone" in result.output
    # …and dev does not see prod's attempt as anything of its own
    assert deploy(schema, "--yes").output.startswith("No changes")


def test_removed_table_under_retain_is_orphaned_and_kept(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, TENANT + USERS, policy="retain")), "--yes").exit_code == 0
    result = deploy(write(schema, schema_text(app_name, TENANT, policy="retain")), "--yes")
    assert result.exit_code == 0, result.output
    assert f"note: table {app_name}-dev-users is left in place with its data (removal_policy: retain)" in result.output
    assert f"{app_name}-dev-users" in local_engine.client().list_tables()["TableNames"]
    assert deploy(str(schema), "--yes").output.startswith("No changes")


def test_destroy_deletes_the_environment_tables(local_engine, app_name, tmp_path):
    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT + USERS))
    assert deploy(schema, "--yes").exit_code == 0
    result = CliRunner().invoke(app, ["destroy", "--env", "dev", "--local", "--schema", schema, "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"Destroyed {app_name}-dev on DynamoDB Local ({local_engine.endpoint}).\n")
    names = local_engine.client().list_tables()["TableNames"]
    assert not [n for n in names if n.startswith(app_name)]
    again = CliRunner().invoke(app, ["destroy", "--env", "dev", "--local", "--schema", schema, "--yes"])
    assert again.output == f"Nothing to destroy: {app_name}-dev on DynamoDB Local ({local_engine.endpoint}) has nothing deployed.\n"


def test_engine_killed_mid_deploy_gives_a_clear_error_and_the_rerun_converges(tmp_path, monkeypatch, app_name):
    root = tmp_path / "project"
    monkeypatch.setenv("JOBWORK_ROOT", str(root))
    schema = tmp_path / "tables.yaml"
    try:
        assert deploy(write(schema, schema_text(app_name, USERS)), "--yes").exit_code == 0  # starts the engine
        client = local_deploy.client_for(engines.status(root).endpoint)
        put_users(client, f"{app_name}-dev-users")
        more = USERS + "      by_email: {partition_key: email, tenant_scoped: false}\n      by_role: {partition_key: role, tenant_scoped: false}\n"
        write(schema, schema_text(app_name, more))

        real_step = local_deploy.run_step
        steps = []

        def step_then_crash(ctx, current, step, head):
            if steps:
                engines.kill(root)  # the engine dies between step 1 and step 2
            steps.append(step.number)
            return real_step(ctx, current, step, head)

        monkeypatch.setattr(local_deploy, "run_step", step_then_crash)
        result = deploy(str(schema), "--yes")
        assert result.exit_code == 1, result.output
        assert "error: lost the local engine at http://127.0.0.1:" in result.output
        assert "while applying step 2 (" in result.output
        assert "rerun the same deploy" in result.output
        assert "Traceback" not in result.output
        monkeypatch.setattr(local_deploy, "run_step", real_step)

        rerun = deploy(str(schema), "--yes")  # restarts the engine on the same data
        assert rerun.exit_code == 0, rerun.output
        assert rerun.output.startswith("  note: started DynamoDB Local at http://127.0.0.1:")
        assert "created index by_email" not in rerun.output  # done before the crash: not redone
        assert "Step 1/1: apply 1 change in one update: " in rerun.output
        client = local_deploy.client_for(engines.status(root).endpoint)
        assert count_items(client, f"{app_name}-dev-users") == 3
        assert set(gsis(describe(client, f"{app_name}-dev-users"))) == {"by_cognito_sub", "by_email", "by_role"}
        assert deploy(str(schema), "--yes").output.startswith("No changes")
    finally:
        engines.stop(root)


def test_without_yes_and_without_a_terminal_it_asks_for_yes(local_engine, app_name, tmp_path):
    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT))
    result = deploy(schema)
    assert result.exit_code == 2, result.output
    assert "no terminal to confirm on" in result.output and "--yes" in result.output
    assert "Invalid value" not in result.output  # --yes was never given (issue 23)
    assert f"{app_name}-dev-tenant" not in local_engine.client().list_tables()["TableNames"]


def test_declined_confirmation_changes_nothing(local_engine, app_name, tmp_path):
    from jobwork_infra.deploy import DeployRequest, events, flow
    from jobwork_infra.project import check_project

    schema = write(tmp_path / "tables.yaml", schema_text(app_name, TENANT))
    project, request = check_project(schema), DeployRequest(env="dev")
    asked, seen = [], []
    code = flow.deploy(project.resolve("dev"), request, local_deploy.LocalTarget(project, request, seen.append),
                       seen.append, lambda question: asked.append(question) or False)
    assert (code, asked) == (1, [f"Apply 1 step(s) to {app_name}-dev?"])
    assert seen[-1] == events.Cancelled()
    assert f"{app_name}-dev-tenant" not in local_engine.client().list_tables()["TableNames"]


def test_gsi_key_change_is_staged_delete_then_create(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS)), "--yes").exit_code == 0
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    put_users(client, name)
    write(schema, schema_text(app_name, USERS.replace("partition_key: cognito_sub", "partition_key: email")))
    result = deploy(str(schema), "--yes")
    assert result.exit_code == 0, result.output
    assert "Step 1/2: users: delete index by_cognito_sub\n" in result.output
    assert "Step 2/2: users: create index by_cognito_sub\n" in result.output
    index = gsis(describe(client, name))["by_cognito_sub"]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["email"]
    assert count_items(client, name) == 3
    assert deploy(str(schema), "--yes").output.startswith("No changes")


def test_allow_destructive_deletes_a_removed_table(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, TENANT + USERS)), "--yes").exit_code == 0
    result = deploy(write(schema, schema_text(app_name, TENANT)), "--yes", "--allow-destructive")
    assert result.exit_code == 0, result.output
    assert f"  ✓ deleted table {app_name}-dev-users (removed from the schema)\n" in result.output
    assert f"{app_name}-dev-users" not in local_engine.client().list_tables()["TableNames"]
    assert deploy(str(schema), "--yes").output.startswith("No changes")


@BOTH
def test_a_protected_table_is_refused_then_unprotected_in_its_own_step(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    protected = TENANT.replace("    attributes:", "    deletion_protection: true\n    attributes:", 1)
    assert deploy(write(schema, schema_text(app_name, protected + USERS)), "--yes").exit_code == 0
    name = f"{app_name}-dev-tenant"
    assert describe(local_engine.client(), name)["DeletionProtectionEnabled"]
    write(schema, schema_text(app_name, USERS))

    refused = deploy(str(schema), "--yes")
    assert refused.exit_code == 3, refused.output
    assert f"error: the plan deletes {name}, which has deletion protection on" in refused.output
    assert name in local_engine.client().list_tables()["TableNames"]

    allowed = deploy(str(schema), "--yes", "--allow-destructive")
    assert allowed.exit_code == 0, allowed.output
    assert f"Step 1/2: turn deletion protection off on {name}\n" in allowed.output
    assert f"  ✓ {name}: deletion protection off\n" in allowed.output
    assert f"  ✓ deleted table {name} (removed from the schema)\n" in allowed.output
    assert name not in local_engine.client().list_tables()["TableNames"]


@BOTH
def test_a_ttl_rename_completes_in_one_run_on_an_engine_without_the_hour(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    events = EVENTS.replace("      at: datetime\n", "      at: datetime\n      gone_at: epoch_seconds\n")
    assert deploy(write(schema, schema_text(app_name, events)), "--yes").exit_code == 0
    result = deploy(write(schema, schema_text(app_name, events.replace("ttl: expires_at", "ttl: gone_at"))), "--yes")
    assert result.exit_code == 0, result.output
    name = f"{app_name}-dev-events"
    assert f"Step 1/2: events: disable TTL on expires_at\n  ✓ {name}: TTL off (expires_at)\n" in result.output
    assert f"  ✓ {name}: TTL on gone_at\n" in result.output
    assert "can run after" not in result.output
    ttl = local_engine.client().describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "gone_at")


@pytest.mark.parametrize("path", ["rename", "start over empty"])
def test_the_hint_after_a_refused_key_change_of_a_retained_table_leads_to_a_deploy_that_works(
        local_engine, app_name, tmp_path, path):
    """Issue 13: "destroy, then deploy" was a dead end (destroy keeps retained tables, and the next
    deploy refuses the name they hold). Each path the hint gives is followed here, to the end."""
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS, policy="retain")), "--yes").exit_code == 0
    client = local_engine.client()
    name = f"{app_name}-dev-users"
    put_users(client, name)
    new_key = USERS.replace("sort_key: user_id", "sort_key: email")
    write(schema, schema_text(app_name, new_key, policy="retain"))
    refused = deploy(str(schema), "--yes", "--allow-destructive")
    assert refused.exit_code == 3
    hint = " ".join(refused.output.split())
    assert "destroy --env" not in hint
    if path == "rename":
        assert (f"give the new table another name (table_name: {name}-v2 on table users) and run "
                f"`jobwork-infra deploy --env dev --local --schema {schema} --allow-destructive`: the old table stays "
                "with its data "
                "(retained), unmanaged") in hint
        renamed = new_key.replace("  users:\n", f"  users:\n    table_name: {name}-v2\n")
        write(schema, schema_text(app_name, renamed, policy="retain"))
        done = deploy(str(schema), "--yes", "--allow-destructive")
        assert done.exit_code == 0, done.output
        assert keys(describe(client, f"{name}-v2")) == [("tenant_id", "HASH"), ("email", "RANGE")]
        assert count_items(client, name) == 3  # the old table and its data stay
    else:
        assert ("to start over empty under the same name: put the old key back, set removal_policy: destroy on "
                f"table users, run `jobwork-infra deploy --env dev --local --schema {schema}`, then change the key "
                f"again and run `jobwork-infra deploy --env dev --local --schema {schema} --allow-destructive`") in hint
        write(schema, schema_text(app_name, USERS, policy="destroy"))
        assert deploy(str(schema), "--yes").exit_code == 0
        write(schema, schema_text(app_name, new_key, policy="destroy"))
        done = deploy(str(schema), "--yes", "--allow-destructive")
        assert done.exit_code == 0, done.output
        assert keys(describe(client, name)) == [("tenant_id", "HASH"), ("email", "RANGE")]
        assert count_items(client, name) == 0
    assert deploy(str(schema), "--yes").output.startswith("No changes")


@pytest.mark.parametrize("renamed", ["environment", "app"])
def test_renaming_the_app_or_an_environment_is_refused_and_explained_not_an_empty_deploy(
        local_engine, app_name, tmp_path, renamed):
    """Issue 14, item 8: deploy used to exit 0, create empty tables and leave the old ones unmanaged."""
    schema = tmp_path / "tables.yaml"
    assert deploy(write(schema, schema_text(app_name, USERS)), "--yes").exit_code == 0
    client = local_engine.client()
    old = f"{app_name}-dev-users"
    put_users(client, old)
    if renamed == "environment":
        write(schema, schema_text(app_name, USERS).replace("  dev:\n", "  development:\n"))
        env, new, what = "development", f"{app_name}-development-users", "environment dev → development"
    else:
        write(schema, schema_text(f"{app_name}x", USERS))
        env, new, what = "dev", f"{app_name}x-dev-users", f"app {app_name} → {app_name}x"

    for args in (["--dry-run"], ["--yes"]):
        refused = deploy(str(schema), *args, env=env)
        assert refused.exit_code == 3, refused.output
        text = " ".join(refused.output.split())
        assert f"D110 table name: {what}: {new} would be created empty, while {old} stays with its data" in text
        assert (f"error: {what}: {new} would be created empty, while {old} stays with its data, no longer "
                "managed by jobwork-infra; nothing was changed") in text
        assert f"hint: to keep the data, keep the old name (table_name: {old} on the table" in text
        assert new not in client.list_tables()["TableNames"]

    allowed = deploy(str(schema), "--yes", "--allow-destructive", env=env)
    assert allowed.exit_code == 0, allowed.output
    assert count_items(client, new) == 0
    assert count_items(client, old) == 3  # the old table is left as it is
    assert deploy(str(schema), "--yes", env=env).output.startswith("No changes")


def test_another_project_on_the_same_engine_is_not_taken_for_a_rename(local_engine, app_name, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert deploy(write(first / "tables.yaml", schema_text(app_name, USERS)), "--yes").exit_code == 0
    other = deploy(write(second / "tables.yaml", schema_text(f"{app_name}x", USERS)), "--yes")
    assert other.exit_code == 0, other.output
    assert "D110" not in other.output
