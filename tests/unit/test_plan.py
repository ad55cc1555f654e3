"""The planner: steps that each are one legal update and that, applied in order, reach the head."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobwork_infra.changes import Severity
from jobwork_infra.diff import diff_schemas
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.plan import is_legal_step, plan_changes

ATTRIBUTES = {"k1": "string", "k2": "number", "k3": "uuid", "t1": "epoch_seconds", "t2": "number"}

index = st.fixed_dictionaries(
    {"partition_key": st.sampled_from(["k1", "k2", "k3"]),
     "projection": st.sampled_from(["all", "keys_only", ["t1"]]),
     "tenant_scoped": st.just(False)},
    optional={"sort_key": st.sampled_from(["k1", "k2"])},
)
table = st.fixed_dictionaries(
    {"attributes": st.just(ATTRIBUTES),
     "global_indexes": st.dictionaries(st.sampled_from(["g1", "g2", "g3", "g4"]), index, max_size=4)},
    optional={
        "sort_key": st.sampled_from(["k1", "k2"]),
        "ttl": st.sampled_from(["t1", "t2"]),
        "stream": st.sampled_from(["keys_only", "new_image"]),
        "point_in_time_recovery": st.booleans(),
        "billing": st.just("on_demand"),
        "table_class": st.sampled_from(["standard", "infrequent_access"]),
        "local_indexes": st.just({"l1": {"sort_key": "k2"}}),
    },
)
tables = st.dictionaries(st.sampled_from(["a", "b", "c"]), table, max_size=3)


def resolved(tables_: dict):
    schema = SchemaFile.model_validate({"version": 1, "app": "prop", "environments": {"dev": {}},
                                        "tables": tables_})
    return resolve(schema, "dev")


def applied(plan):
    """The targets in order, starting from the base."""
    return [plan.base] + [step.target for step in plan.steps]


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tables)
def test_diff_of_a_schema_with_itself_is_empty(a):
    schema = resolved(a)
    assert diff_schemas(schema, schema) == []
    assert plan_changes(schema, schema).steps == ()


@FAST
@given(tables, tables)
def test_steps_are_legal_and_reach_the_head(a, b):
    base, head = resolved(a), resolved(b)
    plan = plan_changes(base, head)
    assert list(plan.changes) == diff_schemas(base, head)
    if not plan.changes:
        assert plan.steps == ()
        return
    assert plan.steps[-1].target == head
    assert [s.number for s in plan.steps] == list(range(1, len(plan.steps) + 1))
    states = applied(plan)
    for before, after in pairwise(states):
        assert is_legal_step(before, after)
    # every change is carried by some step
    assert {id(c) for s in plan.steps for c in s.changes} == {id(c) for c in plan.changes}


@FAST
@given(tables)
def test_nothing_deployed_is_one_step(b):
    head = resolved(b)
    plan = plan_changes(None, head)
    assert len(plan.steps) == (1 if head.tables else 0)


# -- examples -----------------------------------------------------------------------------------

def _pair(base_gsis: dict, head_gsis: dict, base_ttl=None, head_ttl=None):
    def one(gsis, ttl):
        return resolved({"t": {"attributes": ATTRIBUTES, "global_indexes": gsis, **({"ttl": ttl} if ttl else {})}})
    return one(base_gsis, base_ttl), one(head_gsis, head_ttl)


G = {"partition_key": "k1", "tenant_scoped": False}


def test_gsi_key_change_is_delete_then_create():
    base, head = _pair({"g": G}, {"g": {**G, "partition_key": "k2"}})
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == ["t: delete index g", "t: create index g"]
    assert plan.steps[0].target.tables["t"].global_indexes == ()
    assert plan.severity is Severity.MULTI_STEP


def test_several_new_gsis_are_one_per_step_with_other_changes_in_the_first():
    base, head = _pair({}, {"g1": G, "g2": G, "g3": G}, head_ttl="t1")
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == [
        "t: enable TTL on t1, create index g1", "t: create index g2", "t: create index g3"]
    assert plan.steps[0].target.tables["t"].ttl == "t1"
    assert [len(s.target.tables["t"].global_indexes) for s in plan.steps] == [1, 2, 3]


def test_ttl_rename_is_disable_then_enable_with_the_wait_said():
    base, head = _pair({}, {}, base_ttl="t1", head_ttl="t2")
    plan = plan_changes(base, head)
    assert [s.target.tables["t"].ttl for s in plan.steps] == [None, "t2"]
    assert plan.steps[0].summary == "t: disable TTL on t1"
    assert plan.steps[1].summary == ("t: enable TTL on t2 (AWS needs at least 1 h between disabling TTL "
                                     "and enabling it again: wait before this step; items carrying only t1 do not expire)")
    assert not is_legal_step(base, head)


def test_single_update_is_one_step():
    base, head = _pair({}, {"g": G})
    plan = plan_changes(base, head)
    assert [(s.number, s.summary) for s in plan.steps] == [(1, "apply 1 change in one update: t: create index g")]
    assert plan.steps[0].target == head


def test_destructive_changes_are_planned_too():
    base = resolved({"t": {"attributes": ATTRIBUTES}})
    head = resolved({"t": {"attributes": ATTRIBUTES, "sort_key": "k1"}})
    plan = plan_changes(base, head)
    assert plan.severity is Severity.DESTRUCTIVE
    assert len(plan.steps) == 1


def test_is_legal_step_counts_index_operations_per_table():
    base, head = _pair({}, {"g1": G, "g2": G})
    assert not is_legal_step(base, head)
    assert is_legal_step(None, head)
    two_tables = resolved({"x": {"attributes": ATTRIBUTES, "global_indexes": {"g": G}},
                           "y": {"attributes": ATTRIBUTES, "global_indexes": {"g": G}}})
    bare = resolved({"x": {"attributes": ATTRIBUTES}, "y": {"attributes": ATTRIBUTES}})
    assert is_legal_step(bare, two_tables)


def test_render_plan_text_prints_changes_then_numbered_steps():
    import io

    from rich.console import Console

    from jobwork_infra.report.changes import render_plan_text

    base, head = _pair({"g": G}, {"g": {**G, "partition_key": "k2"}})
    out = io.StringIO()
    render_plan_text(plan_changes(base, head), Console(file=out, width=300, color_system=None, soft_wrap=True))
    assert out.getvalue() == (
        "t\n"
        "  multi-step   D201  index g's key changes from k1 (S) to k2 (N): it is deleted, then created "
        "again and backfilled; queries on it fail in between\n"
        "               advice: add the new key as an index with a new name, move the readers, then remove the "
        "old index\n"
        "\n"
        "1 change: 1 multi-step\n"
        "\n"
        "Plan for prop-dev: 2 steps\n"
        "  1. t: delete index g\n"
        "  2. t: create index g\n"
    )


def test_render_plan_text_of_an_empty_plan():
    import io

    from rich.console import Console

    from jobwork_infra.report.changes import render_plan_text

    schema = resolved({"t": {"attributes": ATTRIBUTES}})
    out = io.StringIO()
    render_plan_text(plan_changes(schema, schema), Console(file=out, color_system=None))
    assert out.getvalue() == "No changes.\n"
