"""The strict AWS double (tests/double, fixture `strict_aws`): each AWS rule fires, and the legal case passes.

Templates here are small hand-written ones, sent with boto3: what is tested is the double, not the
tool. Every rule's source is next to it in tests/double/*.py and in docs/deploy.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from tests.double import dynamodb as double_ddb
from tests.double import iam as double_iam
from tests.double import imports as double_imports
from tests.double import tables as double_tables

STACK = "shop-dev"


def table(name: str | None = "shop-dev-users", *, indexes: tuple[str, ...] = (), ttl: tuple[bool, str] | None = None,
          protected: bool = False, deletion_policy: str | None = None, sort_key: str = "user_id") -> dict:
    attributes = {"tenant_id", sort_key, *indexes}
    props: dict = {
        "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                      {"AttributeName": sort_key, "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if name:
        props["TableName"] = name
    if indexes:
        props["GlobalSecondaryIndexes"] = [
            {"IndexName": f"by_{a}", "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                                   {"AttributeName": a, "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}} for a in indexes]
    if ttl:
        props["TimeToLiveSpecification"] = {"Enabled": ttl[0], "AttributeName": ttl[1]}
    if protected:
        props["DeletionProtectionEnabled"] = True
    resource = {"Type": "AWS::DynamoDB::Table", "Properties": props}
    if deletion_policy:
        resource["DeletionPolicy"] = deletion_policy
    return resource


def template(**resources: dict) -> dict:
    return {"Resources": resources,
            "Outputs": {f"{lid}Name": {"Value": {"Ref": lid}} for lid, r in resources.items()
                        if r["Type"] == "AWS::DynamoDB::Table"}}


def deploy(aws, body: dict, stack: str = STACK) -> str:
    """Create or update `stack` through a change set, as the tool does; returns the stack status."""
    cfn = aws.client("cloudformation")
    try:
        cfn.describe_stacks(StackName=stack)
        kind = "UPDATE"
    except ClientError:
        kind = "CREATE"
    created = cfn.create_change_set(StackName=stack, ChangeSetName=f"cs{len(aws.stack_events(stack)) if kind == 'UPDATE' else 0}",
                                    ChangeSetType=kind, TemplateBody=json.dumps(body),
                                    Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.execute_change_set(ChangeSetName=created["Id"])
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def put(aws, table_name: str, count: int = 3) -> None:
    for i in range(count):
        aws.client("dynamodb").put_item(TableName=table_name, Item={
            "tenant_id": {"S": "t1"}, "user_id": {"S": f"u{i}"}, "email": {"S": f"u{i}@x"},
            "created_at": {"S": f"2026-01-0{i + 1}"}})


def items(aws, table_name: str) -> int:
    return aws.client("dynamodb").scan(TableName=table_name)["Count"]


def indexes(aws, table_name: str) -> dict[str, str]:
    described = aws.client("dynamodb").describe_table(TableName=table_name)["Table"]
    return {i["IndexName"]: i["IndexStatus"] for i in described.get("GlobalSecondaryIndexes", [])}


def failed(aws, stack: str = STACK) -> list[tuple[str, str, str]]:
    return aws.resource_failures(stack)


# ---------------------------------------------------------------------------------------------
# Stack updates modify tables in place

def test_a_stack_update_adds_an_index_in_place_and_keeps_the_items(strict_aws):
    assert deploy(strict_aws, template(Users=table())) == "CREATE_COMPLETE"
    put(strict_aws, "shop-dev-users")
    strict_aws.backfill_seconds = 60

    status = deploy(strict_aws, template(Users=table(indexes=("email",))))

    # CloudFormation reports the update complete while the index still backfills
    assert status == "UPDATE_COMPLETE"
    described = strict_aws.client("dynamodb").describe_table(TableName="shop-dev-users")["Table"]
    [index] = described["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["IndexStatus"], index.get("Backfilling")) == ("by_email", "CREATING", True)
    assert items(strict_aws, "shop-dev-users") == 3
    strict_aws.clock.advance(60)
    assert indexes(strict_aws, "shop-dev-users") == {"by_email": "ACTIVE"}


def test_a_backfill_takes_backfill_seconds_of_real_time(strict_aws):
    import time

    deploy(strict_aws, template(Users=table()))
    strict_aws.backfill_seconds = 0.3
    started = time.monotonic()
    deploy(strict_aws, template(Users=table(indexes=("email",))))
    assert indexes(strict_aws, "shop-dev-users") == {"by_email": "CREATING"}

    strict_aws.wait_indexes_active("shop-dev-users")

    assert 0.25 <= time.monotonic() - started < 5


def test_a_deleted_index_is_deleting_for_a_while_then_gone(strict_aws):
    deploy(strict_aws, template(Users=table(indexes=("email",))))
    strict_aws.backfill_seconds = 60

    assert deploy(strict_aws, template(Users=table())) == "UPDATE_COMPLETE"

    assert indexes(strict_aws, "shop-dev-users") == {"by_email": "DELETING"}
    strict_aws.clock.advance(60)
    assert indexes(strict_aws, "shop-dev-users") == {}


# ---------------------------------------------------------------------------------------------
# One GSI create or delete per update, none while another is in flight

def test_two_indexes_in_one_update_roll_back_with_nothing_applied(strict_aws):
    deploy(strict_aws, template(Users=table()))
    put(strict_aws, "shop-dev-users")

    status = deploy(strict_aws, template(Users=table(indexes=("email", "created_at"))))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert failed(strict_aws) == [("Users", "UPDATE_FAILED", double_tables.ONE_GSI_PER_UPDATE)]
    assert indexes(strict_aws, "shop-dev-users") == {}
    assert items(strict_aws, "shop-dev-users") == 3
    # the stack keeps its old template
    body = strict_aws.client("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    assert "GlobalSecondaryIndexes" not in json.dumps(body)


def test_an_index_operation_while_another_backfills_fails_with_the_subscriber_limit(strict_aws):
    deploy(strict_aws, template(Users=table()))
    strict_aws.backfill_seconds = 60
    assert deploy(strict_aws, template(Users=table(indexes=("email",)))) == "UPDATE_COMPLETE"

    status = deploy(strict_aws, template(Users=table(indexes=("email", "created_at"))))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    [(lid, event, reason)] = failed(strict_aws)
    assert (lid, event) == ("Users", "UPDATE_FAILED")
    assert reason.startswith(double_ddb.ONE_ONLINE_INDEX) and "LimitExceededException" in reason
    assert indexes(strict_aws, "shop-dev-users") == {"by_email": "CREATING"}

    strict_aws.clock.advance(60)  # the backfill ends: the same step now passes
    assert deploy(strict_aws, template(Users=table(indexes=("email", "created_at")))) == "UPDATE_COMPLETE"
    assert indexes(strict_aws, "shop-dev-users") == {"by_email": "ACTIVE", "by_created_at": "CREATING"}


GSI = {"IndexName": "by_email", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
       "Projection": {"ProjectionType": "ALL"}}


def test_update_table_allows_one_index_operation_at_a_time(strict_aws):
    dynamodb = strict_aws.client("dynamodb")
    deploy(strict_aws, template(Users=table()))
    strict_aws.backfill_seconds = 60
    email = [{"AttributeName": "email", "AttributeType": "S"}]
    second = {**GSI, "IndexName": "by_email_2"}

    with pytest.raises(ClientError) as two_at_once:
        dynamodb.update_table(TableName="shop-dev-users", AttributeDefinitions=email,
                              GlobalSecondaryIndexUpdates=[{"Create": GSI}, {"Create": second}])
    assert two_at_once.value.response["Error"] == {"Code": "LimitExceededException",
                                                  "Message": double_ddb.ONE_ONLINE_INDEX}
    assert indexes(strict_aws, "shop-dev-users") == {}

    dynamodb.update_table(TableName="shop-dev-users", AttributeDefinitions=email,
                          GlobalSecondaryIndexUpdates=[{"Create": GSI}])
    with pytest.raises(ClientError) as while_creating:
        dynamodb.update_table(TableName="shop-dev-users", AttributeDefinitions=email,
                              GlobalSecondaryIndexUpdates=[{"Create": second}])
    assert while_creating.value.response["Error"]["Code"] == "LimitExceededException"

    strict_aws.clock.advance(60)
    dynamodb.update_table(TableName="shop-dev-users", AttributeDefinitions=email,
                          GlobalSecondaryIndexUpdates=[{"Create": second}])
    assert indexes(strict_aws, "shop-dev-users") == {"by_email": "ACTIVE", "by_email_2": "CREATING"}


# ---------------------------------------------------------------------------------------------
# Changes CloudFormation refuses

def test_changing_an_index_key_in_place_is_refused(strict_aws):
    deploy(strict_aws, template(Users=table(indexes=("email",))))
    changed = table(indexes=("email",))
    changed["Properties"]["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}

    assert deploy(strict_aws, template(Users=changed)) == "UPDATE_ROLLBACK_COMPLETE"

    assert failed(strict_aws) == [("Users", "UPDATE_FAILED", double_tables.GSI_CHANGED_IN_PLACE)]
    described = strict_aws.client("dynamodb").describe_table(TableName="shop-dev-users")["Table"]
    assert described["GlobalSecondaryIndexes"][0]["Projection"] == {"ProjectionType": "ALL"}


def test_replacing_a_custom_named_table_is_refused(strict_aws):
    deploy(strict_aws, template(Users=table()))
    put(strict_aws, "shop-dev-users")

    status = deploy(strict_aws, template(Users=table(sort_key="email")))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert failed(strict_aws) == [("Users", "UPDATE_FAILED", double_tables.CUSTOM_NAME_REPLACEMENT.format(
        name="shop-dev-users"))]
    assert items(strict_aws, "shop-dev-users") == 3


def with_lsi(resource: dict) -> dict:
    props = resource["Properties"]
    props["AttributeDefinitions"].append({"AttributeName": "email", "AttributeType": "S"})
    props["LocalSecondaryIndexes"] = [{"IndexName": "by_email", "Projection": {"ProjectionType": "ALL"},
                                       "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                                     {"AttributeName": "email", "KeyType": "RANGE"}]}]
    return resource


def with_numeric_sort_key(resource: dict) -> dict:
    for attribute in resource["Properties"]["AttributeDefinitions"]:
        if attribute["AttributeName"] == "user_id":
            attribute["AttributeType"] = "N"
    return resource


@pytest.mark.parametrize(("change", "cause"), [(with_lsi, "LocalSecondaryIndexes"),
                                               (with_numeric_sort_key, "AttributeDefinitions")])
def test_an_lsi_or_key_type_change_on_a_named_table_is_a_refused_replacement(strict_aws, change, cause):
    deploy(strict_aws, template(Users=table()))

    found = changes(strict_aws, template(Users=change(table())))
    status = deploy(strict_aws, template(Users=change(table())))

    assert found["Users"]["Replacement"] == "True"
    assert cause in {d["Target"]["Name"] for d in found["Users"]["Details"]
                     if d["Target"]["RequiresRecreation"] == "Always"}
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert failed(strict_aws)[0][2].startswith("CloudFormation cannot update a stack when a custom-named resource")


def test_a_table_without_a_custom_name_is_replaced_by_a_new_empty_one(strict_aws):
    deploy(strict_aws, template(Users=table(name=None)))
    [old] = strict_aws.client("dynamodb").list_tables()["TableNames"]
    put(strict_aws, old)

    assert deploy(strict_aws, template(Users=table(name=None, sort_key="email"))) == "UPDATE_COMPLETE"

    [new] = strict_aws.client("dynamodb").list_tables()["TableNames"]
    assert new != old and items(strict_aws, new) == 0


def test_a_new_table_under_a_taken_name_fails_to_create(strict_aws):
    deploy(strict_aws, template(Users=table()))

    status = deploy(strict_aws, template(Users=table(), Users2=table()))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    [(lid, event, reason)] = failed(strict_aws)
    assert (lid, event) == ("Users2", "CREATE_FAILED")
    assert reason.startswith("shop-dev-users already exists in stack arn:aws:cloudformation:")


# ---------------------------------------------------------------------------------------------
# TTL

def ttl(aws, table_name: str = "shop-dev-users") -> dict:
    return aws.client("dynamodb").describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]


def test_removing_the_ttl_specification_leaves_ttl_on(strict_aws):
    deploy(strict_aws, template(Users=table(ttl=(True, "expires_at"))))
    strict_aws.clock.advance(3600)

    assert deploy(strict_aws, template(Users=table())) == "UPDATE_COMPLETE"

    assert ttl(strict_aws) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_ttl_enabled_at_creation_starts_the_cool_down(strict_aws):
    deploy(strict_aws, template(Users=table(ttl=(True, "expires_at"))))

    status = deploy(strict_aws, template(Users=table(ttl=(False, "expires_at"))))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    [(_, _, reason)] = failed(strict_aws)
    assert reason.startswith(double_ddb.TTL_TOO_SOON)
    assert ttl(strict_aws)["TimeToLiveStatus"] == "ENABLED"
    strict_aws.clock.advance(3600)
    assert deploy(strict_aws, template(Users=table(ttl=(False, "expires_at")))) == "UPDATE_COMPLETE"
    assert ttl(strict_aws)["TimeToLiveStatus"] == "DISABLED"


def test_ttl_on_another_attribute_while_ttl_is_on_fails(strict_aws):
    deploy(strict_aws, template(Users=table(ttl=(True, "expires_at"))))
    strict_aws.clock.advance(3600)

    status = deploy(strict_aws, template(Users=table(ttl=(True, "valid_until"))))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    [(_, _, reason)] = failed(strict_aws)
    assert reason.startswith(double_ddb.TTL_OTHER_ATTRIBUTE.format(current="expires_at"))
    assert ttl(strict_aws) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_update_time_to_live_has_a_one_hour_cool_down_on_the_tests_clock(strict_aws):
    dynamodb = strict_aws.client("dynamodb")
    deploy(strict_aws, template(Users=table()))
    dynamodb.update_time_to_live(TableName="shop-dev-users",
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})

    strict_aws.clock.advance(3599)
    with pytest.raises(ClientError) as too_soon:
        dynamodb.update_time_to_live(TableName="shop-dev-users",
                                     TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    assert too_soon.value.response["Error"] == {"Code": "ValidationException", "Message": double_ddb.TTL_TOO_SOON}

    strict_aws.clock.advance(1)
    with pytest.raises(ClientError) as other:
        dynamodb.update_time_to_live(TableName="shop-dev-users",
                                     TimeToLiveSpecification={"Enabled": True, "AttributeName": "valid_until"})
    assert other.value.response["Error"]["Message"] == double_ddb.TTL_OTHER_ATTRIBUTE.format(current="expires_at")
    dynamodb.update_time_to_live(TableName="shop-dev-users",
                                 TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    assert ttl(strict_aws) == {"TimeToLiveStatus": "DISABLED", "AttributeName": "expires_at"}


# ---------------------------------------------------------------------------------------------
# Deletion protection

def test_delete_table_refuses_a_protected_table(strict_aws):
    deploy(strict_aws, template(Users=table(protected=True)))

    with pytest.raises(ClientError) as refused:
        strict_aws.client("dynamodb").delete_table(TableName="shop-dev-users")

    assert refused.value.response["Error"] == {"Code": "ValidationException",
                                              "Message": double_ddb.DELETION_PROTECTED}


def test_a_stack_delete_leaves_a_protected_table_and_fails(strict_aws):
    deploy(strict_aws, template(Users=table(protected=True), Audit=table("shop-dev-audit")))
    put(strict_aws, "shop-dev-users")
    cfn = strict_aws.client("cloudformation")

    cfn.delete_stack(StackName=STACK)

    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    [(lid, event, reason)] = failed(strict_aws)
    assert (lid, event) == ("Users", "DELETE_FAILED") and reason.startswith(double_ddb.DELETION_PROTECTED)
    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == ["shop-dev-users"]
    assert items(strict_aws, "shop-dev-users") == 3


def test_removing_a_protected_table_from_the_template_leaves_it(strict_aws):
    deploy(strict_aws, template(Users=table(protected=True), Audit=table("shop-dev-audit")))

    # cleanup failures do not roll the update back; the table stays, out of the stack
    assert deploy(strict_aws, template(Audit=table("shop-dev-audit"))) == "UPDATE_COMPLETE"

    [(lid, event, reason)] = failed(strict_aws)
    assert (lid, event) == ("Users", "DELETE_FAILED") and reason.startswith(double_ddb.DELETION_PROTECTED)
    assert "shop-dev-users" in strict_aws.client("dynamodb").list_tables()["TableNames"]
    stack = strict_aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatusReason"] == "Update successful. One or more resources could not be deleted."


def test_turning_protection_off_then_removing_deletes_the_table(strict_aws):
    deploy(strict_aws, template(Users=table(protected=True), Audit=table("shop-dev-audit")))
    deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit")))

    assert deploy(strict_aws, template(Audit=table("shop-dev-audit"))) == "UPDATE_COMPLETE"

    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == ["shop-dev-audit"]


# ---------------------------------------------------------------------------------------------
# Failures: rolled back, nothing applied, a FAILED event with the message

def test_an_injected_failure_rolls_the_update_back_with_nothing_applied(strict_aws):
    deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit")))
    strict_aws.fail_next("Audit", "Resource handler returned message: boom")

    status = deploy(strict_aws, template(Users=table(indexes=("email",)), Audit=table("shop-dev-audit", ttl=(True, "x"))))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert failed(strict_aws) == [("Audit", "UPDATE_FAILED", "Resource handler returned message: boom")]
    assert indexes(strict_aws, "shop-dev-users") == {}
    assert ttl(strict_aws, "shop-dev-audit")["TimeToLiveStatus"] == "DISABLED"
    # only the next execution fails
    status = deploy(strict_aws, template(Users=table(indexes=("email",)), Audit=table("shop-dev-audit")))
    assert status == "UPDATE_COMPLETE"


def test_a_failed_creation_ends_in_rollback_complete_with_no_table(strict_aws):
    strict_aws.fail_next("Users", "boom")

    assert deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit"))) == "ROLLBACK_COMPLETE"

    assert failed(strict_aws) == [("Users", "CREATE_FAILED", "boom")]
    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == []
    statuses = [e["ResourceStatus"] for e in strict_aws.stack_events(STACK)
                if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    assert statuses[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


def test_a_change_set_cannot_be_executed_twice(strict_aws):
    cfn = strict_aws.client("cloudformation")
    created = cfn.create_change_set(StackName=STACK, ChangeSetName="c", ChangeSetType="CREATE",
                                    TemplateBody=json.dumps(template(Users=table())))
    cfn.execute_change_set(ChangeSetName=created["Id"])

    with pytest.raises(ClientError, match="cannot be executed in its current status"):
        cfn.execute_change_set(ChangeSetName=created["Id"])


# ---------------------------------------------------------------------------------------------
# DeletionPolicy Retain

def test_a_retained_table_survives_its_removal_from_the_template(strict_aws):
    # moto deletes it (its update ignores DeletionPolicy); CloudFormation skips the delete
    deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit", deletion_policy="Retain")))
    put(strict_aws, "shop-dev-audit")

    assert deploy(strict_aws, template(Users=table())) == "UPDATE_COMPLETE"

    assert items(strict_aws, "shop-dev-audit") == 3
    skipped = [e["LogicalResourceId"] for e in strict_aws.stack_events(STACK) if e["ResourceStatus"] == "DELETE_SKIPPED"]
    assert skipped == ["Audit"]


def test_a_retained_table_survives_stack_deletion_and_the_others_go(strict_aws):
    deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit", deletion_policy="RetainExceptOnCreate")))
    put(strict_aws, "shop-dev-audit")
    cfn = strict_aws.client("cloudformation")

    cfn.delete_stack(StackName=STACK)

    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == ["shop-dev-audit"]
    assert items(strict_aws, "shop-dev-audit") == 3
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=STACK)


# ---------------------------------------------------------------------------------------------
# Change sets: per-resource Action and Replacement; stack Outputs

def changes(aws, body: dict, kind: str = "UPDATE") -> dict[str, dict]:
    cfn = aws.client("cloudformation")
    created = cfn.create_change_set(StackName=STACK, ChangeSetName="look", ChangeSetType=kind,
                                    TemplateBody=json.dumps(body))
    described = cfn.describe_change_set(ChangeSetName=created["Id"])
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}


def test_a_change_set_says_which_table_change_replaces_it(strict_aws):
    deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit"), Old=table("shop-dev-old")))
    body = template(Users=table(sort_key="email"), Audit=table("shop-dev-audit", indexes=("email",)),
                    New=table("shop-dev-new"))

    found = changes(strict_aws, body)

    assert found["Users"]["Action"] == "Modify" and found["Users"]["Replacement"] == "True"
    recreated = {d["Target"]["Name"] for d in found["Users"]["Details"] if d["Target"]["RequiresRecreation"] == "Always"}
    assert recreated == {"KeySchema"}
    assert (found["Audit"]["Action"], found["Audit"]["Replacement"]) == ("Modify", "False")
    assert found["New"]["Action"] == "Add"
    assert (found["Old"]["Action"], found["Old"]["PolicyAction"]) == ("Remove", "Delete")
    assert found["Old"]["PhysicalResourceId"] == "shop-dev-old"


def test_describe_stacks_returns_the_outputs_after_a_change_set(strict_aws):
    deploy(strict_aws, template(Users=table()))
    deploy(strict_aws, template(Users=table(), Audit=table("shop-dev-audit")))

    stack = strict_aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]

    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {
        "UsersName": "shop-dev-users", "AuditName": "shop-dev-audit"}


# ---------------------------------------------------------------------------------------------
# Template limits

def many(count: int) -> dict:
    return {f"Topic{i}": {"Type": "AWS::SNS::Topic"} for i in range(count)}


@pytest.mark.parametrize(("body", "message"), [
    ({"Resources": many(501)}, "Number of resources, 501, is greater than maximum allowed, 500"),
    ({"Resources": many(1), "Outputs": {f"O{i}": {"Value": "x"} for i in range(201)}},
     "Number of outputs, 201, is greater than maximum allowed, 200"),
    ({"Resources": many(1), "Description": "x" * 51_200}, "Member must have length less than or equal to 51200"),
])
def test_templates_over_the_limits_are_refused(strict_aws, body, message):
    cfn = strict_aws.client("cloudformation")
    for call in (lambda: cfn.create_change_set(StackName=STACK, ChangeSetName="c", ChangeSetType="CREATE",
                                               TemplateBody=json.dumps(body)),
                 lambda: cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(body))):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "ValidationError"
        assert message in refused.value.response["Error"]["Message"]
    assert cfn.describe_stacks()["Stacks"] == []


def test_update_stack_refuses_a_template_over_the_limits(strict_aws):
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps({"Resources": many(1)}))

    with pytest.raises(ClientError, match="Number of resources, 501, is greater than maximum allowed, 500"):
        cfn.update_stack(StackName=STACK, TemplateBody=json.dumps({"Resources": many(501)}))

    assert len(cfn.describe_stack_resources(StackName=STACK)["StackResources"]) == 1


def test_templates_at_the_limits_pass(strict_aws):
    body = {"Resources": many(500), "Outputs": {f"O{i}": {"Value": "x"} for i in range(200)}}
    body["Description"] = "x" * (51_200 - len(json.dumps(body)) - len(', "Description": ""'))
    assert len(json.dumps(body).encode()) == 51_200

    created = strict_aws.client("cloudformation").create_change_set(
        StackName=STACK, ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(body))

    assert created["Id"]


def test_a_template_from_s3_may_be_bigger_than_inline_up_to_a_million_bytes(strict_aws):
    s3, cfn = strict_aws.client("s3"), strict_aws.client("cloudformation")
    s3.create_bucket(Bucket="templates")
    small = json.dumps({"Resources": many(1), "Description": "x" * 60_000})
    big = json.dumps({"Resources": many(1), "Description": "x" * 1_000_000})
    s3.put_object(Bucket="templates", Key="small.json", Body=small)
    s3.put_object(Bucket="templates", Key="big.json", Body=big)
    url = "https://s3.us-east-1.amazonaws.com/templates/{}"

    cfn.create_change_set(StackName=STACK, ChangeSetName="c", ChangeSetType="CREATE",
                          TemplateURL=url.format("small.json"))
    with pytest.raises(ClientError, match="Template may not exceed 1000000 bytes in size"):
        cfn.create_change_set(StackName="other", ChangeSetName="c", ChangeSetType="CREATE",
                              TemplateURL=url.format("big.json"))


# ---------------------------------------------------------------------------------------------
# IAM managed policy size, counted with ARNs resolved and whitespace excluded

def policy(tables: int) -> dict:
    statements = [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                   "Resource": [{"Fn::GetAtt": [f"T{i}", "Arn"]},
                                {"Fn::Join": ["", [{"Fn::GetAtt": [f"T{i}", "Arn"]}, "/index/*"]]}]}
                  for i in range(tables)]
    return {"Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}


def tables_and_policy(count: int) -> dict:
    resources = {f"T{i}": table(f"shop-dev-table-number-{i:03}") for i in range(count)}
    return {"Resources": {**resources, "Access": policy(count)}}


def test_policy_size_counts_resolved_arns_without_whitespace(strict_aws):
    strict_aws.client("cloudformation")  # the server (and its region) exist
    from moto.cloudformation.models import cloudformation_backends

    deploy(strict_aws, {"Resources": {"T0": table("shop-dev-table-number-000")}})
    stack = cloudformation_backends["123456789012"]["us-east-1"].stacks
    [stack] = stack.values()
    document = policy(1)["Properties"]["PolicyDocument"]
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-dev-table-number-000"
    expected = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
        "Resource": [arn, arn + "/index/*"]}]}, separators=(",", ":"))

    assert double_iam.policy_size(document, stack, tables_and_policy(1)) == len(expected)


def test_a_managed_policy_over_6144_characters_fails_and_rolls_back(strict_aws):
    # 38 characters + 235 per table: 25 tables make 5,913 characters, 26 make 6,148
    assert deploy(strict_aws, tables_and_policy(25)) == "CREATE_COMPLETE"

    status = deploy(strict_aws, tables_and_policy(26))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    [(lid, event, reason)] = failed(strict_aws)
    assert (lid, event) == ("Access", "UPDATE_FAILED")
    assert reason.startswith("Cannot exceed quota for PolicySize: 6144")
    assert "shop-dev-table-number-025" not in strict_aws.client("dynamodb").list_tables()["TableNames"]


# ---------------------------------------------------------------------------------------------
# The double's own state

def test_each_test_starts_from_a_clean_double(strict_aws):
    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == []
    assert strict_aws.backfill_seconds == 1.0
    assert abs((strict_aws.clock.now() - datetime.now(UTC)).total_seconds()) < 5


def test_clock_is_aware_utc_and_advances(strict_aws):
    before = strict_aws.clock.now()
    strict_aws.clock.advance(3600)
    after = strict_aws.clock.now()
    assert before.tzinfo is not None and before.utcoffset().total_seconds() == 0
    assert 3600 <= (after - before).total_seconds() < 3605


# ---------------------------------------------------------------------------------------------
# IMPORT change sets

def make_live_table(aws, name: str = "tenant", count: int = 3) -> None:
    props = table(name)["Properties"]
    aws.client("dynamodb").create_table(TableName=name, KeySchema=props["KeySchema"],
                                        AttributeDefinitions=props["AttributeDefinitions"],
                                        BillingMode="PAY_PER_REQUEST")
    put(aws, name, count)


def import_change_set(aws, body: dict, stack: str = STACK, name: str = "tenant", lid: str = "Tenant") -> str:
    cfn = aws.client("cloudformation")
    created = cfn.create_change_set(
        StackName=stack, ChangeSetName="adopt", ChangeSetType="IMPORT", TemplateBody=json.dumps(body),
        ResourcesToImport=[{"ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": lid,
                            "ResourceIdentifier": {"TableName": name}}])
    return created["Id"]


def test_an_import_adopts_the_live_table_with_its_items(strict_aws):
    make_live_table(strict_aws)
    cfn = strict_aws.client("cloudformation")
    body = {"Resources": {"Tenant": table("tenant", deletion_policy="Retain")}}

    change_set = import_change_set(strict_aws, body)
    described = cfn.describe_change_set(ChangeSetName=change_set)
    assert [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in described["Changes"]] \
        == [("Import", "Tenant")]
    cfn.execute_change_set(ChangeSetName=change_set)

    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "IMPORT_COMPLETE"
    [resource] = cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    assert (resource["LogicalResourceId"], resource["PhysicalResourceId"]) == ("Tenant", "tenant")
    assert items(strict_aws, "tenant") == 3
    # the stack now manages it: an update adds an index in place, items kept
    assert deploy(strict_aws, {"Resources": {"Tenant": table("tenant", indexes=("email",),
                                                              deletion_policy="Retain")}}) == "UPDATE_COMPLETE"
    assert items(strict_aws, "tenant") == 3 and indexes(strict_aws, "tenant") == {"by_email": "CREATING"}


def test_an_import_needs_a_deletion_policy(strict_aws):
    make_live_table(strict_aws)

    with pytest.raises(ClientError) as refused:
        import_change_set(strict_aws, {"Resources": {"Tenant": table("tenant")}})

    assert refused.value.response["Error"]["Message"] == double_imports.IMPORT_NEEDS_DELETION_POLICY.format(ids="Tenant")


def test_an_import_allows_no_other_change(strict_aws):
    make_live_table(strict_aws)
    deploy(strict_aws, {"Resources": {"Users": table()}})

    with pytest.raises(ClientError) as other_resource:
        import_change_set(strict_aws, {"Resources": {"Users": table(indexes=("email",)),
                                                     "Tenant": table("tenant", deletion_policy="Retain")}})
    assert other_resource.value.response["Error"]["Message"] == double_imports.IMPORT_OTHER_CHANGES.format(ids="Users")
    with pytest.raises(ClientError) as outputs:
        import_change_set(strict_aws, {"Resources": {"Users": table(),
                                                     "Tenant": table("tenant", deletion_policy="Retain")},
                                       "Outputs": {"TenantName": {"Value": {"Ref": "Tenant"}}}})
    assert outputs.value.response["Error"]["Message"] == double_imports.IMPORT_OUTPUTS

    # the import alone, into the existing stack, passes
    change_set = import_change_set(strict_aws, {"Resources": {"Users": table(),
                                                              "Tenant": table("tenant", deletion_policy="Retain")}})
    strict_aws.client("cloudformation").execute_change_set(ChangeSetName=change_set)
    assert strict_aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] \
        == "IMPORT_COMPLETE"


def test_a_table_of_another_stack_is_imported_only_after_that_stack_lets_it_go(strict_aws):
    deploy(strict_aws, {"Resources": {"Tenant": table("tenant")}}, stack="seed")
    put(strict_aws, "tenant")
    body = {"Resources": {"Tenant": table("tenant", deletion_policy="Retain")}}

    with pytest.raises(ClientError) as owned:
        import_change_set(strict_aws, body)
    assert owned.value.response["Error"]["Message"] == double_imports.IMPORT_ALREADY_IN_STACK.format(ids="Tenant")

    # the seed's stack retains the table, then drops it; the import then adopts it
    assert deploy(strict_aws, {"Resources": {"Tenant": table("tenant", deletion_policy="Retain")}},
                  stack="seed") == "UPDATE_COMPLETE"
    assert deploy(strict_aws, {"Resources": {"Other": table("seed-other")}}, stack="seed") == "UPDATE_COMPLETE"
    strict_aws.client("cloudformation").execute_change_set(ChangeSetName=import_change_set(strict_aws, body))
    assert items(strict_aws, "tenant") == 3


def test_a_failed_import_rolls_back_and_leaves_the_table_alone(strict_aws):
    make_live_table(strict_aws)
    strict_aws.fail_next("Tenant", "boom")
    cfn = strict_aws.client("cloudformation")

    cfn.execute_change_set(ChangeSetName=import_change_set(
        strict_aws, {"Resources": {"Tenant": table("tenant", deletion_policy="Retain")}}))

    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "IMPORT_ROLLBACK_COMPLETE"
    assert failed(strict_aws) == [("Tenant", "IMPORT_FAILED", "boom")]
    assert cfn.describe_stack_resources(StackName=STACK)["StackResources"] == []
    assert items(strict_aws, "tenant") == 3


# ---------------------------------------------------------------------------------------------
# Drift: the DynamoDB API changes a live table behind CloudFormation's back

def test_an_index_added_behind_the_stacks_back_makes_the_same_update_fail(strict_aws):
    deploy(strict_aws, template(Users=table()))
    strict_aws.client("dynamodb").update_table(
        TableName="shop-dev-users", AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": table(indexes=("email",))["Properties"]["GlobalSecondaryIndexes"][0]}])
    strict_aws.clock.advance(60)

    status = deploy(strict_aws, template(Users=table(indexes=("email",))))

    assert status == "UPDATE_ROLLBACK_COMPLETE"
    [(_, _, reason)] = failed(strict_aws)
    assert reason.startswith("Attempting to create an index which already exists: by_email")


# ---------------------------------------------------------------------------------------------
# Tests that do not ask for the double keep moto's behaviour

def test_without_the_fixture_moto_is_lenient(strict_aws_server, moto_endpoint):
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    props = table()["Properties"]
    dynamodb.create_table(TableName="t", KeySchema=props["KeySchema"], BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=props["AttributeDefinitions"])
    gsi = {**GSI, "IndexName": "other"}

    dynamodb.update_table(TableName="t", AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
                          GlobalSecondaryIndexUpdates=[{"Create": GSI}, {"Create": gsi}])

    assert len(dynamodb.describe_table(TableName="t")["Table"]["GlobalSecondaryIndexes"]) == 2


def test_the_iam_api_refuses_a_policy_over_6144_characters(strict_aws):
    iam = strict_aws.client("iam")
    statement = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:table/x"}
    size = len(json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":")))
    padding = 6144 - size  # the Sid makes the document exactly 6,144 characters, then one more
    at_limit = {"Version": "2012-10-17", "Statement": [{**statement, "Sid": "a" * (padding - len(',"Sid":""'))}]}
    over = {"Version": "2012-10-17", "Statement": [{**statement, "Sid": "a" * (padding - len(',"Sid":""') + 1)}]}

    iam.create_policy(PolicyName="fits", PolicyDocument=json.dumps(at_limit, indent=4))  # whitespace is free
    with pytest.raises(ClientError) as refused:
        iam.create_policy(PolicyName="big", PolicyDocument=json.dumps(over))

    assert refused.value.response["Error"]["Code"] == "LimitExceeded"
    assert refused.value.response["Error"]["Message"] == double_iam.POLICY_TOO_BIG


def test_a_stack_in_rollback_complete_takes_no_update_and_a_stack_no_second_create(strict_aws):
    cfn = strict_aws.client("cloudformation")
    strict_aws.fail_next("Users", "boom")
    assert deploy(strict_aws, template(Users=table())) == "ROLLBACK_COMPLETE"

    with pytest.raises(ClientError, match="is in ROLLBACK_COMPLETE state and can not be updated"):
        cfn.create_change_set(StackName=STACK, ChangeSetName="u", ChangeSetType="UPDATE",
                              TemplateBody=json.dumps(template(Users=table())))
    with pytest.raises(ClientError, match="already exists and cannot be created again"):
        cfn.create_change_set(StackName=STACK, ChangeSetName="c", ChangeSetType="CREATE",
                              TemplateBody=json.dumps(template(Users=table())))

    cfn.delete_stack(StackName=STACK)  # the way out: delete, then create again
    assert deploy(strict_aws, template(Users=table())) == "CREATE_COMPLETE"


def test_disabling_ttl_that_is_already_off_changes_nothing(strict_aws):
    deploy(strict_aws, template(Users=table()))

    assert deploy(strict_aws, template(Users=table(ttl=(False, "expires_at")))) == "UPDATE_COMPLETE"

    assert ttl(strict_aws)["TimeToLiveStatus"] == "DISABLED"


def test_describe_table_reads_back_what_the_template_set(strict_aws):
    resource = table(ttl=(True, "expires_at"))
    resource["Properties"].update({"SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
                                   "TableClass": "STANDARD_INFREQUENT_ACCESS",
                                   "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
    deploy(strict_aws, template(Users=resource))
    dynamodb = strict_aws.client("dynamodb")

    described = dynamodb.describe_table(TableName="shop-dev-users")["Table"]
    backups = dynamodb.describe_continuous_backups(TableName="shop-dev-users")["ContinuousBackupsDescription"]

    assert described["SSEDescription"]["Status"] == "ENABLED" and described["SSEDescription"]["SSEType"] == "KMS"
    assert described["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert ttl(strict_aws) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    plain = table(ttl=(True, "expires_at"))
    assert deploy(strict_aws, template(Users=plain)) == "UPDATE_COMPLETE"
    described = dynamodb.describe_table(TableName="shop-dev-users")["Table"]
    assert "SSEDescription" not in described
    assert described["TableClassSummary"] == {"TableClass": "STANDARD"}


# ---------------------------------------------------------------------------------------------
# Tables with indexes created together

def tables_with_indexes(count: int, chained: bool) -> dict:
    resources = {}
    for i in range(count):
        resources[f"T{i}"] = table(f"shop-dev-t{i}", indexes=("email",))
        if chained and i:
            resources[f"T{i}"]["DependsOn"] = f"T{i - 1}"
    return {"Resources": resources}


def test_too_many_tables_with_indexes_created_in_parallel_fail(strict_aws):
    strict_aws.creating_with_indexes_limit = 3

    assert deploy(strict_aws, tables_with_indexes(4, chained=False)) == "ROLLBACK_COMPLETE"

    [(lid, event, reason)] = failed(strict_aws)
    assert (lid, event) == ("T3", "CREATE_FAILED") and "LimitExceededException" in reason
    assert strict_aws.client("dynamodb").list_tables()["TableNames"] == []


def test_tables_with_indexes_chained_by_depends_on_are_created(strict_aws):
    strict_aws.creating_with_indexes_limit = 3

    assert deploy(strict_aws, tables_with_indexes(4, chained=True)) == "CREATE_COMPLETE"

    assert len(strict_aws.client("dynamodb").list_tables()["TableNames"]) == 4


def test_creation_waves_follow_depends_on_and_references():
    new = {"A": {"Type": "X"}, "B": {"Type": "X", "DependsOn": "A"},
           "C": {"Type": "X", "Properties": {"Arn": {"Fn::GetAtt": ["B", "Arn"]}}},
           "D": {"Type": "X", "Properties": {"Name": {"Fn::Sub": "${A}-x"}}}, "E": {"Type": "X"}}

    assert double_tables.creation_waves(new, list(new)) == [["A", "E"], ["B", "D"], ["C"]]


# ---------------------------------------------------------------------------------------------
# What counts as a change

def change_set_status(aws, body: dict) -> tuple[str, str]:
    cfn = aws.client("cloudformation")
    created = cfn.create_change_set(StackName=STACK, ChangeSetName="look", ChangeSetType="UPDATE",
                                    TemplateBody=json.dumps(body))
    described = cfn.describe_change_set(ChangeSetName=created["Id"])
    return described["Status"], described.get("StatusReason", "")


def test_template_metadata_or_depends_on_alone_is_no_change(strict_aws):
    deploy(strict_aws, {"Resources": {"Users": table(), "Audit": table("shop-dev-audit")}})
    metadata_only = {"Metadata": {"jobwork": {"ttl_changed": "2026-01-01T00:00:00Z"}},
                     "Resources": {"Users": table(), "Audit": table("shop-dev-audit")}}
    depends_on_only = {"Resources": {"Users": table(), "Audit": {**table("shop-dev-audit"), "DependsOn": "Users"}}}

    for body in (metadata_only, depends_on_only):
        status, reason = change_set_status(strict_aws, body)
        assert status == "FAILED" and "didn't contain changes" in reason
        with pytest.raises(ClientError, match="No updates are to be performed"):
            strict_aws.client("cloudformation").update_stack(StackName=STACK, TemplateBody=json.dumps(body))

    # with a resource change, the Metadata goes along
    metadata_only["Resources"]["Users"] = table(ttl=(True, "expires_at"))
    assert deploy(strict_aws, metadata_only) == "UPDATE_COMPLETE"
    body = strict_aws.client("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    assert body["Metadata"] == {"jobwork": {"ttl_changed": "2026-01-01T00:00:00Z"}}


def test_a_deletion_policy_change_alone_is_applied(strict_aws):
    deploy(strict_aws, {"Resources": {"Users": table(), "Audit": table("shop-dev-audit")}})
    retained = {"Resources": {"Users": table(), "Audit": table("shop-dev-audit", deletion_policy="Retain")}}

    found = changes(strict_aws, retained)
    assert (found["Audit"]["Action"], found["Audit"]["Replacement"], found["Audit"]["Scope"]) == \
        ("Modify", "False", ["DeletionPolicy"])
    assert deploy(strict_aws, retained) == "UPDATE_COMPLETE"

    assert deploy(strict_aws, {"Resources": {"Users": table()}}) == "UPDATE_COMPLETE"
    assert "shop-dev-audit" in strict_aws.client("dynamodb").list_tables()["TableNames"]
