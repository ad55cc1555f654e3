"""Refusals mutation testing found reached by no fast test (issue 21): a table moved between stacks (R008) and
what `--adopt --from-stack` lets through, and a stack whose rollback failed (R029). Each asserts the refusal's
code and that it says nothing was changed; the flow-level wiring of both is in the slow CloudFormation tests
(tests/integration/test_adopt_dry_run.py, tests/integration/test_deploy_queue.py)."""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.gate import Refused, refuse_moves, refuse_rollback_failed
from jobwork_infra.deploy.target import DeployedState, StackRun
from jobwork_infra.followup import Invocation
from jobwork_infra.model import SchemaFile, resolve


def _schema(orders_stack: str | None):
    orders = {"sort_key": "order_id", "attributes": {"order_id": "string"}}
    return resolve(SchemaFile.model_validate({
        "version": 1, "app": "shop", "environments": {"dev": {"removal_policy": "destroy"}},
        "tables": {"users": {"sort_key": "user_id", "attributes": {"user_id": "string"}},
                   "orders": {**orders, **({"stack": orders_stack} if orders_stack else {})}}}), "dev")


DEPLOYED = _schema(None)          # both tables in shop-dev
HEAD = _schema("billing")         # orders moves to shop-dev-billing


def _runs(adopting: tuple[str, ...] = ()) -> list[StackRun]:
    main = DeployedState(DEPLOYED.stack_view("shop-dev"), "stack shop-dev", exists=True, adopting=adopting)
    billing = DeployedState(None, "stack shop-dev-billing")
    return [StackRun(HEAD.stack_view("shop-dev"), None, main), StackRun(HEAD.stack_view("shop-dev-billing"), None,
                                                                         billing)]


def test_a_table_moved_to_another_stack_is_refused_naming_it():
    with pytest.raises(Refused) as refused:
        refuse_moves(HEAD, _runs())
    assert refused.value.code == "R008"
    assert "orders" in refused.value.message and "users" not in refused.value.message
    assert refused.value.message.endswith("nothing was changed")


def test_from_stack_lets_through_only_the_stack_that_holds_the_table():
    assert refuse_moves(HEAD, _runs(), moving_from="shop-dev") == {"orders": "shop-dev"}
    with pytest.raises(Refused) as refused:
        refuse_moves(HEAD, _runs(), moving_from="shop-dev-other")   # another stack named: still refused
    assert refused.value.code == "R008"


def test_a_table_being_adopted_is_not_counted_as_held_by_the_stack():
    # deploy --adopt: the table is in the stack's base but held elsewhere until imported; not a move.
    assert refuse_moves(HEAD, _runs(adopting=(HEAD.tables["orders"].physical_name,))) == {}


def test_a_stack_whose_rollback_failed_is_refused_with_the_resources_to_skip():
    with pytest.raises(Refused) as refused:
        refuse_rollback_failed("shop-dev", "Resource update failed", [("UsersTable", "Index busy"), ("Policy", "")],
                               Invocation(env="dev"))
    assert refused.value.code == "R029"
    message, hint = refused.value.message, refused.value.hint
    assert "UPDATE_ROLLBACK_FAILED (Resource update failed)" in message and "UsersTable: Index busy; Policy" in message
    assert message.endswith("nothing was changed")
    assert "continue-update-rollback --stack-name shop-dev" in hint and "--resources-to-skip UsersTable Policy" in hint
