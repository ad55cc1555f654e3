"""Kills in the middle of a local deploy: of the deploy process and of the engine, at many points of a
staged deploy. Every rerun converges on the schema and no item is lost (issue 14, reliability suite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from jobwork_infra.deploy.local import engine as engines
from jobwork_infra.deploy.local.client import client_for

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-c", "from jobwork_infra.cli import main; main()"]
ITEMS = 40


def schema_text(app: str, with_indexes: bool) -> str:
    indexes = textwrap.indent(textwrap.dedent("""\
        global_indexes:
          by_email: {partition_key: email, tenant_scoped: false}
          by_role: {partition_key: role, tenant_scoped: false}
          by_sub: {partition_key: sub, tenant_scoped: false}
        """), "    ") if with_indexes else ""
    return textwrap.dedent(f"""\
        version: 1
        app: {app}
        environments:
          dev: {{removal_policy: destroy}}
        tables:
          users:
            sort_key: user_id
            attributes: {{user_id: string, email: string, role: string, sub: string}}
        """) + indexes + ("  audit: {}\n" if with_indexes else "")


def deploy(schema, root) -> subprocess.Popen:
    # --allow-destructive: dropping the empty `audit` table again; `users`, which holds the items, never changes key.
    return subprocess.Popen([*CLI, "deploy", "--env", "dev", "--local", "--schema", str(schema), "--yes",
                             "--allow-destructive"],
                            env={**os.environ, "JOBWORK_ROOT": str(root), "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, _ = process.communicate(timeout=180)
    return process.returncode, out


def converge(schema, root) -> str:
    """Rerun until it succeeds (one rerun must do), then check that a third run has nothing to do."""
    code, out = finish(deploy(schema, root))
    assert code == 0, out
    code, again = finish(deploy(schema, root))
    assert code == 0 and "No changes" in again, again
    return out


def count(root, table: str) -> int:
    client = client_for(engines.status(root).endpoint)
    return sum(p["Count"] for p in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def seed(root, table: str) -> None:
    client = client_for(engines.status(root).endpoint)
    for n in range(ITEMS):
        client.put_item(TableName=table, Item={"tenant_id": {"S": "t-1"}, "user_id": {"S": f"u{n}"},
                                               "email": {"S": f"u{n}@example.com"}, "role": {"S": "R"},
                                               "sub": {"S": f"s{n}"}})


# Delays after which the kill lands: from "still importing" to "probably done", across the steps.
# Where the kill lands: after planning, and as each staged step starts (three index changes: 3 steps).
TRIGGERS = ("Plan for", "Step 1/", "Step 2/", "Step 3/")


def wait_for(process: subprocess.Popen, trigger: str) -> bool:
    """Read the deploy's output until `trigger` appears (True) or the deploy ends first (False)."""
    for line in process.stdout:
        if trigger in line:
            return True
    return False


@pytest.mark.parametrize("engine", ["dynamodb-local", "moto"])
def test_killing_the_deploy_process_at_any_point_converges_without_loss(engine, tmp_path):
    root = tmp_path / "project"
    app = f"k{uuid.uuid4().hex[:8]}"
    schema = tmp_path / "tables.yaml"
    table = f"{app}-dev-users"
    engines.start(engine, None, root)
    interrupted = 0
    try:
        schema.write_text(schema_text(app, with_indexes=False))
        converge(schema, root)
        seed(root, table)
        for i, trigger in enumerate(TRIGGERS):
            schema.write_text(schema_text(app, with_indexes=i % 2 == 0))  # add, then drop, the indexes
            process = deploy(schema, root)
            if wait_for(process, trigger):
                os.killpg(process.pid, signal.SIGKILL)
                interrupted += 1
            finish(process)
            converge(schema, root)
            assert count(root, table) == ITEMS, f"items lost after a kill at {trigger!r}"
    finally:
        engines.stop(root)
    print(f"\n{engine}: {interrupted}/{len(TRIGGERS)} deploy kills landed mid-deploy; {ITEMS}/{ITEMS} items kept")
    assert interrupted == len(TRIGGERS), "a kill did not land mid-deploy"


@pytest.mark.local
def test_killing_dynamodb_local_mid_deploy_converges_on_rerun_without_loss(tmp_path):
    root = tmp_path / "project"
    app = f"e{uuid.uuid4().hex[:8]}"
    schema = tmp_path / "tables.yaml"
    table = f"{app}-dev-users"
    engines.start("dynamodb-local", None, root)
    interrupted = 0
    try:
        schema.write_text(schema_text(app, with_indexes=False))
        converge(schema, root)
        seed(root, table)
        for i, trigger in enumerate(TRIGGERS[1:]):
            schema.write_text(schema_text(app, with_indexes=i % 2 == 0))
            process = deploy(schema, root)
            if wait_for(process, trigger):
                engines.kill(root)  # the engine dies under the running deploy
                interrupted += 1
            code, out = finish(process)
            assert "Traceback" not in out and "internal error" not in out, out
            if code != 0:
                assert "error:" in out, out
            converge(schema, root)  # restarts the engine on the same data
            assert count(root, table) == ITEMS, f"items lost after an engine kill at {trigger!r}"
    finally:
        engines.stop(root)
    print(f"\ndynamodb-local: {interrupted}/{len(TRIGGERS) - 1} engine kills landed mid-deploy; "
          f"{ITEMS}/{ITEMS} items kept")
    assert interrupted == len(TRIGGERS) - 1
