"""Every property of AWS::DynamoDB::Table is modelled or refused with a reason (table_properties.py), never dropped.

The list is checked against the resource schema cfn-lint ships (the CloudFormation registry's schema
of AWS::DynamoDB::Table), so a property AWS adds fails here instead of vanishing in an adoption.
"""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.cloudformation.source import StackContext, read_source
from jobwork_infra.table_properties import (
    CREATION_ONLY,
    END,
    MODELLED,
    PROPERTIES,
    REFUSED,
    START,
    properties_markdown,
    refusals,
)
from tests.conftest import FIXTURES, ROOT


def registry_paths() -> set[str]:
    """Every writable property path of AWS::DynamoDB::Table in the registry schema, "[]" marking list items."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::DynamoDB::Table").schema
    definitions = schema["definitions"]
    read_only = {p.rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties", [])}
    paths: set[str] = set()

    def resolve(spec: dict) -> dict:
        while "$ref" in spec:
            spec = definitions[spec["$ref"].rsplit("/", 1)[-1]]
        return spec

    def walk(spec: dict, path: str) -> None:
        spec = resolve(spec)
        # KeySchema is oneOf [a KeySchema list, the deprecated HashKeyElement form]: the list is the one written.
        variants = spec.get("oneOf") or spec.get("anyOf")
        if variants and not spec.get("properties") and not spec.get("items"):
            spec = resolve(next((v for v in variants if resolve(v).get("type") == "array"), variants[0]))
        if spec.get("type") == "array" or "items" in spec:
            path += "[]"
            paths.add(path)
            spec = resolve(spec.get("items", {}))
        else:
            paths.add(path)
        for name, child in (spec.get("properties") or {}).items():
            if "Deprecated" not in str(child.get("$ref", "")):
                walk(child, f"{path}.{name}")

    for name, spec in schema["properties"].items():
        if name not in read_only:
            walk(spec, name)
    return paths


def test_the_list_names_exactly_the_properties_cloudformation_has():
    ours = set(PROPERTIES) | {p + "[]" for p in PROPERTIES}   # "KeySchema" stands for its list too
    missing = sorted(p for p in registry_paths() if p not in ours)
    assert missing == [], f"properties of AWS::DynamoDB::Table neither modelled nor refused: {missing}"
    known = registry_paths() | {p.removesuffix("[]") for p in registry_paths()}
    assert sorted(p for p in PROPERTIES if p not in known) == []


def test_every_row_says_where_the_schema_holds_it_or_why_not_and_what_to_do():
    for row in PROPERTIES.values():
        assert row.status in (MODELLED, REFUSED, CREATION_ONLY)
        if row.status == MODELLED:
            assert row.schema, row.path
        else:
            assert row.reason and row.way_forward, row.path


def test_the_table_in_docs_schema_md_is_generated_from_the_list():
    text = (ROOT / "docs" / "schema.md").read_text()
    assert text.split(START, 1)[1].split(END, 1)[0] == "\n" + properties_markdown(), (
        "regenerate it: python -m jobwork_infra.table_properties")


def _refused(name: str, context: StackContext) -> list[str]:
    path = FIXTURES / "templates" / name
    source = read_source(path.read_text(), str(path), context)
    return [r.path for t in source.tables.values() for r in refusals(t.properties)]


def test_contributor_insights_and_on_demand_and_warm_throughput_are_kept_on_the_table_and_its_indexes():
    # All modelled (table_options.py, table and per index, the THROTTLED_KEYS mode too); the
    # template's 7-day recovery period is what is still refused.
    assert _refused("insights_and_throughput.yaml", StackContext("events")) == [
        "PointInTimeRecoverySpecification.RecoveryPeriodInDays"]


@pytest.mark.parametrize(("name", "context"), [
    ("aws_docs_indexes.json", StackContext("music")),
    ("short_form_tags.yaml", StackContext("orders", parameters={"Stage": "prod"})),
    ("conditional_throughput.yaml", StackContext("s", parameters={"Environment": "prod"})),
    ("cdk_lsi_table_sort_key.json", StackContext("cdk")),
    ("customer_kms_key.yaml", StackContext("k", physical_ids={"TableKey": "k-1"})),
])
def test_templates_of_modelled_properties_only_are_refused_nothing(name, context):
    assert _refused(name, context) == []


def test_a_value_that_changes_nothing_is_not_refused_and_one_that_does_is():
    off = {"ContributorInsightsSpecification": {"Enabled": False},
           "OnDemandThroughput": {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1},
           "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35}}
    assert refusals(off) == []
    on = {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 7},
          "KinesisStreamSpecification": {"StreamArn": "arn:aws:kinesis:us-east-1:1:stream/s"},
          "ResourcePolicy": {"PolicyDocument": {}}, "VectorIndexes": [{"IndexName": "v"}]}
    # ResourcePolicy and KinesisStreamSpecification are modelled (table_options.py): kept, not refused.
    assert [r.path for r in refusals(on)] == ["PointInTimeRecoverySpecification.RecoveryPeriodInDays",
                                              "VectorIndexes"]


def test_a_property_unknown_to_this_version_is_refused_not_dropped():
    [refusal] = refusals({"TableName": "t", "HoloGraphicMode": {"Enabled": True}})
    assert (refusal.path, refusal.property.status) == ("HoloGraphicMode", REFUSED)
    assert "does not know" in refusal.property.reason


def test_an_unresolved_value_of_a_refused_property_is_refused():
    from jobwork_infra.deploy.cloudformation.source import Unresolved
    from jobwork_infra.errors import Location

    unknown = Unresolved("F102", Location("t.yaml", 3, 4), "Fn::ImportValue")
    spec = {"StreamSpecification": {"StreamViewType": "KEYS_ONLY", "ResourcePolicy": {"PolicyDocument": unknown}}}
    assert [r.path for r in refusals(spec, unresolved=lambda v: isinstance(v, Unresolved))] == [
        "StreamSpecification.ResourcePolicy"]
