"""`deploy`/`destroy` to CloudFormation, against the moto server on 127.0.0.1 (never AWS).

moto stores templates and change sets and creates and deletes the tables, but it does not apply a
table *update* (a GSI added by an update never appears in DynamoDB), reports no Replacement flags,
no per-resource events and no stack Outputs: the tests here read what was sent and what the stack's template became, and the states moto
cannot reach are in test_deploy_cfn_stubbed.py.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy import cloudformation
from jobwork_infra.deploy.cloudformation import schema_from_template
from jobwork_infra.plan import is_legal_step
from jobwork_infra.project import check_project

from .conftest import FIXTURES

pytestmark = pytest.mark.slow  # every test synthesizes with CDK

BASE = """\
version: 1
app: shop
environments:
  dev:
    removal_policy: destroy
tables:
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
      email: string
      created_at: datetime
{indexes}
  audit:
    sort_key: at
    removal_policy: retain
    attributes:
      at: datetime
"""

TWO_INDEXES = """\
    global_indexes:
      by_email:
        partition_key: tenant_id
        sort_key: email
      by_created:
        partition_key: tenant_id
        sort_key: created_at
        projection: keys_only"""


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(cloudformation, "STACK_POLL_SECONDS", 0)
    monkeypatch.setattr(cloudformation, "CHANGE_SET_POLL_SECONDS", 0)


@pytest.fixture
def schema(tmp_path):
    def write(text: str = BASE.format(indexes="")) -> Path:
        path = tmp_path / "tables.yaml"
        path.write_text(text)
        return path
    return write


@pytest.fixture
def aws(moto_endpoint):
    def client(service: str):
        return boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


@pytest.fixture
def moto_updates_tables(monkeypatch):
    """Give moto's CloudFormation an update for DynamoDB tables, with AWS's one-index rule.

    moto has none: a stack update that modifies a table drops it from the stack. The server runs in
    this process, so the test can lend moto's Table class an update that re-creates the table (its
    items are not kept; these tests write none) and, like DynamoDB, refuses more than one global
    index created or deleted in one update.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        old = {i.name for i in original_resource.global_indexes}
        new = {i["IndexName"] for i in cloudformation_json["Properties"].get("GlobalSecondaryIndexes", [])}
        if len(old ^ new) > 1:
            raise ValueError("Cannot perform more than one GSI creation or deletion in a single update")
        dynamodb_backends[account_id][region_name].delete_table(name=original_resource.name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    monkeypatch.setattr(Table, "update_from_cloudformation_json", classmethod(update), raising=False)


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def deploy(path: Path, endpoint: str, *extra: str):
    return run("deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint, *extra)


def test_cli_deploy_creates_the_stack_and_its_tables(schema, moto_endpoint, aws):
    result = deploy(schema(), moto_endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert "Stack shop-dev (create), 1 step(s):" in result.output
    assert "table_added" not in result.output  # the plan speaks in statements, not kinds
    assert "CREATE_COMPLETE" in result.output  # the live events
    assert "Deployed stack shop-dev: CREATE_COMPLETE" in result.output
    # (moto keeps no stack Outputs: the outputs table is tested with the Stubber)
    stack = aws("cloudformation").describe_stacks(StackName="shop-dev")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert sorted(aws("dynamodb").list_tables()["TableNames"]) == ["shop-dev-audit", "shop-dev-users"]
    users = aws("dynamodb").describe_table(TableName="shop-dev-users")["Table"]
    assert [k["AttributeName"] for k in users["KeySchema"]] == ["tenant_id", "user_id"]
    # the environment destroys its tables: no termination protection
    assert not stack.get("EnableTerminationProtection")


def test_a_fresh_machine_needs_no_aws_configuration_for_a_local_endpoint(schema, moto_endpoint, aws,
                                                                        monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    result = deploy(schema(), moto_endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert aws("cloudformation").describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_unchanged_redeploy_says_no_changes_and_creates_no_change_set(schema, moto_endpoint, aws):
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0

    result = deploy(path, moto_endpoint)  # no --yes: nothing to confirm when nothing changes

    assert result.exit_code == 0, result.output
    assert result.output.startswith("No changes: stack shop-dev is up to date (schema ")
    assert len(aws("cloudformation").list_change_sets(StackName="shop-dev")["Summaries"]) == 1


@pytest.mark.parametrize("extra", [("--dry-run",), ("--yes",)])
def test_key_change_is_refused_with_exit_3_and_the_stack_is_left_alone(schema, moto_endpoint, aws, extra):
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0
    cfn = aws("cloudformation")
    before = cfn.get_template(StackName="shop-dev")["TemplateBody"]
    schema(BASE.format(indexes="").replace("sort_key: user_id", "sort_key: email"))

    result = deploy(path, moto_endpoint, *extra)

    assert result.exit_code == 3, result.output
    assert "sort key" in result.output
    assert "error: refusing 1 destructive change(s) to users" in result.output
    assert cfn.get_template(StackName="shop-dev")["TemplateBody"] == before
    assert len(cfn.list_change_sets(StackName="shop-dev")["Summaries"]) == 1


@pytest.mark.parametrize("extra", [("--dry-run",), ("--yes",)])
def test_key_change_of_a_named_table_is_refused_even_when_destructive_changes_are_allowed(
        schema, moto_endpoint, aws, extra):
    # CloudFormation would fail the update (a custom-named table cannot be replaced); moto would not.
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0
    cfn = aws("cloudformation")
    before = cfn.get_template(StackName="shop-dev")["TemplateBody"]
    schema(BASE.format(indexes="").replace("sort_key: user_id", "sort_key: email"))

    result = deploy(path, moto_endpoint, "--allow-destructive", *extra)

    assert result.exit_code == 3, result.output
    assert "error: cannot replace shop-dev-users under the same name" in result.output
    assert "jobwork-infra destroy --env dev" in result.output
    assert cfn.get_template(StackName="shop-dev")["TemplateBody"] == before


def test_dry_run_of_a_safe_change_changes_nothing(schema, moto_endpoint, aws):
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0
    schema(BASE.format(indexes=TWO_INDEXES))

    result = deploy(path, moto_endpoint, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Plan for shop-dev: 2 steps" in result.output
    assert result.output.rstrip().endswith("Dry run: 2 step(s) would be applied to stack shop-dev; "
                                           "nothing was changed.")
    assert len(aws("cloudformation").list_change_sets(StackName="shop-dev")["Summaries"]) == 1


def test_two_indexes_are_staged_one_legal_update_at_a_time(schema, moto_endpoint, aws, monkeypatch,
                                                           moto_updates_tables):
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0
    base = check_project(path).resolve("dev")
    sent: list[dict] = []
    real = cloudformation.make_clients

    def recording(request, region):
        clients = real(request, region)
        clients.cloudformation.meta.events.register(
            "provide-client-params.cloudformation.CreateChangeSet",
            lambda params, **_: sent.append(json.loads(params["TemplateBody"])))
        return clients

    monkeypatch.setattr(cloudformation, "make_clients", recording)
    schema(BASE.format(indexes=TWO_INDEXES))
    head = check_project(path).resolve("dev")

    result = deploy(path, moto_endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert "Step 1/2: users: create index by_email" in result.output
    assert "Step 2/2: users: create index by_created" in result.output
    assert len(sent) == 2
    # Independently of the planner: each template adds one index name to the one before.
    names = [{i["IndexName"] for i in t["Resources"]["UsersTable"]["Properties"].get("GlobalSecondaryIndexes", [])}
             for t in sent]
    assert names == [{"by_email"}, {"by_email", "by_created"}]
    # And through the planner's own rule, from the deployed schema to the head.
    schemas = [base] + [schema_from_template(t, head) for t in sent]
    assert all(is_legal_step(a, b) for a, b in itertools.pairwise(schemas))
    assert schemas[-1] == head
    indexes = aws("dynamodb").describe_table(TableName="shop-dev-users")["Table"]["GlobalSecondaryIndexes"]
    assert sorted(i["IndexName"] for i in indexes) == ["by_created", "by_email"]
    deployed = aws("cloudformation").get_template(StackName="shop-dev")["TemplateBody"]
    assert deployed["Metadata"]["JobworkInfra"]["SchemaHash"] == head.schema_hash

    again = deploy(path, moto_endpoint)
    assert again.output.startswith("No changes")


def test_destroy_deletes_the_stack_and_lists_the_retained_tables(schema, moto_endpoint, aws):
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0

    result = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", moto_endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert "  delete  shop-dev-users  (its data is lost)" in result.output
    assert "  keep    shop-dev-audit  (DeletionPolicy Retain)" in result.output
    assert "Deleted stack shop-dev." in result.output
    assert result.output.rstrip().endswith(
        "These tables stay, with their data (retained by their DeletionPolicy):\n  shop-dev-audit")
    stacks = aws("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    assert stacks["StackSummaries"] == []
    assert aws("dynamodb").list_tables()["TableNames"] == ["shop-dev-audit"]

    again = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", moto_endpoint, "--yes")
    assert (again.exit_code, again.output) == (0, "Stack shop-dev does not exist; nothing to destroy.\n")


def test_destroy_without_a_terminal_asks_for_yes(schema, moto_endpoint):
    path = schema()
    assert deploy(path, moto_endpoint, "--yes").exit_code == 0

    result = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", moto_endpoint)

    assert result.exit_code == 2
    assert "pass --yes" in result.output


def test_unreachable_endpoint_is_a_message_not_a_traceback(schema):
    result = deploy(schema(), "http://127.0.0.1:9", "--yes")

    assert result.exit_code == 1
    assert "error: reading stack shop-dev failed: cannot reach http://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_every_option_survives_the_round_trip_through_a_template():
    """What deploy plans against is the template: rebuilding the schema from it must lose nothing."""
    from jobwork_infra.compile import synth_template

    project = check_project(FIXTURES / "good" / "every_option.yaml")
    for env in project.environments:
        head = project.resolve(env)
        rebuilt = schema_from_template(synth_template(head), head)
        assert rebuilt == head, env
        assert rebuilt.schema_hash == head.schema_hash
