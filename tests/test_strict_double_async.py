"""The strict AWS double takes its time (issue 18, item 7): a stack operation stays `*_IN_PROGRESS` after the call
that started it, and a rollback can fail (UPDATE_ROLLBACK_FAILED) until ContinueUpdateRollback skips the resource.

Each rule fires here with boto3 alone (the tool is not involved); its source is next to it in
tests/double/cloudformation.py and tests/double/install.py, and in docs/deploy.md.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.test_strict_double import STACK, deploy, table, template


def change_set(aws, body: dict, name: str) -> str:
    return aws.client("cloudformation").create_change_set(
        StackName=STACK, ChangeSetName=name, ChangeSetType="UPDATE", TemplateBody=json.dumps(body),
        Capabilities=["CAPABILITY_NAMED_IAM"])["Id"]


def status(aws) -> str:
    return aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]


def test_a_stack_update_is_in_progress_after_the_call_and_takes_no_other_operation(strict_aws):
    assert deploy(strict_aws, template(UsersTable=table())) == "CREATE_COMPLETE"
    strict_aws.stack_operation_seconds = 0.3
    cfn = strict_aws.client("cloudformation")
    first = change_set(strict_aws, template(UsersTable=table(), OrdersTable=table("shop-dev-orders")), "first")
    second = change_set(strict_aws, template(UsersTable=table(), InvoicesTable=table("shop-dev-invoices")), "second")

    cfn.execute_change_set(ChangeSetName=first)

    assert status(strict_aws) == "UPDATE_IN_PROGRESS"
    with pytest.raises(ClientError) as created:  # no change set while the stack is updating
        change_set(strict_aws, template(UsersTable=table()), "third")
    assert "is in UPDATE_IN_PROGRESS state and can not be updated" in str(created.value)
    with pytest.raises(ClientError) as executed:  # the other change set was deleted by the execute
        cfn.execute_change_set(ChangeSetName=second)
    assert executed.value.response["Error"]["Code"] == "ChangeSetNotFound"
    assert strict_aws.wait_stack_settled(STACK) == "UPDATE_COMPLETE"
    assert sorted(strict_aws.client("dynamodb").list_tables()["TableNames"]) == ["shop-dev-orders", "shop-dev-users"]


def test_executing_a_change_set_while_the_stack_is_in_progress_is_invalid_change_set_status(strict_aws):
    assert deploy(strict_aws, template(UsersTable=table())) == "CREATE_COMPLETE"
    strict_aws.stack_operation_seconds = 0.3
    cfn = strict_aws.client("cloudformation")
    late = change_set(strict_aws, template(UsersTable=table(), Late=table("shop-dev-late")), "late")
    # A direct UpdateStack leaves the change set in place (only an execute deletes the others), but it cannot run
    # while the stack updates.
    cfn.update_stack(StackName=STACK, TemplateBody=json.dumps(template(UsersTable=table(), Other=table("shop-dev-x"))),
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    with pytest.raises(ClientError) as executed:
        cfn.execute_change_set(ChangeSetName=late)
    assert executed.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    assert strict_aws.wait_stack_settled(STACK) == "UPDATE_COMPLETE"


def test_a_failed_rollback_leaves_the_stack_stuck_until_continue_update_rollback_skips_it(strict_aws):
    assert deploy(strict_aws, template(UsersTable=table(), OrdersTable=table("shop-dev-orders"))) == "CREATE_COMPLETE"
    strict_aws.fail_next("UsersTable", "boom")
    strict_aws.fail_rollback("OrdersTable", "Resource handler returned message: the table was changed outside")
    cfn = strict_aws.client("cloudformation")

    assert deploy(strict_aws, template(UsersTable=table(indexes=("email",)),
                                       OrdersTable=table("shop-dev-orders", indexes=("total",)))) == "UPDATE_ROLLBACK_FAILED"
    assert ("OrdersTable", "UPDATE_FAILED", "Resource handler returned message: the table was changed outside") \
        in strict_aws.resource_failures(STACK)
    with pytest.raises(ClientError) as refused:  # no update while stuck
        change_set(strict_aws, template(UsersTable=table()), "fix")
    assert "UPDATE_ROLLBACK_FAILED state and can not be updated" in str(refused.value)
    with pytest.raises(ClientError) as wrong:  # only a resource whose rollback failed may be skipped
        cfn.continue_update_rollback(StackName=STACK, ResourcesToSkip=["UsersTable"])
    assert "cannot be skipped" in str(wrong.value)

    cfn.continue_update_rollback(StackName=STACK)  # the cause is still there: stuck again
    assert status(strict_aws) == "UPDATE_ROLLBACK_FAILED"
    cfn.continue_update_rollback(StackName=STACK, ResourcesToSkip=["OrdersTable"])
    assert status(strict_aws) == "UPDATE_ROLLBACK_COMPLETE"
    assert deploy(strict_aws, template(UsersTable=table(), OrdersTable=table("shop-dev-orders"),
                                       NewTable=table("shop-dev-new"))) == "UPDATE_COMPLETE"


def test_continue_update_rollback_of_a_stack_that_is_not_stuck_is_refused(strict_aws):
    assert deploy(strict_aws, template(UsersTable=table())) == "CREATE_COMPLETE"
    with pytest.raises(ClientError) as refused:
        strict_aws.client("cloudformation").continue_update_rollback(StackName=STACK)
    assert "CREATE_COMPLETE state and can not continue update rollback" in str(refused.value)
