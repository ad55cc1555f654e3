"""Issue 9's "done when", as a new user runs it: `jobwork-infra deploy` against the strict AWS double.

Each test ends without a rollback: the double rolls back any update AWS would refuse (a second index
operation while one is backfilling, a TTL change inside the hour, a protected table deleted), so a
deploy that does not wait, stage and record as AWS requires fails here. Timings of the staged
deploys are printed with `-s` (see the report in docs/deploy.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.timing import TIMING
from tests.conftest import ROOT, after_caller
from tests.helpers import schema_text

pytestmark = pytest.mark.slow  # CDK synth, and the double's backfills run in real time

SCHEMA = schema_text(tables="""\
  users:
    sort_key: user_id
{users}
    attributes:
      user_id: uuid
      email: string
      role: string
      expires_at: epoch_seconds
      gone_at: epoch_seconds
{indexes}
{audit}""")
AUDIT = """\
  audit:
    sort_key: at
    removal_policy: retain
    attributes:
      at: datetime
"""
BY_EMAIL = "      by_email: {partition_key: tenant_id, sort_key: email}\n"
BY_ROLE = "      by_role: {partition_key: tenant_id, sort_key: role, projection: keys_only}\n"


def text(indexes: str = "", users: str = "", audit: str = AUDIT) -> str:
    return SCHEMA.format(indexes=("    global_indexes:\n" + indexes) if indexes else "", users=users, audit=audit)


@pytest.fixture(autouse=True)
def on_the_doubles_clock(monkeypatch, strict_aws):
    monkeypatch.setattr(TIMING, "stack_poll", 0)
    monkeypatch.setattr(TIMING, "change_set_poll", 0)
    monkeypatch.setattr(TIMING, "first_poll", 0.1)
    monkeypatch.setattr(TIMING, "now", strict_aws.clock.now)


@pytest.fixture
def aws(strict_aws):
    return strict_aws


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "tables.yaml"

    def write(content: str) -> Path:
        path.write_text(content)
        return path
    return write


def deploy(path: Path, aws, *extra: str):
    started = time.monotonic()
    result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url",
                                      aws.endpoint, *extra], catch_exceptions=False)
    result.seconds = time.monotonic() - started
    return result


def put_items(aws, table: str, count: int = 5) -> None:
    ddb = aws.client("dynamodb")
    for n in range(count):
        ddb.put_item(TableName=table, Item={"tenant_id": {"S": "t1"}, "user_id": {"S": f"u{n}"},
                                            "email": {"S": f"u{n}@x"}, "role": {"S": "admin"},
                                            "at": {"S": f"2026-01-0{n + 1}"}})


def item_count(aws, table: str) -> int:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def stack_status(aws) -> str:
    return aws.client("cloudformation").describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"]


def no_rollback(aws) -> None:
    assert aws.resource_failures("shop-dev") == []
    statuses = [e["ResourceStatus"] for e in aws.stack_events("shop-dev")]
    assert not [s for s in statuses if "ROLLBACK" in s], statuses


def indexes(aws, table: str) -> dict[str, str]:
    described = aws.client("dynamodb").describe_table(TableName=table)["Table"]
    return {i["IndexName"]: i["IndexStatus"] for i in described.get("GlobalSecondaryIndexes", [])}


def ttl(aws, table: str) -> tuple[str, str | None]:
    d = aws.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    return d["TimeToLiveStatus"], d.get("AttributeName")


# ---------------------------------------------------------------------------------------------

def test_the_projects_schema_deploys(aws, tmp_path):
    from jobwork_infra.project import check_project

    stack = check_project(ROOT / "schema" / "tables.yaml").resolve("dev").stack_name
    result = deploy(ROOT / "schema" / "tables.yaml", aws, "--yes")
    assert result.exit_code == 0, result.output
    cfn = aws.client("cloudformation")
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert "Verified on the live tables: " in result.output
    assert aws.resource_failures(stack) == []
    again = deploy(ROOT / "schema" / "tables.yaml", aws)
    assert after_caller(again.output).startswith("No changes: stack "), again.output


def test_two_gsis_added_at_once_land_in_two_steps_with_every_item_kept(aws, schema):
    path = schema(text())
    assert deploy(path, aws, "--yes").exit_code == 0
    put_items(aws, "shop-dev-users")
    aws.backfill_seconds = 2.0
    schema(text(BY_EMAIL + BY_ROLE))

    result = deploy(path, aws, "--yes")

    assert result.exit_code == 0, result.output
    assert "Step 1/2: users: create index by_email" in result.output
    assert "Step 2/2: users: create index by_role" in result.output
    assert "waiting for index by_email of shop-dev-users CREATING" in result.output  # the backfill, shown
    assert indexes(aws, "shop-dev-users") == {"by_email": "ACTIVE", "by_role": "ACTIVE"}
    assert item_count(aws, "shop-dev-users") == 5
    assert stack_status(aws) == "UPDATE_COMPLETE"
    no_rollback(aws)
    # backfills of 2 s each must be waited for: the deploy cannot take less
    assert result.seconds >= 4
    print(f"\ntwo GSIs, 2 s backfill each: {result.seconds:.1f} s")


def test_a_gsi_key_change_is_a_delete_then_a_create(aws, schema):
    path = schema(text(BY_EMAIL))
    assert deploy(path, aws, "--yes").exit_code == 0
    put_items(aws, "shop-dev-users")
    schema(text("      by_email: {partition_key: tenant_id, sort_key: role}\n"))

    result = deploy(path, aws, "--yes")

    assert result.exit_code == 0, result.output
    assert "Step 1/2: users: delete index by_email" in result.output
    assert "Step 2/2: users: create index by_email" in result.output
    described = aws.client("dynamodb").describe_table(TableName="shop-dev-users")["Table"]
    [index] = described["GlobalSecondaryIndexes"]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["tenant_id", "role"]
    assert index["IndexStatus"] == "ACTIVE"
    assert item_count(aws, "shop-dev-users") == 5
    no_rollback(aws)
    print(f"\nGSI key change: {result.seconds:.1f} s")


def test_a_ttl_rename_waits_out_the_hour_and_then_completes(aws, schema):
    path = schema(text(users="    ttl: expires_at"))
    assert deploy(path, aws, "--yes").exit_code == 0
    assert ttl(aws, "shop-dev-users") == ("ENABLED", "expires_at")
    dynamodb = aws.client("dynamodb")
    for n, extra in enumerate(({}, {}, {"gone_at": {"N": "9"}})):  # two items written before, one by new code
        dynamodb.put_item(TableName="shop-dev-users", Item={
            "tenant_id": {"S": "t1"}, "user_id": {"S": f"u{n}"}, "expires_at": {"N": str(2_000_000_000 + n)}, **extra})
    schema(text(users="    ttl: gone_at"))

    # Created with TTL: the hour runs from the creation, so not even step 1 may run yet.
    early = deploy(path, aws, "--yes")
    assert early.exit_code == 0, early.output
    assert "Step 1 of 2 can run after " in early.output
    assert "2 items carry only expires_at" in " ".join(early.output.split())  # counted by a Scan of the table
    assert ttl(aws, "shop-dev-users") == ("ENABLED", "expires_at")

    aws.clock.advance(3600)
    first = deploy(path, aws, "--yes", "--backfill-ttl")  # gone_at written from expires_at before step 1
    assert first.exit_code == 0, first.output
    assert "Step 1/2: users: disable TTL on expires_at" in first.output
    assert "shop-dev-users: wrote gone_at from expires_at on 2 items" in " ".join(first.output.split())
    stored = {i["user_id"]["S"]: i for i in dynamodb.scan(TableName="shop-dev-users")["Items"]}
    assert [stored[u]["gone_at"] for u in ("u0", "u1", "u2")] == [
        {"N": "2000000000"}, {"N": "2000000001"}, {"N": "9"}]  # new code's own value kept
    assert "Step 2 of 2 can run after " in first.output and "run deploy again then" in first.output
    assert ttl(aws, "shop-dev-users") == ("DISABLED", "expires_at")  # disabled explicitly, not left on

    inside = deploy(path, aws, "--yes")  # a rerun inside the hour changes nothing and says when
    assert inside.exit_code == 0, inside.output
    assert "Step 1 of 1 can run after " in inside.output
    when = first.output.split("can run after ")[1][:9]
    assert inside.output.split("can run after ")[1][:9] == when
    assert ttl(aws, "shop-dev-users") == ("DISABLED", "expires_at")

    aws.clock.advance(3600)
    last = deploy(path, aws, "--yes")
    assert last.exit_code == 0, last.output
    assert ttl(aws, "shop-dev-users") == ("ENABLED", "gone_at")
    assert after_caller(deploy(path, aws).output).startswith("No changes")
    no_rollback(aws)


def test_wait_sleeps_through_the_cool_down(aws, schema, monkeypatch):
    path = schema(text(users="    ttl: expires_at"))
    assert deploy(path, aws, "--yes").exit_code == 0
    aws.clock.advance(3600)
    schema(text(users="    ttl: gone_at"))
    slept = []
    monkeypatch.setattr(TIMING, "sleep", lambda seconds: (slept.append(seconds), aws.clock.advance(seconds)))

    result = deploy(path, aws, "--yes", "--wait")

    assert result.exit_code == 0, result.output
    assert "waiting (--wait)" in result.output
    assert len(slept) == 1 and 3500 < slept[0] <= 3600
    assert ttl(aws, "shop-dev-users") == ("ENABLED", "gone_at")
    no_rollback(aws)


def test_removing_a_table_under_retain_keeps_it_with_its_items(aws, schema):
    path = schema(text())
    assert deploy(path, aws, "--yes").exit_code == 0
    put_items(aws, "shop-dev-audit", 3)
    schema(text(audit=""))

    result = deploy(path, aws, "--yes")

    assert result.exit_code == 0, result.output
    assert "D309" in result.output
    assert item_count(aws, "shop-dev-audit") == 3
    assert "shop-dev-audit" in aws.client("dynamodb").list_tables()["TableNames"]
    no_rollback(aws)

    # Re-adding it would create a table whose name the retained one holds: refused before any change set,
    # naming --adopt (which imports the retained table back, items and all).
    schema(text())
    again = deploy(path, aws, "--yes")
    assert again.exit_code == 3, again.output
    assert ("table shop-dev-audit already exists under the schema's names but is not managed by environment dev"
            in again.output)
    assert "rerun with --adopt" in again.output
    changes = aws.client("cloudformation").list_change_sets(StackName="shop-dev")["Summaries"]
    assert all(c["ExecutionStatus"] == "EXECUTE_COMPLETE" for c in changes)
    adopted = deploy(path, aws, "--yes", "--adopt")
    assert adopted.exit_code == 0, adopted.output
    assert item_count(aws, "shop-dev-audit") == 3
    no_rollback(aws)


def test_a_reused_table_name_under_a_new_key_is_refused(aws, schema):
    path = schema(text(audit=AUDIT.replace("removal_policy: retain", "table_name: shop-audit")))
    assert deploy(path, aws, "--yes").exit_code == 0
    schema(text(audit=AUDIT.replace("audit:", "journal:").replace("removal_policy: retain", "table_name: shop-audit")))

    result = deploy(path, aws, "--yes")

    assert result.exit_code == 3, result.output
    assert "table shop-audit cannot be created under key journal" in result.output
    assert "keep the YAML key audit" in result.output


def test_a_deletion_protected_table_is_refused_then_removed_with_allow_destructive(aws, schema):
    protected = AUDIT.replace("removal_policy: retain", "removal_policy: destroy\n    deletion_protection: true")
    path = schema(text(audit=protected))
    assert deploy(path, aws, "--yes").exit_code == 0
    assert aws.client("dynamodb").describe_table(TableName="shop-dev-audit")["Table"]["DeletionProtectionEnabled"]
    schema(text(audit=""))

    refused = deploy(path, aws, "--yes")
    assert refused.exit_code == 3, refused.output
    assert "error: the plan deletes shop-dev-audit, which has deletion protection on" in refused.output
    assert "--allow-destructive" in refused.output
    assert "shop-dev-audit" in aws.client("dynamodb").list_tables()["TableNames"]

    allowed = deploy(path, aws, "--yes", "--allow-destructive")
    assert allowed.exit_code == 0, allowed.output
    assert "Step 1/2: turn deletion protection off on shop-dev-audit" in allowed.output
    assert "shop-dev-audit" not in aws.client("dynamodb").list_tables()["TableNames"]
    no_rollback(aws)


def test_destroy_of_a_protected_table_is_refused_unless_allowed(aws, schema):
    protected = AUDIT.replace("removal_policy: retain", "removal_policy: destroy\n    deletion_protection: true")
    path = schema(text(audit=protected))
    assert deploy(path, aws, "--yes").exit_code == 0
    run = lambda *extra: CliRunner().invoke(app, ["destroy", "--env", "dev", "--schema", str(path),
                                                  "--endpoint-url", aws.endpoint, "--yes", *extra])
    refused = run()
    assert refused.exit_code == 3, refused.output
    assert "shop-dev-audit has deletion protection on" in refused.output
    assert stack_status(aws) == "CREATE_COMPLETE"

    allowed = run("--allow-destructive")
    assert allowed.exit_code == 0, allowed.output
    assert aws.client("dynamodb").list_tables()["TableNames"] == []


def test_a_stray_index_stops_the_plan_and_says_how_to_remove_it(aws, schema):
    path = schema(text())
    assert deploy(path, aws, "--yes").exit_code == 0
    aws.client("dynamodb").update_table(
        TableName="shop-dev-users",
        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                              {"AttributeName": "email", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by_hand", "KeySchema": [
            {"AttributeName": "tenant_id", "KeyType": "HASH"}, {"AttributeName": "email", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}}])
    schema(text(BY_EMAIL))

    drifted = deploy(path, aws, "--yes")  # the drift check comes first
    assert drifted.exit_code == 3, drifted.output
    assert "change(s) made to stack shop-dev" in drifted.output and "index by_hand" in drifted.output
    assert "--allow-drift" in drifted.output

    result = deploy(path, aws, "--yes", "--allow-drift")  # CloudFormation still cannot go over it

    assert result.exit_code == 3, result.output
    assert "index by_hand of table shop-dev-users exists" in result.output
    assert "the template of stack shop-dev does not have it" in result.output
    assert "--global-secondary-index-updates" in result.output


def test_timeout_says_the_stack_is_consistent_and_a_rerun_resumes(aws, schema):
    path = schema(text())
    assert deploy(path, aws, "--yes").exit_code == 0
    aws.backfill_seconds = 5.0
    schema(text(BY_EMAIL + BY_ROLE))

    result = deploy(path, aws, "--yes", "--timeout", "1")

    assert result.exit_code == 1, result.output
    assert "gave up waiting after" in result.output and "index by_email of shop-dev-users CREATING" in result.output
    assert "run deploy again to resume" in result.output
    aws.backfill_seconds = 0.5
    resumed = deploy(path, aws, "--yes")
    assert resumed.exit_code == 0, resumed.output
    # it first waits for the index the last run left backfilling, then plans only what is left
    assert after_caller(resumed.output).startswith("  ") and "waiting for index by_email of shop-dev-users" in resumed.output
    assert "Step 1/1: apply 1 change in one update" in resumed.output
    assert "index by_role is created" in resumed.output and "index by_email is created" not in resumed.output
    assert set(indexes(aws, "shop-dev-users")) == {"by_email", "by_role"}
    no_rollback(aws)


def test_a_failed_update_shows_awss_reason_and_the_rolled_back_stack(aws, schema):
    path = schema(text())
    assert deploy(path, aws, "--yes").exit_code == 0
    aws.fail_next("UsersTable", "Internal failure injected by the test")
    schema(text(BY_EMAIL))

    result = deploy(path, aws, "--yes")

    assert result.exit_code == 1, result.output
    assert "Failed:" in result.output
    assert "UsersTable (AWS::DynamoDB::Table): Internal failure injected by the test" in result.output
    assert "error: update of stack shop-dev failed; the stack is now UPDATE_ROLLBACK_COMPLETE" in result.output
    assert indexes(aws, "shop-dev-users") == {}


def test_ttl_removed_from_the_schema_is_turned_off_not_left_on(aws, schema):
    path = schema(text(users="    ttl: expires_at"))
    assert deploy(path, aws, "--yes").exit_code == 0
    aws.clock.advance(3600)
    schema(text())

    result = deploy(path, aws, "--yes")

    assert result.exit_code == 0, result.output
    assert "D304" in result.output
    # the double, like AWS, leaves TTL on when TimeToLiveSpecification is only left out
    assert ttl(aws, "shop-dev-users") == ("DISABLED", "expires_at")
    assert after_caller(deploy(path, aws).output).startswith("No changes")  # the disabled spec is carried, not re-sent
    no_rollback(aws)


def test_a_failed_create_is_rolled_back_and_destroy_then_deploy_recovers(aws, schema):
    path = schema(text())
    aws.fail_next("UsersTable", "Internal failure injected by the test")

    failed = deploy(path, aws, "--yes")
    assert failed.exit_code == 1, failed.output
    assert "the stack is now ROLLBACK_COMPLETE" in failed.output

    stuck = deploy(path, aws, "--yes")
    assert stuck.exit_code == 1
    assert "stack shop-dev is ROLLBACK_COMPLETE" in stuck.output
    assert "delete it with `jobwork-infra destroy --env dev`, then deploy again" in stuck.output

    destroyed = CliRunner().invoke(app, ["destroy", "--env", "dev", "--schema", str(path), "--endpoint-url",
                                         aws.endpoint, "--yes"])
    assert destroyed.exit_code == 0, destroyed.output
    assert deploy(path, aws, "--yes").exit_code == 0
    assert stack_status(aws) == "CREATE_COMPLETE"
