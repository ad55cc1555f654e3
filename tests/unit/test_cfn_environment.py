"""Which stacks an environment's deploy, destroy and status read (deploy/cloudformation/environment.py), and
the emptied-stack refusal that spares the main stack (deploy/gate.py). Fast: no server, no synth."""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.cloudformation.environment import stacks_of_environment
from jobwork_infra.deploy.gate import Refused, refuse_emptied_stacks
from jobwork_infra.deploy.target import DeployedState, StackRun
from jobwork_infra.project import check_project
from tests.helpers import ORDERS_STACK, USERS, schema_text


def head(tmp_path, users: bool = True):
    """`users` in the main stack (or no table there) beside `orders` in a stack of its own."""
    path = tmp_path / "tables.yaml"
    path.write_text(schema_text(environments={"dev": "{}"}, tables={**(USERS if users else {}), **ORDERS_STACK}))
    return check_project(path).resolve("dev")


def test_the_main_stack_is_read_when_deployed_though_the_schema_puts_no_table_in_it(tmp_path):
    emptied = head(tmp_path, users=False)
    assert list(emptied.stacks) == ["shop-dev-orders"]  # the schema's stacks alone would skip it

    assert stacks_of_environment(emptied, {"shop-dev": "dev"}) == ["shop-dev", "shop-dev-orders"]
    assert stacks_of_environment(emptied, {}) == ["shop-dev-orders"]  # never deployed: nothing to read
    # a stack of that name that another environment's template (or no jobwork-infra template) made
    assert stacks_of_environment(emptied, {"shop-dev": "prod"}) == ["shop-dev-orders"]
    assert stacks_of_environment(emptied, {"shop-dev": None}) == ["shop-dev-orders"]


def test_deployed_stacks_the_schema_no_longer_names_follow_in_name_order(tmp_path):
    full = head(tmp_path)
    deployed = {"shop-dev": "dev", "shop-dev-orders": "dev", "shop-dev-zeta": "dev", "shop-dev-archive": "dev",
                "shop-dev-x": "dev-x", "shop-devx": "dev"}
    assert stacks_of_environment(full, deployed) == ["shop-dev", "shop-dev-orders", "shop-dev-archive",
                                                      "shop-dev-zeta"]


def run_of(view, base) -> StackRun:
    return StackRun(view, target=None, state=DeployedState(base=base, where=f"stack {view.stack_name}"))


def test_an_emptied_main_stack_is_planned_while_an_emptied_other_stack_is_refused(tmp_path):
    before, after = head(tmp_path), head(tmp_path, users=False)
    main = run_of(after.stack_view("shop-dev"), before.stack_view("shop-dev"))

    refuse_emptied_stacks([main], "shop-dev")  # planned: its removal goes through the destructive gate

    with pytest.raises(Refused) as refused:
        refuse_emptied_stacks([main])  # no main stack named: the general rule (R007)
    assert refused.value.code == "R007"
    orders = run_of(after.stack_view("shop-dev-archive"), before.stack_view("shop-dev-orders").model_copy(
        update={"stack_name": "shop-dev-archive"}))
    with pytest.raises(Refused) as refused:
        refuse_emptied_stacks([main, orders], "shop-dev")
    assert "stack shop-dev-archive is deployed, but none of its tables (shop-dev-orders)" in refused.value.message
