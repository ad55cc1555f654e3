"""`import --from-stack` through the template reader: the corpus deployed on the strict double, read back.

Each template of tests/fixtures/templates is deployed as another team's stack (with the parameters a
team would give it); the import reads the live tables for their shape and the template only for
logical ids, policies, references and the property check.
"""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.cloudformation.source_stack import imported_from_stack, read_stack_source
from jobwork_infra.errors import JobworkError
from jobwork_infra.importer import acknowledge_imported, build_entries, check_imported
from jobwork_infra.model import resolve
from jobwork_infra.project import check_project
from tests.conftest import FIXTURES

TEMPLATES = FIXTURES / "templates"


def deploy_source(strict_aws, stack: str, template: str, **parameters: str) -> None:
    cfn = strict_aws.client("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=(TEMPLATES / template).read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 0.2})


def imported(strict_aws, stack: str, *names: str) -> list:
    return imported_from_stack(strict_aws.client("dynamodb"), strict_aws.client("cloudformation"), stack,
                               list(names), "tenant_id")


def round_trip(project_schema, items, env: str = "dev"):
    """The imported tables written, acknowledged, validated and resolved as `import --write` does."""
    project = check_project(project_schema)
    entries = build_entries(items, project.schema, env)
    acknowledge_imported(project, entries)
    checked = check_imported(project, entries)
    return resolve(checked.schema, env).tables


def test_short_form_tags_with_parameters_import_the_live_table(strict_aws, project_schema):
    deploy_source(strict_aws, "orders-prod", "short_form_tags.yaml", Stage="prod", BillingParam="PAY_PER_REQUEST",
                  TableClassParam="STANDARD_INFREQUENT_ACCESS", EnablePitr="true", SortKeyType="N")
    [item] = imported(strict_aws, "orders-prod")
    table = item.table
    assert item.source == "stack orders-prod, resource OrdersTable"
    assert (table.physical_name, table.partition_key.name, table.sort_key.name, table.sort_key.type) == (
        "orders-prod", "tenant_id", "order_id", "N")
    assert (table.billing, table.table_class, table.point_in_time_recovery) == (
        "on_demand", "infrequent_access", True)
    assert [i.name for i in table.global_indexes] == ["by-status-prod"]
    assert any("referred to in stack orders-prod by Resources.OrdersReadPolicy, Outputs.OrdersTableName" in n
               for n in item.notes)
    tables = round_trip(project_schema, [item])
    [back] = tables.values()
    assert (back.physical_name, back.table_class, back.point_in_time_recovery, back.sort_key) == (
        "orders-prod", "infrequent_access", True, table.sort_key)


def test_conditional_throughput_and_a_table_behind_a_condition(strict_aws, project_schema):
    deploy_source(strict_aws, "sessions-prod", "conditional_throughput.yaml", Environment="prod")
    items = {i.table.physical_name: i for i in imported(strict_aws, "sessions-prod")}
    assert set(items) == {"sessions-prod", "audit"}
    sessions = items["sessions-prod"].table
    assert (sessions.billing, sessions.capacity.read, sessions.capacity.write, sessions.ttl) == (
        "provisioned", 10, 5, "expires_at")
    assert any("DeletionPolicy Delete" in n for n in items["audit"].notes)
    assert not any("DeletionPolicy" in n for n in items["sessions-prod"].notes)
    round_trip(project_schema, list(items.values()))


def test_the_aws_docs_example_imports_with_its_include_lists(strict_aws, project_schema):
    deploy_source(strict_aws, "music", "aws_docs_indexes.json")
    [item] = imported(strict_aws, "music", "myDynamoDBTable")
    assert {i.name: i.projection.attributes for i in item.table.global_indexes} == {
        "myGSI": ("Album", "NumberOfSongs"), "myGSI2": ("Album", "Artist")}
    [back] = round_trip(project_schema, [item]).values()
    assert [i.projection.attributes for i in back.local_indexes] == [("Artist", "NumberOfSongs")]


def test_the_cdk_lsi_on_the_table_sort_key_imports(strict_aws, project_schema):
    deploy_source(strict_aws, "cdk-integ", "cdk_lsi_table_sort_key.json")
    [item] = imported(strict_aws, "cdk-integ")
    assert {i.name: i.sort_key.name for i in item.table.local_indexes} == {
        "lsi-same-sort-key": "sortKey", "lsi-include": "lsiSortKey"}
    [back] = round_trip(project_schema, [item]).values()
    assert back.local_indexes == item.table.local_indexes


def test_a_customer_key_is_imported_as_the_live_tables_key(strict_aws, project_schema):
    deploy_source(strict_aws, "payments", "customer_kms_key.yaml")
    [item] = imported(strict_aws, "payments", "payments")
    assert item.table.stream == "new_and_old_images" and item.table.ttl == "purge_at"
    assert item.table.tags == {"Team": "Payments", "team": "payments"}
    # DescribeTable gives the key's ARN; the template that asked for a key of its own says it is the team's.
    assert item.table.encryption.type == "customer_managed"
    assert item.table.encryption.kms_key_arn.startswith("arn:aws:kms:us-east-1:") and ":key/" in item.table.encryption.kms_key_arn
    assert not any("encrypted with the KMS key" in n for n in item.notes)


def test_a_property_the_schema_cannot_keep_is_named_on_the_imported_table(strict_aws):
    deploy_source(strict_aws, "events", "insights_and_throughput.yaml")
    [item] = imported(strict_aws, "events")
    unkept = [n.split(":")[1].strip() for n in item.notes if n.startswith("not kept by the schema yet")]
    # The table's own insights (mode included), maximum and warm throughput are kept (table_options.py).
    assert (item.table.contributor_insights, str(item.table.on_demand_throughput), str(item.table.warm_throughput)) == (
        "throttled_keys", "max_read=4000, max_write=1000", "read=15000, write=5000")
    [by_kind] = item.table.global_indexes
    assert (by_kind.contributor_insights, str(by_kind.on_demand_throughput)) == (True, "max_read=500, max_write=100")
    assert unkept == ["PointInTimeRecoverySpecification.RecoveryPeriodInDays"]
    assert all("`deploy --adopt` refuses this table until then" in n for n in item.notes
               if n.startswith("not kept"))


def test_a_table_name_not_in_the_stack_names_the_stacks_tables(strict_aws):
    deploy_source(strict_aws, "music", "aws_docs_indexes.json")
    with pytest.raises(JobworkError, match=r"stack music has no table 'musik' \(its tables: music \(myDynamoDBTable\)\)"):
        imported(strict_aws, "music", "musik")


def test_the_source_is_read_with_the_stacks_own_parameters(strict_aws):
    deploy_source(strict_aws, "orders-dev", "short_form_tags.yaml", Stage="dev")
    source = read_stack_source(strict_aws.client("cloudformation"), "orders-dev")
    [(table, physical)] = source.tables()
    assert (table.logical_id, physical, table.deletion_policy) == ("OrdersTable", "orders-dev", "Delete")
    assert source.source.file == "orders-dev.template"
