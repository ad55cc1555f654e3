"""scripts/mutate.py makes the mutants issue 21 names, and its equivalent-mutant list is not stale."""

from __future__ import annotations

import ast
import importlib.util
import sys

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts" / "mutate.py")
mutate = importlib.util.module_from_spec(spec)
sys.modules["mutate"] = mutate  # its dataclasses look their module up
spec.loader.exec_module(mutate)


def listed(key: str) -> set[tuple[str, str, str]]:
    _, mutants = mutate.mutants_of(mutate.MODULES[key], key)
    return {(m.function, m.original, m.mutated) for m in mutants}


def test_the_refusal_calls_and_raises_of_the_gate_are_dropped_one_at_a_time():
    gate = listed("gate")
    for refusal in ("refuse_name_taken(plan)", "refuse_renamed(plan, allow_destructive)",
                    "refuse_destructive(plan, allow_destructive, rerun)"):
        assert ("gate_plan", refusal, "pass") in gate
    assert ("approve_all", "len(plans) == 1 or yes", "len(plans) == 1") in gate
    raises = [m for m in gate if m[0] == "refuse_destructive" and m[2] == "pass"]
    assert [m[1].split("(")[0] for m in raises] == ["raise Refused"]
    assert ("_replacement_advice", "plan.base.tables[key].removal_policy == 'retain'",
            "plan.base.tables[key].removal_policy != 'retain'") in gate


def test_the_planner_mutants_the_issue_names_are_made():
    plan = listed("plan")
    assert ("is_legal_step", "old.ttl and new.ttl and (old.ttl != new.ttl)", "old.ttl and new.ttl") in plan
    assert ("_StagedTable.__init__", "bool(old.ttl and new.ttl and (old.ttl != new.ttl))",
            "bool(old.ttl and old.ttl != new.ttl)") in plan
    assert ("_staged_tables", "old is not None and (not replaces_table(old, new))", "old is not None") in plan
    assert ("_steps_of", "{1, 2}", "{2}") in plan


def test_severities_are_downgraded_in_kinds_and_a_rules_yield_is_dropped():
    _, diff = mutate.mutants_of(mutate.MODULES["diff"], "diff")
    assert sum(m.operator == "severity-down" for m in diff) >= 30
    assert ("merge_changes", "KINDS[change.kind].family or change.kind", "KINDS[change.kind].family") in {
        (m.function, m.original, m.mutated) for m in diff}
    _, keys = mutate.mutants_of(mutate.MODULES["rules.keys"], "rules.keys")
    assert {m.operator for m in keys} >= {"drop-yield", "flip-comparison", "drop-operand", "and/or"}


def test_a_mutant_compiles_to_code_that_differs_from_the_module():
    target = mutate.MODULES["plan"]
    _, mutants = mutate.mutants_of(target, "plan")
    original = ast.unparse(ast.parse((ROOT / target.path).read_text()))
    tree, _ = mutate.mutated_tree(target, mutants[0])
    assert ast.unparse(tree) != original
    compile(tree, "plan.py", "exec")


@pytest.mark.parametrize("key", sorted({k for k, *_ in mutate.EQUIVALENT}))
def test_every_equivalent_mutant_is_still_a_mutant_of_the_code(key):
    """An entry whose code changed is stale: it would hide nothing, or the wrong thing."""
    _, mutants = mutate.mutants_of(mutate.MODULES[key], key)
    made = {(key, m.function, m.original, m.mutated) for m in mutants}
    stale = [entry for entry in mutate.EQUIVALENT if entry[0] == key and entry not in made]
    assert stale == []


def test_the_saved_plan_checks_are_mutated_and_the_flow_runs_their_tests():
    saved = listed("saved_plan")
    assert ("SavedPlan.check_deployed", "state.serial != record.serial or deployed_fingerprint(state) != record.deployed",
            "deployed_fingerprint(state) != record.deployed") in saved
    assert [m[0] for m in saved if m[2] == "pass" and m[1].startswith("raise Refused")].count("SavedPlan.check_plan") == 2
    assert "tests/unit/test_saved_plan_mutation.py" in mutate.MODULES["flow.refusals"].tests


def test_a_registered_option_changes_severity_and_refused_flag_are_mutated_and_reach_diff_and_the_gate():
    options = listed("table_options")
    assert ("<module>", "'ONLINE'", "'SAFE'") in options    # e.g. D318, a warm throughput raised
    assert ("<module>", "True", "False") in options          # D319's refused=True (R031)
    assert not [m for m in options if m[0] == "<module>" and m[1].startswith(("'D", "'warm"))]  # codes, kinds: no
    # diff.KINDS is built from the registry at import, the gate imports REFUSED_KINDS by name: both re-bound.
    assert set(mutate.MODULES["table_options"].refresh) == {("jobwork_infra.diff", "KINDS"),
                                                             ("jobwork_infra.deploy.gate", "REFUSED_KINDS")}


def test_an_option_severity_mutant_reaches_diffs_kinds_and_the_gates_refused_kinds():
    import jobwork_infra.table_options as options
    from jobwork_infra import diff
    from jobwork_infra.deploy import gate

    target = mutate.MODULES["table_options"]
    _, mutants = mutate.mutants_of(target, "table_options")
    raised = next(m for m in mutants if m.function == "<module>" and m.line == _line_of("D318"))
    refused = next(m for m in mutants if m.function == "<module>" and m.mutated == "False")
    original = ast.parse((ROOT / target.path).read_text())
    def put(mutant) -> None:
        tree, start = mutate.mutated_tree(target, mutant)
        try:
            mutate._rebind(options, tree, start)
            mutate._refresh(options, target.refresh)
            check(mutant)
        finally:
            # From the mutant's statement on, as the child does: re-running the whole module would make
            # new sentinels (NOT_REPORTED) that the modules which imported the old ones never see.
            mutate._rebind(options, original, start)
            mutate._refresh(options, target.refresh)

    def check(mutant) -> None:
        if mutant is raised:
            assert diff.KINDS["warm_throughput_raised"].severity.name == "SAFE"
        else:
            assert "warm_throughput_lowered" not in gate.REFUSED_KINDS

    not_reported = options.NOT_REPORTED
    put(raised)   # each mutant on its own (one child each)
    put(refused)
    assert options.NOT_REPORTED is not_reported
    assert diff.KINDS["warm_throughput_raised"].severity.name == "ONLINE"
    assert "warm_throughput_lowered" in gate.REFUSED_KINDS


def _line_of(code: str) -> int:
    """The line of the severity argument of table_options' OptionChange `code`."""
    lines = (ROOT / "jobwork_infra" / "table_options.py").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if f'OptionChange("{code}"' in line)
    return next(i + 1 for i in range(start, start + 3) if '"ONLINE"' in lines[i])
