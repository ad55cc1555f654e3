"""Each template of the corpus (tests/fixtures/templates) taken over end to end on the strict double.

As a team moving a service would: the other team's stack exists with items in its tables;
`import --from-stack --write` writes the tables into a fresh schema (which then passes
`validate --strict`); `deploy --adopt --from-stack` retains, removes and imports them; a second deploy
says "No changes"; `drift` is clean; every item is still there, and every property the source
template set is in the tool's stack template.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.cloudformation.source import StackContext, decode_template, read_source
from jobwork_infra.model import BUILT_IN_TAGS
from jobwork_infra.table_properties import CREATION_ONLY, PROPERTIES
from tests.conftest import FIXTURES

TEMPLATES = FIXTURES / "templates"
SCHEMA = """\
version: 1
app: adopt
naming:
  table: "{table}"
environments:
  dev: {removal_policy: destroy, account: "123456789012"}    # moto's account (rule C106); no termination protection (moto lacks UpdateTerminationProtection)
tables: {}
"""


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


def run(strict_aws, *args: str):
    return CliRunner().invoke(app, [*args, "--endpoint-url", strict_aws.endpoint])


def put_items(strict_aws, table: str, count: int) -> None:
    ddb = strict_aws.client("dynamodb")
    described = ddb.describe_table(TableName=table)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
    for n in range(count):
        item = {k["AttributeName"]: {types[k["AttributeName"]]: str(n) if types[k["AttributeName"]] == "N"
                                     else f"v-{n}"} for k in described["KeySchema"]}
        ddb.put_item(TableName=table, Item=item)


def count(strict_aws, table: str) -> int:
    ddb = strict_aws.client("dynamodb")
    return sum(p["Count"] for p in ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def stack_template(strict_aws, stack: str) -> dict:
    body = strict_aws.client("cloudformation").get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, dict) else json.loads(json.dumps(decode_template(body, stack)))


TOOL_TAGS = set(BUILT_IN_TAGS)
# template → the parameters its stack is deployed with
CASES = {
    "aws_docs_indexes.json": {},
    "cdk_lsi_table_sort_key.json": {},
    "conditional_throughput.yaml": {"Environment": "prod"},
    "customer_kms_key.yaml": {},
}
ORDERS = {"Stage": "prod", "BillingParam": "PAY_PER_REQUEST", "TableClassParam": "STANDARD_INFREQUENT_ACCESS",
          "EnablePitr": "true", "SortKeyType": "N"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_a_corpus_stack_is_adopted_with_every_item_and_property_kept(strict_aws, tmp_path, name):
    parameters = CASES[name]
    source = name.split(".")[0].replace("_", "-")
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName=source, TemplateBody=(TEMPLATES / name).read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    cfn.get_waiter("stack_create_complete").wait(StackName=source, WaiterConfig={"Delay": 0.1})
    tables = sorted(r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=source)["StackResourceSummaries"]
                    if r["ResourceType"] == "AWS::DynamoDB::Table")
    assert tables
    for table in tables:
        put_items(strict_aws, table, 3)
    theirs = {physical: t.properties for physical, t in _source_tables(name, parameters, strict_aws, source).items()}
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA)

    imported = run(strict_aws, "import", "--env", "dev", "--schema", str(schema), "--from-stack", source, "--write")
    assert imported.exit_code == 0, imported.output
    strict = CliRunner().invoke(app, ["validate", "--strict", "--schema", str(schema)])
    assert strict.exit_code == 0, strict.output

    adopted = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
                  "--from-stack", source)
    assert adopted.exit_code == 0, adopted.output
    again = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    drift = run(strict_aws, "drift", "--env", "dev", "--schema", str(schema))
    assert drift.exit_code == 0, drift.output
    assert {t: count(strict_aws, t) for t in tables} == dict.fromkeys(tables, 3)

    # Every property the source template set is in the tool's template, with the live table's value.
    ours = {r["Properties"]["TableName"]: r["Properties"]
            for r in stack_template(strict_aws, "adopt-dev")["Resources"].values()
            if r["Type"] == "AWS::DynamoDB::Table"}
    assert set(ours) == set(tables)
    for table in tables:
        kept = {k for k in theirs[table] if (PROPERTIES.get(k) or PROPERTIES[k + "[]"]).status != CREATION_ONLY}
        # BillingMode PROVISIONED is CloudFormation's default: the tool may leave it out.
        assert kept - {"BillingMode"} <= set(ours[table]), (table, kept - set(ours[table]))
        assert essentials(ours[table]) == essentials(theirs[table]), table


def _source_tables(name: str, parameters: dict, strict_aws, stack: str) -> dict:
    """The source template's tables (physical name → SourceTable), read as the tool reads them."""
    ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in strict_aws.client(
        "cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]}
    path = TEMPLATES / name
    source = read_source(path.read_text(), str(path), StackContext(
        stack, parameters=parameters, physical_ids=ids))
    return {ids[lid]: t for lid, t in source.tables.items() if lid in ids}


def essentials(p: dict) -> dict:
    """What a table property says, in one spelling: strings and numbers, list order where AWS ignores it."""
    def index(spec: dict) -> tuple:
        projection = spec.get("Projection") or {}
        return (spec["IndexName"], json.dumps(spec.get("KeySchema")), projection.get("ProjectionType"),
                tuple(sorted(projection.get("NonKeyAttributes") or ())),
                json.dumps({k: int(v) for k, v in (spec.get("ProvisionedThroughput") or {}).items()}))
    throughput = p.get("ProvisionedThroughput") or {}
    return {
        "keys": json.dumps(p.get("KeySchema")),
        "types": sorted((a["AttributeName"], a["AttributeType"]) for a in p.get("AttributeDefinitions") or []),
        "billing": p.get("BillingMode", "PROVISIONED"),
        "throughput": {k: int(v) for k, v in throughput.items()},
        "gsis": sorted(index(i) for i in p.get("GlobalSecondaryIndexes") or []),
        "lsis": sorted(index(i) for i in p.get("LocalSecondaryIndexes") or []),
        "ttl": (p.get("TimeToLiveSpecification") or {}).get("AttributeName")
        if str((p.get("TimeToLiveSpecification") or {}).get("Enabled")).lower() == "true" else None,
        "stream": (p.get("StreamSpecification") or {}).get("StreamViewType"),
        "class": p.get("TableClass", "STANDARD"),
        "pitr": str((p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled",
                                                                            False)).lower(),
        "protection": str(p.get("DeletionProtectionEnabled", False)).lower(),
        "sse": str((p.get("SSESpecification") or {}).get("SSEEnabled", False)).lower(),
        "kms": (p.get("SSESpecification") or {}).get("KMSMasterKeyId"),
        "tags": sorted((t["Key"], t["Value"]) for t in p.get("Tags") or [] if t["Key"] not in TOOL_TAGS),
    }


@pytest.mark.slow
def test_short_form_tags_adopted_once_the_other_team_drops_its_reference(strict_aws, tmp_path):
    """Refused while the source stack's policy refers to the table (nothing changed), adopted after."""
    text = (TEMPLATES / "short_form_tags.yaml").read_text()
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName="orders", TemplateBody=text,
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in ORDERS.items()])
    put_items(strict_aws, "orders-prod", 3)
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA)
    imported = run(strict_aws, "import", "--env", "dev", "--schema", str(schema), "--from-stack", "orders", "--write")
    assert imported.exit_code == 0, imported.output
    assert "referred to in stack orders by Resources.OrdersReadPolicy, Outputs.OrdersTableName" in schema.read_text()
    refused = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
                  "--from-stack", "orders")
    assert refused.exit_code == 3 and "OrdersReadPolicy" in refused.output, refused.output
    assert stack_template(strict_aws, "orders")["Resources"]["OrdersTable"]["DeletionPolicy"] == {
        "Fn::If": ["IsProd", "Retain", "Delete"]}                              # nothing was changed
    start, end = text.index("  OrdersReadPolicy:"), text.index("  Queue:")
    cfn.update_stack(StackName="orders", TemplateBody=text[:start] + text[end:],
                     Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in ORDERS])
    adopted = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
                  "--from-stack", "orders")
    assert adopted.exit_code == 0, adopted.output
    again = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes")
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    assert run(strict_aws, "drift", "--env", "dev", "--schema", str(schema)).exit_code == 0
    assert count(strict_aws, "orders-prod") == 3
    [ours] = [r["Properties"] for r in stack_template(strict_aws, "adopt-dev")["Resources"].values()
              if r["Type"] == "AWS::DynamoDB::Table"]
    assert (ours["TableClass"], ours["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            ours["BillingMode"]) == ("STANDARD_INFREQUENT_ACCESS", True, "PAY_PER_REQUEST")
    assert {"AttributeName": "order_id", "AttributeType": "N"} in ours["AttributeDefinitions"]


@pytest.mark.slow
def test_a_table_with_settings_the_schema_cannot_keep_is_refused_before_any_change(strict_aws, tmp_path):
    """A recovery period other than 35 days: named at import, refused by adopt (R023); the table's and index's
    contributor insights, maximums and warm throughput beside it are written as options."""
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName="events-src", TemplateBody=(TEMPLATES / "insights_and_throughput.yaml").read_text())
    put_items(strict_aws, "events", 2)
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA)
    imported = run(strict_aws, "import", "--env", "dev", "--schema", str(schema), "--from-stack", "events-src",
                   "--write")
    assert imported.exit_code == 0, imported.output
    written = schema.read_text()
    assert "# not kept by the schema yet: PointInTimeRecoverySpecification.RecoveryPeriodInDays:" in written
    # The table's and the index's own settings are modelled (table_options.py): written as options.
    for option in ("contributor_insights: throttled_keys", "on_demand_throughput: {max_read: 4000, max_write: 1000}",
                   "warm_throughput: {read: 15000, write: 5000}", "contributor_insights: true",
                   "on_demand_throughput: {max_read: 500, max_write: 100}"):
        assert option in written, written
    refused = run(strict_aws, "deploy", "--env", "dev", "--schema", str(schema), "--yes", "--adopt",
                  "--from-stack", "events-src")
    assert refused.exit_code == 3, refused.output
    said = " ".join(refused.output.split())     # the console wraps long lines
    for named in ("R023", "events: PointInTimeRecoverySpecification.RecoveryPeriodInDays:", "nothing was changed"):
        assert named in said, said
    resources = stack_template(strict_aws, "events-src")["Resources"]
    assert resources["EventsTable"]["DeletionPolicy"] == "Retain" and "adopt-dev" not in [
        s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert count(strict_aws, "events") == 2
