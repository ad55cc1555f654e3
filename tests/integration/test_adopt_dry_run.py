"""`deploy --adopt --dry-run` exits as the deploy would (issue 18, item 5), and the refusals name the way
out: `--from-stack` with the stack that holds the table (DescribeStackResources by physical id).

The seed's stack on the strict AWS double, as in tests/integration/test_adopt_cfn.py.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.test_adopt_cfn import ITEMS, SEED, _fast, deploy, held, items, seed, seed_template  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "deploy"])
def test_a_table_another_stack_holds_is_refused_alike_naming_from_stack(strict_aws, seed, dry_run):  # noqa: F811
    result = deploy(strict_aws, seed, "--adopt", *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 3, result.output
    text = flat(result.output)
    assert f"stack {SEED} holds tenant, users" in text
    assert f"rerun with --adopt --from-stack {SEED}" in text
    assert "R016" in text
    assert items(strict_aws) == ITEMS
    assert sorted(held(strict_aws, SEED)) == ["tenant", "users"]


def test_without_adopt_the_refusal_names_the_holding_stack(strict_aws, seed):  # noqa: F811
    result = deploy(strict_aws, seed)
    assert result.exit_code == 3, result.output
    text = flat(result.output)
    assert f"stack {SEED} holds tenant, users" in text
    assert f"rerun with --adopt --from-stack {SEED}" in text
    assert items(strict_aws) == ITEMS


@pytest.fixture
def referring_seed(strict_aws, seed_template, project_schema, tmp_path):  # noqa: F811
    """The seed's stack with a policy that refers to its users table: it cannot give the table away."""
    template = json.loads(seed_template)
    [users] = [lid for lid, r in template["Resources"].items()
               if r["Type"] == "AWS::DynamoDB::Table" and r["Properties"].get("TableName") == "users"]
    template["Resources"]["UsersReader"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": {"Fn::GetAtt": [users, "Arn"]}}]}}}
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName=SEED, TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName=SEED, WaiterConfig={"Delay": 0.1})
    schema = tmp_path / "tables.yaml"
    schema.write_text(project_schema.read_text().replace('table: "{app}-{env}-{table}"', 'table: "{table}"'))
    return str(schema)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "deploy"])
def test_a_from_stack_that_refers_to_the_tables_is_refused_alike(strict_aws, referring_seed, dry_run):
    result = deploy(strict_aws, referring_seed, "--adopt", "--from-stack", SEED, *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 3, result.output
    text = flat(result.output)
    assert f"stack {SEED} has resources that refer to the tables to take out (UsersReader)" in text
    assert sorted(held(strict_aws, SEED)) == ["tenant", "users"]


def test_describe_stack_resources_by_physical_id_names_the_holding_stack(strict_aws, seed):  # noqa: F811
    """The double's rule, shown firing: by physical id alone, the holding stack; a ValidationError for none."""
    from botocore.exceptions import ClientError

    cfn = strict_aws.client("cloudformation")
    [resource] = cfn.describe_stack_resources(PhysicalResourceId="users")["StackResources"]
    assert (resource["StackName"], resource["ResourceType"]) == (SEED, "AWS::DynamoDB::Table")
    with pytest.raises(ClientError, match="Stack for no-such-table does not exist"):
        cfn.describe_stack_resources(PhysicalResourceId="no-such-table")
