"""Saved plans (issue 13): `deploy --dry-run --plan-out FILE`, then `deploy --plan FILE` applies exactly
that plan once, and refuses (exit 3) when the schema or what is deployed changed since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobwork_infra.deploy.timing import TIMING
from tests.helpers import run_cli as invoke
from tests.helpers import schema_text

pytestmark = pytest.mark.slow

SCHEMA = schema_text(app="{app}", environments={"dev": "{{removal_policy: destroy}}"}, tables="""\
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
      email: string
{more}""")
# The change planned, saved and applied: a table added. (Not an index: on DynamoDB Local an index
# created late in a long test session was once seen to stay CREATING for minutes.)
ORDERS = """\
  orders:
    sort_key: order_id
    attributes:
      order_id: string
"""


def flat(text: str) -> str:
    return " ".join(text.split())


def saved_plan_round_trip(tmp_path: Path, app_name: str, target: list[str], tables) -> None:
    """The scenario on one target: `tables()` lists the names of the tables deployed."""
    schema = tmp_path / "tables.yaml"
    plan = tmp_path / "plan.json"
    schema.write_text(SCHEMA.format(app=app_name, more=""))
    common = ["deploy", "--env", "dev", "--schema", str(schema), *target]
    assert invoke(*common, "--yes").exit_code == 0

    schema.write_text(SCHEMA.format(app=app_name, more=ORDERS))
    dry = invoke(*common, "--dry-run", "--plan-out", str(plan))
    assert dry.exit_code == 0, dry.output
    assert f"plan saved to {plan}" in flat(dry.output)
    saved = json.loads(plan.read_text())
    assert saved["format"] == "jobwork-infra-plan/2"
    assert (saved["app"], saved["env"]) == (app_name, "dev")
    [stack] = saved["stacks"]
    assert [s["summary"] for s in stack["steps"]] == ["apply 1 change in one update: orders: create table"]
    assert stack["steps"][0]["changes"][0]["code"] == "D401"
    assert list(stack["target_state"]["tables"]) == ["users", "orders"]
    assert len(saved["schema_hash"]) == len(stack["deployed"]) == 64
    assert stack["serial"].endswith(":1")  # the first deploy's apply
    assert not any(name.endswith("-dev-orders") for name in tables())  # the dry run changed nothing

    # The schema edited after the plan was saved: refused, nothing applied.
    schema.write_text(SCHEMA.format(app=app_name, more=ORDERS.replace("order_id", "order_no")))
    edited = invoke(*common, "--plan", str(plan))
    assert edited.exit_code == 3, edited.output
    assert "the schema changed since" in flat(edited.output)
    schema.write_text(SCHEMA.format(app=app_name, more=ORDERS))

    applied = invoke(*common, "--plan", str(plan))  # no --yes: the saved plan is the approval
    assert applied.exit_code == 0, applied.output
    assert any(name.endswith("-dev-orders") for name in tables())

    again = invoke(*common, "--plan", str(plan))
    assert again.exit_code == 3, again.output
    assert "changed since" in again.output and "the plan was applied already" in flat(again.output)
    assert "Traceback" not in again.output


@pytest.mark.local
def test_a_saved_plan_applies_once_on_the_local_engine(local_engine, app_name, tmp_path):
    client = local_engine.client()
    saved_plan_round_trip(tmp_path, app_name, ["--local"],
                          lambda: [n for n in client.list_tables()["TableNames"] if n.startswith(f"{app_name}-")])


def test_a_saved_plan_applies_once_on_cloudformation(strict_aws, tmp_path, monkeypatch):
    monkeypatch.setattr(TIMING, "stack_poll", 0)
    monkeypatch.setattr(TIMING, "change_set_poll", 0)
    monkeypatch.setattr(TIMING, "first_poll", 0.05)
    monkeypatch.setattr(TIMING, "now", strict_aws.clock.now)
    ddb = strict_aws.client("dynamodb")
    saved_plan_round_trip(tmp_path, "shop", ["--endpoint-url", strict_aws.endpoint],
                          lambda: ddb.list_tables()["TableNames"])


def test_a_plan_for_another_target_or_environment_is_refused(tmp_path, local_engine, app_name):
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app=app_name, more=""))
    plan = tmp_path / "plan.json"
    assert invoke("deploy", "--env", "dev", "--schema", str(schema), "--local", "--dry-run",
                  "--plan-out", str(plan)).exit_code == 0
    other = invoke("deploy", "--env", "dev", "--schema", str(schema), "--endpoint-url", "http://127.0.0.1:9",
                   "--plan", str(plan))
    assert other.exit_code == 3
    assert f"is a plan for environment dev of app {app_name} (local), not for" in flat(other.output)


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such plan file"),
    ("not json", "not a jobwork-infra plan (not JSON"),
    ('{"format": "terraform"}', "not a jobwork-infra plan (format 'terraform'"),
    ('{"format": "jobwork-infra-plan/2"}', "a damaged jobwork-infra plan"),
    ('{"format": "jobwork-infra-plan/1"}', "a plan written by another version is written again"),
])
def test_a_file_that_is_not_a_plan_is_a_clear_error(tmp_path, content, message):
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app="shop", more=""))
    plan = tmp_path / "plan.json"
    if content is not None:
        plan.write_text(content)
    result = invoke("deploy", "--env", "dev", "--schema", str(schema), "--local", "--plan", str(plan))
    assert result.exit_code == 1, result.output
    assert message in flat(result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--plan-out", "p.json"], "a plan is saved by a dry run: add --dry-run"),
    (["--plan", "p.json", "--dry-run"], "--plan applies a saved plan"),
])
def test_option_mistakes(tmp_path, args, message):
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app="shop", more=""))
    result = invoke("deploy", "--env", "dev", "--schema", str(schema), "--local", *args)
    assert result.exit_code == 2
    assert message in flat(result.output)
