"""`deploy --show-plan FILE`: a saved plan printed as the dry run printed it, reading nothing but the file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.saved_plan import PlanFile
from jobwork_infra.deploy.target import DeployedState
from jobwork_infra.model import resolve
from jobwork_infra.plan import plan_changes
from jobwork_infra.project import check_project
from jobwork_infra.report.changes import render_plan_text
from tests.conftest import ROOT
from tests.helpers import schema_text

BASE = schema_text(tables={"users": {"sort_key": "user_id",
                                    "attributes": {"tenant_id": "uuid", "user_id": "uuid", "email": "string"}}})
HEAD = BASE.replace("      email: string\n", "      email: string\n    global_indexes:\n"
                    "      by_email: {partition_key: tenant_id, sort_key: email}\n") + """\
  orders:
    sort_key: order_id
    attributes:
      tenant_id: uuid
      order_id: string
"""


def saved(tmp_path, base_text: str = BASE, head_text: str = HEAD) -> tuple[str, object]:
    base = resolve(check_project("b.yaml", text=base_text).require_valid().schema, "dev")
    head = resolve(check_project("h.yaml", text=head_text).require_valid().schema, "dev")
    plan = plan_changes(base, head)
    path = str(tmp_path / "plan.json")
    plan_file = PlanFile(path, "cloudformation", head, False)
    plan_file.add(head, plan, DeployedState(base, "stack shop-dev", serial="lineage:1"))
    plan_file.write()
    return path, plan


def show(path: str, env: str = "dev"):
    return CliRunner().invoke(app, ["deploy", "--env", env, "--show-plan", path])


def test_show_plan_prints_the_plan_as_the_dry_run_did(tmp_path):
    path, plan = saved(tmp_path)
    result = show(path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Saved plan {path}: environment dev of app shop (cloudformation), schema ")
    console = Console(record=True, width=200, highlight=False, soft_wrap=True)
    console.print("stack shop-dev: 1 step")
    render_plan_text(plan, console)
    assert lines[1:] == console.export_text().splitlines()  # the new table's outline included
    assert "  1. apply 2 changes in one update: users: create index by_email; orders: create table" in lines


def test_show_plan_needs_no_boto3_and_no_engine(tmp_path):
    path, _ = saved(tmp_path)
    probe = ("import sys\nfrom jobwork_infra.cli import app\n"
             f"try:\n    app(['deploy', '--env', 'dev', '--show-plan', {path!r}])\nexcept SystemExit as e:\n"
             "    code = e.code\n"
             "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'aws_cdk')),"
             " code)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                         env={"JOBWORK_ROOT": str(tmp_path / "no-engine"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().endswith("HEAVY [] 0"), out.stdout + out.stderr


def test_show_plan_refuses_another_environment_and_a_damaged_file(tmp_path):
    path, _ = saved(tmp_path)
    other = show(path, env="prod")
    assert other.exit_code == 1 and f"{path} is a plan for environment dev, not prod" in other.output
    document = json.loads((tmp_path / "plan.json").read_text())
    document["stacks"][0]["steps"][0]["changes"][0]["severity"] = "catastrophic"
    (tmp_path / "plan.json").write_text(json.dumps(document))
    damaged = show(path)
    assert damaged.exit_code == 1 and "a damaged jobwork-infra plan" in damaged.output
    assert "Traceback" not in damaged.output
    missing = show(str(tmp_path / "nope.json"))
    assert missing.exit_code == 1 and "no such plan file" in missing.output


@pytest.mark.slow
def test_show_plan_of_a_dry_run_prints_what_the_dry_run_printed(local_engine, tmp_path):
    """End to end: `deploy --dry-run --plan-out FILE` on DynamoDB Local, then `--show-plan FILE`: the same
    plan, new tables with their keys, indexes, TTL and protections."""
    import uuid

    app_name = f"t{uuid.uuid4().hex[:10]}"
    schema = tmp_path / "tables.yaml"
    schema.write_text(HEAD.replace("app: shop", f"app: {app_name}"))
    plan = tmp_path / "plan.json"
    dry = CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema), "--dry-run",
                                   "--plan-out", str(plan)])
    assert dry.exit_code == 0, dry.output
    shown = show(str(plan))
    assert shown.exit_code == 0, shown.output
    body = shown.stdout.splitlines()[1:]
    printed = dry.stdout.splitlines()
    start = printed.index(body[0])
    assert printed[start:start + len(body)] == body
    assert any(line.strip() == "keys: tenant_id (S) + order_id (S)" for line in body)
