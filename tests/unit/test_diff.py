"""One test per kind of change: its code and severity, as DESIGN.md §4 says, and what it states."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from jobwork_infra.changes import Severity
from jobwork_infra.diff import KINDS, diff_environments, diff_schemas, merge_changes
from jobwork_infra.errors import JobworkError
from jobwork_infra.model import SchemaFile, resolve

D, M, O, S = Severity.DESTRUCTIVE, Severity.MULTI_STEP, Severity.ONLINE, Severity.SAFE

BASE = {
    "version": 1,
    "app": "shop",
    "environments": {
        "dev": {"removal_policy": "destroy"},
        "prod": {"removal_policy": "retain", "region": "ap-south-1"},
    },
    "tables": {
        "users": {
            "description": "Users of a tenant.",
            "sort_key": "user_id",
            "attributes": {"user_id": "uuid", "email": "string", "name": "string", "expires_at": "epoch_seconds",
                           "created_at": "datetime", "gone_at": "epoch_seconds"},
            "global_indexes": {"by_email": {"partition_key": "email", "projection": "keys_only",
                                            "tenant_scoped": False}},
            "ttl": "expires_at",
            "access_patterns": [{"name": "get a user", "key": ["tenant_id", "user_id"]}],
        },
        "orders": {
            "sort_key": "order_id",
            "attributes": {"order_id": "string", "status": "string", "placed_at": "datetime"},
        },
    },
}


def schema(edit: Callable[[dict], None] | None = None) -> SchemaFile:
    data = copy.deepcopy(BASE)
    if edit:
        edit(data)
    return SchemaFile.model_validate(data)


def diff(edit: Callable[[dict], None], env: str | None = "dev"):
    return diff_environments(schema(), schema(edit), env)


def verdicts(changes) -> list[tuple[str, str, Severity]]:
    return [(c.code, c.subject, c.severity) for c in changes]


def users(data: dict) -> dict:
    return data["tables"]["users"]


# -- tables ------------------------------------------------------------------------------------

def test_no_change_is_empty():
    assert diff(lambda d: None, env=None) == []


def test_table_added_is_safe():
    changes = diff(lambda d: d["tables"].update(items={"attributes": {}}))
    assert verdicts(changes) == [("D401", "", S)]
    assert changes[0].table == "items"
    assert changes[0].statement == "table shop-dev-items is created"


def test_nothing_deployed_means_every_table_added():
    changes = diff_schemas(None, resolve(schema(), "dev"))
    assert [(c.code, c.table) for c in changes] == [("D401", "users"), ("D401", "orders")]


def test_table_removed_under_destroy_is_destructive():
    changes = diff(lambda d: d["tables"].pop("orders"), env="dev")
    assert verdicts(changes) == [("D101", "", D)]
    assert changes[0].statement == "table shop-dev-orders is deleted with its data (removal_policy: destroy)"
    assert "removal_policy: retain" in changes[0].advice


def test_table_removed_under_retain_is_online_and_orphaned():
    changes = diff(lambda d: d["tables"].pop("orders"), env="prod")
    assert verdicts(changes) == [("D309", "", O)]
    assert "orphaned" in changes[0].statement and "kept with its data" in changes[0].statement


def test_table_removed_under_snapshot_is_retained():
    # CloudFormation cannot snapshot a DynamoDB table: snapshot resolves to retain (rule C105).
    def edit(d):
        d["tables"].pop("orders")
    base = schema(lambda d: d["tables"]["orders"].update(removal_policy="snapshot"))
    changes = diff_environments(base, schema(edit), "dev")
    assert verdicts(changes) == [("D309", "", O)]


def test_table_removed_without_env_is_destructive_if_any_environment_deletes_it():
    changes = diff(lambda d: d["tables"].pop("orders"), env=None)
    assert verdicts(changes) == [("D101", "", D)]
    assert changes[0].env is None
    assert changes[0].statement.endswith("(in dev)")


def test_table_removed_everywhere_retained_is_online_without_env():
    def edit(d):
        d["environments"]["dev"]["removal_policy"] = "retain"
        d["tables"].pop("orders")
    base = schema(lambda d: d["environments"]["dev"].update(removal_policy="retain"))
    changes = diff_environments(base, schema(edit), None)
    assert verdicts(changes) == [("D309", "", O)]


def test_table_renamed_is_flagged_and_destructive():
    def edit(d):
        d["tables"]["purchases"] = d["tables"].pop("orders")
    changes = diff(edit)
    assert verdicts(changes) == [("D102", "", D)]
    assert changes[0].table == "purchases"
    assert changes[0].statement.startswith("renamed? orders → purchases")
    assert "no data is moved" in changes[0].statement


def test_removed_and_added_with_other_keys_is_not_a_rename():
    def edit(d):
        d["tables"].pop("orders")
        d["tables"]["items"] = {"sort_key": "sku", "attributes": {"sku": "string"}}
    assert [c.code for c in diff(edit)] == ["D401", "D101"]


def test_physical_name_changed_is_destructive():
    changes = diff(lambda d: d["tables"]["orders"].update(table_name="legacy-orders"))
    assert verdicts(changes) == [("D103", "table name", D)]
    assert changes[0].statement == ("CloudFormation replaces a custom-named table: legacy-orders is created empty "
                                    "and shop-dev-orders is deleted with its data")


def test_naming_pattern_change_replaces_every_table():
    changes = diff(lambda d: d.update(naming={"table": "{env}.{table}"}), env=None)
    assert [(c.code, c.table, c.severity) for c in changes] == [("D103", "users", D), ("D103", "orders", D)]


# -- keys --------------------------------------------------------------------------------------

def test_partition_key_renamed_is_destructive():
    def edit(d):
        users(d).update(tenant_scoped=False, partition_key="user_id", sort_key=None)
    changes = diff(edit)
    assert ("D104", "partition key", D) in verdicts(changes)
    assert ("D105", "sort key", D) in verdicts(changes)


def test_sort_key_type_changed_uuid_to_number_is_destructive():
    changes = diff(lambda d: users(d)["attributes"].update(user_id="number"))
    # only the key change: the attribute's type is not reported twice as a safe attribute change
    assert verdicts(changes) == [("D105", "sort key", D)]
    assert changes[0].statement.startswith("the sort key changes from user_id (S) to user_id (N)")
    assert changes[0].statement.endswith("so the table is replaced and its data is lost")


def test_key_change_under_retain_says_deploy_refuses_it():
    changes = diff(lambda d: users(d)["attributes"].update(user_id="number"), env="prod")
    assert changes[0].statement.endswith("deploy refuses it: the retained table keeps the name the new one needs")


def test_sort_key_added_is_destructive():
    changes = diff(lambda d: d["tables"]["orders"].update(sort_key="placed_at"))
    assert verdicts(changes) == [("D105", "sort key", D)]


# -- local indexes -----------------------------------------------------------------------------

def test_lsi_added_is_destructive():
    changes = diff(lambda d: d["tables"]["orders"].update(local_indexes={"by_status": {"sort_key": "status"}}))
    assert verdicts(changes) == [("D106", "local index by_status", D)]


def test_lsi_removed_and_changed_are_destructive():
    with_lsi = lambda d: d["tables"]["orders"].update(local_indexes={"by_status": {"sort_key": "status"}})
    base = schema(with_lsi)
    removed = diff_environments(base, schema(), "dev")
    changed = diff_environments(base, schema(lambda d: d["tables"]["orders"].update(
        local_indexes={"by_status": {"sort_key": "placed_at"}})), "dev")
    assert verdicts(removed) == [("D107", "local index by_status", D)]
    assert verdicts(changed) == [("D108", "local index by_status", D)]


# -- global indexes ----------------------------------------------------------------------------

def test_gsi_added_is_online():
    changes = diff(lambda d: users(d)["global_indexes"].update(by_name={"partition_key": "name"}))
    assert verdicts(changes) == [("D301", "index by_name", O)]


def test_gsi_removed_is_online():
    changes = diff(lambda d: users(d).update(global_indexes={}))
    assert verdicts(changes) == [("D302", "index by_email", O)]
    assert changes[0].advice == "move its readers off it before deploying"


def test_two_gsis_on_one_table_are_multi_step():
    def edit(d):
        users(d)["global_indexes"].update(by_name={"partition_key": "name"},
                                          by_created={"partition_key": "created_at"})
    changes = diff(edit)
    assert verdicts(changes) == [("D205", "global indexes", M), ("D301", "index by_name", O),
                                 ("D301", "index by_created", O)]
    assert changes[0].statement.startswith("2 global index creations/deletions (create by_name, create by_created)")


def test_one_gsi_on_each_of_two_tables_is_online():
    def edit(d):
        users(d)["global_indexes"].update(by_name={"partition_key": "name"})
        d["tables"]["orders"]["global_indexes"] = {"by_status": {"partition_key": "status", "tenant_scoped": False}}
    changes = diff(edit)
    assert verdicts(changes) == [("D301", "index by_name", O), ("D301", "index by_status", O)]


def test_gsi_renamed_is_delete_plus_create_multi_step():
    def edit(d):
        users(d)["global_indexes"] = {"by_mail": users(d)["global_indexes"]["by_email"]}
    changes = diff(edit)
    assert verdicts(changes) == [("D203", "index by_mail", M)]
    assert changes[0].statement.startswith("renamed? index by_email → by_mail")


def test_gsi_key_changed_is_multi_step():
    changes = diff(lambda d: users(d)["global_indexes"]["by_email"].update(sort_key="name"))
    assert verdicts(changes) == [("D201", "index by_email", M)]
    assert changes[0].statement.startswith("index by_email's key changes from email (S) to email (S) + name (S)")


def test_gsi_key_type_changed_is_multi_step():
    changes = diff(lambda d: users(d)["attributes"].update(email="number"))
    assert verdicts(changes) == [("D201", "index by_email", M)]


def test_gsi_projection_changed_is_multi_step():
    changes = diff(lambda d: users(d)["global_indexes"]["by_email"].update(projection=["name"]))
    assert verdicts(changes) == [("D202", "index by_email", M)]
    assert "from keys_only to [name]" in changes[0].statement


def test_gsi_tenancy_changed_is_online():
    def edit(d):
        users(d)["global_indexes"]["by_tenant_email"] = {"partition_key": "tenant_id", "sort_key": "email"}
    base = schema(edit)
    head = schema(lambda d: (edit(d), users(d)["global_indexes"]["by_tenant_email"].update(tenant_scoped=False)))
    changes = diff_environments(base, head, "dev")
    assert verdicts(changes) == [("D311", "index by_tenant_email", O)]
    assert changes[0].statement == "index by_tenant_email becomes cross-tenant in the TenantDataAccess policy"


def test_index_changes_on_a_replaced_table_are_not_staged():
    def edit(d):
        users(d)["attributes"]["user_id"] = "number"
        users(d)["global_indexes"].update(by_name={"partition_key": "name"},
                                          by_created={"partition_key": "created_at"})
    assert "D205" not in [c.code for c in diff(edit)]


# -- TTL, stream, billing, class, encryption --------------------------------------------------

def test_ttl_enabled_and_disabled_are_online():
    enabled = diff(lambda d: d["tables"]["orders"].update(ttl="placed_at"))
    disabled = diff(lambda d: users(d).update(ttl=None))
    assert verdicts(enabled) == [("D303", "ttl", O)]
    assert verdicts(disabled) == [("D304", "ttl", O)]


def test_ttl_renamed_is_multi_step():
    changes = diff(lambda d: users(d).update(ttl="gone_at"))
    assert verdicts(changes) == [("D204", "ttl", M)]
    assert "at least 1 h later" in changes[0].statement


@pytest.mark.parametrize("option, value, code", [
    ("stream", "new_image", "D306"),
    ("billing", "provisioned", "D305"),
    ("table_class", "infrequent_access", "D307"),
    ("encryption", "aws_managed", "D308"),
])
def test_in_place_changes_with_an_effect_are_online(option, value, code):
    def edit(d):
        d["tables"]["orders"][option] = value
        if option == "billing":
            d["tables"]["orders"]["capacity"] = {"read": 5, "write": 5}
    assert verdicts(diff(edit)) == [(code, KINDS_BY_CODE[code], O)]


KINDS_BY_CODE = {"D306": "stream", "D305": "billing", "D307": "table class", "D308": "encryption"}


def test_table_tenancy_changed_is_online():
    changes = diff(lambda d: d["tables"]["orders"].update(tenant_scoped=False))
    assert verdicts(changes) == [("D312", "tenancy", O)]


# -- safe --------------------------------------------------------------------------------------

@pytest.mark.parametrize("edit, code, subject", [
    (lambda d: d["tables"]["orders"].update(point_in_time_recovery=True), "D402", "point-in-time recovery"),
    (lambda d: d["tables"]["orders"].update(deletion_protection=True), "D403", "deletion protection"),
    (lambda d: d["tables"]["orders"].update(tags={"team": "ops"}), "D404", "tags"),
    (lambda d: users(d).update(description="Everyone."), "D406", "description"),
    (lambda d: users(d)["attributes"].update(phone="string"), "D407", "attributes"),
    (lambda d: users(d)["attributes"].update(name="number"), "D407", "attributes"),
    (lambda d: users(d)["access_patterns"].append({"name": "by mail", "index": "by_email", "key": ["email"]}),
     "D408", "access patterns"),
    (lambda d: d["tables"]["orders"].update(removal_policy="retain"), "D409", "removal policy"),
])
def test_metadata_changes_are_safe(edit, code, subject):
    assert verdicts(diff(edit)) == [(code, subject, S)]


def test_capacity_changed_is_safe():
    provisioned = lambda d: d["tables"]["orders"].update(billing="provisioned", capacity={"read": 5, "write": 5})
    base = schema(provisioned)
    head = schema(lambda d: (provisioned(d), d["tables"]["orders"].update(capacity={"read": 10, "write": 5})))
    changes = diff_environments(base, head, "dev")
    assert verdicts(changes) == [("D405", "capacity", S)]
    assert changes[0].statement == "provisioned capacity changes from read=5, write=5 to read=10, write=5"


def test_tags_statement_lists_added_removed_changed():
    changes = diff(lambda d: d["tables"]["orders"].update(tags={"team": "ops"}))
    assert changes[0].statement == "tags change: +team"


# -- environments ------------------------------------------------------------------------------

def test_environment_added_in_head_means_its_tables_are_added():
    changes = diff(lambda d: d["environments"].update(qa={}), env="qa")
    assert [(c.code, c.table) for c in changes] == [("D401", "users"), ("D401", "orders")]


def test_environment_removed_is_online():
    changes = diff(lambda d: d["environments"].pop("dev"), env=None)
    assert verdicts(changes) == [("D313", "environment dev", O)]
    assert "jobwork-infra destroy --env dev" in changes[0].statement


def test_region_changed_is_online():
    changes = diff(lambda d: d["environments"]["prod"].update(region="eu-west-1"), env="prod")
    assert verdicts(changes) == [("D314", "environment", O)]


def test_unknown_env_lists_the_environments():
    with pytest.raises(JobworkError) as error:
        diff(lambda d: None, env="staging")
    assert error.value.message == "unknown environment 'staging'"
    assert error.value.hint == "the schema defines: dev, prod"


def test_merge_keeps_per_environment_statements_when_they_differ():
    changes = diff(lambda d: d["tables"]["orders"].update(table_name="orders"), env=None)
    assert len(changes) == 1
    assert changes[0].statement == (
        "CloudFormation replaces a custom-named table: orders is created empty and "
        "[dev: shop-dev-orders is deleted | prod: shop-prod-orders is kept, orphaned] with its data")
    assert changes[0].advice == ("keep the old name (set table_name: [dev: shop-dev-orders | prod: shop-prod-orders] "
                                 "on the table), or copy the data before switching")
    assert changes[0].before == {"dev": "shop-dev-orders", "prod": "shop-prod-orders"}


def test_merge_names_each_environment_only_where_they_differ():
    changes = diff(lambda d: d["tables"].update(items={"attributes": {}}), env=None)
    assert [c.statement for c in changes] == ["table [dev: shop-dev-items | prod: shop-prod-items] is created"]


def test_merge_is_idempotent():
    changes = diff(lambda d: d["tables"].pop("orders"), env=None)
    assert merge_changes(changes) == changes


def test_every_kind_has_a_unique_code_matching_its_severity():
    codes = [k.code for k in KINDS.values()]
    assert len(set(codes)) == len(codes)
    prefix = {D: "D1", M: "D2", O: "D3", S: "D4"}
    assert all(k.code.startswith(prefix[k.severity]) for k in KINDS.values())


def test_docs_are_generated_from_the_registry():
    from pathlib import Path

    from jobwork_infra.report.changes import changes_reference

    committed = (Path(__file__).resolve().parent.parent.parent / "docs" / "diff.md").read_text(encoding="utf-8")
    assert committed == changes_reference(), "regenerate with: python -m jobwork_infra.report.changes"
    assert all(f"| {k.code} |" in committed for k in KINDS.values())


# -- corrections checked against AWS (issue 9) --------------------------------------------------

def test_local_indexes_come_out_in_schema_order_whatever_the_hash_seed():
    def edit(d):
        users(d)["local_indexes"] = {name: {"sort_key": "created_at"} for name in ("zeta", "alpha", "mid")}
    changes = diff(edit)
    assert [(c.code, c.index) for c in changes if c.kind == "lsi_added"] == [
        ("D106", "zeta"), ("D106", "alpha"), ("D106", "mid")]


def test_local_index_change_on_a_named_table_fails_as_a_replacement():
    changes = diff(lambda d: users(d).update(local_indexes={"by_created": {"sort_key": "created_at"}}))
    assert verdicts(changes) == [("D106", "local index by_created", D)]
    assert "the update fails as a replacement of named table shop-dev-users" in changes[0].statement
    assert "the table is replaced" not in changes[0].statement


def test_changes_carry_the_index_they_are_about_and_none_otherwise():
    def edit(d):
        users(d)["global_indexes"]["by_name"] = {"partition_key": "name"}
        users(d)["point_in_time_recovery"] = True
    changes = {c.kind: c for c in diff(edit)}
    assert changes["gsi_added"].index == "by_name"
    assert changes["point_in_time_recovery_changed"].index is None


def test_point_in_time_recovery_off_is_online_and_says_the_window_is_lost():
    on = diff(lambda d: users(d).update(point_in_time_recovery=True))
    assert verdicts(on) == [("D402", "point-in-time recovery", S)]
    off = diff_environments(schema(lambda d: users(d).update(point_in_time_recovery=True)), schema(), "dev")
    assert verdicts(off) == [("D310", "point-in-time recovery", O)]
    assert "restore window" in off[0].statement


def test_billing_switch_names_the_four_per_day_limit():
    changes = diff(lambda d: users(d).update(billing="provisioned", capacity={"read": 1, "write": 1}))
    billing = next(c for c in changes if c.code == "D305")
    assert "at most four switches to on_demand per table in a rolling 24 h" in billing.statement


def test_stream_view_change_says_consumers_keep_reading_the_old_arn():
    changes = diff_environments(schema(lambda d: users(d).update(stream="keys_only")),
                                schema(lambda d: users(d).update(stream="new_image")), "dev")
    assert verdicts(changes) == [("D306", "stream", O)]
    assert "Lambda event-source mappings) keep reading the old ARN" in changes[0].statement


def test_a_new_key_reusing_a_removed_tables_name_is_refused_as_name_taken():
    def named(d):
        d["tables"]["orders"]["table_name"] = "orders"

    def rekeyed(d):
        named(d)
        d["tables"]["customers"] = d["tables"].pop("orders")
    for env, fate, removal in (("dev", "deleted with its data", "D101"), ("prod", "kept, orphaned with its data", "D309")):
        changes = diff_environments(schema(named), schema(rekeyed), env)
        assert [(c.code, c.table) for c in changes] == [("D109", "customers"), (removal, "orders")], env
        assert changes[0].severity is D
        assert "table orders of key orders still holds the name" in changes[0].statement
        assert fate in changes[0].statement


def test_index_changes_carry_their_definitions_as_data_not_text():
    def edit(d):
        users(d)["global_indexes"]["by_email"]["sort_key"] = "name"
    [change] = diff(edit)
    assert change.before == [{"name": "email", "type": "S"}]
    assert change.after == [{"name": "email", "type": "S"}, {"name": "name", "type": "S"}]
    assert "from email (S) to email (S) + name (S)" in change.statement


def test_d407_names_the_old_and_new_sort_keys_as_keys_not_non_key_attributes():
    from jobwork_infra.diff import diff_schemas
    from jobwork_infra.model import SchemaFile, resolve

    def env(sort_key: str):
        return resolve(SchemaFile.model_validate({
            "version": 1, "app": "shop", "environments": {"dev": {}},
            "tables": {"users": {"sort_key": sort_key, "attributes": {sort_key: "string", "name": "string"}}}}), "dev")

    d407 = [c for c in diff_schemas(env("user_id"), env("email")) if c.code == "D407"]
    assert [c.statement for c in d407] == [
        "declared attributes change: +email (sort key) -user_id (sort key); items are not rewritten"]
    assert "non-key" not in KINDS["attributes_changed"].title


def test_text_output_does_not_repeat_the_subject():
    from rich.console import Console

    from jobwork_infra.diff import make_change
    from jobwork_infra.report.changes import render_changes_text

    console = Console(record=True, width=200)
    render_changes_text([make_change("gsi_added", "users", "index by_email", index="by_email"),
                         make_change("stream_changed", "users", "stream", before=None, after="new_image", effect="x")], console)
    text = console.export_text()
    assert "index by_email: index by_email" not in text
    assert "D301  index by_email is created" in text
    assert "D306  stream: the stream changes" in text
