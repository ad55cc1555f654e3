"""Saved plans against a hostile pull-request author and an unlucky operator (issue 18, items 1 and 2),
run as the issue writes them, on DynamoDB Local: a plan records `--allow-destructive` but never grants
it, names its target and is refused elsewhere, is compared with the plan computed now, and applies
once — a revert does not make it fresh again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli as invoke
from tests.helpers import schema_text

pytestmark = [pytest.mark.slow, pytest.mark.local]

# S0: users and orders; S1: orders dropped (destructive under removal_policy: destroy).
S1 = schema_text(app="{app}", environments={"dev": "{{removal_policy: destroy}}"}, tables="""\
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
      email: string
""")
S0 = S1 + """\
  orders:
    sort_key: order_id
    attributes:
      order_id: string
"""


def flat(text: str) -> str:
    return " ".join(text.split())


class Project:
    """One schema file, deployed with `deploy --env dev --local` to the engine of $JOBWORK_ROOT."""

    def __init__(self, tmp_path: Path, app_name: str):
        self.schema = tmp_path / "tables.yaml"
        self.app = app_name

    def use(self, text: str) -> None:
        self.schema.write_text(text.format(app=self.app))

    def deploy(self, *args: str):
        return invoke("deploy", "--env", "dev", "--local", "--schema", str(self.schema), *args)


def orders(client, app_name: str) -> int | None:
    """The number of items in the orders table, None when it does not exist."""
    try:
        return client.scan(TableName=f"{app_name}-dev-orders", Select="COUNT")["Count"]
    except client.exceptions.ResourceNotFoundException:
        return None


def put_orders(client, app_name: str, count: int) -> None:
    for n in range(count):
        client.put_item(TableName=f"{app_name}-dev-orders",
                        Item={"tenant_id": {"S": "t-1"}, "order_id": {"S": f"o-{n}"}})


@pytest.fixture
def project(tmp_path, app_name):
    return Project(tmp_path, app_name)


def test_a_plan_forged_on_a_throw_away_engine_deletes_nothing(project, dynamodb_local, moto_local, app_name,
                                                               tmp_path, monkeypatch):
    """Issue 18 item 1, as written: on a throw-away engine with S0 deployed and S1 dropping a table,
    `deploy --dry-run --allow-destructive --plan-out forged.json`; on the real engine with S0 and data,
    `deploy --env dev --local --plan forged.json` (no flag) deleted the table, exit 0."""
    forged = tmp_path / "forged.json"
    monkeypatch.setenv("JOBWORK_ROOT", str(moto_local.root))  # the throw-away engine
    project.use(S0)
    assert project.deploy("--yes").exit_code == 0
    project.use(S1)
    written = project.deploy("--dry-run", "--allow-destructive", "--plan-out", str(forged))
    assert written.exit_code == 0, written.output

    monkeypatch.setenv("JOBWORK_ROOT", str(dynamodb_local.root))  # the real engine, with data
    client = dynamodb_local.client()
    project.use(S0)
    assert project.deploy("--yes").exit_code == 0
    put_orders(client, app_name, 5)
    project.use(S1)
    applied = project.deploy("--plan", str(forged))
    assert applied.exit_code == 3, applied.output
    assert orders(client, app_name) == 5
    # With the flag given by the applying command too, a plan of another engine is still refused.
    flagged = project.deploy("--plan", str(forged), "--allow-destructive")
    assert flagged.exit_code == 3, flagged.output
    assert "was written for" in flat(flagged.output) and "nothing was changed" in flat(flagged.output)
    assert orders(client, app_name) == 5


def test_a_plan_records_allow_destructive_but_never_grants_it(project, local_engine, app_name, tmp_path):
    plan = tmp_path / "p.json"
    client = local_engine.client()
    project.use(S0)
    assert project.deploy("--yes").exit_code == 0
    put_orders(client, app_name, 3)
    project.use(S1)
    assert project.deploy("--dry-run", "--allow-destructive", "--plan-out", str(plan)).exit_code == 0
    assert json.loads(plan.read_text())["allow_destructive"] is True

    refused = project.deploy("--plan", str(plan))
    assert refused.exit_code == 3, refused.output
    assert "--allow-destructive" in flat(refused.output)
    assert orders(client, app_name) == 3

    applied = project.deploy("--plan", str(plan), "--allow-destructive")
    assert applied.exit_code == 0, applied.output
    assert orders(client, app_name) is None


@pytest.mark.parametrize("value", ["false", "no", 0, 1, None, [], {}])
def test_allow_destructive_must_be_a_json_boolean(project, local_engine, tmp_path, value):
    plan = tmp_path / "p.json"
    project.use(S0)
    assert project.deploy("--dry-run", "--plan-out", str(plan)).exit_code == 0
    document = json.loads(plan.read_text())
    document["allow_destructive"] = value
    plan.write_text(json.dumps(document))
    result = project.deploy("--plan", str(plan))
    assert result.exit_code == 1, result.output
    assert "allow_destructive must be true or false" in flat(result.output)


@pytest.mark.parametrize("edit", ["changes", "target_state", "where"])
def test_a_plan_whose_record_differs_from_the_plan_computed_now_is_refused(project, local_engine, app_name,
                                                                           tmp_path, edit):
    """The reviewer read the file's changes and target state: what is applied must be exactly that."""
    plan = tmp_path / "p.json"
    client = local_engine.client()
    project.use(S1)
    assert project.deploy("--yes").exit_code == 0
    project.use(S0)
    assert project.deploy("--dry-run", "--plan-out", str(plan)).exit_code == 0
    document = json.loads(plan.read_text())
    [stack] = document["stacks"]
    if edit == "changes":
        stack["steps"][0]["changes"][0]["statement"] = "nothing to see here"
    elif edit == "target_state":
        stack["target_state"]["tables"]["orders"]["physical_name"] = "somewhere-else"
    else:
        stack["where"] = "the local engine at http://127.0.0.1:1"
    plan.write_text(json.dumps(document))
    result = project.deploy("--plan", str(plan))
    assert result.exit_code == 3, result.output
    assert "nothing was changed" in flat(result.output)
    assert orders(client, app_name) is None


def test_a_saved_plan_applies_once_even_after_a_revert(project, local_engine, app_name, tmp_path):
    """Issue 18 item 2, as written: apply a plan that drops a table, redeploy S0 (the table is back, new
    items written), check out S1, `deploy --plan p.json` again: it deleted the table again, exit 0."""
    plan = tmp_path / "p.json"
    client = local_engine.client()
    project.use(S0)
    assert project.deploy("--yes").exit_code == 0
    project.use(S1)
    assert project.deploy("--dry-run", "--allow-destructive", "--plan-out", str(plan)).exit_code == 0
    assert project.deploy("--plan", str(plan), "--allow-destructive").exit_code == 0
    assert orders(client, app_name) is None

    project.use(S0)
    assert project.deploy("--yes").exit_code == 0
    put_orders(client, app_name, 4)
    project.use(S1)
    again = project.deploy("--plan", str(plan), "--allow-destructive")
    assert again.exit_code == 3, again.output
    assert "applied already" in flat(again.output)
    assert orders(client, app_name) == 4
