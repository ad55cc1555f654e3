"""The main stack of an environment whose tables are all in other stacks now (issue 17/18).

Removing the only table of the main stack must not make deploy skip that stack and say the stacks match the
schema: the main stack is still deployed and still holds the table, so the removal is planned there like in
any other stack (destructive, refused without --allow-destructive, with its item count), and `destroy` and
`status` still see the stack. Against the strict AWS double (never AWS).
"""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.cloudformation.template import deployed_tables
from tests.helpers import ORDERS_STACK, USERS, run_cli, schema_text


def schema(*, users: bool) -> str:
    """`users` in the main stack (or no table there at all) beside `orders` in a stack of its own."""
    return schema_text(tables={**(USERS if users else {}), **ORDERS_STACK})


def run(*args: str):
    return run_cli(*args, catch_exceptions=False)


def held(cfn, stack: str) -> list[str]:
    return sorted(deployed_tables(cfn.get_template(StackName=stack)["TemplateBody"]))


@pytest.mark.slow
def test_removing_the_only_table_of_the_main_stack_is_planned_there_and_refused_without_allow_destructive(
        tmp_path, strict_aws, fast_polls):
    path = tmp_path / "tables.yaml"
    path.write_text(schema(users=True))
    where = ("--env", "dev", "--schema", str(path), "--endpoint-url", strict_aws.endpoint)
    assert run("deploy", *where, "--yes").exit_code == 0
    cfn, ddb = strict_aws.client("cloudformation"), strict_aws.client("dynamodb")
    for n in range(3):
        ddb.put_item(TableName="shop-dev-users", Item={"tenant_id": {"S": "t1"}, "user_id": {"S": f"u{n}"}})
    path.write_text(schema(users=False))  # the main stack's only table leaves the schema

    refused = run("deploy", *where, "--yes")

    out = " ".join(refused.output.split())
    assert refused.exit_code == 3, refused.output
    assert "match the schema" not in out and "No changes: stack shop-dev matches" not in out
    assert "Plan for shop-dev: 1 step" in out
    assert "[D101]" in out or "D101 table shop-dev-users is deleted with its data" in out
    assert "data at risk: table shop-dev-users is deleted: it holds approximately 3 items" in out
    assert "R005" in out and "--allow-destructive" in out
    assert held(cfn, "shop-dev") == ["UsersTable"]  # nothing was changed
    assert ddb.scan(TableName="shop-dev-users", Select="COUNT")["Count"] == 3

    status = run("status", *where)
    assert status.exit_code == 0, status.output
    assert "\nstack shop-dev (CREATE_COMPLETE" in status.output, status.output
    assert "  shop-dev-users (not in the schema): ACTIVE, about 3 items" in status.output

    allowed = run("deploy", *where, "--yes", "--allow-destructive")

    assert allowed.exit_code == 0, allowed.output
    assert "shop-dev: 1 step" in allowed.output
    assert "shop-dev-users" not in ddb.list_tables()["TableNames"]  # removal_policy destroy: deleted, as planned
    assert held(cfn, "shop-dev") == []  # the main stack stays, holding nothing

    again = run("deploy", *where)
    assert again.exit_code == 0, again.output
    assert again.output.rstrip().endswith("No changes: the 2 stacks of dev match the schema.")

    destroyed = run("destroy", *where, "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert "Destroyed stack shop-dev." in destroyed.output
    assert cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"] == []
