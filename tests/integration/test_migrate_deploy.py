"""Issue 17's user story on the local engine: bump `generation` and change the sort key, deploy while the
application writes, `migrate finish --allow-destructive`; every item is in generation 2 under the new
key, the deletes stayed deleted, generation 1 is gone after a backup, and codegen names generation 2."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.migrate.aws import local_clients
from jobwork_infra.migrate.checkpoint import load, path_for
from tests.helpers import schema_text
from tests.migrate_support import Writer, scan_all, seed, user

pytestmark = [pytest.mark.slow, pytest.mark.local]
runner = CliRunner()

GENERATION_1 = schema_text(app="{app}", environments={"dev": "{{}}"}, tables="""\
  users:
    sort_key: user_id
    removal_policy: destroy
    attributes:
      user_id: string
      email: string
""")
GENERATION_2 = GENERATION_1.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n")


def run(*args: str):
    return runner.invoke(app, list(args))


def by_new_key(items: list[dict]) -> dict[tuple, dict]:
    return {(i["tenant_id"]["S"], i["email"]["S"]): i for i in items}


@pytest.fixture
def story(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(GENERATION_1.format(app=app_name))
    deployed = run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema))
    assert deployed.exit_code == 0, deployed.output
    client, _ = local_clients(local_engine.endpoint)
    return schema, client, f"{app_name}-dev-users", f"{app_name}-dev-users-g2", local_engine.root


def test_the_user_story_end_to_end(story, tmp_path):
    schema, client, source, target, root = story
    seed(client, source, 300)
    schema.write_text(GENERATION_2.format(app=source.split("-dev-")[0]))
    dry = run("deploy", "--env", "dev", "--local", "--dry-run", "--schema", str(schema))
    assert dry.exit_code == 0, dry.output
    assert "D207" in dry.output and "2 steps" in dry.output and f"copy {source} into {target}" in dry.output
    assert f"copies 300 items from {source}" in dry.output.replace("\n", " ")  # deploy counted them

    writer = Writer(client, source, 300)
    checkpoint = path_for(root, "dev", target)

    def watch() -> None:  # the application writes until the copy has finished
        while not (checkpoint.exists() and load(checkpoint).at_least("copied")):
            time.sleep(0.05)
        writer.writes_during_copy = writer.writes
        writer.stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    writer.start()
    watcher.start()
    deployed = run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema))
    writer.stop.set()
    writer.join()
    watcher.join(timeout=5)
    assert deployed.exit_code == 0, deployed.output
    assert writer.writes_during_copy > 10
    assert "verified:" in deployed.output and "equal, item for item" in deployed.output

    assert run("migrate", "sync", "--env", "dev", "--local", "--schema", str(schema)).exit_code == 0
    snapshot = by_new_key(scan_all(client, source))
    status = json.loads(run("migrate", "status", "--env", "dev", "--local", "--schema", str(schema),
                            "--format", "json").stdout)
    assert [m["phase"] for m in status["migrations"]] == ["verified"]

    finished = run("migrate", "finish", "users", "--env", "dev", "--local", "--schema", str(schema),
                   "--allow-destructive", "--yes")
    assert finished.exit_code == 0, finished.output
    assert source not in client.list_tables()["TableNames"]
    assert list((root / ".jobwork" / "backups").glob(f"{source}-*.jsonl"))
    final = by_new_key(scan_all(client, target))
    assert final == snapshot
    assert not writer.deleted & set(final), "a deleted item came back"

    again = run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema))
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    out = tmp_path / "gen"
    generated = run("codegen", "python", "--out", str(out), "--schema", str(schema))
    assert generated.exit_code == 0, generated.output
    assert any(target in p.read_text() for p in out.rglob("*.py"))
    client.delete_table(TableName=target)


def test_unkeyed_items_refuse_the_deploy_then_are_left_behind_with_skip_unkeyed(story):
    schema, client, source, target, root = story
    seed(client, source, 20)
    lacking = user(50)
    del lacking["email"]
    client.put_item(TableName=source, Item=lacking)
    schema.write_text(GENERATION_2.format(app=source.split("-dev-")[0]))
    refused = run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema))
    assert refused.exit_code == 3, refused.output
    assert "1 item(s) of" in refused.output and "u000050: lacks email" in refused.output
    assert "--skip-unkeyed" in refused.output
    assert scan_all(client, target) == []

    skipped = run("deploy", "--env", "dev", "--local", "--yes", "--skip-unkeyed", "--schema", str(schema))
    assert skipped.exit_code == 0, skipped.output
    listed = path_for(root, "dev", target).with_suffix(".unkeyed.jsonl")
    assert str(listed) in skipped.output.replace("\n", "")
    assert [json.loads(line)["item"]["user_id"]["S"] for line in listed.read_text().splitlines()] == ["u000050"]
    assert len(scan_all(client, target)) == 20
    for name in (source, target):
        client.delete_table(TableName=name)


def test_a_stream_of_another_view_type_on_generation_1_is_refused_with_the_reason(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    streaming = GENERATION_1.replace("    removal_policy: destroy\n", "    removal_policy: destroy\n    stream: new_image\n")
    schema.write_text(streaming.format(app=app_name))
    assert run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema)).exit_code == 0
    bumped = streaming.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n")
    schema.write_text(bumped.format(app=app_name))
    refused = run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema))
    assert refused.exit_code == 3, refused.output
    assert f"{app_name}-dev-users (new_image) has another view type" in refused.output
    assert "nothing was changed" in refused.output
    client, _ = local_clients(local_engine.endpoint)
    spec = client.describe_table(TableName=f"{app_name}-dev-users")["Table"]["StreamSpecification"]
    assert spec == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert f"{app_name}-dev-users-g2" not in client.list_tables()["TableNames"]
    client.delete_table(TableName=f"{app_name}-dev-users")


def test_a_deploy_killed_during_the_copy_resumes_when_run_again(story):
    """Reliability: SIGKILL of `deploy` mid-copy; the next deploy plans the same migration and resumes it."""
    import os
    import signal
    import subprocess
    import sys

    schema, client, source, target, root = story
    seed(client, source, 1500)
    schema.write_text(GENERATION_2.format(app=source.split("-dev-")[0]))
    checkpoint = path_for(root, "dev", target)
    command = [sys.executable, str(Path(__file__).resolve().parent.parent.parent / "cli.py"), "deploy", "--env", "dev", "--local", "--yes",
               "--schema", str(schema)]
    process = subprocess.Popen(command, env={**os.environ, "JOBWORK_ROOT": str(root)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = load(checkpoint) if checkpoint.exists() else None
            if state is not None and state.phase == "copying" and 0 < state.copied < 1500:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    killed = load(checkpoint)
    assert killed.phase == "copying" and 0 < killed.copied < 1500

    client.delete_item(TableName=source, Key={"tenant_id": user(7)["tenant_id"], "user_id": user(7)["user_id"]})
    resumed = run("deploy", "--env", "dev", "--local", "--yes", "--schema", str(schema))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming the migration of users (copying)" in resumed.output
    assert by_new_key(scan_all(client, target)) == by_new_key(scan_all(client, source))
    assert len(scan_all(client, target)) == 1499
    for name in (source, target):
        client.delete_table(TableName=name)
