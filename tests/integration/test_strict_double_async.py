"""The strict AWS double takes its time (issue 18, item 7): a stack operation stays `*_IN_PROGRESS` after the call
that started it, and a rollback can fail (UPDATE_ROLLBACK_FAILED) until ContinueUpdateRollback skips the resource.

Each rule fires here with boto3 alone (the tool is not involved); its source is next to it in
tests/double/cloudformation.py and tests/double/install.py, and in docs/deploy.md.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_strict_double import STACK, deploy, table, template


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


def _put_items(aws, table_name: str, count: int) -> None:
    for i in range(count):
        aws.client("dynamodb").put_item(TableName=table_name, Item={"tenant_id": {"S": "t"}, "user_id": {"S": f"u{i}"},
                                                                     "email": {"S": f"u{i}@x"}})


def _add_index(aws, table_name: str) -> None:
    aws.client("dynamodb").update_table(
        TableName=table_name, AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"},
                                                    {"AttributeName": "tenant_id", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_email", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                          {"AttributeName": "email", "KeyType": "RANGE"}]}}])


def _index_status(aws, table_name: str) -> str:
    return aws.client("dynamodb").describe_table(TableName=table_name)["Table"]["GlobalSecondaryIndexes"][0]["IndexStatus"]


def test_a_backfill_takes_longer_on_a_table_with_more_items(strict_aws):
    assert deploy(strict_aws, template(UsersTable=table(), OrdersTable=table("shop-dev-orders"))) == "CREATE_COMPLETE"
    _put_items(strict_aws, "shop-dev-orders", 20)
    strict_aws.backfill_seconds, strict_aws.backfill_seconds_per_item = 0.1, 1.0  # 0.1 s, and 20.1 s with 20 items

    _add_index(strict_aws, "shop-dev-users")
    _add_index(strict_aws, "shop-dev-orders")
    strict_aws.wait_indexes_active("shop-dev-users")

    assert _index_status(strict_aws, "shop-dev-orders") == "CREATING"
    strict_aws.clock.advance(20)
    assert _index_status(strict_aws, "shop-dev-orders") == "ACTIVE"


def test_a_fifth_switch_to_on_demand_within_24_hours_is_refused_and_back_to_provisioned_is_not(strict_aws):
    dynamodb = strict_aws.client("dynamodb")
    dynamodb.create_table(TableName="t", BillingMode="PROVISIONED",
                          ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    provisioned = {"BillingMode": "PROVISIONED", "ProvisionedThroughput": {"ReadCapacityUnits": 1,
                                                                           "WriteCapacityUnits": 1}}
    for _ in range(4):
        dynamodb.update_table(TableName="t", BillingMode="PAY_PER_REQUEST")
        dynamodb.update_table(TableName="t", **provisioned)  # back to provisioned: any time
    with pytest.raises(ClientError) as refused:
        dynamodb.update_table(TableName="t", BillingMode="PAY_PER_REQUEST")
    assert refused.value.response["Error"]["Code"] == "LimitExceededException"
    assert refused.value.response["Error"]["Message"] == (
        "Subscriber limit exceeded: Update to PayPerRequest mode are limited to 4 times in 1 day(s).")
    strict_aws.clock.advance(24 * 3600)  # a rolling window: the first switch has left it
    dynamodb.update_table(TableName="t", BillingMode="PAY_PER_REQUEST")


def test_a_stack_update_making_the_fifth_switch_to_on_demand_fails_and_rolls_back(strict_aws):
    def billed(mode: str) -> dict:
        resource = table()
        resource["Properties"]["BillingMode"] = mode
        if mode == "PROVISIONED":
            resource["Properties"]["ProvisionedThroughput"] = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
        return template(UsersTable=resource)

    assert deploy(strict_aws, billed("PROVISIONED")) == "CREATE_COMPLETE"
    for _ in range(4):
        assert deploy(strict_aws, billed("PAY_PER_REQUEST")) == "UPDATE_COMPLETE"
        assert deploy(strict_aws, billed("PROVISIONED")) == "UPDATE_COMPLETE"
    assert deploy(strict_aws, billed("PAY_PER_REQUEST")) == "UPDATE_ROLLBACK_COMPLETE"
    assert strict_aws.resource_failures(STACK)[-1][2].startswith(
        "Subscriber limit exceeded: Update to PayPerRequest mode are limited to 4 times in 1 day(s). "
        "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: LimitExceededException")


def test_an_update_shows_its_cleanup_in_progress_and_deletes_a_removed_table_at_its_end(strict_aws):
    assert deploy(strict_aws, template(UsersTable=table(), OrdersTable=table("shop-dev-orders"))) == "CREATE_COMPLETE"
    strict_aws.stack_operation_seconds = 60  # each phase ends when the test says so
    cfn = strict_aws.client("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set(strict_aws, template(UsersTable=table()), "drop-orders"))
    assert status(strict_aws) == "UPDATE_IN_PROGRESS"

    strict_aws.finish_operations(phases=1)
    assert status(strict_aws) == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    assert "shop-dev-orders" in strict_aws.client("dynamodb").list_tables()["TableNames"]  # deleted in the cleanup
    with pytest.raises(ClientError) as refused:
        change_set(strict_aws, template(UsersTable=table(), Other=table("shop-dev-other")), "during-cleanup")
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS state and can not be updated" in str(refused.value)

    strict_aws.finish_operations()
    assert status(strict_aws) == "UPDATE_COMPLETE"
    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == ["shop-dev-users"]
