"""Two deploys of one stack from two machines (issue 18, item 7, in part): the deploy lock is per machine,
so both may read the stack before either applies. The second never undoes the first: right before its
change set is executed, the stack must still be at the deploy serial it planned from, or it is refused
(exit 3, nothing of the step applied) — and a change set another execute made stale is gone (CloudFormation
deletes a stack's other change sets when one is executed), so it fails to execute rather than going stale.

On the strict AWS double, with the other deploy run from another project directory in the middle of this
one (after its read, before its execute).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.cloudformation import stack as cloudformation_stack
from tests.helpers import schema_text

pytestmark = pytest.mark.slow

BASE = schema_text(environments={"dev": "{removal_policy: destroy}"}, tables={"users": {"sort_key": "user_id", "attributes": {"user_id": "uuid"}}})


def with_table(name: str) -> str:
    return BASE + f"  {name}:\n    sort_key: {name}_id\n    attributes:\n      {name}_id: uuid\n"


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


def project(root: Path, text: str) -> Path:
    root.mkdir()
    (root / "tables.yaml").write_text(text)
    return root / "tables.yaml"


def deploy(schema: Path, endpoint: str, monkeypatch):
    monkeypatch.setenv("JOBWORK_ROOT", str(schema.parent))  # its own .jobwork/: another machine's lock
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(schema), "--endpoint-url", endpoint,
                                    "--yes"])


def tables(strict_aws) -> list[str]:
    return sorted(strict_aws.client("dynamodb").list_tables()["TableNames"])


def test_a_deploy_that_another_one_overtook_is_refused_and_the_other_change_stays(tmp_path, strict_aws, monkeypatch):
    first = project(tmp_path / "one", BASE)
    assert deploy(first, strict_aws.endpoint, monkeypatch).exit_code == 0
    mine = project(tmp_path / "mine", with_table("orders"))
    theirs = project(tmp_path / "theirs", with_table("invoices"))

    original = cloudformation_stack.ChangeSets.run
    overtaken: list = []

    def run(self, *args, **kwargs):
        if not overtaken:  # this deploy has read and planned; the other machine's deploy runs to its end now
            overtaken.append(None)
            overtaken[0] = deploy(theirs, strict_aws.endpoint, monkeypatch)
            monkeypatch.setenv("JOBWORK_ROOT", str(mine.parent))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cloudformation_stack.ChangeSets, "run", run)
    result = deploy(mine, strict_aws.endpoint, monkeypatch)
    assert overtaken[0].exit_code == 0, overtaken[0].output
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "stack shop-dev was updated by another deploy (deploy serial 1 when this deploy read it, 2 now)" in text
    assert "nothing of step 1 was applied" in text
    assert tables(strict_aws) == ["shop-dev-invoices", "shop-dev-users"]  # theirs kept, nothing of mine
    assert strict_aws.resource_failures("shop-dev") == []

    again = deploy(mine, strict_aws.endpoint, monkeypatch)  # rerun: plans from what is deployed now
    assert again.exit_code == 3  # it would delete their table: the destructive gate says so
    assert "shop-dev-invoices" in again.output


def test_a_change_set_made_stale_by_another_execute_is_refused(tmp_path, strict_aws, monkeypatch):
    """The other deploy executes after this one's check, before its execute: CloudFormation deleted this
    change set, and the execute says ChangeSetNotFound (the double's rule, shown firing)."""
    first = project(tmp_path / "one", BASE)
    assert deploy(first, strict_aws.endpoint, monkeypatch).exit_code == 0
    mine = project(tmp_path / "mine", with_table("orders"))
    theirs = project(tmp_path / "theirs", with_table("invoices"))
    cfn = strict_aws.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName="shop-dev")["Stacks"][0]["StackId"]

    from jobwork_infra.deploy.cloudformation.target import CloudFormationTarget

    original_guard = CloudFormationTarget._guard

    ran: list = []

    def guard(self, *args, **kwargs):
        refusal = original_guard(self, *args, **kwargs)  # the serial check passes: nothing ran yet
        if ran:
            return refusal  # the other deploy's own guard
        ran.append(True)
        result = deploy(theirs, strict_aws.endpoint, monkeypatch)
        monkeypatch.setenv("JOBWORK_ROOT", str(mine.parent))
        assert result.exit_code == 0, result.output
        return refusal

    monkeypatch.setattr(CloudFormationTarget, "_guard", guard)
    result = deploy(mine, strict_aws.endpoint, monkeypatch)
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "was updated by another deploy after change set" in text and "(CloudFormation deleted it)" in text
    assert tables(strict_aws) == ["shop-dev-invoices", "shop-dev-users"]
    assert [c["ExecutionStatus"] for c in cfn.list_change_sets(StackName=stack_id)["Summaries"]] == ["EXECUTE_COMPLETE"]
