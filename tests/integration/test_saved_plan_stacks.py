"""A saved plan of an environment of several stacks (issue 18, item 8): one plan per stack in the file,
every stack checked before any is applied, then applied in order — all of them, or none.

On the strict AWS double (never AWS).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.helpers import schema_text

pytestmark = pytest.mark.slow  # every test synthesizes with CDK and deploys to the double

SCHEMA = schema_text(tables={
    "users": {"sort_key": "user_id", "attributes": {"user_id": "uuid"}},
    "orders": {"sort_key": "order_id", "stack": "orders", "attributes": {"order_id": "uuid"}},
    "audit": {"sort_key": "at", "stack": "archive", "removal_policy": "retain", "attributes": {"at": "datetime"}},
})
# The change planned: a table added to the main stack and one to the orders stack; archive unchanged.
MORE = """\
  notes:
    sort_key: note_id
    attributes:
      note_id: uuid
  invoices:
    sort_key: invoice_id
    stack: orders
    attributes:
      invoice_id: uuid
"""


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


def deploy(path: Path, endpoint: str, *extra: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint,
                                    *extra])


def tables(strict_aws) -> list[str]:
    return sorted(strict_aws.client("dynamodb").list_tables()["TableNames"])


@pytest.fixture
def planned(tmp_path, strict_aws):
    """Three stacks deployed, then the plan of MORE saved: (schema, plan file)."""
    schema, plan = tmp_path / "tables.yaml", tmp_path / "plan.json"
    schema.write_text(SCHEMA)
    assert deploy(schema, strict_aws.endpoint, "--yes").exit_code == 0
    schema.write_text(SCHEMA + MORE)
    dry = deploy(schema, strict_aws.endpoint, "--dry-run", "--plan-out", str(plan))
    assert dry.exit_code == 0, dry.output
    return schema, plan


def test_one_plan_per_stack_applied_in_order_and_once(planned, strict_aws):
    schema, plan = planned
    saved = json.loads(plan.read_text())
    assert [s["stack"] for s in saved["stacks"]] == ["shop-dev", "shop-dev-archive", "shop-dev-orders"]
    assert [len(s["steps"]) for s in saved["stacks"]] == [1, 0, 1]
    assert not any(name.endswith(("-notes", "-invoices")) for name in tables(strict_aws))

    applied = deploy(schema, strict_aws.endpoint, "--plan", str(plan))
    assert applied.exit_code == 0, applied.output
    names = tables(strict_aws)
    assert any(n.endswith("-notes") for n in names) and any(n.endswith("-invoices") for n in names)
    out = applied.output
    assert out.index("Deployed stack shop-dev:") < out.index("UPDATE_IN_PROGRESS            shop-dev-orders")

    again = deploy(schema, strict_aws.endpoint, "--plan", str(plan))
    assert again.exit_code == 3, again.output
    assert "applied already" in " ".join(again.output.split())


def test_one_stack_changed_since_refuses_the_whole_plan(planned, strict_aws):
    """Another deploy reached the archive stack after the plan was saved: nothing of the plan is applied,
    not even the stacks that come before it."""
    schema, plan = planned
    cfn = strict_aws.client("cloudformation")
    template = cfn.get_template(StackName="shop-dev-archive", TemplateStage="Original")["TemplateBody"]
    template = json.loads(template) if isinstance(template, str) else template
    [audit] = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    audit["Properties"].setdefault("Tags", []).append({"Key": "touched", "Value": "by hand"})
    cfn.update_stack(StackName="shop-dev-archive", TemplateBody=json.dumps(template))
    for _ in range(100):
        if cfn.describe_stacks(StackName="shop-dev-archive")["Stacks"][0]["StackStatus"].endswith("_COMPLETE"):
            break
        time.sleep(0.1)

    result = deploy(schema, strict_aws.endpoint, "--plan", str(plan), "--allow-drift")
    assert result.exit_code == 3, result.output
    assert "shop-dev-archive changed since" in " ".join(result.output.split())
    assert not any(name.endswith(("-notes", "-invoices")) for name in tables(strict_aws))


def test_a_plan_missing_a_stack_is_refused(planned, strict_aws):
    schema, plan = planned
    saved = json.loads(plan.read_text())
    saved["stacks"] = [s for s in saved["stacks"] if s["stack"] != "shop-dev-archive"]
    plan.write_text(json.dumps(saved))
    result = deploy(schema, strict_aws.endpoint, "--plan", str(plan))
    assert result.exit_code == 3, result.output
    assert "has no plan for stack shop-dev-archive; nothing was changed" in " ".join(result.output.split())
    assert not any(name.endswith(("-notes", "-invoices")) for name in tables(strict_aws))
