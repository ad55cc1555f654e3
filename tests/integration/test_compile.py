"""compile: golden templates, cfn-lint, a deploy to moto, and the properties the templates must keep.

Every template is synthesized once per session (a CDK synth costs seconds in a fresh process) and
shared; the tests read those dicts.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
import yaml

from jobwork_infra.project import check_project
from tests.regenerate_golden import CASES, golden_path, render, synth_case

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = ROOT / "schema" / "tables.yaml"
TENANT_ACTIONS = [
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
]
LEADING_KEYS = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant_id}"]}}


@pytest.fixture(scope="session")
def templates() -> dict[str, dict]:
    return {name: synth_case(name) for name in CASES}


def synth_text(text: str, env: str = "dev") -> dict:
    from jobwork_infra.compile import synth_template

    return synth_template(check_project("inline.yaml", text).resolve(env))


def edited_schema(edit) -> str:
    data = yaml.safe_load(SCHEMA.read_text())
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def arn_of(logical_id: str, index: str | None = None):
    arn = {"Fn::GetAtt": [logical_id, "Arn"]}
    return arn if index is None else {"Fn::Join": ["", [arn, f"/index/{index}"]]}


def policy_statement(template: dict) -> dict:
    statements = template["Resources"]["TenantDataAccess"]["Properties"]["PolicyDocument"]["Statement"]
    return next(s for s in statements if s["Sid"] == "TenantItemsOnly")


# --- golden files and cfn-lint ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_template_matches_golden(templates, name):
    expected = golden_path(name).read_text()
    actual = render(templates[name])
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"golden/{name}.template.json", "synthesized"))
        pytest.fail(f"the {name} template changed; if intended, run `make golden` and review:\n{diff}")


@pytest.mark.parametrize("name", list(CASES))
def test_golden_template_passes_cfn_lint(name):
    import cfnlint.api

    schema, env = CASES[name]
    region = check_project(schema).resolve(env).region or "us-east-1"
    matches = cfnlint.api.lint(golden_path(name).read_text(), regions=[region])
    errors = [f"{m.rule.id} {m.path_string if hasattr(m, 'path_string') else ''}: {m.message}"
              for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_template_has_no_cdk_bootstrap_or_analytics(templates):
    for template in templates.values():
        assert "Parameters" not in template  # no BootstrapVersion
        assert "Rules" not in template       # no CheckBootstrapVersion
        assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::CDK::Metadata"]
        assert all("Metadata" not in r for r in template["Resources"].values())  # no aws:cdk:path


def test_metadata_carries_the_schema_hash(templates):
    import jobwork_infra

    resolved = check_project(SCHEMA).resolve("dev")
    assert templates["dev"]["Metadata"] == {"JobworkInfra": {
        "SchemaHash": resolved.schema_hash, "Version": jobwork_infra.__version__, "Environment": "dev",
        "Tables": {"tenant": {"LogicalId": "TenantTable", "TableName": "jobwork-dev-tenant"},
                   "users": {"LogicalId": "UsersTable", "TableName": "jobwork-dev-users"},
                   # added by the compiler for the unique attributes of users (issue 19)
                   "unique_guards": {"LogicalId": "UniqueGuardsTable", "TableName": "jobwork-dev-unique_guards"}}}}
    assert templates["prod"]["Metadata"]["JobworkInfra"]["SchemaHash"] != resolved.schema_hash


# --- tables ------------------------------------------------------------------------------------

def test_project_tables_keys_and_index(templates):
    users = templates["dev"]["Resources"]["UsersTable"]["Properties"]
    assert users["TableName"] == "jobwork-dev-users"
    assert users["KeySchema"] == [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                  {"AttributeName": "user_id", "KeyType": "RANGE"}]
    assert users["GlobalSecondaryIndexes"] == [{
        "IndexName": "by_cognito_sub",
        "KeySchema": [{"AttributeName": "cognito_sub", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }]
    assert users["BillingMode"] == "PAY_PER_REQUEST"
    assert {t["Key"]: t["Value"] for t in users["Tags"]} == {
        "app": "jobwork", "env": "dev", "table": "users", "managed-by": "jobwork-infra"}
    tenant = templates["dev"]["Resources"]["TenantTable"]["Properties"]
    assert tenant["KeySchema"] == [{"AttributeName": "tenant_id", "KeyType": "HASH"}]


@pytest.mark.parametrize("env, deletion, pitr, protection", [
    ("dev", "Delete", False, False),
    ("prod", "Retain", True, True),
])
def test_environment_policies(templates, env, deletion, pitr, protection):
    for logical_id in ("TenantTable", "UsersTable"):
        resource = templates[env]["Resources"][logical_id]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (deletion, deletion)
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": pitr}
        assert resource["Properties"]["DeletionProtectionEnabled"] is protection
        assert resource["Properties"]["TableName"] == f"jobwork-{env}-{logical_id[:-5].lower()}"


def test_snapshot_removal_compiles_to_retain(templates):
    # CloudFormation has no Snapshot policy for DynamoDB tables; Retain is what keeps the data.
    orders = templates["rich"]["Resources"]["OrdersTable"]
    assert (orders["DeletionPolicy"], orders["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_provisioned_table_and_gsi_capacity(templates):
    orders = templates["rich"]["Resources"]["OrdersTable"]["Properties"]
    assert "BillingMode" not in orders or orders["BillingMode"] == "PROVISIONED"
    assert orders["ProvisionedThroughput"] == {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5}
    capacity = {i["IndexName"]: i["ProvisionedThroughput"] for i in orders["GlobalSecondaryIndexes"]}
    assert capacity == {
        "by_placed_at": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 2},  # its own
        "by_status": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},    # the table's
        "by_checksum": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},
    }
    users = templates["dev"]["Resources"]["UsersTable"]["Properties"]
    assert "ProvisionedThroughput" not in users["GlobalSecondaryIndexes"][0]


def test_every_option_reaches_the_rich_template(templates):
    orders = templates["rich"]["Resources"]["OrdersTable"]["Properties"]
    projections = {i["IndexName"]: i["Projection"] for i in orders["GlobalSecondaryIndexes"]}
    assert projections == {
        "by_placed_at": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["customer_id", "sku"]},
        "by_status": {"ProjectionType": "KEYS_ONLY"},
        "by_checksum": {"ProjectionType": "ALL"},
    }
    assert orders["LocalSecondaryIndexes"] == [{
        "IndexName": "by_total",
        "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                      {"AttributeName": "total", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["sku"]},
    }]
    types = {a["AttributeName"]: a["AttributeType"] for a in orders["AttributeDefinitions"]}
    assert types == {"tenant_id": "S", "order_id": "S", "placed_at": "N", "status": "S", "checksum": "B",
                     "total": "N"}
    assert orders["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert orders["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert orders["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert orders["SSESpecification"] == {
        "KMSMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "SSEEnabled": True, "SSEType": "KMS"}
    tags = {t["Key"]: t["Value"] for t in orders["Tags"]}
    assert tags == {"app": "shop", "env": "staging", "table": "orders", "managed-by": "jobwork-infra",
                    "cost-center": "platform", "owner": "orders-team"}
    catalog = templates["rich"]["Resources"]["CatalogTable"]
    assert catalog["Properties"]["TableName"] == "shared-catalog"
    assert catalog["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    assert catalog["Properties"]["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"}
    assert catalog["DeletionPolicy"] == "Retain"


# --- outputs -----------------------------------------------------------------------------------

def test_outputs(templates):
    # A fixed set, whatever the number of tables: names are in the metadata manifest.
    assert {k: v["Value"] for k, v in templates["dev"]["Outputs"].items()} == {
        "TableArnPrefix": {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"},
        "TenantDataAccessPolicyArns": {"Ref": "TenantDataAccess"},
        "TenantDataReadPolicyArns": {"Ref": "TenantDataRead"},
    }
    # With tenancy.assumed_by, the two tenant roles (issue 23, item 7).
    assert templates["rich"]["Outputs"]["TenantDataRoleArn"]["Value"] == {"Fn::GetAtt": ["TenantDataRole", "Arn"]}
    assert templates["rich"]["Outputs"]["TenantDataReadRoleArn"]["Value"] == {
        "Fn::GetAtt": ["TenantDataReadRole", "Arn"]}
    assert templates["rich"]["Outputs"]["OrdersTableStreamArn"]["Value"] == {
        "Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert "CatalogTableStreamArn" in templates["rich"]["Outputs"]


# --- the tenant isolation policy ---------------------------------------------------------------

def test_tenant_policy_on_the_project_schema(templates):
    policy = templates["dev"]["Resources"]["TenantDataAccess"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert policy["Properties"]["ManagedPolicyName"] == "jobwork-dev-TenantDataAccess"
    statement = policy_statement(templates["dev"])
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == TENANT_ACTIONS
    assert statement["Condition"] == LEADING_KEYS
    # by_cognito_sub crosses tenants (tenant_scoped: false): it must not be reachable here.
    assert statement["Resource"] == [arn_of("TenantTable"), arn_of("UsersTable"), arn_of("UniqueGuardsTable")]
    assert "by_cognito_sub" not in json.dumps(policy)


def test_tenant_policy_scoped_indexes_and_keys(templates):
    statements = templates["rich"]["Resources"]["TenantDataAccess"]["Properties"]["PolicyDocument"]["Statement"]
    items = policy_statement(templates["rich"])
    assert items["Resource"] == [arn_of("OrdersTable"), arn_of("OrdersTable", "by_placed_at"),
                                 arn_of("OrdersTable", "by_status"), arn_of("OrdersTable", "by_total")]
    assert items["Condition"] == LEADING_KEYS
    for statement in statements:
        assert not any("Scan" in action for action in statement["Action"])
    keys = next(s for s in statements if s["Sid"] == "TableEncryptionKeys")
    assert keys["Resource"] == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_no_tenant_scoped_table_means_no_policy():
    template = synth_text("""
version: 1
app: shop
environments: {dev: {removal_policy: destroy}}
tables:
  catalog:
    tenant_scoped: false
    partition_key: sku
    attributes: {sku: string}
""")
    assert "TenantDataAccess" not in template["Resources"]
    assert list(template["Outputs"]) == ["TableArnPrefix"]


# --- stability ---------------------------------------------------------------------------------

def test_logical_ids_survive_added_tables_and_changed_options(templates):
    def edit(data):
        data["tables"]["users"].update(stream="new_image", billing="provisioned",
                                       capacity={"read": 3, "write": 3}, table_class="infrequent_access")
        data["tables"]["users"]["global_indexes"]["by_email"] = {
            "partition_key": "tenant_id", "sort_key": "email", "projection": "keys_only"}
        data["tables"] = {"job_orders": {"sort_key": "job_id", "attributes": {"job_id": "uuid"}},
                          **data["tables"]}  # first, so that any position-derived id would shift

    before = templates["dev"]
    after = synth_text(edited_schema(edit))
    assert list(after["Resources"]) == ["JobOrdersTable", "TenantTable", "UsersTable", "UniqueGuardsTable",
                                        "TenantDataAccess", "TenantDataRead"]
    for logical_id, resource in before["Resources"].items():
        assert after["Resources"][logical_id]["Type"] == resource["Type"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert after["Resources"][logical_id]["Properties"]["TableName"] == resource["Properties"]["TableName"]
    assert set(before["Outputs"]) < set(after["Outputs"])
    assert "UsersTableStreamArn" in after["Outputs"]


# --- deploy to CloudFormation (moto server on 127.0.0.1) ----------------------------------------

def test_dev_template_deploys_to_cloudformation(moto_endpoint):
    import boto3

    cfn = boto3.client("cloudformation", endpoint_url=moto_endpoint, region_name="us-east-1")
    cfn.create_stack(StackName="jobwork-dev", TemplateBody=golden_path("dev").read_text())
    cfn.get_waiter("stack_create_complete").wait(StackName="jobwork-dev", WaiterConfig={"Delay": 1})
    stack = cfn.describe_stacks(StackName="jobwork-dev")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["TableArnPrefix"] + "jobwork-dev-users" == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/jobwork-dev-users")
    assert outputs["TenantDataAccessPolicyArns"].endswith(":policy/jobwork-dev-TenantDataAccess")

    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert sorted(dynamodb.list_tables()["TableNames"]) == ["jobwork-dev-tenant", "jobwork-dev-unique_guards",
                                                            "jobwork-dev-users"]
    users = dynamodb.describe_table(TableName="jobwork-dev-users")["Table"]
    assert users["KeySchema"] == [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                  {"AttributeName": "user_id", "KeyType": "RANGE"}]
    [index] = users["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_cognito_sub"
    assert index["KeySchema"] == [{"AttributeName": "cognito_sub", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    tenant = dynamodb.describe_table(TableName="jobwork-dev-tenant")["Table"]
    assert tenant["KeySchema"] == [{"AttributeName": "tenant_id", "KeyType": "HASH"}]
