"""Several stacks on the CloudFormation target, against the strict AWS double (never AWS).

An environment whose tables say `stack: NAME` is deployed, diffed, dry-run and destroyed stack by
stack: the main stack first and the others by name (destroyed in reverse), one confirmation and one
summary. A table whose `stack:` changed is refused with the way forward; a template over the inline
limit needs --template-bucket before anything changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.cloudformation.template import deployed_tables
from tests.conftest import after_caller
from tests.helpers import schema_text

pytestmark = pytest.mark.slow  # every test synthesizes with CDK and deploys to the double

SCHEMA = schema_text(tables="""\
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
      email: string
    global_indexes:
      by_email: {{partition_key: tenant_id, sort_key: email}}
  orders:
    sort_key: order_id
{orders_stack}
    attributes:
      order_id: uuid
  audit:
    sort_key: at
    stack: archive
    removal_policy: retain
    attributes:
      at: datetime
""")


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


def write(tmp_path: Path, orders_stack: str = "    stack: orders") -> Path:
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA.format(orders_stack=orders_stack))
    return path


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def deploy(path: Path, endpoint: str, *extra: str):
    return run("deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint, *extra)


def stack_names(strict_aws) -> list[str]:
    live = strict_aws.client("cloudformation").list_stacks(
        StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"]
    return sorted(s["StackName"] for s in live)


def test_every_stack_is_deployed_in_order_with_one_summary_and_a_redeploy_changes_nothing(tmp_path, strict_aws):
    path = write(tmp_path)

    result = deploy(path, strict_aws.endpoint, "--yes")

    assert result.exit_code == 0, result.output
    out = result.output
    # the main stack first, then the others by name; each change listed under its stack's plan
    order = [out.index(f"Deployed stack {name}:") for name in ("shop-dev", "shop-dev-archive", "shop-dev-orders")]
    assert order == sorted(order)
    assert "Plan for shop-dev-orders: 1 step" in out
    assert out.rstrip().endswith("Deployed 3 of 3 stacks of dev in " + out.rsplit("of dev in ", 1)[1].split(":")[0]
                                 + ":\n  shop-dev: 1 step\n  shop-dev-archive: 1 step\n  shop-dev-orders: 1 step")
    assert stack_names(strict_aws) == ["shop-dev", "shop-dev-archive", "shop-dev-orders"]
    cfn = strict_aws.client("cloudformation")
    held = {name: sorted(deployed_tables(cfn.get_template(StackName=name)["TemplateBody"]))
            for name in stack_names(strict_aws)}
    assert held == {"shop-dev": ["UsersTable"], "shop-dev-archive": ["AuditTable"],
                    "shop-dev-orders": ["OrdersTable"]}
    assert sorted(strict_aws.client("dynamodb").list_tables()["TableNames"]) == [
        "shop-dev-audit", "shop-dev-orders", "shop-dev-users"]

    again = deploy(path, strict_aws.endpoint)  # no --yes: nothing to confirm

    assert again.exit_code == 0, again.output
    assert after_caller(again.output).splitlines()[:3] == [
        line for line in again.output.splitlines() if line.startswith("No changes: stack ")]
    assert again.output.rstrip().endswith("No changes: the 3 stacks of dev match the schema.")


def test_a_change_in_one_stack_updates_only_that_stack(tmp_path, strict_aws):
    path = write(tmp_path)
    assert deploy(path, strict_aws.endpoint, "--yes").exit_code == 0
    path.write_text(path.read_text().replace("      order_id: uuid", "      order_id: uuid\n"
                                             "    point_in_time_recovery: true"))

    dry = deploy(path, strict_aws.endpoint, "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert "No changes: stack shop-dev matches the schema" in dry.output
    assert "Plan for shop-dev-orders: 1 step" in dry.output
    assert dry.output.rstrip().endswith("Dry run: 1 step would be applied to stack shop-dev-orders; "
                                        "nothing was changed.")

    result = deploy(path, strict_aws.endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert "  shop-dev: no changes\n  shop-dev-archive: no changes\n  shop-dev-orders: 1 step" in result.output
    described = strict_aws.client("dynamodb").describe_continuous_backups(TableName="shop-dev-orders")
    assert described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"] == "ENABLED"


def test_a_table_moved_to_another_stack_is_refused_with_the_adoption_path(tmp_path, strict_aws):
    path = write(tmp_path)
    assert deploy(path, strict_aws.endpoint, "--yes").exit_code == 0
    templates = {n: strict_aws.client("cloudformation").get_template(StackName=n)["TemplateBody"]
                 for n in stack_names(strict_aws)}
    write(tmp_path, orders_stack="    stack: archive")

    result = deploy(path, strict_aws.endpoint, "--yes")

    assert result.exit_code == 3, result.output
    assert ("[D206] table shop-dev-orders moves from stack shop-dev-orders to stack shop-dev-archive: "
            "CloudFormation cannot move a table between stacks in one update") in result.output
    assert "jobwork-infra deploy --env dev --adopt --from-stack shop-dev-orders" in " ".join(result.output.split())
    assert "nothing was changed" in result.output
    assert {n: strict_aws.client("cloudformation").get_template(StackName=n)["TemplateBody"]
            for n in stack_names(strict_aws)} == templates


def test_diff_reports_the_move_with_its_stack(tmp_path):
    base = write(tmp_path)
    moved = tmp_path / "moved.yaml"
    moved.write_text(SCHEMA.format(orders_stack="    stack: archive"))

    result = run("diff", "--base", str(base), "--schema", str(moved), "--env", "dev", "--format", "json")

    changes = json.loads(result.output)["changes"]
    assert [(c["code"], c["severity"], c["stack"], c["before"], c["after"]) for c in changes] == [
        ("D206", "multi-step", "shop-dev-archive", "shop-dev-orders", "shop-dev-archive")]
    assert result.exit_code == 0  # --fail-on destructive by default


def test_destroy_deletes_every_stack_in_reverse_order(tmp_path, strict_aws):
    path = write(tmp_path)
    assert deploy(path, strict_aws.endpoint, "--yes").exit_code == 0

    result = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", strict_aws.endpoint, "--yes")

    assert result.exit_code == 0, result.output
    out = result.output
    order = [out.index(f"Destroyed stack {name}.") for name in ("shop-dev-orders", "shop-dev-archive", "shop-dev")]
    assert order == sorted(order)
    assert stack_names(strict_aws) == []
    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == ["shop-dev-audit"]  # retained

    again = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", strict_aws.endpoint, "--yes")
    assert (again.exit_code, after_caller(again.output)) == (
        0, ("Nothing to destroy: environment dev (stacks shop-dev-orders, shop-dev-archive, shop-dev) has nothing "
            "deployed.\n"))


def test_diff_text_names_the_stack_of_a_table_outside_the_main_stack(tmp_path):
    base = write(tmp_path)
    head = tmp_path / "head.yaml"
    head.write_text(SCHEMA.format(orders_stack="    stack: orders\n    point_in_time_recovery: true")
                    .replace("      email: string\n", "      email: string\n    point_in_time_recovery: true\n"))

    result = run("diff", "--base", str(base), "--schema", str(head), "--env", "dev")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "users" in lines  # the main stack: no label
    assert "orders  (stack shop-dev-orders)" in lines
