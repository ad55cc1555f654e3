"""`resource_policy`, an entry of the table-option registry (table_options.py): the table's resource-based policy.

Schema (a policy document, at most 20 KB as JSON), diff kinds (every change ONLINE: who may reach the
items changes at once), compile to ResourcePolicy.PolicyDocument, read-back from a template and from
GetResourcePolicy, adoption (no longer refused by R023; a stream's policy still is). The CloudFormation
round trip, with a policy deleted outside the tool found by `drift` (CloudFormation itself never
notices), is tests/unit/test_table_options_throughput.py::test_a_stack_with_table_settings_is_adopted_with_them_kept.
"""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from jobwork_infra.budgets import table_resource
from jobwork_infra.changes import Severity
from jobwork_infra.cli import app
from jobwork_infra.diff import diff_schemas
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.table_options import BY_FIELD, options_from_template
from jobwork_infra.table_properties import refusals

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/clicks"
SCHEMA = """\
version: 1
app: opts
environments:
  dev: {{removal_policy: destroy, account: "123456789012"}}
tables:
  clicks:
    partition_key: tenant_id
    sort_key: click_id
    attributes: {{tenant_id: string, click_id: string}}
{extra}"""
READER = f"""\
    resource_policy:
      Version: "2012-10-17"
      Statement:
        - Sid: reporting
          Effect: Allow
          Principal: {{AWS: "arn:aws:iam::210987654321:root"}}
          Action: ["dynamodb:GetItem", "dynamodb:Query"]
          Resource: "{ARN}"
"""
POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "reporting", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
    "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": ARN}]}
POLICY_OPTION = BY_FIELD["resource_policy"]


def _schema(extra: str = ""):
    return resolve(SchemaFile.model_validate(yaml.safe_load(SCHEMA.format(extra=extra))), "dev")


def test_a_policy_resolves_compiles_and_reads_back():
    table = _schema(READER).tables["clicks"]
    assert table.resource_policy == POLICY
    props = table_resource(table)["Properties"]
    assert props["ResourcePolicy"] == {"PolicyDocument": POLICY}
    assert options_from_template(props)["resource_policy"] == POLICY
    # A Json property may come as a string; no policy, no property (and the schema hash stays).
    assert options_from_template({"ResourcePolicy": {"PolicyDocument": json.dumps(POLICY)}})["resource_policy"] == POLICY
    assert "ResourcePolicy" not in table_resource(_schema().tables["clicks"])["Properties"]
    assert "resource_policy" not in _schema().tables["clicks"].model_dump()


@pytest.mark.parametrize(("before", "after", "code", "kind"), [
    ("", READER, "D320", "resource_policy_attached"),
    (READER, READER.replace('"dynamodb:Query"', '"dynamodb:Scan"'), "D321", "resource_policy_changed"),
    (READER, "", "D322", "resource_policy_removed"),
])
def test_every_policy_change_is_online(before, after, code, kind):
    [change] = diff_schemas(_schema(before), _schema(after))
    assert (change.code, change.kind, change.severity) == (code, kind, Severity.ONLINE)
    assert "at once" in change.statement


@pytest.mark.parametrize(("policy", "message"), [
    ("    resource_policy: {Version: '2012-10-17'}\n", "Statement"),
    ("    resource_policy: {Statement: [{Sid: '%s'}]}\n" % ("x" * 21_000), "20 KB"),
    ("    resource_policy: allow everyone\n", "resource_policy"),
])
def test_a_policy_aws_would_refuse_is_a_located_error(tmp_path, policy, message):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA.format(extra=policy))
    result = CliRunner().invoke(app, ["validate", "--schema", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:10:" in result.output and message in " ".join(result.output.split()), result.output


def test_adoption_keeps_the_table_policy_and_still_refuses_a_stream_policy_by_name():
    props = {"ResourcePolicy": {"PolicyDocument": POLICY},
             "StreamSpecification": {"StreamViewType": "KEYS_ONLY", "ResourcePolicy": {"PolicyDocument": POLICY}}}
    assert [r.path for r in refusals(props)] == ["StreamSpecification.ResourcePolicy"]


def test_read_back_and_apply_on_a_live_table(strict_aws):
    from jobwork_infra.deploy.dynamodb import read_live_table
    from jobwork_infra.deploy.live_settings import read_live_settings

    ddb = strict_aws.client("dynamodb")
    ddb.create_table(TableName="clicks", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"}])
    assert read_live_table(ddb, "clicks", aws=True).options["resource_policy"] is None
    POLICY_OPTION.apply_live(ddb, "clicks", POLICY)
    live = read_live_table(ddb, "clicks", aws=True)
    assert live.options["resource_policy"] == POLICY
    assert read_live_settings(ddb, live.description).refusals == []     # adoption keeps it
    POLICY_OPTION.apply_live(ddb, "clicks", None)
    assert read_live_table(ddb, "clicks", aws=True).options["resource_policy"] is None
    POLICY_OPTION.apply_live(ddb, "clicks", None)                     # nothing to delete: no failure
