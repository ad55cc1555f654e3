"""The templates `deploy --adopt --from-stack` sends (cloudformation_adopt.py): pure, no server."""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.cloudformation.template import (
    PLACEHOLDER,
    import_template,
    removed_template,
    retained_template,
)
from jobwork_infra.errors import Blocked

TABLE = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
         "Properties": {"TableName": "users"}}
SEED = {
    "Parameters": {"Stage": {"Type": "String"}},
    "Resources": {"UsersTable": TABLE, "Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"UsersArn": {"Value": {"Fn::GetAtt": ["UsersTable", "Arn"]}},
                "QueueUrl": {"Value": {"Ref": "Queue"}}},
}


def test_retaining_changes_the_two_policies_and_nothing_else():
    out = retained_template(SEED, ["UsersTable"])
    assert out["Resources"]["UsersTable"] == {**TABLE, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    assert {k: v for k, v in out.items() if k != "Resources"} == {k: v for k, v in SEED.items() if k != "Resources"}
    assert out["Resources"]["Queue"] == SEED["Resources"]["Queue"]
    assert SEED["Resources"]["UsersTable"]["DeletionPolicy"] == "Delete"  # the input is not modified


def test_removing_drops_the_table_and_the_outputs_that_name_it():
    out = removed_template(SEED, ["UsersTable"], "Seed")
    assert list(out["Resources"]) == ["Queue"]
    assert list(out["Outputs"]) == ["QueueUrl"]
    assert out["Parameters"] == SEED["Parameters"]


def test_a_stack_left_empty_keeps_a_placeholder():
    out = removed_template({"Resources": {"UsersTable": TABLE},
                            "Outputs": {"Name": {"Value": {"Ref": "UsersTable"}}}}, ["UsersTable"], "Seed")
    assert list(out["Resources"]) == [PLACEHOLDER]
    assert "Outputs" not in out


@pytest.mark.parametrize("reference", [{"Ref": "UsersTable"}, {"Fn::GetAtt": "UsersTable.Arn"},
                                       {"Fn::Sub": "${UsersTable.Arn}/index/*"}])
def test_a_resource_that_refers_to_the_table_is_refused_before_anything(reference):
    template = {"Resources": {"UsersTable": TABLE, "Policy": {"Type": "AWS::IAM::ManagedPolicy",
                                                              "Properties": {"Resource": reference}}}}
    with pytest.raises(Blocked, match=r"stack Seed has resources that refer to the tables to take out \(Policy\)"):
        removed_template(template, ["UsersTable"], "Seed")


def test_the_import_adds_only_the_tables_retained():
    current = {"Metadata": {"JobworkInfra": {"SchemaHash": "abc"}}, "Resources": {"Other": {"Type": "X"}},
               "Outputs": {"O": {"Value": "v"}}}
    out = import_template(current, {"UsersTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}}})
    assert out["Resources"]["UsersTable"]["DeletionPolicy"] == "Retain"
    assert out["Resources"]["UsersTable"]["UpdateReplacePolicy"] == "Retain"
    assert {k: v for k, v in out.items() if k != "Resources"} == {k: v for k, v in current.items() if k != "Resources"}
    assert import_template(None, {"T": {"Type": "AWS::DynamoDB::Table"}})["Resources"]["T"]["DeletionPolicy"] == "Retain"
