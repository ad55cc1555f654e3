"""The source-stack template reader (deploy/cloudformation/source.py) on the corpus in tests/fixtures/templates: pure, no server."""

from __future__ import annotations

import json

import pytest

from jobwork_infra.deploy.cloudformation.source import (
    UNREADABLE,
    UNRESOLVABLE,
    UNSUPPORTED,
    StackContext,
    TemplateRefused,
    Unresolved,
    decode_template,
    read_source,
)
from jobwork_infra.errors import Location
from tests.conftest import FIXTURES

TEMPLATES = FIXTURES / "templates"


def read(name: str, context: StackContext):
    path = TEMPLATES / name
    return read_source(path.read_text(), str(path), context)


def at(name: str, line: int, col: int) -> Location:
    return Location(str(TEMPLATES / name), line, col)


ORDERS_PROD = StackContext(
    "orders-prod",
    parameters={"Stage": "prod", "BillingParam": "PAY_PER_REQUEST", "TableClassParam": "STANDARD_INFREQUENT_ACCESS",
                "EnablePitr": "true", "SortKeyType": "N", "PartitionKeyName": "tenant_id"},
    physical_ids={"OrdersTable": "orders-prod", "OrdersReadPolicy": "arn:aws:iam::123456789012:policy/read",
                  "Queue": "https://sqs.us-east-1.amazonaws.com/123456789012/q"})


def test_short_form_tags_and_parameters_resolve_from_the_stacks_values():
    source = read("short_form_tags.yaml", ORDERS_PROD)
    [table] = source.tables.values()
    assert (table.logical_id, table.deletion_policy, table.update_replace_policy) == ("OrdersTable", "Retain",
                                                                                    "Retain")
    p = table.properties
    assert p["TableName"] == "orders-prod"                          # !Sub "orders-${Stage}"
    assert p["BillingMode"] == "PAY_PER_REQUEST"                    # !Ref BillingParam: the stack's value
    assert p["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": "true"}
    assert p["KeySchema"] == [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                              {"AttributeName": "order_id", "KeyType": "RANGE"}]   # SortKeyName: its default
    assert p["AttributeDefinitions"][1] == {"AttributeName": "order_id", "AttributeType": "N"}
    assert p["GlobalSecondaryIndexes"][0]["IndexName"] == "by-status-prod"
    assert table.unresolved() == []
    # The policy refers to the table through !GetAtt and !Sub "${OrdersTable.Arn}"; the queue's output does not.
    assert table.referred_by == ("Resources.OrdersReadPolicy", "Outputs.OrdersTableName")
    # What is sent back to CloudFormation is the template itself, in long form (JSON-serialisable).
    assert json.loads(json.dumps(source.template))["Resources"]["OrdersTable"]["DeletionPolicy"] == {
        "Fn::If": ["IsProd", "Retain", "Delete"]}


def test_the_same_template_in_another_stack_reads_with_that_stacks_values():
    dev = StackContext("orders-dev", parameters={"Stage": "dev"}, physical_ids={"OrdersTable": "orders-dev"})
    [table] = read("short_form_tags.yaml", dev).tables.values()
    assert (table.deletion_policy, table.properties["BillingMode"], table.properties["TableClass"]) == (
        "Delete", "PROVISIONED", "STANDARD")                         # the parameters' defaults
    assert table.properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": "false"}


def test_conditions_choose_the_throughput_and_whether_a_table_exists():
    prod = read("conditional_throughput.yaml", StackContext("s", parameters={"Environment": "prod"}))
    assert prod.conditions == {"IsProd": True, "IsNotProd": False, "WantsAudit": True}
    sessions = prod.tables["SessionsTable"].properties
    assert (sessions["BillingMode"], sessions["ProvisionedThroughput"], sessions["DeletionProtectionEnabled"]) == (
        "PROVISIONED", {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5}, True)   # !FindInMap under !If
    assert sessions["TableName"] == "sessions-prod"
    assert prod.tables["AuditTable"].properties["TableName"] == "audit"             # !Select of !Split

    dev = read("conditional_throughput.yaml", StackContext("s", parameters={"Environment": "dev"}))
    assert list(dev.tables) == ["SessionsTable"]          # AuditTable's condition is false: not in the stack
    sessions = dev.tables["SessionsTable"].properties
    assert sessions["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in sessions         # !Ref AWS::NoValue removes the property


def test_the_aws_docs_example_keeps_its_include_lists_and_the_stack_name():
    [table] = read("aws_docs_indexes.json", StackContext("music-stack")).tables.values()
    assert table.properties["TableName"] == "music-stack"                           # Ref AWS::StackName
    assert (table.deletion_policy, table.update_replace_policy) == ("Delete", "Delete")   # CloudFormation's default
    gsis = {i["IndexName"]: i["Projection"]["NonKeyAttributes"] for i in table.properties["GlobalSecondaryIndexes"]}
    assert gsis == {"myGSI": ["Album", "NumberOfSongs"], "myGSI2": ["Album", "Artist"]}
    assert table.location == at("aws_docs_indexes.json", 4, 24)


def test_cdk_metadata_is_not_a_table_and_the_lsi_on_the_table_sort_key_is_read():
    source = read("cdk_lsi_table_sort_key.json", StackContext("cdk"))
    [table] = source.tables.values()
    assert table.logical_id == "TableCD117FA1" and table.deletion_policy == "Retain"
    assert [i["KeySchema"][1]["AttributeName"] for i in table.properties["LocalSecondaryIndexes"]] == [
        "sortKey", "lsiSortKey"]


def test_a_customer_key_in_the_same_stack_resolves_to_its_arn():
    context = StackContext("payments", region="eu-west-1", account="111122223333",
                           physical_ids={"TableKey": "1234abcd-12ab-34cd", "PaymentsTable": "payments"})
    [table] = read("customer_kms_key.yaml", context).tables.values()
    assert table.require("SSESpecification", "KMSMasterKeyId") == (
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd")
    # Tags keep their order and case: "team" and "Team" are two tags to DynamoDB.
    assert table.properties["Tags"] == [{"Key": "team", "Value": "payments"}, {"Key": "Team", "Value": "Payments"}]


def test_insights_and_on_demand_throughput_are_kept_for_the_property_check():
    [table] = read("insights_and_throughput.yaml", StackContext("events")).tables.values()
    p = table.properties
    assert p["ContributorInsightsSpecification"] == {"Enabled": True, "Mode": "THROTTLED_KEYS"}
    assert p["OnDemandThroughput"] == {"MaxReadRequestUnits": 4000, "MaxWriteRequestUnits": 1000}
    assert p["GlobalSecondaryIndexes"][0]["ContributorInsightsSpecification"] == {"Enabled": True}
    assert p["WarmThroughput"] == {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000}


def test_what_needs_aws_is_kept_unresolved_and_refused_located_when_needed():
    [table] = read("unresolvable.yaml", StackContext("ledger")).tables.values()
    assert table.deletion_policy == "Retain"               # what adoption needs still reads
    problems = {(u.location.line, u.location.col, u.code) for u in table.unresolved()}
    assert problems == {(19, 25, UNRESOLVABLE), (22, 18, UNRESOLVABLE), (24, 30, UNRESOLVABLE)}
    assert all(isinstance(u, Unresolved) for u in table.unresolved())
    with pytest.raises(TemplateRefused) as refused:
        table.require("SSESpecification", "KMSMasterKeyId")
    assert str(refused.value) == (f"{TEMPLATES / 'unresolvable.yaml'}:19:25: error F102: Fn::ImportValue: the "
                                  "value is another stack's export")
    assert table.require("TableName") == "ledger"


def test_a_noecho_parameter_is_refused_with_its_name():
    [table] = read("unresolvable.yaml", StackContext("ledger", parameters={"Secret": "****"})).tables.values()
    secret = next(u for u in table.unresolved() if u.location.line == 22)
    assert secret.reason == "parameter Secret is NoEcho: DescribeStacks hides its value"


def _template(text: str) -> str:
    return "AWSTemplateFormatVersion: '2010-09-09'\n" + text


@pytest.mark.parametrize(("text", "code", "line", "message"), [
    ("Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: !Ref Nope\n",
     UNRESOLVABLE, 5, "Ref Nope: no parameter or resource of that name"),
    ("Conditions:\n  C: !Equals [!ImportValue x, y]\nResources:\n  T:\n    Type: AWS::DynamoDB::Table\n",
     UNRESOLVABLE, 3, "Fn::ImportValue: the value is another stack's export"),
    ("Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Condition: Missing\n",
     UNRESOLVABLE, 4, "condition 'Missing' is not defined under Conditions"),
    ("Resources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n",
     UNSUPPORTED, 4, "T is a SAM AWS::Serverless::SimpleTable"),
    ("Conditions:\n  A: !Not [!Condition A]\nResources:\n  T:\n    Type: AWS::DynamoDB::Table\n",
     UNRESOLVABLE, 3, "condition A refers to itself"),
    ("Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: !Select [3, [Retain]]\n",
     UNRESOLVABLE, 5, "Fn::Select: no item 3"),
    (("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  T:\n    Type: AWS::DynamoDB::Table\n"
     "    DeletionPolicy: !Ref Q\n"), UNRESOLVABLE, 7, "Ref Q: the stack lists no physical id for resource Q"),
    ("Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Keep\n",
     UNRESOLVABLE, 5, "T's DeletionPolicy resolves to 'Keep', which is not a policy"),
    ("Resources:\n  T: [\n", UNREADABLE, 4, "the template cannot be read: did not find expected node content"),
    ("Resources:\n  T: {Type: A}\n  T: {Type: B}\n", UNREADABLE, 3, "the template cannot be read: Duplicate found"),
])
def test_what_cannot_be_read_is_refused_with_a_located_message(text, code, line, message):
    with pytest.raises(TemplateRefused) as refused:
        read_source(_template(text), "seed.template", StackContext("seed"))
    assert (refused.value.code, refused.value.location.file, refused.value.location.line) == (
        code, "seed.template", line)
    assert refused.value.reason.startswith(message)
    assert str(refused.value).startswith(f"seed.template:{line}:")


def test_json_and_yaml_decode_to_the_same_long_form():
    yaml_text = "Resources:\n  T:\n    Type: X\n    Properties:\n      A: !GetAtt B.Arn\n      C: !Sub '${D}'\n"
    json_text = json.dumps({"Resources": {"T": {"Type": "X", "Properties": {
        "A": {"Fn::GetAtt": ["B", "Arn"]}, "C": {"Fn::Sub": "${D}"}}}}})
    assert json.loads(json.dumps(decode_template(yaml_text, "a.yaml"))) == json.loads(json_text)
    assert json.loads(json.dumps(decode_template(json_text, "a.json"))) == json.loads(json_text)
