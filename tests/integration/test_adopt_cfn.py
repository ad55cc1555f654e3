"""`deploy --adopt --from-stack`: the seed's stack handed over to jobwork-infra on the strict AWS double.

The story of issue 11 through CloudFormation: the seed's hand-written CDK app (tests/seed_app) is
synthesized as CDK does and its stack created on the double, with items in its tables (DESTROY: a
delete of that stack would take the data); then the project's schema with `naming: "{table}"` takes
them over: retained in the seed's stack, removed from it, imported into the environment's stack,
and the schema's `by_cognito_sub` index added. Failures injected at the seed stack's update and at
the import leave every item where it was, and a rerun completes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.cloudformation import adopt as cloudformation_adopt
from jobwork_infra.deploy.cloudformation.template import PLACEHOLDER
from tests.conftest import after_caller

ROOT = Path(__file__).resolve().parent.parent.parent
SEED = "JobworkSeedStack"
ITEMS = {"tenant": 2, "users": 3}

pytestmark = pytest.mark.slow  # a CDK synth of the seed's app, and the tool's


@pytest.fixture(scope="module")
def seed_template(tmp_path_factory) -> str:
    """The seed's app synthesized once, as `cdk synth` runs it (the app in a process of its own)."""
    out = tmp_path_factory.mktemp("seed-cdk-out")
    subprocess.run([sys.executable, str(ROOT / "tests" / "seed_app" / "app.py")], check=True, capture_output=True,
                   env={**os.environ, "CDK_OUTDIR": str(out)}, timeout=300)
    return (out / f"{SEED}.template.json").read_text()


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


@pytest.fixture
def seed(strict_aws, seed_template, project_schema, tmp_path):
    """The seed's stack with items in its tables, and the project's schema naming tables `{table}`."""
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName=SEED, TemplateBody=seed_template)
    cfn.get_waiter("stack_create_complete").wait(StackName=SEED, WaiterConfig={"Delay": 0.1})
    dynamodb = strict_aws.client("dynamodb")
    for n in range(ITEMS["tenant"]):
        dynamodb.put_item(TableName="tenant", Item={"tenant_id": {"S": f"t-{n}"}, "name": {"S": f"Tenant {n}"}})
    for n in range(ITEMS["users"]):
        dynamodb.put_item(TableName="users", Item={"tenant_id": {"S": "t-0"}, "user_id": {"S": f"u-{n}"},
                                                   "cognito_sub": {"S": f"sub-{n}"}})
    schema = tmp_path / "tables.yaml"
    schema.write_text(project_schema.read_text().replace('table: "{app}-{env}-{table}"', 'table: "{table}"'))
    return str(schema)


def deploy(strict_aws, schema: str, *args: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--endpoint-url", strict_aws.endpoint,
                                    "--schema", schema, "--yes", *args])


def items(strict_aws) -> dict[str, int]:
    dynamodb = strict_aws.client("dynamodb")
    return {name: sum(p["Count"] for p in dynamodb.get_paginator("scan").paginate(TableName=name, Select="COUNT"))
            for name in ITEMS}


def held(strict_aws, stack: str) -> dict[str, str]:
    """Table name → logical id of the tables a stack holds."""
    resources = strict_aws.client("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {r["PhysicalResourceId"]: r["LogicalResourceId"] for r in resources
            if r["ResourceType"] == "AWS::DynamoDB::Table"}


def template(strict_aws, stack: str) -> dict:
    body = strict_aws.client("cloudformation").get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, dict) else json.loads(body)


def test_the_seed_stack_is_taken_over_keeping_every_item(strict_aws, seed):
    plain = deploy(strict_aws, seed)
    assert plain.exit_code == 3, plain.output
    assert "tables tenant, users already exist under the schema's names but are not managed" in plain.output
    assert "rerun with --adopt" in plain.output

    # Without --from-stack the import would be refused by CloudFormation (a resource is in one stack at a
    # time): refused before anything, naming the stack that holds the tables (issue 18, item 5).
    elsewhere = deploy(strict_aws, seed, "--adopt")
    assert elsewhere.exit_code == 3, elsewhere.output
    assert f"stack {SEED} holds tenant, users" in elsewhere.output
    assert f"--from-stack {SEED}" in " ".join(elsewhere.output.split())
    assert set(held(strict_aws, SEED)) == {"tenant", "users"}

    result = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert result.exit_code == 0, result.output
    assert "Adopting table users" in result.output and f"out of stack {SEED}" in result.output
    assert f"✓ stack {SEED} retains tenant, users" in result.output
    assert f"✓ stack {SEED} no longer manages tenant, users; the tables stay" in result.output
    assert "✓ adopted table users into stack jobwork-dev as UsersTable" in result.output
    assert "Verified on the live tables" in result.output
    assert items(strict_aws) == ITEMS
    assert held(strict_aws, SEED) == {}
    seed_resources = template(strict_aws, SEED)["Resources"]
    assert list(seed_resources) == [PLACEHOLDER]
    assert held(strict_aws, "jobwork-dev") == {"tenant": "TenantTable", "users": "UsersTable",
                                              "unique_guards": "UniqueGuardsTable"}  # created, not adopted
    users = strict_aws.wait_indexes_active("users")
    assert [i["IndexName"] for i in users["GlobalSecondaryIndexes"]] == ["by_cognito_sub"]
    found = strict_aws.client("dynamodb").query(
        TableName="users", IndexName="by_cognito_sub", KeyConditionExpression="cognito_sub = :s",
        ExpressionAttributeValues={":s": {"S": "sub-2"}})["Items"]
    assert [i["user_id"]["S"] for i in found] == ["u-2"]
    assert strict_aws.resource_failures("jobwork-dev") == []

    again = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert again.exit_code == 0, again.output
    assert after_caller(again.output).startswith("No changes: stack jobwork-dev matches the schema"), again.output

    # The seed's stack may now be deleted: the tables are no longer its own.
    cfn = strict_aws.client("cloudformation")
    cfn.delete_stack(StackName=SEED)
    cfn.get_waiter("stack_delete_complete").wait(StackName=SEED, WaiterConfig={"Delay": 0.1})
    assert items(strict_aws) == ITEMS


def test_a_failed_update_of_the_seed_stack_leaves_everything_and_a_rerun_completes(strict_aws, seed):
    strict_aws.fail_next("UsersTable9725E9C8", "Resource handler returned message: \"injected\"")
    failed = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert failed.exit_code == 1, failed.output
    assert f"the update of stack {SEED} to retain tenant, users failed and was rolled back" in failed.output
    assert f"--adopt --from-stack {SEED}`: it resumes where this stopped" in failed.output
    assert items(strict_aws) == ITEMS
    assert set(held(strict_aws, SEED)) == {"tenant", "users"}
    assert template(strict_aws, SEED)["Resources"]["UsersTable9725E9C8"]["DeletionPolicy"] == "Delete"
    assert "jobwork-dev" not in [s["StackName"] for s in strict_aws.client("cloudformation").list_stacks()
                                 ["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]

    rerun = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert rerun.exit_code == 0, rerun.output
    assert items(strict_aws) == ITEMS
    assert held(strict_aws, "jobwork-dev") == {"tenant": "TenantTable", "users": "UsersTable",
                                              "unique_guards": "UniqueGuardsTable"}  # created, not adopted


def test_a_failed_import_leaves_every_item_and_a_rerun_imports(strict_aws, seed, monkeypatch):
    run = cloudformation_adopt.StackSteps.run

    def failing_import(self, stack, template, kind, summary, **kwargs):
        if kind == "IMPORT":
            strict_aws.fail_next("UsersTable", "Resource handler returned message: \"injected import failure\"")
        return run(self, stack, template, kind, summary, **kwargs)

    monkeypatch.setattr(cloudformation_adopt.StackSteps, "run", failing_import)
    failed = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert failed.exit_code == 1, failed.output
    assert "injected import failure" in failed.output
    assert ("the import of tenant, users into stack jobwork-dev failed and was rolled back: the tables and their "
            "items are where they were, managed by no stack now") in failed.output
    assert items(strict_aws) == ITEMS
    assert held(strict_aws, SEED) == {}

    monkeypatch.setattr(cloudformation_adopt.StackSteps, "run", run)
    rerun = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert rerun.exit_code == 0, rerun.output
    # Retained and removed before: each step detects it was done; only the import runs again.
    assert "retains tenant, users" not in rerun.output and "no longer manages" not in rerun.output
    assert "✓ adopted table users into stack jobwork-dev as UsersTable" in rerun.output
    assert items(strict_aws) == ITEMS
    assert held(strict_aws, "jobwork-dev") == {"tenant": "TenantTable", "users": "UsersTable",
                                              "unique_guards": "UniqueGuardsTable"}  # created, not adopted
    assert [i["IndexName"] for i in strict_aws.wait_indexes_active("users")["GlobalSecondaryIndexes"]] == [
        "by_cognito_sub"]


def test_a_table_whose_keys_differ_is_refused_before_any_change(strict_aws, seed):
    text = Path(seed).read_text().replace("    sort_key: user_id\n", "    sort_key: email\n").replace(
        "{type: string, unique: tenant}", "string")  # a key is unique already (U001)
    Path(seed).write_text(text.replace("key: [tenant_id, user_id]", "key: [tenant_id, email]"))
    result = deploy(strict_aws, seed, "--adopt", "--from-stack", SEED)
    assert result.exit_code == 3, result.output
    assert "cannot adopt users: sort key user_id (S) live, email (S) in the schema" in result.output
    assert f"jobwork-infra import --env dev --endpoint-url {strict_aws.endpoint} tenant users" in result.output
    assert template(strict_aws, SEED)["Resources"]["UsersTable9725E9C8"]["DeletionPolicy"] == "Delete"
    assert items(strict_aws) == ITEMS
