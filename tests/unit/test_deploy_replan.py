"""A deploy overtaken by another (another machine) waits and plans again: the flow's side, with a recording target
(fast; the race itself on the strict double: tests/integration/test_deploy_queue.py). And the CloudFormation pieces it rests
on, with botocore's Stubber: waiting out another operation, and reading which resources a failed rollback left.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from jobwork_infra.deploy import events, flow
from jobwork_infra.deploy.cloudformation.stack import rollback_failures, wait_for_other_operation
from jobwork_infra.deploy.gate import Overtaken, Refused
from jobwork_infra.deploy.target import DeployedState
from jobwork_infra.deploy.timing import TIMING
from jobwork_infra.model import SchemaFile, resolve
from tests.unit.test_flow import Recorder, deploy, fixed_clock, schema  # noqa: F401  (fixed_clock: the autouse fixture)


def with_tables(*names: str) -> SchemaFile:
    data = schema().model_dump(exclude_unset=True, by_alias=True)
    for name in names:
        data["tables"][name] = {"sort_key": f"{name}_id", "attributes": {f"{name}_id": "string"}}
    return SchemaFile.model_validate(data)


S, S_ORDERS = resolve(with_tables(), "dev"), resolve(with_tables("orders"), "dev")
S_ORDERS_INVOICES, S_INVOICES = resolve(with_tables("orders", "invoices"), "dev"), resolve(with_tables("invoices"), "dev")


class Overtakable(Recorder):
    """Reads `bases` in turn (what another deploy left), and is overtaken at the steps in `overtaken_at`."""

    def __init__(self, *bases, overtaken_at=(1,)):
        super().__init__(bases[0])
        self.bases, self.overtaken_at, self.reads = list(bases), list(overtaken_at), 0

    def read(self, head, *, destroying=False):
        self.base = self.bases[min(self.reads, len(self.bases) - 1)]
        self.reads += 1
        return DeployedState(self.base, "stack flow-dev", exists=True)

    def apply(self, step, before, state):
        if self.overtaken_at and self.overtaken_at[0] == step.number:
            self.overtaken_at.pop(0)
            raise Overtaken("stack flow-dev was updated by another deploy", "run deploy again", step.number)
        return super().apply(step, before, state)


def notes(seen) -> str:
    return " ".join(e.text for e in seen if isinstance(e, events.Note))


def test_overtaken_before_anything_applied_it_plans_again_from_what_the_other_left_and_applies():
    target = Overtakable(S, S_ORDERS)  # the other deploy added orders; this schema has orders and invoices
    code, _, seen = deploy(S, S_ORDERS_INVOICES, target)
    assert code == 0
    assert target.reads == 2
    assert target.applied == [(1, "apply 1 change in one update: invoices: create table")]  # only what is left
    assert "waiting for the other deploy to end, then planning again from what it left" in notes(seen)
    plans = [e for e in seen if isinstance(e, events.Planned)]
    assert len(plans) == 2  # the new plan is shown before it is applied


def test_a_new_plan_that_would_change_the_other_deploys_tables_is_refused_and_applies_nothing():
    target = Overtakable(S, S_ORDERS)  # the other deploy added orders; this schema has invoices instead
    with pytest.raises(Refused) as refused:
        deploy(S, S_INVOICES, target, allow_destructive=True)  # even allowed to delete, it must not undo the other
    assert refused.value.code == "R030"
    assert refused.value.message.startswith("another deploy updated table flow-dev-orders of stack")
    assert target.applied == []


def test_overtaken_after_a_step_applied_is_refused_not_planned_again():
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}, "by_a": {"partition_key": "a"}}),
                   "dev")
    target = Overtakable(S, overtaken_at=(2,))
    with pytest.raises(Overtaken) as refused:
        deploy(S, head, target)
    assert refused.value.code == "R010"
    assert target.reads == 1 and target.applied == [(1, "users: create index by_email")]


def test_overtaken_again_and_again_it_gives_up_with_r010():
    target = Overtakable(S, overtaken_at=(1,) * (flow.MAX_REPLANS + 1))
    with pytest.raises(Overtaken):
        deploy(S, S_ORDERS, target)
    assert target.reads == flow.MAX_REPLANS + 1 and target.applied == []


def test_a_dry_run_is_never_overtaken_and_a_plan_without_a_previous_reading_is_not_checked():
    target = Overtakable(S_ORDERS)
    code, _, _ = deploy(S_ORDERS, S_ORDERS_INVOICES, target, dry_run=True)
    assert code == 0 and target.applied == [] and target.reads == 1


# -- CloudFormation: waiting out another operation; what a failed rollback left -------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-dev/1"


def _stack(status: str) -> dict:
    return {"Stacks": [{"StackName": "shop-dev", "StackId": STACK_ID, "StackStatus": status, "CreationTime": NOW}]}


def _event(number: int, lid: str, status: str, reason: str = "", kind: str = "AWS::DynamoDB::Table") -> dict:
    event = {"StackId": STACK_ID, "EventId": f"e{number}", "StackName": "shop-dev", "LogicalResourceId": lid,
             "ResourceType": kind, "Timestamp": NOW, "ResourceStatus": status}
    return {**event, "ResourceStatusReason": reason} if reason else event


@pytest.fixture
def cfn(monkeypatch):
    monkeypatch.setattr(TIMING, "stack_poll", 0)
    client = boto3.Session(region_name="us-east-1").client("cloudformation", aws_access_key_id="x",
                                                           aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_any_in_progress_status_is_waited_through_with_the_other_operations_events_shown(cfn):
    client, stub = cfn
    old = _event(1, "shop-dev", "UPDATE_IN_PROGRESS", kind="AWS::CloudFormation::Stack")
    stub.add_response("describe_stack_events", {"StackEvents": [old]})
    stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
    cleanup = _event(2, "OldTable", "DELETE_COMPLETE")
    stub.add_response("describe_stack_events", {"StackEvents": [cleanup, old]})
    stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"))  # any end will do: a rollback too
    stub.add_response("describe_stack_events", {"StackEvents": [cleanup, old]})
    seen: list = []

    wait_for_other_operation(client, {**_stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")["Stacks"][0]}, seen.append, 60)

    assert notes(seen).startswith("stack shop-dev is UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: another deploy or a "
                                  "rollback is running on it; waiting for it to finish")
    assert [(e.status, e.logical_id) for e in seen if isinstance(e, events.StackEvent)] == [
        ("DELETE_COMPLETE", "OldTable")]  # the other operation's new events, not the old ones


def test_a_stack_deleted_while_waiting_ends_the_wait(cfn):
    client, stub = cfn
    stub.add_response("describe_stack_events", {"StackEvents": []})
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id shop-dev does not exist")
    stub.add_client_error("describe_stack_events", "ValidationError", "Stack [shop-dev] does not exist")
    wait_for_other_operation(client, _stack("DELETE_IN_PROGRESS")["Stacks"][0], [].append, 60)


def test_the_resources_of_the_last_failed_rollback_are_read_from_the_events(cfn):
    client, stub = cfn
    stack = "AWS::CloudFormation::Stack"
    stub.add_response("describe_stack_events", {"StackEvents": [  # newest first
        _event(9, "shop-dev", "UPDATE_ROLLBACK_FAILED", kind=stack),
        _event(8, "OrdersTable", "UPDATE_FAILED", "cannot roll back orders"),
        _event(7, "UsersTable", "UPDATE_FAILED", "cannot roll back users"),
        _event(6, "shop-dev", "UPDATE_ROLLBACK_IN_PROGRESS", kind=stack),
        _event(5, "UsersTable", "UPDATE_FAILED", "the update's own failure"),
        _event(4, "OldTable", "UPDATE_FAILED", "an older rollback"),
    ]})
    assert rollback_failures(client, STACK_ID) == [("UsersTable", "cannot roll back users"),
                                                   ("OrdersTable", "cannot roll back orders")]


def test_a_saved_plan_that_is_overtaken_is_refused_not_planned_again(tmp_path):
    """A saved plan is applied as it was reviewed or not at all: overtaken, it is never replaced by a new plan."""
    from jobwork_infra.deploy import DeployRequest
    from jobwork_infra.deploy.saved_plan import load_plan

    path = str(tmp_path / "plan.json")
    assert deploy(S, S_ORDERS, Overtakable(S), dry_run=True, plan_out=path)[0] == 0
    target = Overtakable(S, S_INVOICES)
    with pytest.raises(Overtaken) as refused:
        flow.deploy(S_ORDERS, DeployRequest(env="dev", yes=True), target, [].append, lambda question: True,
                    load_plan(path))
    assert refused.value.code == "R010"
    assert target.reads == 1 and target.applied == []
