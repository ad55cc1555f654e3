"""A generation bump on the CloudFormation target, through the strict AWS double: the staged path
(docs/migrate.md, "On AWS (CloudFormation)") — generation N added under its own logical id, the
items copied through the DynamoDB API, N the table of record, N-1 retained and replicated."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.helpers import schema_text

pytestmark = pytest.mark.slow

SCHEMA = schema_text(tables={"users": {"sort_key": "user_id", "attributes": {"user_id": "string", "email": "string"}}})
BUMPED = SCHEMA.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n")


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls, tmp_path, monkeypatch):
    """Through the strict double, polling at once (tests/plugins/timing.py); checkpoints under tmp_path."""
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))


def deploy(path, endpoint: str, *extra: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint,
                                    "--yes", *extra])


def user(n: int, email: str | None = None) -> dict:
    item = {"tenant_id": {"S": "t1"}, "user_id": {"S": f"u{n}"}, "name": {"S": f"user {n}"}}
    if email is not False:
        item["email"] = {"S": email or f"u{n}@x"}
    return item


def test_a_generation_bump_on_cloudformation_copies_every_item_and_keeps_the_old_generation(strict_aws, tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    first = deploy(path, strict_aws.endpoint)
    assert first.exit_code == 0, first.output
    dynamodb = strict_aws.client("dynamodb")
    for n in range(120):
        dynamodb.put_item(TableName="shop-dev-users", Item=user(n))
    path.write_text(BUMPED)

    result = deploy(path, strict_aws.endpoint)

    assert result.exit_code == 0, result.output
    assert sorted(dynamodb.list_tables()["TableNames"]) == ["shop-dev-users", "shop-dev-users-g2"]
    copied = {i["email"]["S"]: i for page in dynamodb.get_paginator("scan").paginate(TableName="shop-dev-users-g2")
              for i in page["Items"]}
    assert copied == {f"u{n}@x": user(n) for n in range(120)}
    assert dynamodb.scan(TableName="shop-dev-users", Select="COUNT")["Count"] == 120
    old = dynamodb.describe_table(TableName="shop-dev-users")["Table"]
    assert old["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [k["AttributeName"] for k in dynamodb.describe_table(TableName="shop-dev-users-g2")["Table"]
            ["KeySchema"]] == ["tenant_id", "email"]

    cfn = strict_aws.client("cloudformation")
    template = cfn.get_template(StackName="shop-dev", TemplateStage="Original")["TemplateBody"]
    template = template if isinstance(template, dict) else json.loads(template)
    resources = template["Resources"]
    # N under its own logical id; N-1 under its own, retained; the consumer compiled in.
    assert resources["UsersG2Table"]["Properties"]["TableName"] == "shop-dev-users-g2"
    assert resources["UsersTable"]["Properties"]["TableName"] == "shop-dev-users"
    assert resources["UsersTable"]["DeletionPolicy"] == "Retain"
    assert resources["UsersReplicationFunction"]["Type"] == "AWS::Lambda::Function"
    assert resources["UsersReplicationMapping"]["Properties"]["EventSourceArn"] == {
        "Fn::GetAtt": ["UsersTable", "StreamArn"]}
    # The manifest (and so codegen) names generation 2 as the table of record.
    manifest = template["Metadata"]["JobworkInfra"]["Tables"]["users"]
    assert manifest == {"LogicalId": "UsersG2Table", "TableName": "shop-dev-users-g2"}
    assert template["Metadata"]["JobworkInfra"]["Migrating"]["users"]["previous"] == "UsersTable"
    stack = cfn.describe_stacks(StackName="shop-dev")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    import cfnlint.api

    assert [f"{m.rule.id}: {m.message}" for m in cfnlint.api.lint(json.dumps(template), regions=["us-east-1"])
            if m.rule.id.startswith("E")] == []

    again = deploy(path, strict_aws.endpoint)
    assert again.exit_code == 0, again.output
    assert "shop-dev-users" in dynamodb.list_tables()["TableNames"]
    assert "UsersReplicationFunction" in json.dumps(cfn.get_template(StackName="shop-dev")["TemplateBody"])


def test_items_without_the_new_key_are_refused_on_cloudformation_before_any_copy(strict_aws, tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    assert deploy(path, strict_aws.endpoint).exit_code == 0
    dynamodb = strict_aws.client("dynamodb")
    dynamodb.put_item(TableName="shop-dev-users", Item=user(1))
    dynamodb.put_item(TableName="shop-dev-users", Item=user(2, email=False))
    path.write_text(BUMPED)

    refused = deploy(path, strict_aws.endpoint)

    assert refused.exit_code == 3, refused.output
    assert "lacks email" in refused.output
    assert dynamodb.scan(TableName="shop-dev-users", Select="COUNT")["Count"] == 2
    assert dynamodb.scan(TableName="shop-dev-users-g2", Select="COUNT")["Count"] == 0

    skipped = deploy(path, strict_aws.endpoint, "--skip-unkeyed")
    assert skipped.exit_code == 0, skipped.output
    assert [i["email"]["S"] for i in dynamodb.scan(TableName="shop-dev-users-g2")["Items"]] == ["u1@x"]
    assert dynamodb.scan(TableName="shop-dev-users", Select="COUNT")["Count"] == 2


def finish(path, endpoint: str, *extra: str):
    return CliRunner().invoke(app, ["migrate", "finish", "users", "--env", "dev", "--schema", str(path),
                                    "--endpoint-url", endpoint, "--yes", *extra])


def template_of(strict_aws) -> dict:
    body = strict_aws.client("cloudformation").get_template(StackName="shop-dev")["TemplateBody"]
    return body if isinstance(body, dict) else json.loads(body)


@pytest.mark.parametrize("destructive", [False, True], ids=["kept", "deleted"])
def test_migrate_finish_on_cloudformation_replays_verifies_and_retires_the_old_generation(strict_aws, tmp_path,
                                                                                          destructive):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    assert deploy(path, strict_aws.endpoint).exit_code == 0
    dynamodb = strict_aws.client("dynamodb")
    for n in range(30):
        dynamodb.put_item(TableName="shop-dev-users", Item=user(n))
    path.write_text(BUMPED)
    assert (migrated := deploy(path, strict_aws.endpoint)).exit_code == 0, migrated.output
    # The application still writes to generation 1 until it moves (the Lambda consumer cannot run
    # here): finish replays these from the stream.
    dynamodb.put_item(TableName="shop-dev-users", Item=user(100))
    dynamodb.delete_item(TableName="shop-dev-users", Key={"tenant_id": {"S": "t1"}, "user_id": {"S": "u0"}})

    done = finish(path, strict_aws.endpoint, *(["--allow-destructive"] if destructive else []))

    assert done.exit_code == 0, done.output
    emails = {i["email"]["S"] for i in dynamodb.scan(TableName="shop-dev-users-g2")["Items"]}
    assert emails == {f"u{n}@x" for n in range(1, 30)} | {"u100@x"}
    resources = template_of(strict_aws)["Resources"]
    assert "UsersTable" not in resources and "UsersReplicationFunction" not in resources
    assert "UsersG2Table" in resources
    assert "Migrating" not in template_of(strict_aws)["Metadata"]["JobworkInfra"]
    backups = dynamodb.list_backups(TableName="shop-dev-users")["BackupSummaries"]
    if destructive:
        assert "shop-dev-users" not in dynamodb.list_tables()["TableNames"]
        assert [b["BackupStatus"] for b in backups] == ["AVAILABLE"]
        assert "deleted by stack shop-dev after a backup" in done.output
    else:
        assert dynamodb.scan(TableName="shop-dev-users", Select="COUNT")["Count"] == 30
        assert backups == []
        assert "retained with its" in done.output
    assert deploy(path, strict_aws.endpoint).exit_code == 0


def test_the_user_story_on_cloudformation_with_a_writer_during_the_copy(strict_aws, tmp_path):
    """Deploy the bump while the application writes to generation 1, then `migrate finish
    --allow-destructive`: generation 2 equals generation 1 item for item (0 lost, 0 resurrected),
    generation 1 is gone after a CreateBackup, and codegen names generation 2."""
    import threading
    import time

    from jobwork_infra.migrate.checkpoint import load, path_for
    from tests.migrate_support import Writer, scan_all, seed

    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    assert deploy(path, strict_aws.endpoint).exit_code == 0
    dynamodb = strict_aws.client("dynamodb")
    seed(dynamodb, "shop-dev-users", 300)
    path.write_text(BUMPED)
    writer = Writer(strict_aws.client("dynamodb"), "shop-dev-users", 300)
    checkpoint = path_for(tmp_path, "dev", "shop-dev-users-g2")

    def watch() -> None:  # the application writes until the copy has finished
        while not (checkpoint.exists() and load(checkpoint).at_least("copied")):
            time.sleep(0.02)
        writer.writes_during_copy = writer.writes
        writer.stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    writer.start()
    watcher.start()
    deployed = deploy(path, strict_aws.endpoint)
    writer.stop.set()
    writer.join()
    watcher.join(timeout=5)
    assert deployed.exit_code == 0, deployed.output
    assert writer.writes_during_copy > 0
    assert "equal, item for item" in deployed.output

    snapshot = {(i["tenant_id"]["S"], i["email"]["S"]): i for i in scan_all(dynamodb, "shop-dev-users")}
    finished = finish(path, strict_aws.endpoint, "--allow-destructive")
    assert finished.exit_code == 0, finished.output
    final = {(i["tenant_id"]["S"], i["email"]["S"]): i for i in scan_all(dynamodb, "shop-dev-users-g2")}
    assert final == snapshot
    assert not writer.deleted & set(final), "a deleted item came back"
    assert "shop-dev-users" not in dynamodb.list_tables()["TableNames"]
    assert len(dynamodb.list_backups(TableName="shop-dev-users")["BackupSummaries"]) == 1

    out = tmp_path / "gen"
    generated = CliRunner().invoke(app, ["codegen", "python", "--out", str(out), "--schema", str(path)])
    assert generated.exit_code == 0, generated.output
    assert any("shop-dev-users-g2" in p.read_text() for p in out.rglob("*.py"))
