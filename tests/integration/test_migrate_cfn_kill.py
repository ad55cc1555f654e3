"""Reliability on the CloudFormation target: a deploy SIGKILLed during stage B (after stage A's stack update
created generation N) — once in the copy, then again in the catch-up — resumes from its checkpoint each
time the same command runs again, and converges: no item lost, no deleted item back, no table deleted
(docs/migrate.md, "Failure and resume")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.migrate import copy as copy_module
from jobwork_infra.migrate.checkpoint import load, path_for
from tests.helpers import schema_text
from tests.migrate_support import scan_all, seed, user

pytestmark = pytest.mark.slow

ITEMS = 200
SCHEMA = schema_text(tables={"users": {"sort_key": "user_id", "attributes": {"user_id": "string", "email": "string"}}})
BUMPED = SCHEMA.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n")
REPO = Path(__file__).resolve().parent.parent.parent


def by_new_key(items: list[dict]) -> dict[tuple, dict]:
    return {(i["tenant_id"]["S"], i["email"]["S"]): i for i in items}


def template(cfn) -> dict:
    body = cfn.get_template(StackName="shop-dev")["TemplateBody"]
    return body if isinstance(body, dict) else json.loads(body)


def test_a_cloudformation_deploy_killed_in_the_copy_then_in_the_catch_up_resumes_and_converges(
        strict_aws, fast_polls, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA)
    command = ["deploy", "--env", "dev", "--schema", str(schema), "--endpoint-url", strict_aws.endpoint, "--yes"]
    assert (first := CliRunner().invoke(app, command)).exit_code == 0, first.output
    dynamodb, cfn = strict_aws.client("dynamodb"), strict_aws.client("cloudformation")
    seed(dynamodb, "shop-dev-users", ITEMS)
    schema.write_text(BUMPED)

    def killed_at(point: str) -> None:
        """The deploy in a child process that SIGKILLs itself at `point` (tests/migrate_cfn_kill.py)."""
        run = subprocess.run([sys.executable, "-m", "tests.migrate_cfn_kill", point, "--", *command], cwd=REPO,
                             check=False, env={**os.environ, "JOBWORK_ROOT": str(tmp_path)}, capture_output=True,
                             timeout=180)
        assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]

    # Killed after the copy's 6th BatchWriteItem landed, before that page's checkpoint.
    killed_at("copy:6")
    checkpoint = path_for(tmp_path, "dev", "shop-dev-users-g2")
    killed = load(checkpoint)
    assert killed.phase == "copying" and 0 < killed.copied < ITEMS
    assert any(s.last_key is not None and not s.done for s in killed.segments), "killed inside a segment"
    in_target = len(scan_all(dynamodb, "shop-dev-users-g2"))
    assert killed.copied < in_target, "the page written after the last checkpoint is in generation 2"
    # Stage A is complete, stage C never ran: the stack is consistent, generation 1 still its table of record.
    assert cfn.describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    staged = template(cfn)
    assert staged["Resources"]["UsersG2Table"]["Properties"]["TableName"] == "shop-dev-users-g2"
    assert staged["Metadata"]["JobworkInfra"]["Tables"]["users"]["TableName"] == "shop-dev-users"

    # The application keeps writing to generation 1 between the kill and the rerun.
    key = lambda n: {"tenant_id": user(n)["tenant_id"], "user_id": user(n)["user_id"]}
    deleted = [1, 2, 3, ITEMS - 1]   # spread over the segments: copied already, or not yet
    for n in deleted:
        dynamodb.delete_item(TableName="shop-dev-users", Key=key(n))
    dynamodb.update_item(TableName="shop-dev-users", Key=key(5), UpdateExpression="SET email = :e",
                         ExpressionAttributeValues={":e": {"S": "moved5@example.com"}})
    dynamodb.put_item(TableName="shop-dev-users", Item=user(ITEMS + 1))

    # Killed again after the catch-up's first BatchWriteItem (the writes above, replayed) landed, before the
    # checkpoint of the records it applied: the copy finished in this run, by resuming, not restarting.
    killed_at("catchup:1")
    caught = load(checkpoint)
    assert caught.phase == "copied" and all(s.done for s in caught.segments)
    assert caught.copied <= ITEMS + 1, "a restarted copy would count the checkpointed pages twice"
    assert not any(shard.after for shard in caught.shards.values()), "no replayed record was checkpointed"
    assert template(cfn)["Metadata"]["JobworkInfra"]["Tables"]["users"]["TableName"] == "shop-dev-users"

    written = []
    real_write = copy_module.write_items
    monkeypatch.setattr(copy_module, "write_items",
                        lambda client, table, requests, **k: written.append(len(requests)) or
                        real_write(client, table, requests, **k))
    resumed = CliRunner().invoke(app, command)

    assert resumed.exit_code == 0, resumed.output
    assert "resuming the migration of users (copied)" in resumed.output
    assert written == [], "the copy was done: the rerun only replays, verifies and records"
    source, target = scan_all(dynamodb, "shop-dev-users"), scan_all(dynamodb, "shop-dev-users-g2")
    assert by_new_key(target) == by_new_key(source)
    assert len(target) == ITEMS - len(deleted) + 1
    emails = {i["email"]["S"] for i in target}
    assert not emails & {user(n)["email"]["S"] for n in [*deleted, 5]}, "a deleted or moved item came back"
    assert "moved5@example.com" in emails
    # No table deleted: both generations live, generation 1 retained in the stack, 2 the table of record.
    assert sorted(dynamodb.list_tables()["TableNames"]) == ["shop-dev-users", "shop-dev-users-g2"]
    assert cfn.describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    final = template(cfn)
    assert final["Resources"]["UsersTable"]["DeletionPolicy"] == "Retain"
    assert final["Metadata"]["JobworkInfra"]["Tables"]["users"]["TableName"] == "shop-dev-users-g2"
    assert load(checkpoint).phase == "verified"
