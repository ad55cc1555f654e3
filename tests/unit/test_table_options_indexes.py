"""The registry's options on each global secondary index (table_options.INDEX_OPTIONS).

contributor_insights (with its mode), on_demand_throughput and warm_throughput are GSI properties of
AWS::DynamoDB::Table too (GlobalSecondaryIndexes[].ContributorInsightsSpecification, .OnDemandThroughput,
.WarmThroughput; DescribeContributorInsights takes an IndexName, UpdateTable a GlobalSecondaryIndexUpdates
Update). One entry carries both: schema on the index, diff per index with the table option's kinds,
compile at the index's place, read-back from a template and a live table, apply, adoption.
"""

from __future__ import annotations

import pytest
import yaml

from jobwork_infra.budgets import table_resource
from jobwork_infra.changes import Severity
from jobwork_infra.diff import diff_schemas
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.table_options import (
    BY_FIELD,
    INDEX_OPTIONS,
    OnDemandThroughput,
    WarmThroughput,
    index_options_from_template,
)
from jobwork_infra.table_properties import MODELLED, PROPERTIES

SCHEMA = """\
version: 1
app: opts
environments:
  dev: {{removal_policy: destroy, account: "123456789012"}}
tables:
  clicks:
    partition_key: tenant_id
    sort_key: click_id
    attributes: {{tenant_id: string, click_id: string, kind: string, page: string}}
    global_indexes:
      by_kind: {{partition_key: tenant_id, sort_key: kind}}
      by_page:
        partition_key: tenant_id
        sort_key: page
{extra}"""
HOT = ("        contributor_insights: throttled_keys\n        on_demand_throughput: {max_read: 500}\n"
       "        warm_throughput: {read: 15000}\n")


def _schema(extra: str = ""):
    return resolve(SchemaFile.model_validate(yaml.safe_load(SCHEMA.format(extra=extra))), "dev")


def test_the_index_options_are_the_three_aws_has_per_index_and_their_rows_are_modelled():
    assert [o.field for o in INDEX_OPTIONS] == ["contributor_insights", "on_demand_throughput", "warm_throughput"]
    for option in INDEX_OPTIONS:
        assert option.index_property_rows and all(PROPERTIES[r].status == MODELLED for r in option.index_property_rows)


def test_index_options_resolve_compile_at_their_index_and_read_back():
    table = _schema(HOT).tables["clicks"]
    by_kind, by_page = table.global_indexes
    assert (by_kind.contributor_insights, by_kind.on_demand_throughput, by_kind.warm_throughput) == (False, None, None)
    assert (by_page.contributor_insights, by_page.on_demand_throughput) == ("throttled_keys",
                                                                            OnDemandThroughput(max_read=500))
    # Not inherited from the table, and left out of the dump at the defaults (the schema hash stays).
    assert table.contributor_insights is False and "warm_throughput" not in by_kind.model_dump()
    specs = table_resource(table)["Properties"]["GlobalSecondaryIndexes"]
    assert "ContributorInsightsSpecification" not in specs[0]
    assert specs[1]["ContributorInsightsSpecification"] == {"Enabled": True, "Mode": "THROTTLED_KEYS"}
    assert specs[1]["OnDemandThroughput"] == {"MaxReadRequestUnits": 500}
    assert specs[1]["WarmThroughput"] == {"ReadUnitsPerSecond": 15000}
    assert index_options_from_template(specs[1]) == {"contributor_insights": "throttled_keys",
                                                     "on_demand_throughput": OnDemandThroughput(max_read=500),
                                                     "warm_throughput": WarmThroughput(read=15000)}


@pytest.mark.parametrize(("before", "after", "code", "severity"), [
    ("", "        contributor_insights: true\n", "D412", Severity.SAFE),
    ("", "        on_demand_throughput: {max_read: 5}\n", "D317", Severity.ONLINE),
    ("        warm_throughput: {read: 15000}\n", "        warm_throughput: {read: 16000}\n", "D318", Severity.ONLINE),
    ("        warm_throughput: {read: 15000}\n", "        warm_throughput: {read: 14000}\n", "D319", Severity.ONLINE),
])
def test_an_index_option_change_is_the_table_option_kind_about_that_index(before, after, code, severity):
    [change] = diff_schemas(_schema(before), _schema(after))
    assert (change.code, change.severity, change.index) == (code, severity, "by_page")
    assert change.subject.startswith("index by_page ")


def test_lowering_an_index_warm_throughput_is_refused_naming_the_index():
    from jobwork_infra.changes import Plan
    from jobwork_infra.deploy.gate import Refused, refuse_not_lowerable

    [change] = diff_schemas(_schema("        warm_throughput: {read: 15000}\n"),
                            _schema("        warm_throughput: {read: 14000}\n"))
    with pytest.raises(Refused) as refused:
        refuse_not_lowerable(Plan(base=None, head=_schema(), changes=(change,)))
    assert refused.value.code == "R031" and "clicks (index by_page warm throughput)" in str(refused.value)


def test_index_options_apply_and_read_back_on_a_live_table(strict_aws):
    from botocore.exceptions import ClientError

    from jobwork_infra.deploy.dynamodb import read_live_table
    from jobwork_infra.deploy.shapes import table_from_live

    ddb = strict_aws.client("dynamodb")
    ddb.create_table(TableName="clicks", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                {"AttributeName": "click_id", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                           for n in ("tenant_id", "click_id", "page")],
                     GlobalSecondaryIndexes=[{"IndexName": "by_page", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                                            {"AttributeName": "page", "KeyType": "RANGE"}]}])
    for option, value in (("contributor_insights", "throttled_keys"),
                          ("on_demand_throughput", OnDemandThroughput(max_read=500)),
                          ("warm_throughput", WarmThroughput(read=15000))):
        BY_FIELD[option].index_apply_live(ddb, "clicks", "by_page", value)
    live = read_live_table(ddb, "clicks", aws=True)
    assert live.index_options["by_page"] == {"contributor_insights": "throttled_keys",
                                             "on_demand_throughput": OnDemandThroughput(max_read=500),
                                             "warm_throughput": WarmThroughput(read=15000, write=4000)}
    known = _schema(HOT.replace("warm_throughput: {read: 15000}", "warm_throughput: {read: 14000}")).tables["clicks"]
    [by_page] = table_from_live(live, key="clicks", tenancy_attribute="tenant_id", known=known).global_indexes
    # The live warm throughput covers the schema's floor: read back as the schema's, no drift.
    assert by_page.warm_throughput == WarmThroughput(read=14000)
    assert by_page.contributor_insights == "throttled_keys"
    with pytest.raises(ClientError) as lowered:        # AWS never lowers an index's warm throughput either
        BY_FIELD["warm_throughput"].index_apply_live(ddb, "clicks", "by_page", WarmThroughput(read=13000))
    assert lowered.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.slow
def test_cdk_puts_each_option_on_its_own_index_and_cfn_lint_accepts_the_template():
    import cfnlint.api

    from jobwork_infra.compile import synth_template
    from jobwork_infra.project import check_project

    text = SCHEMA.format(extra=HOT).replace("      by_kind: {partition_key: tenant_id, sort_key: kind}\n", "") \
        .replace("    global_indexes:\n", "    global_indexes:\n      by_kind: {partition_key: tenant_id, sort_key: kind}\n") \
        + ("    on_demand_throughput: {max_write: 300}\n    warm_throughput: {write: 5000}\n"
           "    kinesis_destination: {stream_arn: 'arn:aws:kinesis:us-east-1:123456789012:stream/clicks'}\n"
           "    resource_policy: {Version: '2012-10-17', Statement: [{Effect: Deny, Principal: '*', "
           "Action: 'dynamodb:DeleteTable', Resource: '*'}]}\n")
    resolved = check_project("inline.yaml", text).resolve("dev")
    template = synth_template(resolved)
    props = template["Resources"]["ClicksTable"]["Properties"]
    by_name = {g["IndexName"]: g for g in props["GlobalSecondaryIndexes"]}
    assert "WarmThroughput" not in by_name["by_kind"]
    assert by_name["by_page"]["WarmThroughput"] == {"ReadUnitsPerSecond": 15000}
    assert by_name["by_page"]["ContributorInsightsSpecification"] == {"Enabled": True, "Mode": "THROTTLED_KEYS"}
    # What CDK writes is what the template estimate (budgets.py) and the read-back expect.
    estimate = table_resource(resolved.tables["clicks"])["Properties"]
    for name in ("OnDemandThroughput", "WarmThroughput", "KinesisStreamSpecification", "ResourcePolicy"):
        assert props[name] == estimate[name], name
    import json

    errors = [f"{m.rule.id}: {m.message}" for m in cfnlint.api.lint(json.dumps(template), regions=["us-east-1"])
              if m.rule.id.startswith("E")]
    assert errors == []
