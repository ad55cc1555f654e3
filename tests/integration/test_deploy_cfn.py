"""`deploy`/`destroy` to CloudFormation, against the strict AWS double on 127.0.0.1 (never AWS).

The double (tests/double, fixture `strict_aws`) updates tables in place, backfills new indexes,
enforces one index operation per update, the TTL cool-down and deletion protection, and rolls a
failed update back: what AWS does, not what moto alone would. The end-to-end scenarios of issue 9
are in test_deploy_aws_rules.py; states the double cannot reach are in test_deploy_cfn_stubbed.py.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.cloudformation import target as cloudformation
from jobwork_infra.deploy.cloudformation.read import schema_from_template
from jobwork_infra.plan import is_legal_step
from jobwork_infra.project import check_project
from tests.conftest import FIXTURES, after_caller
from tests.helpers import schema_text

pytestmark = pytest.mark.slow  # every test synthesizes with CDK

BASE = schema_text(tables="""\
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
""")

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
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


@pytest.fixture
def endpoint(strict_aws) -> str:
    return strict_aws.endpoint


@pytest.fixture
def schema(tmp_path):
    def write(text: str = BASE.format(indexes="")) -> Path:
        path = tmp_path / "tables.yaml"
        path.write_text(text)
        return path
    return write


@pytest.fixture
def aws(strict_aws):
    return strict_aws.client


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def deploy(path: Path, endpoint: str, *extra: str):
    return run("deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint, *extra)


def test_cli_deploy_creates_the_stack_and_its_tables(schema, endpoint, aws):
    result = deploy(schema(), endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert "stack shop-dev: 1 step" in result.output
    assert "table_added" not in result.output  # the plan speaks in statements, not kinds
    assert "CREATE_COMPLETE" in result.output  # the live events
    assert "Verified on the live tables: " in result.output
    assert "Deployed stack shop-dev: 1 step in " in result.output
    stack = aws("cloudformation").describe_stacks(StackName="shop-dev")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert sorted(aws("dynamodb").list_tables()["TableNames"]) == ["shop-dev-audit", "shop-dev-users"]
    users = aws("dynamodb").describe_table(TableName="shop-dev-users")["Table"]
    assert [k["AttributeName"] for k in users["KeySchema"]] == ["tenant_id", "user_id"]
    # the environment destroys its tables: no termination protection
    assert not stack.get("EnableTerminationProtection")


def test_a_fresh_machine_needs_no_aws_configuration_for_a_local_endpoint(schema, endpoint, aws,
                                                                        monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    result = deploy(schema(), endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert aws("cloudformation").describe_stacks(StackName="shop-dev")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_unchanged_redeploy_says_no_changes_and_creates_no_change_set(schema, endpoint, aws):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0

    result = deploy(path, endpoint)  # no --yes: nothing to confirm when nothing changes

    assert result.exit_code == 0, result.output
    assert after_caller(result.output).startswith("No changes: stack shop-dev matches the schema (schema ")
    assert len(aws("cloudformation").list_change_sets(StackName="shop-dev")["Summaries"]) == 1


@pytest.mark.parametrize("extra", [("--dry-run",), ("--yes",)])
def test_key_change_is_refused_with_exit_3_and_the_stack_is_left_alone(schema, endpoint, aws, extra):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0
    cfn = aws("cloudformation")
    before = cfn.get_template(StackName="shop-dev")["TemplateBody"]
    schema(BASE.format(indexes="").replace("sort_key: user_id", "sort_key: email"))

    result = deploy(path, endpoint, *extra)

    assert result.exit_code == 3, result.output
    assert "sort key" in result.output
    assert "error: refusing 1 destructive change(s) to users" in result.output
    assert cfn.get_template(StackName="shop-dev")["TemplateBody"] == before
    assert len(cfn.list_change_sets(StackName="shop-dev")["Summaries"]) == 1


@pytest.mark.parametrize("extra", [("--dry-run",), ("--yes",)])
def test_key_change_of_a_named_table_is_refused_even_when_destructive_changes_are_allowed(
        schema, endpoint, aws, extra):
    # CloudFormation would fail the update (a custom-named table cannot be replaced); moto would not.
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0
    cfn = aws("cloudformation")
    before = cfn.get_template(StackName="shop-dev")["TemplateBody"]
    schema(BASE.format(indexes="").replace("sort_key: user_id", "sort_key: email"))

    result = deploy(path, endpoint, "--allow-destructive", *extra)

    assert result.exit_code == 3, result.output
    assert "error: cannot replace shop-dev-users under the same name" in result.output
    # The way forward is one that works on CloudFormation: a new name, never "destroy, then deploy".
    # the command runs as printed: the same endpoint and schema (issue 23)
    assert ("give the new table another name (table_name: shop-dev-users-v2 on table users) and run "
            f"`jobwork-infra deploy --env dev --endpoint-url {endpoint} --schema {path} --allow-destructive`") \
        in " ".join(result.output.split())
    assert "destroy --env" not in result.output
    assert cfn.get_template(StackName="shop-dev")["TemplateBody"] == before


def test_dry_run_of_a_safe_change_changes_nothing(schema, endpoint, aws):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0
    schema(BASE.format(indexes=TWO_INDEXES))

    result = deploy(path, endpoint, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Plan for shop-dev: 2 steps" in result.output
    assert result.output.rstrip().endswith("Dry run: 2 steps would be applied to stack shop-dev; "
                                           "nothing was changed.")
    assert len(aws("cloudformation").list_change_sets(StackName="shop-dev")["Summaries"]) == 1


def test_two_indexes_are_staged_one_legal_update_at_a_time(schema, endpoint, aws, monkeypatch):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0
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

    result = deploy(path, endpoint, "--yes")

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

    again = deploy(path, endpoint)
    assert after_caller(again.output).startswith("No changes")


def test_destroy_deletes_the_stack_and_lists_the_retained_tables(schema, endpoint, aws):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0

    result = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint, "--yes")

    assert result.exit_code == 0, result.output
    assert "  delete  shop-dev-users  (its data is lost)" in result.output
    assert "  keep    shop-dev-audit  (removal_policy: retain)" in result.output
    # The tenant policy goes with the stack: the listing says so (issue 13).
    assert "  delete  IAM managed policy shop-dev-TenantDataAccess\n" in result.output
    assert "termination protection" not in result.output  # dev: none to turn off
    assert "Destroyed stack shop-dev." in result.output
    assert result.output.rstrip().endswith(
        "These tables stay, with their data (retained):\n  shop-dev-audit")
    stacks = aws("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    assert stacks["StackSummaries"] == []
    assert aws("dynamodb").list_tables()["TableNames"] == ["shop-dev-audit"]

    again = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint, "--yes")
    assert (again.exit_code, after_caller(again.output)) == (
        0, "Nothing to destroy: stack shop-dev has nothing deployed.\n")


def test_destroy_without_a_terminal_asks_for_yes(schema, endpoint):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0

    result = run("destroy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint)

    assert result.exit_code == 2
    # rich's error box may wrap the message: compare the words.
    words = " ".join(w for w in result.output.split() if w != "│")
    assert "pass --yes to destroy non-interactively" in words


def test_unreachable_endpoint_is_a_message_not_a_traceback(schema):
    result = deploy(schema(), "http://127.0.0.1:9", "--yes")

    assert result.exit_code == 1
    # the first call is the account guard's (STS): it says it cannot tell the account, and reads nothing
    assert "error: cannot tell which AWS account the credentials belong to: Could not connect to the endpoint URL: " \
        "\"http://127.0.0.1:9" in result.output
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


def test_a_removed_table_is_refused_with_its_approximate_item_count(schema, endpoint, aws):
    path = schema()
    assert deploy(path, endpoint, "--yes").exit_code == 0
    for n in range(2):
        aws("dynamodb").put_item(TableName="shop-dev-users", Item={"tenant_id": {"S": "t"}, "user_id": {"S": f"u{n}"}})
    without_users = BASE.format(indexes="").split("  users:")[0] + "  audit:" + BASE.split("  audit:")[1]
    schema(without_users)

    result = deploy(path, endpoint, "--dry-run")

    assert result.exit_code == 3, result.output
    assert ("data at risk: table shop-dev-users is deleted: it holds approximately 2 items, lost with it "
            "(ItemCount: DynamoDB updates it about every six hours)") in " ".join(result.output.split())
