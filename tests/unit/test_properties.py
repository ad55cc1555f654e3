"""Random mutations of a valid schema never raise out of validate: every outcome is diagnostics."""

from __future__ import annotations

import copy
import io
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from jobwork_infra.project import check_project
from jobwork_infra.report import github, sarif
from jobwork_infra.report.text import render_diagnostics
from tests.conftest import FIXTURES

BASE_TEXT = (FIXTURES / "good" / "every_option.yaml").read_text()
BASE = yaml.safe_load(BASE_TEXT)

# Values that are plausible in tables.yaml, so mutations reach the rules and not only the model.
WORDS = ["tenant_id", "order_id", "status", "by_status", "string", "number", "list", "epoch_seconds",
         "provisioned", "on_demand", "include", "keys_only", "all", "customer_managed", "{table}", "{nope}",
         "", "x" * 300, "a b", "dev", "prod"]
scalars = st.one_of(st.sampled_from(WORDS), st.integers(-5, 50_000), st.booleans(), st.none(),
                    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WORDS), inner, max_size=3)), max_leaves=6)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def mutate(data, path, op, value, key):
    data = copy.deepcopy(data)
    if not path:
        return value if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent[last], dict):
        parent[last][key] = value
    elif op == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    return data


def run_validate(text: str) -> None:
    project = check_project("mutant.yaml", text=text)
    assert all(d.location is not None and d.location.line >= 1 for d in project.diagnostics)
    render_diagnostics(project.diagnostics, {"mutant.yaml": text}, Console(file=io.StringIO()))
    github.render(project.diagnostics)
    sarif.render(project.diagnostics)
    if project.ok:
        for env in project.environments:
            project.resolve(env)


ALL_PATHS = list(paths(BASE))
# Longer hunts: JOBWORK_PROPERTY_EXAMPLES=5000 pytest tests/unit/test_properties.py
EXAMPLES = int(os.environ.get("JOBWORK_PROPERTY_EXAMPLES", "100"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.sampled_from(["replace", "delete", "add"]), values,
                          st.sampled_from(WORDS)), min_size=1, max_size=3))
def test_mutated_schemas_never_raise(mutations):
    data = BASE
    for path, op, value, key in mutations:
        try:
            data = mutate(data, path, op, value, key)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the path
    run_validate(yaml.safe_dump(data, sort_keys=False))


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None)
@given(st.integers(0, len(BASE_TEXT) - 1), st.integers(0, 20), st.sampled_from(["", "\t", ":", "- ", "&a", "*a",
                                                                                  "{", "]", "!!python/name:os ", "'"]))
def test_text_edits_never_raise(at, cut, insert):
    run_validate(BASE_TEXT[:at] + insert + BASE_TEXT[at + cut:])
