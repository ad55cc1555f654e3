"""The planner's migrate step and the item counts deploy adds to it (issue 21, after issue 17 landed)."""

from __future__ import annotations

from jobwork_infra.plan import plan_changes, with_item_counts
from tests.unit.test_migrate_schema import BASE, HEAD, project


def _plan(head_text: str = HEAD):
    base = project(BASE).require_valid().resolve("dev")
    return plan_changes(base, project(head_text).require_valid().resolve("dev"))


def test_the_migrate_step_carries_exactly_the_migration_and_comes_after_the_staged_steps():
    plan = _plan()
    [migrate] = [s for s in plan.steps if s.kind == "migrate"]
    assert [c.code for c in migrate.changes] == ["D207"]
    assert migrate.number == len(plan.steps)
    indexed = HEAD + ("    global_indexes:\n      by_user: {partition_key: tenant_id, sort_key: user_id}\n"
                      "      by_mail: {partition_key: tenant_id, sort_key: email}\n")
    staged = _plan(indexed)
    assert [s.number for s in staged.steps] == list(range(1, len(staged.steps) + 1))
    assert staged.steps[-1].kind == "migrate" and [c.code for c in staged.steps[-1].changes] == ["D207"]


def test_item_counts_are_said_in_the_migration_and_nowhere_else():
    plan = _plan()
    source = plan.base.tables["users"].physical_name
    counted = with_item_counts(plan, {source: (42, ""), "other": (1, "")})
    [d207] = [c for c in counted.changes if c.code == "D207"]
    assert "copies 42 items from" in d207.statement
    in_steps = [c for s in counted.steps for c in s.changes if c.code == "D207"]
    assert in_steps and all(c == d207 for c in in_steps)
    assert [c for c in counted.changes if c.code != "D207"] == [c for c in plan.changes if c.code != "D207"]
    assert with_item_counts(plan, {}) is plan
    assert with_item_counts(plan, {"other": (1, "")}).changes == plan.changes
    nothing_deployed = plan_changes(None, plan.head)
    assert with_item_counts(nothing_deployed, {source: (42, "")}) is nothing_deployed
    assert "at least 3 items" in next(c for c in with_item_counts(plan, {source: (3, "at least")}).changes
                                      if c.code == "D207").statement


def test_a_migration_beside_another_tables_staged_indexes_comes_last_numbered_after_them():
    # Two new indexes on orders take two steps; the users migration is step 3, not 4: the applying flow
    # and a saved plan number steps consecutively (a gap would be a step that never runs, or is skipped).
    orders = ("  orders:\n    sort_key: order_id\n    attributes:\n      order_id: string\n      status: string\n"
              "      total: number\n")
    base = project(BASE + orders).require_valid().resolve("dev")
    head = project(HEAD + orders + "    global_indexes:\n      by_status: {partition_key: status, tenant_scoped: false}\n"
                   "      by_total: {partition_key: total, tenant_scoped: false}\n").require_valid().resolve("dev")
    plan = plan_changes(base, head)
    assert [(s.number, s.kind) for s in plan.steps][-1] == (3, "migrate")
    assert [s.number for s in plan.steps] == [1, 2, 3]
    assert [c.code for c in plan.steps[-1].changes] == ["D207"]


def test_item_counts_change_only_the_migration_not_the_other_changes_beside_it():
    # Beside the bump: a new table and a change on the migrating table itself; the counts read for the
    # source must not turn them into migrations (nor fail on a table that is not deployed yet).
    head = _plan(HEAD.replace("    attributes:\n", "    description: Users of a tenant.\n    attributes:\n", 1)
                 + "  orders:\n    sort_key: order_id\n    attributes:\n      order_id: string\n")
    source = head.base.tables["users"].physical_name
    counted = with_item_counts(head, {source: (42, "")})
    assert sorted(c.code for c in head.changes) == ["D207", "D401", "D406"]
    assert [c for c in counted.changes if c.code != "D207"] == [c for c in head.changes if c.code != "D207"]
    assert [c.code for c in counted.changes].count("D207") == 1
