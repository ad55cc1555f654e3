"""Every rule against its fixtures: bad ones must give exactly the expected codes at the expected places."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobwork_infra.docs import rules_reference
from jobwork_infra.errors import Severity
from jobwork_infra.model import parse_schema, resolve
from jobwork_infra.project import check_project
from jobwork_infra.rules import REGISTRY
from tests.conftest import FIXTURES, ROOT

BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
EXPECT = re.compile(r"([A-Z]\d{3}) (\d+):(\d+)")
# Codes only a file system can produce; tests/unit/test_load.py makes those files at test time.
# G101 compares two schema versions: tests/unit/test_migrate_schema.py covers it through `diff`.
GENERATED_ONLY = {"Y001", "Y002", "Y003", "G101"}


def expected(path: Path) -> set[tuple[str, int, int]]:
    header = path.read_bytes().split(b"\n", 1)[0].decode()
    assert header.startswith("# expect:"), f"{path.name}: the first line must be '# expect: CODE LINE:COL, …'"
    return {(code, int(line), int(col)) for code, line, col in EXPECT.findall(header)}


def found(path: Path) -> set[tuple[str, int, int]]:
    project = check_project(path)
    return {(d.code, d.location.line, d.location.col) for d in project.diagnostics}


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_is_located(path):
    want = expected(path)
    assert want, "a bad fixture expects at least one finding"
    assert found(path) == want
    project = check_project(path)
    # A fixture of warnings and notes only (I108, B008) passes, but fails under --strict.
    assert project.ok is all(not d.is_error for d in project.diagnostics)
    # The file name starts with the code it is about.
    assert path.stem.split("_")[0].upper() in {code for code, *_ in want}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_passes(path):
    project = check_project(path)
    assert project.ok
    assert found(path) == expected(path)


def test_the_project_schema_is_valid_with_one_acknowledged_t002_note(project_schema):
    project = check_project(project_schema)
    assert project.ok
    [note] = project.diagnostics
    assert (note.code, note.severity) == ("T002", Severity.NOTE)
    assert note.path == ("tables", "users", "global_indexes", "by_cognito_sub", "tenant_scoped")
    assert note.message.endswith("(acknowledged: login looks the user up before the tenant is known; "
                                 "granted to the auth service only)")


def test_an_acknowledgement_covers_only_its_code_at_its_place(tmp_path):
    """The same code on another index of the same table stays a warning; the acknowledged one is a note."""
    text = (FIXTURES / "good" / "acknowledged.yaml").read_text() + (
        "      by_name:\n"
        "        partition_key: user_id\n"
        "        tenant_scoped: false\n")
    project = check_project("two.yaml", text=text)
    by_place = {d.path[3]: d.severity for d in project.diagnostics}
    assert by_place == {"by_email": Severity.NOTE, "by_name": Severity.WARNING}


def test_an_acknowledgement_needs_a_reason():
    text = (FIXTURES / "good" / "acknowledged.yaml").read_text().replace(
        '"login lookup before the tenant is known"', '""')
    [d] = check_project("empty.yaml", text=text).diagnostics
    assert (d.code, d.location.line) == ("M002", 14)


def test_every_code_has_a_bad_fixture():
    covered = {code for path in BAD for code, *_ in expected(path)}
    assert set(REGISTRY) - GENERATED_ONLY - covered == set()
    assert covered <= set(REGISTRY)


def test_rules_have_metadata():
    for code, rule in REGISTRY.items():
        assert re.fullmatch(r"[A-Z]\d{3}", code)
        assert rule.summary and "\n" not in rule.summary
        assert Severity(rule.severity) in (Severity.ERROR, Severity.WARNING)


def test_rules_reference_is_in_sync():
    committed = (ROOT / "docs" / "rules.md").read_text()
    assert committed == rules_reference(), "regenerate it: python -m jobwork_infra.docs"
    for code in REGISTRY:
        assert f"| {code} |" in committed


# -- behaviour the fixtures do not pin -------------------------------------------------------------

def _check(text: str):
    return check_project("inline.yaml", text=text)


HEAD = "version: 1\napp: demo\nenvironments:\n  dev: {}\n  prod: {billing: provisioned%s}\n"
ENV_CAPACITY = ", capacity: {read: 1, write: 1}"


def test_capacity_is_checked_per_environment():
    # Provisioned only in prod, where the environment gives capacity: valid in both.
    assert _check(HEAD % ENV_CAPACITY + "tables:\n  orders: {}\n").ok
    # A table's own capacity applies in prod even though dev is on demand.
    assert _check(HEAD % "" + "tables:\n  orders: {capacity: {read: 2, write: 2}}\n").ok
    # Provisioned in prod without capacity anywhere: only prod is named.
    [d] = _check(HEAD % "" + "tables:\n  orders: {}\n").diagnostics
    assert (d.code, d.message) == ("C102", "'orders' is provisioned in prod but has no capacity there")
    # The environment's capacity is unused when every table brings its own.
    [d] = _check(HEAD % ENV_CAPACITY + "tables:\n  orders: {capacity: {read: 2, write: 2}}\n").diagnostics
    assert d.code == "C103" and d.path == ("environments", "prod", "capacity")


def test_gsi_capacity_on_an_on_demand_table_is_an_error():
    text = ("version: 1\napp: demo\nenvironments: {dev: {}}\ntables:\n  orders:\n    attributes: {s: string}\n"
            "    global_indexes:\n      by_s: {partition_key: tenant_id, sort_key: s, capacity: {read: 1, write: 1}}\n")
    [d] = _check(text).diagnostics
    assert (d.code, d.location.line) == ("C103", 8)


def test_resolve_never_raises_on_a_model_valid_schema_with_rule_errors():
    # Rules run resolve for every environment; a schema full of rule errors must still resolve.
    for path in BAD:
        project = check_project(path)
        if project.schema is not None:
            for env in project.schema.environments:
                resolve(project.schema, env)


def test_tenancy_attribute_is_implied_as_a_string_key():
    project = _check("version: 1\napp: demo\nenvironments: {dev: {}}\ntables:\n  t: {sort_key: tenant_id2, "
                     "attributes: {tenant_id2: number}}\n")
    assert project.ok
    assert project.resolve("dev").tables["t"].partition_key.type == "S"


def test_a_table_that_is_not_tenant_scoped_may_have_any_partition_key():
    text = ("version: 1\napp: demo\nenvironments: {dev: {}}\ntables:\n  catalogue:\n    tenant_scoped: false\n"
            "    partition_key: sku\n    attributes: {sku: string, ean: string}\n"
            "    global_indexes: {by_ean: {partition_key: ean}}\n")
    assert _check(text).diagnostics == []


def test_access_pattern_through_a_local_index_is_served():
    text = ("version: 1\napp: demo\nenvironments: {dev: {}}\ntables:\n  t:\n    sort_key: id\n"
            "    attributes: {id: string, at: datetime}\n    local_indexes: {by_at: {sort_key: at}}\n"
            "    access_patterns: [{name: newest, index: by_at, key: [tenant_id, at]}]\n")
    assert _check(text).diagnostics == []


def test_model_errors_stop_before_rules():
    document_text = "version: 1\napp: demo\nenvironments: {dev: {}}\ntables: {t: {sort_key: x, wat: 1}}\n"
    project = _check(document_text)
    assert [d.code for d in project.diagnostics] == ["M001"]
    assert project.schema is None


def test_parse_schema_rejects_a_top_level_list():
    from jobwork_infra.load import load_document

    document, _ = load_document("x.yaml", text="- 1\n- 2\n")
    schema, [d] = parse_schema(document)
    assert schema is None and d.code == "M002" and (d.location.line, d.location.col) == (1, 1)


def test_generated_benchmark_schemas_are_valid():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    project = check_project("generated.yaml", text=module.make_schema(40))
    assert project.ok
    assert len(project.schema.tables) == 40
    # Only the cross-tenant by_owner indexes warn (every third table).
    assert {d.code for d in project.diagnostics} == {"T002"}
    assert len(project.diagnostics) == 14
