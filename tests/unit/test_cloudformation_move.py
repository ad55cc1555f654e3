"""The old stack's template in a move between this tool's own stacks (deploy/cloudformation/move.py): the
moved table out, its tenant policies naming it by ARN instead of by reference, any other reference
still refused (R015). Fast: templates only."""

from __future__ import annotations

import json

import pytest

from jobwork_infra.deploy.cloudformation.move import released_template
from jobwork_infra.deploy.gate import Refused

ARN = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/shop-dev-orders"}


def table(name: str) -> dict:
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"TableName": name}}


def policy(*resources) -> dict:
    return {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": list(resources)}]}}}


def stack(**extra) -> dict:
    return {"Metadata": {"JobworkInfra": {"SchemaHash": "h", "Tables": {
                "orders": {"LogicalId": "OrdersTable", "TableName": "shop-dev-orders"},
                "invoices": {"LogicalId": "InvoicesTable", "TableName": "shop-dev-invoices"}}}},
            "Resources": {"OrdersTable": table("shop-dev-orders"), "InvoicesTable": table("shop-dev-invoices"),
                          "TenantDataAccess": policy(
                              {"Fn::GetAtt": ["OrdersTable", "Arn"]},
                              {"Fn::Join": ["", [{"Fn::GetAtt": ["OrdersTable", "Arn"]}, "/index/*"]]},
                              {"Fn::GetAtt": "InvoicesTable.Arn"}),
                          **extra},
            "Outputs": {"OrdersName": {"Value": {"Ref": "OrdersTable"}}}}


def test_the_policies_name_the_moved_table_by_arn_and_keep_the_others():
    out = released_template(stack(), ["OrdersTable"], "shop-dev-sales")

    assert set(out["Resources"]) == {"InvoicesTable", "TenantDataAccess"}
    granted = out["Resources"]["TenantDataAccess"]["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
    assert granted == [ARN, {"Fn::Join": ["", [ARN, "/index/*"]]}, {"Fn::GetAtt": "InvoicesTable.Arn"}]
    assert "OrdersTable" not in json.dumps(out)           # no reference left: CloudFormation can remove it
    assert list(out["Metadata"]["JobworkInfra"]["Tables"]) == ["invoices"]
    assert "Outputs" not in out                           # the output named only the moved table


def test_another_resource_referring_to_the_moved_table_is_still_refused():
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Dimensions": [
        {"Name": "TableName", "Value": {"Ref": "OrdersTable"}}]}}
    with pytest.raises(Refused) as refused:
        released_template(stack(OrdersAlarm=alarm), ["OrdersTable"], "shop-dev-sales")
    assert refused.value.code == "R015" and "OrdersAlarm" in str(refused.value)


def test_the_template_given_is_not_changed():
    template = stack()
    before = json.dumps(template, sort_keys=True)
    released_template(template, ["OrdersTable"], "shop-dev-sales")
    assert json.dumps(template, sort_keys=True) == before
