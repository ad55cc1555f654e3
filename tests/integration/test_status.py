"""`status`: what is deployed, per stack, read from the live tables (DynamoDB Local and the strict double)."""

from __future__ import annotations

import json
import textwrap

import pytest

from jobwork_infra.deploy.timing import TIMING
from tests.helpers import run_cli as run

pytestmark = pytest.mark.slow

TABLES = """\
  tenant:
    attributes:
      tenant_id: uuid
  users:
    sort_key: user_id
    ttl: expires_at
    attributes:
      tenant_id: uuid
      user_id: uuid
      email: string
      expires_at: epoch_seconds
    global_indexes:
      by_email: {partition_key: tenant_id, sort_key: email}
"""


def schema_text(app_name: str, tables: str = TABLES) -> str:
    return textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        environments:
          dev:
            removal_policy: destroy
        tables:
        """) + tables


def test_status_on_the_local_engine_shows_every_table_as_deployed(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name))
    common = ["--env", "dev", "--local", "--schema", str(schema)]
    assert run("deploy", *common, "--yes").exit_code == 0
    client = local_engine.client()
    for n in range(3):
        client.put_item(TableName=f"{app_name}-dev-users", Item={
            "tenant_id": {"S": "t1"}, "user_id": {"S": f"u{n}"}, "email": {"S": f"u{n}@x"}})
    schema.write_text(schema_text(app_name, TABLES + "  orders:\n    attributes:\n      tenant_id: uuid\n"))

    result = run("status", *common)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Status of environment dev on DynamoDB Local ({local_engine.endpoint})"
    assert lines[1].startswith(f"stack {app_name}-dev (local engine; deployed 20")
    assert lines[1].endswith("; deploy serial 1)")  # the registry's serial item: one apply so far
    assert lines[-1] == "migrations in progress: none"
    at = lines.index(f"  users → {app_name}-dev-users: ACTIVE, 3 items")
    assert lines[at + 1:at + 5] == [
        "    keys: tenant_id (S) + user_id (S)",
        "    indexes: by_email (global) tenant_id (S) + email (S): ACTIVE",
        "    ttl: expires_at (ENABLED); billing: on_demand",
        "    protections: removal_policy destroy, point-in-time recovery not reported, deletion protection off",
    ]
    assert f"  tenant → {app_name}-dev-tenant: ACTIVE, 0 items" in lines
    assert f"  orders → {app_name}-dev-orders: not deployed" in lines  # in the schema, not deployed yet

    document = json.loads(run("status", *common, "--format", "json").stdout)
    [stack] = document["stacks"]
    assert (stack["serial"], document["migrations"]) == (1, [])
    users = next(t for t in stack["tables"] if t["key"] == "users")
    assert (users["item_count"], users["item_count_exact"], users["status"]) == (3, True, "ACTIVE")
    assert users["indexes"] == [{"name": "by_email", "kind": "global", "keys": "tenant_id (S) + email (S)",
                                 "status": "ACTIVE"}]

    assert run("deploy", *common, "--yes").exit_code == 0  # every apply bumps the serial; status follows
    again = run("status", *common).stdout.splitlines()
    assert again[1].endswith("; deploy serial 2)") and f"  orders → {app_name}-dev-orders: ACTIVE, 0 items" in again


def test_status_on_the_strict_double_reads_each_stack(strict_aws, app_name, tmp_path, monkeypatch):
    monkeypatch.setattr(TIMING, "stack_poll", 0)
    monkeypatch.setattr(TIMING, "change_set_poll", 0)
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name))
    common = ["--env", "dev", "--schema", str(schema), "--endpoint-url", strict_aws.endpoint]
    assert run("status", *common).stdout.splitlines()[2] == f"stack {app_name}-dev (not deployed)"
    deployed = run("deploy", *common, "--yes")
    assert deployed.exit_code == 0, deployed.output

    result = run("status", *common)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("AWS account 123456789012 (")
    assert lines[1] == f"Status of environment dev at {strict_aws.endpoint}"
    assert lines[2].startswith(f"stack {app_name}-dev (CREATE_COMPLETE; deployed 20")
    assert lines[2].endswith("; deploy serial 1)")  # Metadata.JobworkInfra.DeploySerial of the template
    assert f"  users → {app_name}-dev-users: ACTIVE, about 0 items (DynamoDB's ItemCount, updated about every 6 h)" \
        in lines
    assert "    protections: removal_policy destroy, point-in-time recovery off, deletion protection off" in lines
