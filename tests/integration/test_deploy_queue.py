"""Two deploys of one stack from two machines, on a CloudFormation that takes its time (issue 18, item 7).

The lock across machines is the stack itself (docs/deploy.md, "Two deploys of one stack"): CloudFormation runs
one operation on a stack at a time, executing a change set deletes the stack's other change sets, and the deploy
serial in the template's Metadata is compared right before execute. A deploy that finds another operation
running waits for it and plans from what it left; a deploy overtaken before anything of it applied waits and plans
again, and applies the new plan only if it leaves the other deploy's change alone (else R030, exit 3).

On the strict double with `stack_operation_seconds` set: a stack update stays UPDATE_IN_PROGRESS after
ExecuteChangeSet returns, as on AWS. Each deploy here is "another machine": its own project directory and its own
.jobwork/ (the per-machine lock plays no part), and the two run on two threads at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy import DeployRequest, flow
from jobwork_infra.deploy.cloudformation import stack as cloudformation_stack
from jobwork_infra.deploy.cloudformation import target as cloudformation_target
from jobwork_infra.deploy.events import Note
from jobwork_infra.deploy.factory import make_targets
from jobwork_infra.deploy.lock import deploy_lock
from jobwork_infra.errors import Blocked, JobworkError
from jobwork_infra.project import check_project
from tests.helpers import schema_text

pytestmark = pytest.mark.slow

BASE = schema_text(environments={"dev": "{removal_policy: destroy}"}, tables={"users": {"sort_key": "user_id", "attributes": {"user_id": "uuid"}}})


def with_tables(*names: str) -> str:
    return BASE + "".join(f"  {n}:\n    sort_key: {n}_id\n    attributes:\n      {n}_id: uuid\n" for n in names)


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Polling at once (tests/plugins/timing.py); the double's stack operations take their time."""


def project(root: Path, text: str) -> Path:
    root.mkdir()
    (root / "tables.yaml").write_text(text)
    return root / "tables.yaml"


def cli_deploy(schema: Path, endpoint: str, monkeypatch, *extra: str):
    monkeypatch.setenv("JOBWORK_ROOT", str(schema.parent))
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(schema), "--endpoint-url", endpoint,
                                    "--yes", *extra])


class Machine:
    """One deploy through the flow (what `deploy --yes` runs), on a thread of its own: exit code, notes, error."""

    def __init__(self, schema: Path, endpoint: str):
        self.schema, self.endpoint = schema, endpoint
        self.code: int | None = None
        self.notes: list[str] = []
        self.error: JobworkError | None = None
        self.thread = threading.Thread(target=self.run, name=schema.parent.name)

    def emit(self, event) -> None:
        if isinstance(event, Note):
            self.notes.append(event.text)

    def run(self) -> None:
        request = DeployRequest(env="dev", yes=True, endpoint_url=self.endpoint)
        project = check_project(str(self.schema))
        try:
            targets = make_targets(project, request, self.emit, local=False)
            self.code = flow.deploy(project.resolve("dev"), request, targets, self.emit, lambda question: True)
        except Blocked as exc:
            self.code, self.error = 3, exc
        except JobworkError as exc:
            self.code, self.error = 1, exc

    @property
    def text(self) -> str:
        return " ".join([*self.notes, self.error.message if self.error else ""])


@pytest.fixture
def machines(monkeypatch):
    """Each thread its own .jobwork/ (another machine's lock), and one synth at a time (jsii is one process here;
    on two machines each has its own)."""
    synth_lock = threading.Lock()
    real_synth = cloudformation_target.synth

    def synth(resolved):
        with synth_lock:
            return real_synth(resolved)

    monkeypatch.setattr(cloudformation_target, "synth", synth)
    monkeypatch.setattr(flow, "deploy_lock", lambda scope, app_, env: deploy_lock(
        scope, app_, env, root=_ROOTS.get(threading.current_thread().name)))
    return Machine


_ROOTS: dict[str, Path] = {}  # thread name → its project directory (.jobwork/ there); others: $JOBWORK_ROOT


def start(*machines: Machine) -> None:
    for machine in machines:
        _ROOTS[machine.thread.name] = machine.schema.parent
        machine.thread.start()
    for machine in machines:
        machine.thread.join(timeout=120)
        assert not machine.thread.is_alive(), f"{machine.thread.name} still deploying"


def tables(strict_aws) -> list[str]:
    return sorted(strict_aws.client("dynamodb").list_tables()["TableNames"])


def stack_status(strict_aws) -> str:
    return strict_aws.client("cloudformation").describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"]


def first_executes(monkeypatch, first: str, second: str) -> None:
    """Both deploys pass their last check (the serial compare-and-set) before either executes; then `first`
    executes, and `second` executes once `first`'s update has started: the race AWS decides, in a fixed order."""
    checked = threading.Barrier(2, timeout=60)
    started = threading.Event()
    real_guard, real_wait = cloudformation_target.CloudFormationTarget._guard, cloudformation_stack.wait_stack
    waited: set[str] = set()

    def guard(self, *args, **kwargs):
        refusal = real_guard(self, *args, **kwargs)
        name = threading.current_thread().name
        if name not in waited:  # the first attempt of each: a second plan goes straight on
            waited.add(name)
            checked.wait()
            if name == second:
                assert started.wait(60)
        return refusal

    def wait_stack(*args, **kwargs):
        if threading.current_thread().name == first:
            started.set()
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(cloudformation_target.CloudFormationTarget, "_guard", guard)
    monkeypatch.setattr(cloudformation_target, "wait_stack", wait_stack)
    monkeypatch.setattr(cloudformation_stack, "wait_stack", wait_stack)


def test_two_ci_runs_in_quick_succession_both_land_the_second_after_waiting(tmp_path, strict_aws, monkeypatch,
                                                                            machines):
    """Two merges to main: the second commit has the first's change. The second deploy is overtaken, waits for the
    first's update, plans again (only its own table is left to add) and applies it: both changes land."""
    assert cli_deploy(project(tmp_path / "base", BASE), strict_aws.endpoint, monkeypatch).exit_code == 0
    strict_aws.stack_operation_seconds = 0.4
    one = machines(project(tmp_path / "one", with_tables("orders")), strict_aws.endpoint)
    two = machines(project(tmp_path / "two", with_tables("orders", "invoices")), strict_aws.endpoint)
    first_executes(monkeypatch, "one", "two")

    start(one, two)

    assert (one.code, two.code) == (0, 0), (one.text, two.text)
    assert "was updated by another deploy after change set" in two.text
    assert "waiting for the other deploy to end, then planning again" in two.text
    assert "is UPDATE_IN_PROGRESS" in two.text  # the second plan waited for the first's update
    assert tables(strict_aws) == ["shop-dev-invoices", "shop-dev-orders", "shop-dev-users"]
    assert stack_status(strict_aws) == "UPDATE_COMPLETE" and strict_aws.resource_failures("shop-dev") == []


def test_two_different_schemas_at_once_one_lands_the_other_is_refused_and_nothing_is_lost(tmp_path, strict_aws,
                                                                                            monkeypatch, machines):
    """Two project directories, two different changes: the overtaken deploy's new plan would delete the other's
    table; it is refused (R030, exit 3) instead of undoing it, and its own change is not half-applied."""
    assert cli_deploy(project(tmp_path / "base", BASE), strict_aws.endpoint, monkeypatch).exit_code == 0
    strict_aws.stack_operation_seconds = 0.4
    one = machines(project(tmp_path / "one", with_tables("orders")), strict_aws.endpoint)
    two = machines(project(tmp_path / "two", with_tables("invoices")), strict_aws.endpoint)
    first_executes(monkeypatch, "one", "two")

    start(one, two)

    assert (one.code, two.code) == (0, 3), (one.text, two.text)
    assert two.error.code == "R030"
    assert ("another deploy updated table shop-dev-orders of stack shop-dev while this deploy waited, and this "
            "schema would change it again") in two.text
    assert tables(strict_aws) == ["shop-dev-orders", "shop-dev-users"]
    assert stack_status(strict_aws) == "UPDATE_COMPLETE" and strict_aws.resource_failures("shop-dev") == []


def test_two_deploys_racing_freely_exactly_one_update_at_a_time_and_nothing_lost(tmp_path, strict_aws, monkeypatch,
                                                                                machines):
    """No order imposed: both pass the serial check, then race to ExecuteChangeSet. Whichever wins, the other never
    applies a plan made against the old stack: the later schema lands whole, or the earlier is refused."""
    assert cli_deploy(project(tmp_path / "base", BASE), strict_aws.endpoint, monkeypatch).exit_code == 0
    strict_aws.stack_operation_seconds = 0.4
    one = machines(project(tmp_path / "one", with_tables("orders")), strict_aws.endpoint)
    two = machines(project(tmp_path / "two", with_tables("orders", "invoices")), strict_aws.endpoint)
    checked = threading.Barrier(2, timeout=60)
    real_guard = cloudformation_target.CloudFormationTarget._guard
    waited: set[str] = set()

    def guard(self, *args, **kwargs):
        refusal = real_guard(self, *args, **kwargs)
        if threading.current_thread().name not in waited:
            waited.add(threading.current_thread().name)
            checked.wait()
        return refusal

    monkeypatch.setattr(cloudformation_target.CloudFormationTarget, "_guard", guard)
    start(one, two)

    # two (the later schema) always ends applied; one either went first (then two planned again: 0, 0) or was
    # overtaken by two and refused, since its new plan would delete two's table (3, R030).
    assert two.code == 0, two.text
    assert one.code == 0 or (one.code == 3 and one.error.code == "R030"), one.text
    assert tables(strict_aws) == ["shop-dev-invoices", "shop-dev-orders", "shop-dev-users"]
    updates = [e for e in strict_aws.stack_events("shop-dev")
               if e["ResourceType"] == "AWS::CloudFormation::Stack" and e["ResourceStatus"] == "UPDATE_COMPLETE"]
    assert len(updates) == 1 + (one.code == 0)  # one update per deploy that applied; none failed
    assert strict_aws.resource_failures("shop-dev") == []


def test_a_deploy_that_finds_the_stack_updating_waits_and_plans_from_what_the_update_left(tmp_path, strict_aws,
                                                                                            monkeypatch, machines):
    """Item 2: started while another deploy's update runs, the deploy waits (no failure, no stale plan) and its
    plan is made against the stack as that update left it: only its own table is added."""
    assert cli_deploy(project(tmp_path / "base", BASE), strict_aws.endpoint, monkeypatch).exit_code == 0
    strict_aws.stack_operation_seconds = 60  # the other update runs until this deploy is waiting for it
    other = machines(project(tmp_path / "other", with_tables("orders")), strict_aws.endpoint)
    started = threading.Event()
    real_wait, real_wait_other = cloudformation_stack.wait_stack, cloudformation_target.wait_for_other_operation

    def wait_stack(*args, **kwargs):
        if threading.current_thread().name == "other":
            started.set()
        return real_wait(*args, **kwargs)

    def wait_for_other_operation(*args, **kwargs):
        strict_aws.stack_operation_seconds = 0  # this deploy's own update: over when its execute returns
        strict_aws.finish_operations()  # the other deploy's update ends while this one waits
        return real_wait_other(*args, **kwargs)

    monkeypatch.setattr(cloudformation_target, "wait_stack", wait_stack)
    monkeypatch.setattr(cloudformation_stack, "wait_stack", wait_stack)
    monkeypatch.setattr(cloudformation_target, "wait_for_other_operation", wait_for_other_operation)
    _ROOTS["other"] = other.schema.parent
    other.thread.start()
    assert started.wait(60)
    assert stack_status(strict_aws) == "UPDATE_IN_PROGRESS"

    mine = project(tmp_path / "mine", with_tables("orders", "invoices"))
    result = cli_deploy(mine, strict_aws.endpoint, monkeypatch)
    other.thread.join(60)

    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert other.code == 0, other.text
    assert ("stack shop-dev is UPDATE_IN_PROGRESS (User Initiated): another deploy or a rollback is running on it; "
            "waiting for it to finish, then planning from what it leaves") in text, result.output
    assert "shop-dev-invoices" in text and "add table orders" not in text.lower()
    assert tables(strict_aws) == ["shop-dev-invoices", "shop-dev-orders", "shop-dev-users"]


def test_a_stack_whose_rollback_failed_is_refused_with_the_way_out(tmp_path, strict_aws, monkeypatch):
    """Item 3: UPDATE_ROLLBACK_FAILED is a refusal (R029, exit 3) naming the resource whose rollback failed and the
    continue-update-rollback command (with --resources-to-skip and the run's endpoint); after it, deploy works."""
    schema = project(tmp_path / "p", BASE)
    assert cli_deploy(schema, strict_aws.endpoint, monkeypatch).exit_code == 0
    strict_aws.fail_next("UsersTable", "Resource handler returned message: boom")
    strict_aws.fail_rollback("UsersTable", "Resource handler returned message: the table was changed outside")
    schema.write_text(BASE.replace("      user_id: uuid\n", "      user_id: uuid\n      email: string\n"
                                   "    global_indexes:\n      by_email: {partition_key: tenant_id, sort_key: email}\n"))

    failed = cli_deploy(schema, strict_aws.endpoint, monkeypatch)
    assert failed.exit_code == 1, failed.output
    assert "and so did its rollback; the stack is now UPDATE_ROLLBACK_FAILED" in " ".join(failed.output.split())
    assert stack_status(strict_aws) == "UPDATE_ROLLBACK_FAILED"

    refused = cli_deploy(schema, strict_aws.endpoint, monkeypatch)
    text = " ".join(refused.output.split())
    assert refused.exit_code == 3, refused.output
    assert "Traceback" not in refused.output
    assert "R029" in text
    assert ("stack shop-dev is UPDATE_ROLLBACK_FAILED (The following resource(s) failed to update: [UsersTable]. ): "
            "a failed update could not be rolled back") in text
    assert "The rollback failed on UsersTable: Resource handler returned message: the table was changed outside" in text
    assert (f"aws cloudformation continue-update-rollback --stack-name shop-dev --resources-to-skip UsersTable "
            f"--endpoint-url {strict_aws.endpoint}") in text

    strict_aws.client("cloudformation").continue_update_rollback(StackName="shop-dev", ResourcesToSkip=["UsersTable"])
    again = cli_deploy(schema, strict_aws.endpoint, monkeypatch)
    assert again.exit_code == 0, again.output
    assert stack_status(strict_aws) == "UPDATE_COMPLETE"
