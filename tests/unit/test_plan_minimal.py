"""The planner does what the staging rules require and nothing more (issue 21).

tests/unit/test_plan.py checks that each step is legal and that the steps reach the head. These check
minimality against counts computed here from the two schemas, not from the planner's own helpers:
no step that changes nothing, TTL touched only when it changes, exactly the number of steps the
rules require (one index operation per table per step, two steps for a TTL rename), each change
carried by the steps that do it, and every change that is not staged riding in step 1.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given

from jobwork_infra.changes import Severity
from jobwork_infra.diff import replaces_table
from jobwork_infra.plan import TTL_WAIT, is_legal_step, plan_changes
from tests.unit.test_plan import ATTRIBUTES, FAST, G, _pair, applied, resolved, tables


def _definitions(table) -> dict:
    return {i.name: (i.partition_key, i.sort_key, i.projection) for i in table.global_indexes}


def _index_operations(old, new) -> int:
    """Creations plus deletions: a new or removed index is one, a redefined index two (delete, create)."""
    before, after = _definitions(old), _definitions(new)
    return (sum(1 for n in after if n not in before) + sum(1 for n in before if n not in after)
            + 2 * sum(1 for n in after if n in before and after[n] != before[n]))


def required_steps(base, head) -> int:
    count = 1
    for key, new in head.tables.items():
        old = base.tables.get(key) if base is not None else None
        if old is None or replaces_table(old, new):
            continue  # created whole: any number of indexes come with it
        ttl_moves = old.ttl is not None and new.ttl is not None and old.ttl != new.ttl
        count = max(count, _index_operations(old, new), 2 if ttl_moves else 1)
    return count


def _index_names(schema, key) -> set[str]:
    table = schema.tables.get(key) if schema is not None else None
    return {i.name for i in table.global_indexes} if table is not None else set()


def _staged_keys(base, head) -> set[str]:
    """Kept tables whose own changes need more than one step."""
    return {key for key, new in head.tables.items()
            if key in base.tables and not replaces_table(base.tables[key], new)
            and required_steps(base, head.model_copy(update={"tables": {key: new}})) > 1}


@FAST
@given(tables, tables)
def test_plans_are_minimal(a, b):
    """One generated pair, every minimality property (one resolve per example keeps this fast)."""
    base, head = resolved(a), resolved(b)
    plan = plan_changes(base, head)
    check_step_count(base, head, plan)
    check_no_empty_step(plan)
    check_ttl_touched_only_where_it_changes(base, head, plan)
    check_changes_ride_in_the_steps_that_do_them(base, head, plan)
    check_in_place_changes_are_in_step_1(base, head, plan)


def check_step_count(base, head, plan) -> None:
    assert len(plan.steps) == (required_steps(base, head) if plan.changes else 0)


def check_no_empty_step(plan) -> None:
    for number, (before, after) in enumerate(pairwise(applied(plan)), start=1):
        assert before != after, f"step {number} changes nothing"
        assert plan.steps[number - 1].changes, f"step {number} carries no change"


def check_ttl_touched_only_where_it_changes(base, head, plan) -> None:
    for key, new in head.tables.items():
        old = base.tables.get(key)
        if old is None or replaces_table(old, new):
            continue
        ttls = [step.target.tables[key].ttl for step in plan.steps]
        if old.ttl == new.ttl:
            assert set(ttls) <= {old.ttl}, f"{key}: TTL {old.ttl} is unchanged but the steps set {ttls}"
        elif old.ttl and new.ttl:
            assert ttls[:2] == [None, new.ttl], f"{key}: a TTL rename is disable, then enable"
        else:
            assert set(ttls) == {new.ttl}, f"{key}: enabling or disabling TTL is one change in step 1"


def check_changes_ride_in_the_steps_that_do_them(base, head, plan) -> None:
    """An index change sits in the step where its index appears or disappears; the rest in step 1."""
    states = applied(plan)
    staged = _staged_keys(base, head)
    for number, step in enumerate(plan.steps, start=1):
        before, after = states[number - 1], states[number]
        for change in step.changes:
            key = change.table
            gone = _index_names(before, key) - _index_names(after, key)
            came = _index_names(after, key) - _index_names(before, key)
            if key not in staged:
                assert number == 1, f"{change.kind} on {key} (not staged) is in step {number}"
            elif change.kind == "gsi_added":
                assert came == {change.index} and not gone
            elif change.kind == "gsi_removed":
                assert gone == {change.index} and not came
            elif change.kind == "gsi_renamed":
                assert (gone, came) in (({change.before}, set()), (set(), {change.after}))
            elif change.kind in ("gsi_key_changed", "gsi_projection_changed"):
                assert {change.index} in (gone, came)
            elif change.kind == "ttl_renamed":
                assert before.tables[key].ttl != after.tables[key].ttl
            elif change.kind == "gsi_updates_staged":
                assert gone or came, f"D205 on {key} rides in step {number}, where no index of {key} changes"
            else:
                assert number == 1, f"{change.kind} on {key} rides in step {number}, not step 1"
        # And the other way round: a step that adds or drops an index carries the change about it.
        for key in staged:
            moved = _index_names(before, key) ^ _index_names(after, key)
            said = {n for c in step.changes if c.table == key for n in (c.index, c.before, c.after)
                    if isinstance(n, str)}
            assert moved <= said, f"step {number} adds or drops {moved} on {key} without its change"


def check_in_place_changes_are_in_step_1(base, head, plan) -> None:
    """Everything but index creations/deletions and a TTL rename is in the first step's target."""
    if not plan.steps:
        return
    first = plan.steps[0].target
    for key, new in head.tables.items():
        staged = first.tables[key]
        old = base.tables.get(key)
        assert staged.model_dump(exclude={"global_indexes", "ttl"}) == new.model_dump(
            exclude={"global_indexes", "ttl"})
        if old is not None and not replaces_table(old, new):
            kept = {n for n, d in _definitions(new).items() if _definitions(old).get(n) == d}
            for index in staged.global_indexes:
                if index.name in kept:
                    assert index == new.global_index(index.name), f"{key}: index {index.name} lags behind"


# -- the survivors issue 21 names, as examples ---------------------------------------------------

def test_an_unchanged_ttl_with_an_index_change_is_one_step_that_keeps_ttl():
    base, head = _pair({}, {"g": G}, base_ttl="t1", head_ttl="t1")
    plan = plan_changes(base, head)
    assert [(s.number, s.summary) for s in plan.steps] == [(1, "apply 1 change in one update: t: create index g")]
    assert plan.steps[0].target.tables["t"].ttl == "t1"


def test_an_unchanged_ttl_beside_staged_indexes_stays_enabled_in_every_step():
    base, head = _pair({}, {"g1": G, "g2": G}, base_ttl="t1", head_ttl="t1")
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == ["t: create index g1", "t: create index g2"]
    assert [s.target.tables["t"].ttl for s in plan.steps] == ["t1", "t1"]
    assert is_legal_step(base, head.model_copy(update={"tables": {"t": plan.steps[0].target.tables["t"]}}))


def test_disabling_ttl_is_one_step_not_a_rename():
    base, head = _pair({}, {}, base_ttl="t1")
    plan = plan_changes(base, head)
    assert [(s.summary, s.target.tables["t"].ttl) for s in plan.steps] == [
        ("apply 1 change in one update: t: disable TTL on t1", None)]
    assert is_legal_step(base, head)
    enable = plan_changes(head, base)
    assert [(s.summary, s.target.tables["t"].ttl) for s in enable.steps] == [
        ("apply 1 change in one update: t: enable TTL on t1", "t1")]
    assert is_legal_step(head, base)


def test_a_ttl_rename_beside_staged_indexes_disables_in_step_1_enables_in_step_2():
    base, head = _pair({}, {"g1": G, "g2": G, "g3": G}, base_ttl="t1", head_ttl="t2")
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == [
        "t: create index g1, disable TTL on t1",
        f"t: create index g2, enable TTL on t2 ({TTL_WAIT}; items carrying only t1 do not expire)",
        "t: create index g3"]
    assert [s.target.tables["t"].ttl for s in plan.steps] == [None, "t2", "t2"]
    [ttl] = [c for c in plan.changes if c.kind == "ttl_renamed"]
    assert [ttl in s.changes for s in plan.steps] == [True, True, False]


def test_a_ttl_rename_alone_is_two_steps_each_carrying_the_rename():
    base, head = _pair({"g": G}, {"g": G}, base_ttl="t1", head_ttl="t2")
    plan = plan_changes(base, head)
    assert [[c.kind for c in s.changes] for s in plan.steps] == [["ttl_renamed"], ["ttl_renamed"]]
    assert not is_legal_step(base, head)
    assert is_legal_step(base, plan.steps[0].target) and is_legal_step(plan.steps[0].target, head)


def test_index_changes_sit_in_the_step_that_makes_them():
    base, head = _pair({"g1": G, "g2": G, "old": {**G, "partition_key": "k3"}},
                       {"g1": {**G, "partition_key": "k2"}, "g2": {**G, "projection": "keys_only"},
                        "new": {**G, "partition_key": "k3"}, "g4": G})
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == [
        "t: delete index g1", "t: delete index g2", "t: delete index old",
        "t: create index g1", "t: create index g2", "t: create index new", "t: create index g4"]
    where = {c.kind + ":" + (c.index or ""): [n for n, s in enumerate(plan.steps, 1) if c in s.changes]
             for c in plan.changes}
    assert where == {
        "gsi_key_changed:g1": [1, 4], "gsi_projection_changed:g2": [2, 5], "gsi_renamed:new": [3, 6],
        "gsi_added:g4": [7], "gsi_updates_staged:": [1, 2, 3, 4, 5, 6, 7]}


def test_a_rename_or_a_rebuild_in_step_1_is_not_counted_as_another_change():
    renamed = _pair({"a": {**G, "partition_key": "k3"}}, {"b": {**G, "partition_key": "k3"}, "c": G})
    rebuilt = _pair({"g": G}, {"g": {**G, "projection": "keys_only"}, "h": G})
    for (base, head), first in ((renamed, "t: delete index a"), (rebuilt, "t: delete index g")):
        plan = plan_changes(base, head)
        assert plan.steps[0].summary == first
        assert len(plan.steps) == 3


def test_the_staging_change_rides_only_in_its_own_tables_steps():
    base = resolved({"t": {"attributes": ATTRIBUTES}, "u": {"attributes": ATTRIBUTES}})
    head = resolved({"t": {"attributes": ATTRIBUTES, "global_indexes": {"g1": G, "g2": G}},
                     "u": {"attributes": ATTRIBUTES, "global_indexes": {"g1": G, "g2": G, "g3": G}}})
    plan = plan_changes(base, head)
    staging = {c.table: [n for n, s in enumerate(plan.steps, 1) if c in s.changes]
               for c in plan.changes if c.kind == "gsi_updates_staged"}
    assert staging == {"t": [1, 2], "u": [1, 2, 3]}
    assert [s.summary for s in plan.steps] == [
        "t: create index g1; u: create index g1", "t: create index g2; u: create index g2", "u: create index g3"]


def test_removed_indexes_go_first_one_per_step():
    base, head = _pair({"g1": G, "g2": {**G, "partition_key": "k2"}}, {"g3": {**G, "partition_key": "k3"}})
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == [
        "t: delete index g1", "t: delete index g2", "t: create index g3"]
    where = {c.kind + ":" + (c.index or ""): [n for n, s in enumerate(plan.steps, 1) if c in s.changes]
             for c in plan.changes}
    assert where == {"gsi_removed:g1": [1], "gsi_removed:g2": [2], "gsi_added:g3": [3],
                     "gsi_updates_staged:": [1, 2, 3]}


def test_a_replaced_table_is_created_whole_in_one_step():
    base = resolved({"t": {"attributes": ATTRIBUTES}})
    head = resolved({"t": {"attributes": ATTRIBUTES, "sort_key": "k2",
                           "global_indexes": {"g1": G, "g2": G, "g3": G}, "ttl": "t1"}})
    plan = plan_changes(base, head)
    assert plan.severity is Severity.DESTRUCTIVE
    assert [(s.number, s.summary) for s in plan.steps] == [(1, (
        f"apply {len(plan.changes)} changes in one update: "
        "t: D105 sort key, create index g1, create index g2, create index g3, enable TTL on t1"))]
    assert plan.steps[0].target == head
    assert is_legal_step(base, head)


def test_other_changes_are_named_in_step_1_and_staged_tables_beside_plain_ones():
    base = resolved({"t": {"attributes": ATTRIBUTES}, "u": {"attributes": ATTRIBUTES}})
    head = resolved({"t": {"attributes": ATTRIBUTES, "global_indexes": {"g1": G, "g2": G},
                           "point_in_time_recovery": True, "table_class": "infrequent_access"},
                     "u": {"attributes": ATTRIBUTES, "global_indexes": {"g1": G}}})
    plan = plan_changes(base, head)
    # Issue 23: a step names every change it applies ("apply 3 other changes" hid u's new index).
    assert [s.summary for s in plan.steps] == [
        "t: D307 table class, D402 point-in-time recovery, create index g1; u: create index g1", "t: create index g2"]
    assert [len(s.target.tables["u"].global_indexes) for s in plan.steps] == [1, 1]
    assert [len(s.target.tables["t"].global_indexes) for s in plan.steps] == [1, 2]
    assert plan.steps[0].target.tables["t"].point_in_time_recovery is True


def test_one_other_change_is_named_beside_the_first_staged_index():
    base, head = _pair({}, {"g1": G, "g2": G})
    head = head.model_copy(update={"tables": {"t": head.tables["t"].model_copy(
        update={"point_in_time_recovery": True})}})
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == ["t: D402 point-in-time recovery, create index g1", "t: create index g2"]


def test_is_legal_step_allows_one_index_operation_and_refuses_a_ttl_move_on_kept_tables_only():
    one, two = _pair({}, {"g1": G})[1], _pair({}, {"g1": G, "g2": G})[1]
    none = _pair({}, {})[0]
    assert is_legal_step(none, one) and is_legal_step(one, two) and not is_legal_step(none, two)
    # A replaced table (another sort key) is created whole: any number of indexes, any TTL.
    replaced = resolved({"t": {"attributes": ATTRIBUTES, "sort_key": "k2", "ttl": "t2",
                               "global_indexes": {"g1": G, "g2": G}}})
    assert is_legal_step(_pair({}, {}, base_ttl="t1")[0], replaced)
    base, head = _pair({}, {}, base_ttl="t1", head_ttl="t2")
    assert not is_legal_step(base, head)
    assert is_legal_step(base, base) and is_legal_step(head, head)


def test_an_environment_change_is_named_in_its_step_as_the_environment():
    # A region move has no table: the step the reviewer reads (dry run, saved plan, PR report) still names it.
    from tests.unit.test_migrate_schema import BASE, project
    base = project(BASE).require_valid().resolve("dev")
    moved = project(BASE.replace("  dev: {}\n", "  dev: {region: eu-west-1}\n")).require_valid().resolve("dev")
    [step] = plan_changes(base, moved).steps
    assert step.summary == "apply 1 change in one update: environment: D314 environment"
