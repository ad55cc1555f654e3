"""diff.py's decisions that tests/unit/test_diff.py left unpinned (issue 21: mutants that survived).

Each test names the decision it pins: which changes merge over environments, when several index
operations are a staged (D205) change, when a table is replaced, where a change's stack comes from.
"""

from __future__ import annotations

from jobwork_infra.changes import Severity
from jobwork_infra.diff import diff_environments, diff_schemas, gsi_operations, replaces_table, worst
from jobwork_infra.model import SchemaFile, resolve
from tests.unit.test_diff import BASE, D, M, O, S, diff, schema, users, verdicts

PROVISIONED = {"billing": "provisioned", "capacity": {"read": 5, "write": 5}}


def orders(data: dict) -> dict:
    return data["tables"]["orders"]


# -- merging over environments ----------------------------------------------------------------

def test_a_key_change_and_a_tenancy_change_on_one_index_stay_two_changes_over_all_environments():
    """Only kinds of one family merge (table removed: destroy/retain); D311 must not vanish into D201."""
    def scoped(d):
        users(d)["global_indexes"]["by_tenant"] = {"partition_key": "tenant_id", "sort_key": "email"}

    def edit(d):
        scoped(d)
        users(d)["global_indexes"]["by_tenant"].update(partition_key="email", sort_key="name", tenant_scoped=False)
    changes = diff_environments(schema(scoped), schema(edit), None)
    assert verdicts(changes) == [("D201", "index by_tenant", M), ("D311", "index by_tenant", O)]
    assert all(c.env is None for c in changes)


def test_a_table_removed_destroyed_in_dev_and_retained_in_prod_is_one_destructive_change():
    changes = diff(lambda d: d["tables"].pop("orders"), env=None)
    assert verdicts(changes) == [("D101", "", D)]
    assert changes[0].statement == "table shop-dev-orders is deleted with its data (removal_policy: destroy) (in dev)"


def test_merging_keeps_the_advice_of_the_worst_and_drops_an_empty_one():
    removed = diff(lambda d: d["tables"].pop("orders"), env=None)
    assert removed[0].advice.startswith("set removal_policy: retain on the table")
    added = diff(lambda d: d["tables"].update(items={"attributes": {}}), env=None)
    assert [c.advice for c in added] == [None]


# -- staging several index operations (D205) ---------------------------------------------------

def test_one_index_rebuilt_is_two_operations_but_one_change_and_no_d205():
    changes = diff(lambda d: users(d)["global_indexes"]["by_email"].update(partition_key="name"))
    assert verdicts(changes) == [("D201", "index by_email", M)]


def test_an_index_removed_and_another_added_is_staged():
    def edit(d):
        users(d)["global_indexes"] = {"by_name": {"partition_key": "name", "tenant_scoped": False}}
    changes = diff(edit)
    assert verdicts(changes) == [("D205", "global indexes", M), ("D301", "index by_name", O),
                                 ("D302", "index by_email", O)]
    assert changes[0].statement.startswith("2 global index creations/deletions (delete by_email, create by_name)")


def test_a_tenancy_change_beside_one_new_index_is_not_staged():
    """Tenancy and capacity change in place: they are not index operations."""
    def scoped(d):
        users(d)["global_indexes"]["by_tenant"] = {"partition_key": "tenant_id", "sort_key": "email"}

    def edit(d):
        scoped(d)
        users(d)["global_indexes"]["by_tenant"]["tenant_scoped"] = False
        users(d)["global_indexes"]["by_name"] = {"partition_key": "name", "tenant_scoped": False}
    changes = diff_environments(schema(scoped), schema(edit), "dev")
    assert [c.code for c in changes] == ["D301", "D311"]


def test_gsi_operations_put_deletions_first_and_rebuild_a_redefined_index():
    base = resolve(schema(), "dev").tables["users"]

    def edit(d):
        users(d)["global_indexes"] = {"by_email": {"partition_key": "email", "projection": "all",
                                                   "tenant_scoped": False},
                                      "by_name": {"partition_key": "name", "tenant_scoped": False}}
    head = resolve(schema(edit), "dev").tables["users"]
    assert gsi_operations(base, head) == [("delete", "by_email"), ("create", "by_email"), ("create", "by_name")]
    assert gsi_operations(head, base) == [("delete", "by_email"), ("delete", "by_name"), ("create", "by_email")]
    assert gsi_operations(base, base) == []


def test_a_renamed_index_is_matched_once_even_when_two_new_indexes_have_its_shape():
    def edit(d):
        old = users(d)["global_indexes"].pop("by_email")
        users(d)["global_indexes"].update(by_mail=dict(old), by_mail2=dict(old))
    changes = diff(edit)
    assert verdicts(changes) == [("D203", "index by_mail", M), ("D205", "global indexes", M),
                                 ("D301", "index by_mail2", O)]


# -- capacity ----------------------------------------------------------------------------------

def _provisioned_with_index(read: int):
    def edit(d):
        orders(d).update(PROVISIONED)
        orders(d)["global_indexes"] = {"by_status": {"partition_key": "status", "tenant_scoped": False,
                                                     "capacity": {"read": read, "write": 5}}}
    return edit


def test_an_index_capacity_change_is_safe_and_says_the_index():
    changes = diff_environments(schema(_provisioned_with_index(5)), schema(_provisioned_with_index(9)), "dev")
    assert verdicts(changes) == [("D405", "index by_status capacity", S)]
    assert changes[0].index == "by_status"
    assert changes[0].statement == "provisioned capacity changes from read=5, write=5 to read=9, write=5"


def test_switching_to_on_demand_is_a_billing_change_not_a_capacity_change():
    def on_demand(d):
        _provisioned_with_index(5)(d)
        orders(d).update(billing="on_demand", capacity=None)
        del orders(d)["global_indexes"]["by_status"]["capacity"]
    changes = diff_environments(schema(_provisioned_with_index(5)), schema(on_demand), "dev")
    assert verdicts(changes) == [("D305", "billing", O)]
    back = diff_environments(schema(on_demand), schema(_provisioned_with_index(5)), "dev")
    assert verdicts(back) == [("D305", "billing", O)]


# -- replacement -------------------------------------------------------------------------------

def _table(edit=None):
    data = {"version": 1, "app": "shop", "environments": {"dev": {}},
            "tables": {"t": {"sort_key": "s", "attributes": {"s": "string", "o": "string", "p": "string"},
                             "local_indexes": {"l": {"sort_key": "o"}}}}}
    if edit:
        edit(data["tables"]["t"])
    return resolve(SchemaFile.model_validate(data), "dev").tables["t"]


def test_each_part_of_a_tables_identity_replaces_it_alone():
    base = _table()
    assert not replaces_table(base, _table(lambda t: t.update(point_in_time_recovery=True)))
    assert replaces_table(base, _table(lambda t: t.update(table_name="other")))
    assert replaces_table(base, _table(lambda t: t.update(partition_key="p")))
    assert replaces_table(base, _table(lambda t: t.update(sort_key="p")))
    assert replaces_table(base, _table(lambda t: t["local_indexes"]["l"].update(sort_key="p")))


def test_a_replaced_table_with_new_indexes_is_not_staged():
    base = resolve(schema(), "dev")

    def edit(d):
        users(d)["sort_key"] = "email"
        users(d)["global_indexes"].update(by_name={"partition_key": "name", "tenant_scoped": False},
                                          by_created={"partition_key": "created_at", "tenant_scoped": False})
    changes = diff_schemas(base, resolve(schema(edit), "dev"))
    assert "D205" not in [c.code for c in changes]
    assert worst(changes) is D


# -- tables added, removed, renamed; locations; stacks -----------------------------------------

def test_a_table_is_renamed_only_once_and_a_second_copy_is_added():
    def edit(d):
        d["tables"]["purchases"] = d["tables"]["orders"]
        d["tables"]["purchases2"] = dict(d["tables"].pop("orders"))
    changes = diff(edit)
    assert [(c.code, c.table) for c in changes] == [("D102", "purchases"), ("D401", "purchases2")]


def test_a_name_taken_table_is_not_also_a_rename():
    def named(d):
        orders(d)["table_name"] = "orders"

    def moved(d):
        named(d)
        d["tables"]["purchases"] = d["tables"].pop("orders")
    changes = diff_environments(schema(named), schema(moved), "dev")
    assert [(c.code, c.table) for c in changes] == [("D109", "purchases"), ("D101", "orders")]


def test_nothing_deployed_and_a_location_change():
    head = resolve(schema(), "prod")
    assert [c.code for c in diff_schemas(None, head)] == ["D401", "D401"]
    assert diff_schemas(head, head) == []
    moved = resolve(schema(lambda d: d["environments"]["prod"].update(account="123456789012")), "prod")
    assert [c.code for c in diff_schemas(head, moved)] == ["D314"]


def test_a_removed_table_lands_in_the_stack_it_was_in():
    def split(d):
        orders(d)["stack"] = "sales"
    changes = diff_environments(schema(split), schema(lambda d: (split(d), d["tables"].pop("orders"))), "dev")
    assert [(c.code, c.stack) for c in changes] == [("D101", "shop-dev-sales")]
    added = diff_environments(schema(), schema(lambda d: d["tables"].update(items={"attributes": {}})), "dev")
    assert [(c.code, c.stack) for c in added] == [("D401", "shop-dev")]


def test_a_table_moved_to_another_stack_is_multi_step_beside_its_other_changes():
    def moved(d):
        orders(d).update(stack="sales", point_in_time_recovery=True)
    changes = diff(moved)
    assert [(c.code, c.before, c.after) for c in changes] == [
        ("D206", "shop-dev", "shop-dev-sales"), ("D402", False, True)]


def test_changes_are_sorted_environment_first_then_tables_then_worst_first():
    def edit(d):
        d["environments"]["dev"]["region"] = "eu-west-1"
        users(d).update(ttl=None, sort_key="email")
    changes = diff(edit)
    assert [c.code for c in changes][:2] == ["D314", "D105"]
    assert [c.severity for c in changes[1:]] == sorted((c.severity for c in changes[1:]), reverse=True)


def test_worst_of_nothing_is_none():
    assert worst([]) is None
    assert worst(diff(lambda d: users(d).update(ttl=None))) is Severity.ONLINE


def test_an_environment_missing_from_the_base_makes_its_tables_new_over_all_environments():
    base = SchemaFile.model_validate({**BASE, "environments": {"dev": BASE["environments"]["dev"]}})
    changes = diff_environments(base, schema(), None)
    assert verdicts(changes) == [("D401", "", S), ("D401", "", S)]
    assert "prod" in changes[0].statement


# -- more survivors of the first measurement ---------------------------------------------------

def test_a_provisioned_table_with_unchanged_capacity_has_no_capacity_change():
    def edit(d):
        orders(d).update(PROVISIONED, point_in_time_recovery=True)
    changes = diff_environments(schema(lambda d: orders(d).update(PROVISIONED)), schema(edit), "dev")
    assert verdicts(changes) == [("D402", "point-in-time recovery", S)]


def test_an_index_rebuilt_beside_a_new_index_is_staged():
    def key(d):
        users(d)["global_indexes"]["by_email"]["partition_key"] = "name"
        users(d)["global_indexes"]["by_created"] = {"partition_key": "created_at", "tenant_scoped": False}

    def projection(d):
        users(d)["global_indexes"]["by_email"]["projection"] = "all"
        users(d)["global_indexes"]["by_created"] = {"partition_key": "created_at", "tenant_scoped": False}
    assert [c.code for c in diff(key)] == ["D201", "D205", "D301"]
    assert [c.code for c in diff(projection)] == ["D202", "D205", "D301"]


def test_a_change_made_without_an_environment_never_says_none():
    from jobwork_infra.diff import make_change

    change = make_change("stack_changed", "orders", "stack", before="shop-dev", after="shop-dev-sales",
                         name="shop-dev-orders")
    assert "--env  --adopt" in change.advice and "None" not in change.advice


def test_a_local_index_change_says_what_happens_to_the_old_table_per_removal_policy():
    lsi = lambda d: orders(d).update(local_indexes={"by_status": {"sort_key": "status"}})
    dev = diff_environments(schema(), schema(lsi), "dev")
    prod = diff_environments(schema(), schema(lsi), "prod")
    assert dev[0].statement.endswith("; deploy refuses it; re-creating the table (destroy, then deploy) loses its data")
    assert prod[0].statement.endswith("; deploy refuses it: the retained table keeps the name the new one needs")


def test_two_environments_with_the_worst_verdict_and_different_words_are_not_said_to_be_one():
    def three(d):
        d["environments"]["qa"] = {"removal_policy": "destroy"}
    changes = diff_environments(schema(three), schema(lambda d: (three(d), d["tables"].pop("orders"))), None)
    assert verdicts(changes) == [("D101", "", D)]
    assert changes[0].statement == ("table [dev: shop-dev-orders | qa: shop-qa-orders] is deleted with its data "
                                    "(removal_policy: destroy)")


def test_nothing_deployed_over_every_environment_adds_every_table():
    changes = diff_environments(None, schema(), None)
    assert [(c.code, c.table) for c in changes] == [("D401", "users"), ("D401", "orders")]


def test_removed_tables_come_after_the_head_in_the_base_order_over_every_environment():
    def replaced(d):
        d["tables"] = {"zebra": {"attributes": {}}}
    changes = diff(replaced, env=None)
    assert [(c.code, c.table) for c in changes] == [("D401", "zebra"), ("D101", "users"), ("D101", "orders")]


def test_an_index_with_unchanged_capacity_on_a_changed_table_has_no_capacity_change():
    def edit(d):
        _provisioned_with_index(5)(d)
        orders(d)["point_in_time_recovery"] = True
    changes = diff_environments(schema(_provisioned_with_index(5)), schema(edit), "dev")
    assert verdicts(changes) == [("D402", "point-in-time recovery", S)]
