"""The planner's migrate step and the item counts deploy adds to it (issue 21, after issue 17 landed)."""

from __future__ import annotations

from jobwork_infra.plan import plan_changes, with_item_counts

from .test_migrate_schema import BASE, HEAD, project


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
