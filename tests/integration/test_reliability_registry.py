"""Ownership in the local registry under races (issue 14, item 1): a plan that went stale at the
confirmation prompt can no longer hand one environment's table to another."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

import jobwork_infra.cli.deploy as deploy_cli
from jobwork_infra.cli import app
from jobwork_infra.deploy.local.registry import REGISTRY, read_registry

pytestmark = [pytest.mark.slow, pytest.mark.local]
CLI = [sys.executable, "-c", "from jobwork_infra.cli import main; main()"]


def shared_names_schema(app_name: str) -> str:
    # dev and staging share physical names: the setup of the race in the issue.
    return textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        naming:
          table: "{{app}}-{{table}}"
        environments:
          dev: {{removal_policy: destroy}}
          staging: {{removal_policy: destroy}}
        tables:
          notes: {{}}
        """)


def run_deploy(schema: str, env: str, root) -> subprocess.CompletedProcess:
    """Another terminal: a separate process on the same engine."""
    return subprocess.run([*CLI, "deploy", "--env", env, "--local", "--schema", schema, "--yes"],
                          env={**os.environ, "JOBWORK_ROOT": str(root)}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_deploy_that_won_the_race_while_another_waited_at_the_prompt_keeps_its_table(
        local_engine, app_name, tmp_path, monkeypatch):
    schema = tmp_path / "tables.yaml"
    schema.write_text(shared_names_schema(app_name))
    table = f"{app_name}-notes"
    client = local_engine.client()

    def meanwhile_dev_deploys_and_writes(question: str) -> bool:
        assert question.startswith("Apply 1 step(s)")
        dev = run_deploy(str(schema), "dev", local_engine.root)
        assert dev.returncode == 0, dev.stdout + dev.stderr
        client.put_item(TableName=table, Item={"tenant_id": {"S": "t-1"}, "note": {"S": "dev data"}})
        return True  # then the staging user answers y to a plan made before dev's deploy

    monkeypatch.setattr(deploy_cli, "_confirm", meanwhile_dev_deploys_and_writes)
    staging = CliRunner().invoke(app, ["deploy", "--env", "staging", "--local", "--schema", str(schema)])
    # After the prompt the flow reads what is deployed again: the plan went stale, so nothing is applied
    # (exit 3), and the message says what changed. (Without the re-check, the conditional claim in the
    # registry would still refuse: see the next tests.)
    assert staging.exit_code == 3, staging.output
    assert ("error: what is deployed changed while the plan waited for confirmation: "
            f"table {table} already exists on the local engine and belongs to environment dev of app "
            f"{app_name}") in " ".join(staging.output.split())
    assert "Traceback" not in staging.output

    entry = read_registry(client)[table]
    assert (entry.app, entry.env) == (app_name, "dev")  # still dev's

    # staging's destroy finds nothing of its own; dev's table and data survive.
    destroy = CliRunner().invoke(app, ["destroy", "--env", "staging", "--local", "--schema", str(schema), "--yes"])
    assert destroy.exit_code in (0, 1), destroy.output
    assert table in client.list_tables()["TableNames"]
    assert client.scan(TableName=table)["Count"] == 1
    rerun_dev = run_deploy(str(schema), "dev", local_engine.root)
    assert rerun_dev.returncode == 0 and "No changes" in rerun_dev.stdout, rerun_dev.stdout + rerun_dev.stderr
    # staging, planned afresh, now refuses the name instead of claiming it.
    again = CliRunner().invoke(app, ["deploy", "--env", "staging", "--local", "--schema", str(schema), "--yes"])
    assert again.exit_code == 1
    assert f"belongs to environment dev of app {app_name}" in again.output


def create_foreign_table(client, table: str) -> None:
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    client.put_item(TableName=table, Item={"pk": {"S": "theirs"}})


def assert_left_alone(client, table: str, schema) -> None:
    assert table not in read_registry(client)  # the claim was released: it never became ours
    assert client.scan(TableName=table)["Count"] == 1
    destroy = CliRunner().invoke(app, ["destroy", "--env", "dev", "--local", "--schema", str(schema), "--yes"])
    # destroy leaves a table nothing manages out (adopt.find_adoption): not ours, never deleted.
    assert destroy.exit_code == 0 and "Nothing to destroy" in destroy.output, destroy.output
    assert client.scan(TableName=table)["Count"] == 1


def test_a_table_created_by_someone_else_at_the_prompt_stops_the_deploy(local_engine, app_name, tmp_path,
                                                                         monkeypatch):
    schema = tmp_path / "tables.yaml"
    schema.write_text(shared_names_schema(app_name))
    table = f"{app_name}-notes"
    client = local_engine.client()

    def meanwhile_another_tool_creates_it(question: str) -> bool:
        create_foreign_table(client, table)
        return True

    monkeypatch.setattr(deploy_cli, "_confirm", meanwhile_another_tool_creates_it)
    result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema)])
    assert result.exit_code == 3, result.output
    assert "what is deployed changed while the plan waited for confirmation" in result.output
    assert_left_alone(client, table, schema)


@pytest.mark.parametrize("moment", ["after the re-check", "between the claim and create_table"])
def test_a_table_created_by_someone_else_later_still_is_left_alone(local_engine, app_name, tmp_path, monkeypatch,
                                                                    moment):
    """Past the re-check the window is small but open: the conditional claim and create_table's own
    ResourceInUseException close it, and the claim is released."""
    from jobwork_infra.deploy import flow
    from jobwork_infra.deploy.local import steps as local_steps

    schema = tmp_path / "tables.yaml"
    schema.write_text(shared_names_schema(app_name))
    table = f"{app_name}-notes"
    client = local_engine.client()
    if moment == "after the re-check":
        real_recheck = flow.recheck

        def recheck_then_race(*args):
            checked = real_recheck(*args)
            create_foreign_table(client, table)
            return checked

        monkeypatch.setattr(flow, "recheck", recheck_then_race)
        expected = f"error: table {table} appeared on the local engine after this deploy planned it"
    else:
        real_claim = local_steps.claim_all_for_create

        def claim_then_race(ctx, entries):
            real_claim(ctx, entries)
            create_foreign_table(client, table)

        monkeypatch.setattr(local_steps, "claim_all_for_create", claim_then_race)
        expected = f"error: table {table} appeared on the local engine while this deploy was creating it"
    monkeypatch.setattr(deploy_cli, "_confirm", lambda question: True)
    result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema)])
    assert result.exit_code == 1, result.output
    assert expected in " ".join(result.output.split())
    assert_left_alone(client, table, schema)


def test_two_environments_racing_for_one_name_in_two_processes_one_wins_and_nothing_is_lost(
        local_engine, app_name, tmp_path):
    """dev and staging deployed at the same instant from two processes (--yes: no prompt in between)."""
    from concurrent.futures import ThreadPoolExecutor

    schema = tmp_path / "tables.yaml"
    schema.write_text(shared_names_schema(app_name))
    table = f"{app_name}-notes"
    client = local_engine.client()
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(["dev", "staging"], pool.map(
            lambda env: run_deploy(str(schema), env, local_engine.root), ["dev", "staging"]), strict=True))
    codes = sorted(r.returncode for r in results.values())
    assert codes[0] == 0 and codes[1] in (1, 3), {e: r.stdout + r.stderr for e, r in results.items()}
    winner = next(env for env, r in results.items() if r.returncode == 0)
    loser = "staging" if winner == "dev" else "dev"
    assert "Traceback" not in results[loser].stdout + results[loser].stderr
    entry = read_registry(client)[table]
    assert (entry.app, entry.env) == (app_name, winner)
    client.put_item(TableName=table, Item={"tenant_id": {"S": "t-1"}, "note": {"S": f"{winner} data"}})
    # The loser's destroy cannot touch the winner's table.
    subprocess.run([*CLI, "destroy", "--env", loser, "--local", "--schema", str(schema), "--yes"],
                   env={**os.environ, "JOBWORK_ROOT": str(local_engine.root)}, capture_output=True, timeout=120,
                   check=False)
    assert client.scan(TableName=table)["Count"] == 1
    assert read_registry(client)[table].env == winner


def test_the_registry_name_is_the_reserved_prefix():
    assert REGISTRY == "_jobwork-infra.registry"


@pytest.mark.parametrize("local_engine", ["dynamodb-local", "moto"], indirect=True)
def test_claims_are_written_100_to_a_transaction_and_a_refused_one_releases_the_whole_batch(local_engine, app_name):
    from jobwork_infra.deploy.local import engine as engines
    from jobwork_infra.deploy.local.client import RunContext
    from jobwork_infra.deploy.local.registry import Entry, claim_all_for_create, record_created
    from jobwork_infra.errors import JobworkError

    client = local_engine.client()
    ctx = RunContext(client, engines.status(local_engine.root), lambda event: None)
    names = [f"{app_name}-t{i:03}" for i in range(101)]  # two transactions: 100 + 1

    def entries(env: str, created: int = 0) -> list[Entry]:
        return [Entry(n, app_name, env, n, created, "destroy") for n in names]

    claim_all_for_create(ctx, entries("dev"))
    ours = {n: e for n, e in read_registry(client).items() if n.startswith(app_name)}
    assert sorted(ours) == names and {(e.env, e.created) for e in ours.values()} == {("dev", 0)}
    record_created(ctx, entries("dev", created=7))
    assert {e.created for n, e in read_registry(client).items() if n.startswith(app_name)} == {7}

    # staging claims the same 101 names, all dev's: refused, naming the holder.
    with pytest.raises(JobworkError, match=f"table {names[0]} was claimed by environment dev of app {app_name}"):
        claim_all_for_create(ctx, entries("staging"))

    # Only the last name is held by dev: staging's first transaction of 100 commits, the second is
    # refused, and the 100 claims already written are released again.
    for n in names[:100]:
        client.delete_item(TableName=REGISTRY, Key={"table_name": {"S": n}})
    with pytest.raises(JobworkError, match=f"table {names[100]} was claimed by environment dev"):
        claim_all_for_create(ctx, entries("staging"))
    left = {n: e for n, e in read_registry(client).items() if n.startswith(app_name)}
    assert list(left) == [names[100]] and left[names[100]].env == "dev"
    client.delete_item(TableName=REGISTRY, Key={"table_name": {"S": names[100]}})
