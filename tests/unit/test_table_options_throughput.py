"""`on_demand_throughput` and `warm_throughput`, two entries of the table-option registry (table_options.py).

Each through every stage: schema (validated, located errors), diff kind and severity from AWS's
documented update behaviour, compile to its CloudFormation property, read-back from a template and
from a live table, adoption (no longer refused by R023), and the refusal of what AWS refuses
(lowering a warm throughput: R031). AWS sources are in table_options.py; the strict double keeps
warm throughput as AWS does (tests/double/settings.py).
"""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from jobwork_infra.budgets import table_resource
from jobwork_infra.changes import Plan, Severity
from jobwork_infra.cli import app
from jobwork_infra.diff import diff_schemas
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.table_options import (
    BY_FIELD,
    OnDemandThroughput,
    WarmThroughput,
    index_options_from_template,
    options_from_template,
    settled,
)
from jobwork_infra.table_properties import refusals
from tests.helpers import schema_text

SCHEMA = schema_text(app="opts", environments={"dev": "{{removal_policy: destroy}}"}, tables="""\
  clicks:
    partition_key: tenant_id
    sort_key: click_id
    attributes: {{tenant_id: string, click_id: string}}
{extra}""")

ON_DEMAND, WARM = BY_FIELD["on_demand_throughput"], BY_FIELD["warm_throughput"]


def _table(extra: str = ""):
    return resolve(SchemaFile.model_validate(yaml.safe_load(SCHEMA.format(extra=extra))), "dev").tables["clicks"]


def _schema(extra: str = ""):
    return resolve(SchemaFile.model_validate(yaml.safe_load(SCHEMA.format(extra=extra))), "dev")


def _change(before: str, after: str):
    [change] = diff_schemas(_schema(before), _schema(after))
    return change


# ---------------------------------------------------------------------------------------------
# on_demand_throughput

def test_an_on_demand_maximum_resolves_compiles_and_reads_back():
    table = _table("    on_demand_throughput: {max_read: 4000}\n")
    assert table.on_demand_throughput == OnDemandThroughput(max_read=4000)
    props = table_resource(table)["Properties"]
    # Only the maximum set: the registry schema (cfn-lint E3034) refuses -1 in a template.
    assert props["OnDemandThroughput"] == {"MaxReadRequestUnits": 4000}
    assert options_from_template(props)["on_demand_throughput"] == table.on_demand_throughput
    assert "OnDemandThroughput" not in table_resource(_table())["Properties"]
    assert options_from_template({"OnDemandThroughput": {"MaxReadRequestUnits": "-1",
                                                         "MaxWriteRequestUnits": -1}})["on_demand_throughput"] is None
    # A table that never sets it keeps its schema hash (left out of the dump).
    assert "on_demand_throughput" not in _table().model_dump()


@pytest.mark.parametrize(("before", "after", "code", "severity"), [
    ("", "{max_read: 100}", "D317", Severity.ONLINE),                      # a maximum set: throttles above it
    ("{max_read: 100}", "{max_read: 50}", "D317", Severity.ONLINE),        # lowered
    ("{max_read: 100}", "{max_read: 100, max_write: 9}", "D317", Severity.ONLINE),
    ("{max_read: 100}", "{max_read: 500}", "D413", Severity.SAFE),         # raised
    ("{max_read: 100, max_write: 9}", "{max_read: 100}", "D413", Severity.SAFE),
    ("{max_read: 100}", "", "D413", Severity.SAFE),                        # removed: no maximum
])
def test_on_demand_maximum_changes_have_the_severity_of_their_effect(before, after, code, severity):
    line = lambda v: f"    on_demand_throughput: {v}\n" if v else ""
    change = _change(line(before), line(after))
    assert (change.code, change.severity) == (code, severity)
    assert "on-demand maximum" in change.statement


@pytest.mark.parametrize(("value", "column"), [("{}", 27), ("{max_read: 0}", 38), ("{max_reads: 5}", 28)])
def test_a_wrong_on_demand_maximum_is_a_located_error(tmp_path, value, column):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA.format(extra=f"    on_demand_throughput: {value}\n"))
    result = CliRunner().invoke(app, ["validate", "--schema", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:10:" in result.output and "on_demand_throughput" in result.output, result.output


def test_a_provisioned_table_has_no_on_demand_maximum():
    table = _table("    billing: provisioned\n    capacity: {read: 5, write: 5}\n"
                   "    on_demand_throughput: {max_read: 100}\n")
    assert table.on_demand_throughput is None      # and rule C107 errors (tests/fixtures/bad/c107_*.yaml)
    assert "OnDemandThroughput" not in table_resource(table)["Properties"]


# ---------------------------------------------------------------------------------------------
# warm_throughput

def test_a_warm_throughput_resolves_compiles_and_reads_back():
    table = _table("    warm_throughput: {read: 15000}\n")
    props = table_resource(table)["Properties"]
    # Only the direction the schema sets: the other keeps what the table has.
    assert props["WarmThroughput"] == {"ReadUnitsPerSecond": 15000}
    assert options_from_template(props)["warm_throughput"] == WarmThroughput(read=15000)
    assert "WarmThroughput" not in table_resource(_table())["Properties"]


@pytest.mark.parametrize(("before", "after", "code", "severity", "kind"), [
    ("", "{read: 15000}", "D318", Severity.ONLINE, "warm_throughput_raised"),          # billed, asynchronous
    ("{read: 15000}", "{read: 20000, write: 5000}", "D318", Severity.ONLINE, "warm_throughput_raised"),
    ("{read: 15000}", "", "D414", Severity.SAFE, "warm_throughput_unmanaged"),         # AWS keeps it
    ("{read: 15000, write: 5000}", "{read: 15000}", "D318", Severity.ONLINE, "warm_throughput_raised"),
    ("{read: 15000}", "{read: 14000}", "D319", Severity.ONLINE, "warm_throughput_lowered"),
    ("{read: 15000, write: 5000}", "{read: 90000, write: 4000}", "D319", Severity.ONLINE, "warm_throughput_lowered"),
])
def test_warm_throughput_changes_follow_aws_which_only_raises_it(before, after, code, severity, kind):
    line = lambda v: f"    warm_throughput: {v}\n" if v else ""
    change = _change(line(before), line(after))
    assert (change.code, change.kind, change.severity) == (code, kind, severity)


def test_lowering_a_warm_throughput_is_refused_before_anything_is_applied():
    from jobwork_infra.deploy.gate import Refused, refuse_not_lowerable

    change = _change("    warm_throughput: {read: 15000}\n", "    warm_throughput: {read: 14000}\n")
    assert "AWS cannot lower warm throughput" in change.statement
    with pytest.raises(Refused) as refused:
        refuse_not_lowerable(Plan(base=None, head=_schema(), changes=(change,)))
    assert refused.value.code == "R031" and "nothing was changed" in str(refused.value)
    raised = _change("    warm_throughput: {read: 15000}\n", "    warm_throughput: {read: 16000}\n")
    refuse_not_lowerable(Plan(base=None, head=_schema(), changes=(raised,)))   # a raise goes through


def test_a_live_warm_throughput_at_or_above_the_schema_is_what_it_asked_for():
    wanted = WarmThroughput(read=15000)
    # DynamoDB raises warm throughput by itself as traffic grows: above the floor is no drift.
    assert settled(WARM, WarmThroughput(read=20000, write=4000), wanted) == wanted
    assert settled(WARM, WarmThroughput(read=15000, write=4000), wanted) == wanted
    # Below it (not applied yet, or changed under us): the live value of what the schema sets.
    assert settled(WARM, WarmThroughput(read=12000, write=4000), wanted) == WarmThroughput(read=12000)
    # Every table has one: nothing wanted, nothing to compare (import by name writes none).
    assert settled(WARM, WarmThroughput(read=12000, write=4000), None) is None
    assert settled(ON_DEMAND, OnDemandThroughput(max_read=5), None) == OnDemandThroughput(max_read=5)


# ---------------------------------------------------------------------------------------------
# Adoption: the table's own settings are kept, the per-index ones still refused by name

def test_adoption_keeps_the_table_settings_and_the_index_ones():
    props = {"OnDemandThroughput": {"MaxReadRequestUnits": 4000, "MaxWriteRequestUnits": 1000},
             "WarmThroughput": {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000},
             "GlobalSecondaryIndexes": [{"IndexName": "by_kind",
                                         "OnDemandThroughput": {"MaxReadRequestUnits": 5},
                                         "WarmThroughput": {"ReadUnitsPerSecond": 15000}}]}
    assert refusals(props) == []
    kept = options_from_template(props)
    assert kept["on_demand_throughput"] == OnDemandThroughput(max_read=4000, max_write=1000)
    assert kept["warm_throughput"] == WarmThroughput(read=15000, write=5000)
    index = index_options_from_template(props["GlobalSecondaryIndexes"][0])
    assert (index["on_demand_throughput"], index["warm_throughput"]) == (OnDemandThroughput(max_read=5),
                                                                         WarmThroughput(read=15000))


# ---------------------------------------------------------------------------------------------
# Live read-back and apply, on the strict double (AWS's rules) — one table, a handful of calls

def test_read_back_and_apply_on_a_live_table(strict_aws):
    from botocore.exceptions import ClientError

    from jobwork_infra.deploy.dynamodb import read_live_table
    from jobwork_infra.deploy.shapes import table_from_live

    ddb = strict_aws.client("dynamodb")
    ddb.create_table(TableName="hot", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"}])
    live = read_live_table(ddb, "hot", aws=True)
    # Absent from DescribeTable: on AWS that is the default, no maximum (on another engine, unknown).
    assert "on_demand_throughput" not in live.options
    assert table_from_live(live, key="clicks", tenancy_attribute="tenant_id").on_demand_throughput is None
    assert live.options["warm_throughput"] == WarmThroughput(read=12000, write=4000)   # every table has one

    ON_DEMAND.apply_live(ddb, "hot", OnDemandThroughput(max_read=300))
    WARM.apply_live(ddb, "hot", WarmThroughput(write=6000))
    live = read_live_table(ddb, "hot", aws=True)
    assert live.options["on_demand_throughput"] == OnDemandThroughput(max_read=300)
    # Raising writes leaves reads where they were (moto alone dropped them).
    assert live.options["warm_throughput"] == WarmThroughput(read=12000, write=6000)
    known = _table("    table_name: hot\n    on_demand_throughput: {max_read: 300}\n"
                   "    warm_throughput: {write: 5000}\n")
    read = table_from_live(live, key="clicks", tenancy_attribute="tenant_id", known=known)
    assert (read.on_demand_throughput, read.warm_throughput) == (known.on_demand_throughput, known.warm_throughput)

    with pytest.raises(ClientError) as lowered:   # AWS: once increased, warm throughput cannot be decreased
        WARM.apply_live(ddb, "hot", WarmThroughput(write=5000))
    assert lowered.value.response["Error"]["Code"] == "ValidationException"
    ON_DEMAND.apply_live(ddb, "hot", None)        # -1, -1: the maximum removed
    assert read_live_table(ddb, "hot", aws=True).options["on_demand_throughput"] is None


# ---------------------------------------------------------------------------------------------
# The local engine: DynamoDB Local has no warm throughput nor resource policies

@pytest.mark.slow
def test_deploy_local_notes_what_dynamodb_local_cannot_apply_and_finds_no_changes_after(local_engine, app_name,
                                                                                        tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA.replace("app: opts", f"app: {app_name}").format(
        extra="    on_demand_throughput: {max_read: 100}\n    warm_throughput: {read: 15000}\n"
              "    resource_policy: {Version: '2012-10-17', Statement: [{Effect: Deny, Principal: '*', "
              "Action: 'dynamodb:DeleteTable', Resource: '*'}]}\n"
              "    global_indexes:\n      by_click:\n        partition_key: tenant_id\n        sort_key: click_id\n"
              "        on_demand_throughput: {max_write: 50}\n        warm_throughput: {write: 5000}\n"
              "        contributor_insights: true\n"))
    deploy = ["deploy", "--env", "dev", "--local", "--schema", str(path), "--yes"]
    first = CliRunner().invoke(app, deploy)
    assert first.exit_code == 0, first.output
    # DynamoDB Local takes an on-demand maximum on UpdateTable; it has no warm throughput (it refuses
    # the parameter), so deploy says so instead of failing or claiming it.
    assert f"{app_name}-dev-clicks: on-demand maximum throughput max_read=100" in first.output
    said = " ".join(first.output.split())
    assert "does not support warm throughput: not applied locally" in said
    assert "does not support resource policies: not applied locally" in said
    # The index's own maximum goes through UpdateTable's GlobalSecondaryIndexUpdates (DynamoDB Local takes
    # it); its warm throughput is refused with InternalFailure there, noted like the table's.
    assert f"{app_name}-dev-clicks: index by_click on-demand maximum throughput max_write=50" in said
    again = CliRunner().invoke(app, deploy)
    assert again.exit_code == 0 and "No changes" in again.output, again.output


# ---------------------------------------------------------------------------------------------
# One round trip on the strict double: adopt, no changes, clean drift, kept in our template, R031

@pytest.mark.slow
def test_a_stack_with_table_settings_is_adopted_with_them_kept(strict_aws, fast_polls, tmp_path):
    from tests.integration.test_adopt_corpus import SCHEMA as EMPTY
    from tests.integration.test_adopt_corpus import TEMPLATES, count, put_items, run, stack_template

    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName="launches-src", TemplateBody=(TEMPLATES / "table_settings.yaml").read_text())
    cfn.get_waiter("stack_create_complete").wait(StackName="launches-src", WaiterConfig={"Delay": 0.1})
    put_items(strict_aws, "launches", 3)
    schema = tmp_path / "tables.yaml"
    schema.write_text(EMPTY)
    imported = run(strict_aws, "import", "--env", "dev", "--schema", str(schema), "--from-stack", "launches-src",
                   "--write")
    assert imported.exit_code == 0, imported.output
    text = schema.read_text()
    written = yaml.safe_load(text)["tables"]["launches"]
    assert (written["on_demand_throughput"], written["warm_throughput"], written["kinesis_destination"]) == (
        {"max_read": 4000}, {"read": 15000},
        {"stream_arn": "arn:aws:kinesis:us-east-1:123456789012:stream/launch-events",
         "timestamp_precision": "microsecond"}), text
    assert "not in the schema language" not in text and "warm throughput 15000" not in text, text
    checked = CliRunner().invoke(app, ["validate", "--schema", str(schema), "--strict"])
    assert checked.exit_code == 0, checked.output
    adopted = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
                  "--from-stack", "launches-src")
    assert adopted.exit_code == 0, adopted.output
    again = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    assert run(strict_aws, "drift", "--env", "dev", "--schema", str(schema)).exit_code == 0
    assert count(strict_aws, "launches") == 3
    [ours] = [r["Properties"] for r in stack_template(strict_aws, "adopt-dev")["Resources"].values()
              if r["Type"] == "AWS::DynamoDB::Table"]
    assert ours["OnDemandThroughput"] == {"MaxReadRequestUnits": 4000}
    assert ours["WarmThroughput"] == {"ReadUnitsPerSecond": 15000}
    assert ours["KinesisStreamSpecification"] == {
        "StreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/launch-events",
        "ApproximateCreationDateTimePrecision": "MICROSECOND"}
    assert ours["ResourcePolicy"]["PolicyDocument"]["Statement"][0]["Sid"] == "reporting"

    # Lowered in the schema: AWS cannot lower warm throughput, so deploy refuses before any change.
    schema.write_text(schema.read_text().replace("warm_throughput: {read: 15000}", "warm_throughput: {read: 13000}"))
    before = stack_template(strict_aws, "adopt-dev")
    lowered = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert lowered.exit_code == 3 and "R031" in lowered.output, lowered.output
    assert stack_template(strict_aws, "adopt-dev") == before
    ddb = strict_aws.client("dynamodb")
    assert ddb.describe_table(TableName="launches")["Table"]["WarmThroughput"]["ReadUnitsPerSecond"] == 15000

    # Raised, and the maximum lifted: applied by CloudFormation in place, then no drift.
    schema.write_text(schema.read_text().replace("warm_throughput: {read: 13000}", "warm_throughput: {read: 20000}")
                      .replace("on_demand_throughput: {max_read: 4000}", "on_demand_throughput: {max_read: 8000}"))
    raised = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert raised.exit_code == 0, raised.output
    described = ddb.describe_table(TableName="launches")["Table"]
    assert described["WarmThroughput"]["ReadUnitsPerSecond"] == 20000
    assert described["OnDemandThroughput"]["MaxReadRequestUnits"] == 8000
    assert run(strict_aws, "drift", "--env", "dev", "--schema", str(schema)).exit_code == 0
    assert count(strict_aws, "launches") == 3

    # The resource policy deleted outside the tool: CloudFormation would never notice (AWS: resource
    # policies have no drift detection and are not overwritten); `drift` reads it live and says so.
    ddb.delete_resource_policy(ResourceArn=described["TableArn"])
    drift = run(strict_aws, "drift", "--env", "dev", "--schema", str(schema))
    assert drift.exit_code != 0 and "resource policy" in drift.output, drift.output
