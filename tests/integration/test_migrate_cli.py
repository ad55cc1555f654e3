"""`migrate status|sync|finish` on DynamoDB Local, over a migration the engine ran (tables made by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.migrate.aws import local_clients
from jobwork_infra.migrate.run import migrate_table
from tests.helpers import schema_text
from tests.migrate_support import create_table, job, scan_all, seed, user

pytestmark = [pytest.mark.slow, pytest.mark.local]
runner = CliRunner()

SCHEMA = schema_text(app="{app}", environments={"dev": "{{}}"}, tables="""\
  users:
    generation: 2
    sort_key: email
    attributes:
      user_id: string
      email: string
""")


def run(*args: str):
    return runner.invoke(app, list(args))


def test_status_sync_and_finish_without_then_with_allow_destructive(local_engine, app_name, tmp_path):
    client, streams = local_clients(local_engine.endpoint)
    source, target = f"{app_name}-dev-users", f"{app_name}-dev-users-g2"
    create_table(client, source, "user_id")
    create_table(client, target, "email")
    seed(client, source, 40)
    migrate_table(client, streams, job(app_name), local_engine.root)
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app=app_name))
    common = ("--env", "dev", "--schema", str(schema), "--local")

    status = run("migrate", "status", *common, "--format", "json")
    assert status.exit_code == 0, status.output
    [entry] = json.loads(status.stdout)["migrations"]
    assert (entry["table"], entry["phase"], entry["items_copied"], entry["last_verify"]["differences"]) == (
        "users", "verified", 40, 0)

    client.put_item(TableName=source, Item=user(41))  # the application still writes to generation 1
    client.delete_item(TableName=source, Key={"tenant_id": user(3)["tenant_id"], "user_id": user(3)["user_id"]})
    synced = run("migrate", "sync", *common)
    assert synced.exit_code == 0, synced.output
    assert "caught up from the stream of" in synced.output and "2 records" in synced.output
    assert len(scan_all(client, target)) == 40

    text = run("migrate", "status", *common)
    assert text.stdout.startswith(f"users: generation 1 → 2 ({source} → {target}): verified\n"), text.stdout

    kept = run("migrate", "finish", "users", *common)
    assert kept.exit_code == 0, kept.output
    assert f"Retired {source}: left in place with its 40 items" in kept.stdout
    assert source in client.list_tables()["TableNames"]
    again = run("migrate", "finish", "users", *common)
    assert f"users: already finished ({source} kept)." in again.stdout


def test_finish_with_allow_destructive_exports_then_deletes(local_engine, app_name, tmp_path):
    client, streams = local_clients(local_engine.endpoint)
    source, target = f"{app_name}-dev-users", f"{app_name}-dev-users-g2"
    create_table(client, source, "user_id")
    create_table(client, target, "email")
    seed(client, source, 25)
    migrate_table(client, streams, job(app_name), local_engine.root)
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app=app_name))
    gone = run("migrate", "finish", "users", "--env", "dev", "--schema", str(schema), "--local",
               "--allow-destructive", "--yes")
    assert gone.exit_code == 0, gone.output
    assert f"Retired {source}: deleted after a backup (" in gone.stdout
    backup = gone.stdout.split("deleted after a backup (", 1)[1].split(")", 1)[0]
    assert str(local_engine.root / ".jobwork" / "backups") in backup
    assert len(Path(backup).read_text().splitlines()) == 25
    assert source not in client.list_tables()["TableNames"]
    client.delete_table(TableName=target)


def test_finish_of_a_table_without_a_migration_says_how_to_list_them(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app=app_name))
    result = run("migrate", "finish", "users", "--env", "dev", "--schema", str(schema), "--local")
    assert result.exit_code == 1
    assert "no migration of table 'users' in dev" in result.output
    assert "migrate status --env dev --local" in result.output
