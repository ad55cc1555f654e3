"""The table-option registry (jobwork_infra/table_options.py), shown by `contributor_insights`.

One entry carries the option through every stage: schema, diff kind and severity, compile (the
template estimate; the CDK synth is checked by the golden templates), read-back from a template and
from a live table, adoption and drift. AWS is the oracle: the live read-back and the CloudFormation
path run on the strict double (tests/double/settings.py answers DescribeContributorInsights as
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContributorInsights.html does).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobwork_infra.budgets import table_resource
from jobwork_infra.changes import Severity
from jobwork_infra.cli import app
from jobwork_infra.diff import KINDS, diff_schemas
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.table_options import BY_FIELD, TABLE_OPTIONS, options_from_template
from jobwork_infra.table_properties import MODELLED, PROPERTIES, refusals
from tests.helpers import schema_text

SCHEMA = schema_text(app="opts", environments={"dev": "{{removal_policy: destroy}}"}, tables="""\
  clicks:
    partition_key: tenant_id
    sort_key: click_id
    attributes: {{tenant_id: string, click_id: string}}
{extra}""")


def _resolved(tmp_path, extra: str = ""):
    import yaml

    return resolve(SchemaFile.model_validate(yaml.safe_load(SCHEMA.format(extra=extra))), "dev")


def test_each_option_has_its_kind_its_model_fields_and_its_property_rows():
    from jobwork_infra.model import ResolvedTable, TableOptions

    for option in TABLE_OPTIONS:
        assert KINDS[option.change.kind].code == option.change.code
        assert option.field in TableOptions.model_fields and option.field in ResolvedTable.model_fields
        assert all(PROPERTIES[row].status == MODELLED for row in option.property_rows)


def test_contributor_insights_resolves_and_switching_it_is_safe(tmp_path):
    off, on = _resolved(tmp_path), _resolved(tmp_path, "    contributor_insights: true\n")
    assert (off.tables["clicks"].contributor_insights, on.tables["clicks"].contributor_insights) == (False, True)
    [change] = diff_schemas(off, on)
    assert (change.code, change.kind, change.severity) == ("D412", "contributor_insights_changed", Severity.SAFE)
    assert "turned on" in change.statement
    [back] = diff_schemas(on, off)
    assert back.severity == Severity.SAFE and "turned off" in back.statement


def test_an_unset_option_leaves_the_schema_hash_as_it_was(tmp_path):
    # Tables that never set a registered option keep the hash their deployed templates carry.
    table = _resolved(tmp_path).tables["clicks"]
    assert "contributor_insights" not in table.model_dump()
    assert _resolved(tmp_path, "    contributor_insights: true\n").tables["clicks"].model_dump()[
        "contributor_insights"] is True


def test_a_wrong_value_is_a_located_error(tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA.format(extra="    contributor_insights: sometimes\n"))
    result = CliRunner().invoke(app, ["validate", "--schema", str(path)])
    assert result.exit_code == 1
    assert f"{path}:10:27: error M002" in result.output and "contributor_insights" in result.output


def test_compiled_and_read_back_from_a_template(tmp_path):
    table = _resolved(tmp_path, "    contributor_insights: true\n").tables["clicks"]
    props = table_resource(table)["Properties"]
    assert props["ContributorInsightsSpecification"] == {"Enabled": True}
    assert options_from_template(props)["contributor_insights"] is True
    # Left out at the default, so templates near the size limit (B003) do not grow.
    off = table_resource(_resolved(tmp_path).tables["clicks"])["Properties"]
    assert "ContributorInsightsSpecification" not in off
    assert options_from_template({}) == {o.field: o.default for o in TABLE_OPTIONS}
    assert options_from_template({"ContributorInsightsSpecification": {"Enabled": "true"}})["contributor_insights"]


def test_adoption_keeps_the_switch_and_the_mode():
    assert refusals({"ContributorInsightsSpecification": {"Enabled": True}}) == []
    assert refusals({"ContributorInsightsSpecification": {"Enabled": True,
                                                          "Mode": "ACCESSED_AND_THROTTLED_KEYS"}}) == []
    throttled = {"ContributorInsightsSpecification": {"Enabled": True, "Mode": "THROTTLED_KEYS"}}
    assert refusals(throttled) == []
    assert options_from_template(throttled)["contributor_insights"] == "throttled_keys"
    assert options_from_template({"ContributorInsightsSpecification": {
        "Enabled": True, "Mode": "ACCESSED_AND_THROTTLED_KEYS"}})["contributor_insights"] is True


def test_the_mode_compiles_and_changing_it_is_safe(tmp_path):
    throttled = _resolved(tmp_path, "    contributor_insights: throttled_keys\n")
    props = table_resource(throttled.tables["clicks"])["Properties"]
    assert props["ContributorInsightsSpecification"] == {"Enabled": True, "Mode": "THROTTLED_KEYS"}
    [change] = diff_schemas(_resolved(tmp_path, "    contributor_insights: true\n"), throttled)
    assert (change.code, change.kind, change.severity) == ("D415", "contributor_insights_mode_changed", Severity.SAFE)
    assert "from on to throttled_keys" in change.statement
    [switched_on] = diff_schemas(_resolved(tmp_path), throttled)
    assert switched_on.code == "D415" and "from off to throttled_keys" in switched_on.statement


def test_read_back_from_a_live_table(strict_aws):
    from jobwork_infra.deploy.dynamodb import read_live_table
    from jobwork_infra.deploy.live_settings import read_live_settings

    ddb = strict_aws.client("dynamodb")
    ddb.create_table(TableName="watched", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    assert read_live_table(ddb, "watched", aws=True).options["contributor_insights"] is False
    BY_FIELD["contributor_insights"].apply_live(ddb, "watched", True)
    live = read_live_table(ddb, "watched", aws=True)
    assert live.options["contributor_insights"] is True
    assert read_live_settings(ddb, live.description).refusals == []      # adoption no longer refuses it
    # The mode is kept too (table_options.py), no longer refused; `true` goes back to AWS's default mode.
    BY_FIELD["contributor_insights"].apply_live(ddb, "watched", "throttled_keys")
    assert read_live_table(ddb, "watched", aws=True).options["contributor_insights"] == "throttled_keys"
    assert read_live_settings(ddb, live.description).refusals == []
    BY_FIELD["contributor_insights"].apply_live(ddb, "watched", True)
    assert read_live_table(ddb, "watched", aws=True).options["contributor_insights"] is True


def test_the_local_engine_without_contributor_insights_keeps_the_schema_value(moto_endpoint):
    # moto has no DescribeContributorInsights (nor has DynamoDB Local): the option is not reported,
    # so the read-back keeps the schema's value rather than inventing a drift.
    import boto3

    from jobwork_infra.deploy.dynamodb import read_live_table

    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    ddb.create_table(TableName="unwatched", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    assert "contributor_insights" not in read_live_table(ddb, "unwatched").options


@pytest.mark.slow
def test_a_stack_with_contributor_insights_is_adopted_with_it_kept(strict_aws, fast_polls, tmp_path):
    from tests.integration.test_adopt_corpus import SCHEMA as EMPTY
    from tests.integration.test_adopt_corpus import TEMPLATES, count, put_items, run, stack_template

    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName="clicks-src", TemplateBody=(TEMPLATES / "contributor_insights.yaml").read_text())
    cfn.get_waiter("stack_create_complete").wait(StackName="clicks-src", WaiterConfig={"Delay": 0.1})
    put_items(strict_aws, "clicks", 3)
    schema = tmp_path / "tables.yaml"
    schema.write_text(EMPTY)
    imported = run(strict_aws, "import", "--env", "dev", "--schema", str(schema), "--from-stack", "clicks-src",
                   "--write")
    assert imported.exit_code == 0, imported.output
    assert "contributor_insights: true" in schema.read_text()
    adopted = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
                  "--from-stack", "clicks-src")
    assert adopted.exit_code == 0, adopted.output
    again = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    assert run(strict_aws, "drift", "--env", "dev", "--schema", str(schema)).exit_code == 0
    assert count(strict_aws, "clicks") == 3
    [ours] = [r["Properties"] for r in stack_template(strict_aws, "adopt-dev")["Resources"].values()
              if r["Type"] == "AWS::DynamoDB::Table"]
    assert ours["ContributorInsightsSpecification"] == {"Enabled": True}
    ddb = strict_aws.client("dynamodb")
    assert ddb.describe_contributor_insights(TableName="clicks")["ContributorInsightsStatus"] == "ENABLED"

    # Turned off in the schema: a safe change, applied by CloudFormation, then no drift.
    schema.write_text(schema.read_text().replace("contributor_insights: true", "contributor_insights: false"))
    off = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert off.exit_code == 0, off.output
    assert "contributor insights are turned off" in " ".join(off.output.split()), off.output
    assert ddb.describe_contributor_insights(TableName="clicks")["ContributorInsightsStatus"] == "DISABLED"
    assert run(strict_aws, "drift", "--env", "dev", "--schema", str(schema)).exit_code == 0


@pytest.mark.slow
def test_drift_reports_contributor_insights_switched_outside_the_tool(strict_aws, fast_polls, tmp_path):
    from tests.integration.test_adopt_corpus import SCHEMA as EMPTY
    from tests.integration.test_adopt_corpus import TEMPLATES, run

    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName="clicks-src", TemplateBody=(TEMPLATES / "contributor_insights.yaml").read_text())
    cfn.get_waiter("stack_create_complete").wait(StackName="clicks-src", WaiterConfig={"Delay": 0.1})
    schema = tmp_path / "tables.yaml"
    schema.write_text(EMPTY)
    assert run(strict_aws, "import", "--env", "dev", "--schema", str(schema), "--from-stack", "clicks-src",
               "--write").exit_code == 0
    assert run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
               "--from-stack", "clicks-src").exit_code == 0
    strict_aws.client("dynamodb").update_contributor_insights(TableName="clicks", ContributorInsightsAction="DISABLE")
    drift = run(strict_aws, "drift", "--env", "dev", "--schema", str(schema))
    assert drift.exit_code != 0 and "contributor insights" in drift.output, drift.output
