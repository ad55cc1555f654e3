"""The CloudFormation answers the strict double cannot give, with botocore's Stubber.

What stays here and why: `--timeout` reached while another operation runs on the stack is pinned call by
call (waiting it out and planning again runs on the double: test_deploy_queue.py); the double fills no
`Conditional` Replacement flag, has no
UpdateTerminationProtection, and a failed change set or the S3 URL of a big template are easier to
pin call by call. A failed update or create with its rollback (UPDATE_ROLLBACK_COMPLETE,
ROLLBACK_COMPLETE) runs on the double (test_deploy_aws_rules.py).
Here each API answer is written out and the Stubber checks the calls, in order, with their
parameters: the deploy must make exactly these calls and no others.

No CDK here: `_synth` is replaced by `fake_template`, a template with only what deploy reads back
(its faithfulness to compile is checked by the round trip in test_deploy_cfn.py).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.adopt import Adoption
from jobwork_infra.deploy.cloudformation import target as cloudformation
from jobwork_infra.deploy.cloudformation.read import schema_from_template
from jobwork_infra.deploy.cloudformation.target import Clients
from jobwork_infra.deploy.timing import TIMING
from jobwork_infra.project import check_project
from tests.helpers import schema_text

SCHEMA = schema_text(environments={"dev": {"removal_policy": "destroy"}, "prod": {"removal_policy": "retain"}}, tables="""\
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
      email: string
{indexes}
""")
BY_EMAIL = """\
    global_indexes:
      by_email:
        partition_key: tenant_id
        sort_key: email"""

NAME = "shop-dev"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-dev/1"
CHANGE_SET_ID = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs/1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
CALLER = "AWS account 123456789012 (arn:aws:iam::123456789012:user/stubbed), region us-east-1"  # the header


def fake_template(resolved, padding: int = 0) -> dict:
    resources = {}
    for table in resolved.tables.values():
        keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
        index_keys = [k for i in table.global_indexes for k in (i.partition_key, i.sort_key) if k]
        attributes = {k.name: k.type for k in keys + index_keys}
        schema = lambda pk, sk: [{"AttributeName": pk.name, "KeyType": "HASH"}] + (
            [{"AttributeName": sk.name, "KeyType": "RANGE"}] if sk else [])
        properties = {
            "TableName": table.physical_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": schema(table.partition_key, table.sort_key),
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in table.tags.items()],
        }
        if table.global_indexes:
            properties["GlobalSecondaryIndexes"] = [
                {"IndexName": i.name, "KeySchema": schema(i.partition_key, i.sort_key),
                 "Projection": {"ProjectionType": "ALL"}} for i in table.global_indexes]
        resources[table.logical_id] = {
            "Type": "AWS::DynamoDB::Table", "Properties": properties,
            "DeletionPolicy": "Delete" if table.removal_policy == "destroy" else "Retain"}
    return {"Description": "x" * padding,
            "Metadata": {"JobworkInfra": {"SchemaHash": resolved.schema_hash}}, "Resources": resources}


@pytest.fixture(autouse=True)
def no_cdk_no_sleep(monkeypatch):
    monkeypatch.setattr(cloudformation, "synth", fake_template)
    # Which stacks the environment has (ListStacks) is read on the double (test_deploy_stacks.py).
    monkeypatch.setattr(cloudformation, "environment_stacks", lambda clients, head: list(head.stacks))
    # Only CloudFormation's answers are stubbed here: the live tables (waiting until they settle,
    # stray indexes, taken names, verifying) are the strict double's business (test_deploy_aws_rules.py).
    target = cloudformation.CloudFormationTarget
    monkeypatch.setattr(target, "wait_settled", lambda self, names, deadline: None)
    monkeypatch.setattr(target, "check_live", lambda self, state, plan: [])
    monkeypatch.setattr(target, "verify", lambda self, plan, applied: (0, []))
    # The live tables are not stubbed: no drift and nothing to adopt (test_adopt_cfn.py, test_drift.py).
    monkeypatch.setattr(target, "drift", lambda self, head, state: None)
    # Who the caller is (STS) is the strict double's business too (tests/unit/test_account.py): the stubbed
    # calls here are CloudFormation's only, so the caller is the double's fixed account.
    from jobwork_infra.account import Caller
    from jobwork_infra.cli import _guard

    monkeypatch.setattr(_guard, "resolve_caller", lambda session, endpoint_url=None: Caller(
        "123456789012", "arn:aws:iam::123456789012:user/stubbed", session.region_name))
    monkeypatch.setattr(cloudformation, "find_stack_adoption", lambda *args: Adoption())
    monkeypatch.setattr(TIMING, "stack_poll", 0)
    monkeypatch.setattr(TIMING, "change_set_poll", 0)


@pytest.fixture
def schema(tmp_path):
    def write(indexes: str = "") -> str:
        path = tmp_path / "tables.yaml"
        path.write_text(SCHEMA.format(indexes=indexes))
        return str(path)
    return write


class Aws:
    """Stubbed clients; `expect` queues one answer, in the order the deploy must ask."""

    def __init__(self):
        session = boto3.Session(region_name="us-east-1")
        self.clients = Clients(session.client("cloudformation"), session.client("s3"))
        self.cfn = Stubber(self.clients.cloudformation)
        self.s3 = Stubber(self.clients.s3)

    def expect(self, operation: str, response: dict | None = None, params: dict | None = None, s3: bool = False):
        (self.s3 if s3 else self.cfn).add_response(operation, response or {}, params)

    def fail(self, operation: str, code: str, message: str, params: dict | None = None):
        self.cfn.add_client_error(operation, code, message, http_status_code=400, expected_params=params)

    def stack(self, status: str, *, name: str = NAME, **extra) -> None:
        self.expect("describe_stacks", {"Stacks": [_stack(status, name, **extra)]}, {"StackName": ANY})

    def done(self):
        self.cfn.assert_no_pending_responses()
        self.s3.assert_no_pending_responses()


def _stack(status: str, name: str = NAME, **extra) -> dict:
    return {"StackName": name, "StackId": STACK_ID, "StackStatus": status, "CreationTime": NOW, **extra}


def _event(number: int, logical_id: str, status: str, reason: str | None = None,
           kind: str = "AWS::DynamoDB::Table") -> dict:
    event = {"StackId": STACK_ID, "EventId": f"e{number}", "StackName": NAME, "LogicalResourceId": logical_id,
             "ResourceType": kind, "Timestamp": NOW, "ResourceStatus": status}
    if reason:
        event["ResourceStatusReason"] = reason
    return event


@pytest.fixture
def aws(monkeypatch):
    fake = Aws()
    monkeypatch.setattr(cloudformation, "make_clients", lambda request, region: fake.clients)
    with fake.cfn, fake.s3:
        yield fake


def deploy(path: str, *extra: str, env: str = "dev"):
    return CliRunner().invoke(app, ["deploy", "--env", env, "--schema", path, *extra], catch_exceptions=False)


def resolved(path: str, env: str = "dev"):
    return check_project(path).resolve(env)


def expect_update_change_set(aws: Aws, changes: list[dict], params: dict | None = None) -> None:
    aws.expect("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID},
               params or {"StackName": NAME, "ChangeSetName": ANY, "ChangeSetType": "UPDATE",
                          "Capabilities": ANY, "Description": ANY, "TemplateBody": ANY})
    described = {"ChangeSetId": CHANGE_SET_ID, "StackId": STACK_ID, "Status": "CREATE_COMPLETE",
                 "ExecutionStatus": "AVAILABLE", "Changes": changes}
    aws.expect("describe_change_set", described, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID})
    aws.expect("describe_change_set", described, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID})
    # Right before execute: the stack is still at the deploy serial this deploy read (none here).
    aws.expect("get_template", {"TemplateBody": json.dumps({"Resources": {}})})


def _modify(logical_id: str, replacement: str, cause: str = "GlobalSecondaryIndexes") -> dict:
    return {"Type": "Resource", "ResourceChange": {
        "Action": "Modify", "LogicalResourceId": logical_id, "ResourceType": "AWS::DynamoDB::Table",
        "Replacement": replacement, "Scope": ["Properties"],
        "Details": [{"Target": {"Attribute": "Properties", "Name": cause,
                                "RequiresRecreation": "Always" if replacement == "True" else "Never"}}]}}


def test_fake_template_reads_back_as_the_schema(schema):
    head = resolved(schema(BY_EMAIL))
    assert schema_from_template(fake_template(head), head) == head


def test_a_stack_in_progress_is_waited_for_and_past_timeout_nothing_is_touched(aws, schema):
    """Another operation on the stack is waited out (tests/integration/test_deploy_queue.py on the double); past --timeout the
    deploy gives up having changed nothing: no template read, no change set."""
    aws.stack("UPDATE_IN_PROGRESS", StackStatusReason="User Initiated")
    aws.expect("describe_stack_events", {"StackEvents": []})           # events seen so far (not shown)
    aws.stack("UPDATE_IN_PROGRESS", StackStatusReason="User Initiated")  # the one poll --timeout 0.05 allows
    aws.expect("describe_stack_events", {"StackEvents": []})

    result = deploy(schema(BY_EMAIL), "--yes", "--timeout", "0.05")

    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert ("stack shop-dev is UPDATE_IN_PROGRESS (User Initiated): another deploy or a rollback is running on it; "
            "waiting for it to finish") in text
    assert ("error: gave up waiting for stack shop-dev after 0 s (--timeout): another operation is still running "
            "on it; nothing was changed") in text
    aws.done()


def test_destroy_of_a_stack_in_progress_is_reported_and_not_touched(aws, schema):
    aws.stack("UPDATE_IN_PROGRESS")

    result = CliRunner().invoke(app, ["destroy", "--env", "dev", "--schema", schema(), "--yes"])

    assert result.exit_code == 1
    assert result.output == (
        f"{CALLER}\n"
        "error: stack shop-dev is UPDATE_IN_PROGRESS: another operation is running on it; nothing was changed\n"
        "  hint: wait for it to finish (aws cloudformation describe-stacks --stack-name shop-dev), "
        "then destroy again\n")
    aws.done()  # no template read, no delete


def test_replacement_the_plan_did_not_expect_is_refused_and_the_change_set_deleted(aws, schema):
    base = resolved(schema())
    path = schema(BY_EMAIL)  # the plan: one index added, in place
    aws.stack("UPDATE_COMPLETE")
    aws.expect("get_template", {"TemplateBody": json.dumps(fake_template(base))})
    expect_update_change_set(aws, [_modify("UsersTable", "True", cause="KeySchema")])
    aws.expect("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID})

    result = deploy(path, "--yes", "--allow-destructive")

    assert result.exit_code == 3
    assert ("error: CloudFormation would replace or delete table(s) the plan expected to keep: "
            "UsersTable (Replacement: True because of KeySchema). Change set jobwork-infra-1-") in result.output
    assert "was deleted; nothing was changed" in result.output
    aws.done()  # in particular: no ExecuteChangeSet


def test_conditional_replacement_is_refused_too(aws, schema):
    base = resolved(schema())
    aws.stack("UPDATE_COMPLETE")
    aws.expect("get_template", {"TemplateBody": json.dumps(fake_template(base))})
    expect_update_change_set(aws, [_modify("UsersTable", "Conditional")])
    aws.expect("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID})

    result = deploy(schema(BY_EMAIL), "--yes")

    assert result.exit_code == 3
    assert "UsersTable (Replacement: Conditional)" in result.output
    aws.done()


def test_empty_change_set_is_no_changes_and_is_deleted(aws, schema):
    base = resolved(schema())
    template = fake_template(base)
    template["Metadata"]["JobworkInfra"]["Version"] = "0.0.1"  # another tool version: the template differs
    aws.stack("UPDATE_COMPLETE")
    aws.expect("get_template", {"TemplateBody": json.dumps(template)})
    aws.expect("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    empty = {"ChangeSetId": CHANGE_SET_ID, "StackId": STACK_ID, "Status": "FAILED", "ExecutionStatus": "UNAVAILABLE",
             "StatusReason": "The submitted information didn't contain changes. Submit different information "
                             "to create a change set.", "Changes": []}
    aws.expect("describe_change_set", empty)
    aws.expect("describe_change_set", empty)
    aws.expect("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK_ID})
    # nothing was executed: the stack as first read is the final one (no second DescribeStacks)

    result = deploy(schema(), "--yes")

    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("No changes: stack shop-dev is up to date.")
    aws.done()


def test_create_in_a_retained_environment_adds_termination_protection_and_prints_outputs(aws, schema):
    path = schema()
    aws.fail("describe_stacks", "ValidationError", "Stack with id shop-prod does not exist")
    aws.expect("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID},
               {"StackName": "shop-prod", "ChangeSetName": ANY, "ChangeSetType": "CREATE",
                "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], "Description": ANY,
                "TemplateBody": ANY})
    described = {"ChangeSetId": CHANGE_SET_ID, "StackId": STACK_ID, "Status": "CREATE_COMPLETE", "Changes": []}
    aws.expect("describe_change_set", described)
    aws.expect("describe_change_set", described)
    aws.expect("describe_stack_events", {"StackEvents": []})
    aws.expect("execute_change_set")
    aws.stack("CREATE_COMPLETE", name="shop-prod")
    aws.expect("describe_stack_events", {"StackEvents": [_event(1, "UsersTable", "CREATE_COMPLETE")]})
    outputs = [{"OutputKey": "UsersTableName", "OutputValue": "shop-prod-users"},
               {"OutputKey": "UsersTableArn",
                "OutputValue": "arn:aws:dynamodb:us-east-1:123456789012:table/shop-prod-users"}]
    aws.stack("CREATE_COMPLETE", name="shop-prod", Outputs=outputs, EnableTerminationProtection=False)
    aws.expect("update_termination_protection", {"StackId": STACK_ID},
               {"StackName": "shop-prod", "EnableTerminationProtection": True})

    result = deploy(path, "--yes", env="prod")

    assert result.exit_code == 0, result.output
    assert "note: termination protection enabled on stack shop-prod (its tables are retained)" in result.output
    table = result.output[result.output.index("Outputs"):].replace("│", " ").splitlines()
    assert any(line.split() == ["UsersTableArn", "arn:aws:dynamodb:us-east-1:123456789012:table/shop-prod-users"]
               for line in table)
    assert any(line.split() == ["UsersTableName", "shop-prod-users"] for line in table)
    aws.done()


def test_a_big_template_goes_through_the_template_bucket(aws, schema, monkeypatch):
    monkeypatch.setattr(cloudformation, "synth", lambda r: fake_template(r, padding=60_000))
    aws.fail("describe_stacks", "ValidationError", "Stack with id shop-dev does not exist")
    aws.expect("put_object", {}, {"Bucket": "my-templates", "Key": ANY, "Body": ANY,
                                  "ContentType": "application/json"}, s3=True)
    aws.expect("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID},
               {"StackName": NAME, "ChangeSetName": ANY, "ChangeSetType": "CREATE", "Capabilities": ANY,
                "Description": ANY, "TemplateURL": ANY})
    described = {"ChangeSetId": CHANGE_SET_ID, "StackId": STACK_ID, "Status": "CREATE_COMPLETE", "Changes": []}
    aws.expect("describe_change_set", described)
    aws.expect("describe_change_set", described)
    aws.expect("describe_stack_events", {"StackEvents": []})
    aws.expect("execute_change_set")
    aws.stack("CREATE_COMPLETE")
    aws.expect("describe_stack_events", {"StackEvents": []})
    aws.stack("CREATE_COMPLETE")
    sent = {}
    aws.clients.cloudformation.meta.events.register(
        "provide-client-params.cloudformation.CreateChangeSet", lambda params, **_: sent.update(params))

    result = deploy(schema(), "--yes", "--template-bucket", "my-templates")

    assert result.exit_code == 0, result.output
    head = resolved(schema())
    assert sent["TemplateURL"] == (f"https://s3.us-east-1.amazonaws.com/my-templates/"
                                   f"jobwork-infra/shop-dev/{head.schema_hash}.json")
    aws.done()


def test_a_big_template_without_a_bucket_says_what_is_needed(aws, schema, monkeypatch):
    monkeypatch.setattr(cloudformation, "synth", lambda r: fake_template(r, padding=60_000))
    aws.fail("describe_stacks", "ValidationError", "Stack with id shop-dev does not exist")

    result = deploy(schema(), "--yes")

    assert result.exit_code == 1
    assert re.search(r"error: the template of stack shop-dev is 60,\d{3} bytes", result.output)
    assert "over CloudFormation's 51,200-byte limit for templates sent inline" in result.output
    assert "hint: pass --template-bucket BUCKET" in result.output
    aws.done()


def test_destroy_lifts_termination_protection_only_after_yes(aws, schema, monkeypatch):
    path = schema()
    prod = resolved(path, "prod")
    for answer in (False, True):
        aws.stack("UPDATE_COMPLETE", name="shop-prod", EnableTerminationProtection=True)
        aws.expect("get_template", {"TemplateBody": json.dumps(fake_template(prod))})
        if answer:
            aws.expect("update_termination_protection", {"StackId": STACK_ID},
                       {"StackName": STACK_ID, "EnableTerminationProtection": False})
            aws.expect("describe_stack_events", {"StackEvents": []})
            aws.expect("delete_stack", {}, {"StackName": STACK_ID})
            aws.stack("DELETE_COMPLETE", name="shop-prod")
            aws.expect("describe_stack_events", {"StackEvents": []})
        monkeypatch.setattr("jobwork_infra.cli.deploy._confirm", lambda question, *_, answer=answer: answer)

        result = CliRunner().invoke(app, ["destroy", "--env", "prod", "--schema", path])

        # Said before the question, so the answer is given knowing it (issue 13).
        assert ("termination protection is on: it is turned off to delete stack shop-prod (the tables it "
                "retains stay)") in " ".join(result.output.split())
        if answer:
            assert result.exit_code == 0, result.output
            assert "note: termination protection turned off on stack shop-prod, to delete it" in result.output
            assert result.output.rstrip().endswith("(retained):\n  shop-prod-users")
        else:
            assert result.exit_code == 1
            assert result.output.rstrip().endswith("Cancelled; nothing was changed.")
            assert "termination protection turned off" not in result.output
        aws.done()
