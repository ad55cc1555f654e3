"""`generation:` in the schema, diff and plan (issue 17): names, rules, the D207 migration, G101."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jobwork_infra.changes import Severity
from jobwork_infra.cli import app
from jobwork_infra.diff import diff_environments
from jobwork_infra.model import resolve
from jobwork_infra.plan import plan_changes
from jobwork_infra.project import check_project
from tests.helpers import schema_text

runner = CliRunner()

BASE = schema_text(environments={"dev": {}, "prod": {}})
# The user's story: sort key user_id → email, generation 1 → 2.
HEAD = BASE.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n")


def project(text: str):
    return check_project("tables.yaml", text=text)


def codes(diagnostics) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.col) for d in diagnostics]


def test_generation_defaults_to_1_and_names_generation_n_with_a_suffix():
    base, head = project(BASE).require_valid(), project(HEAD).require_valid()
    assert base.resolve("dev").tables["users"].physical_name == "shop-dev-users"
    assert base.resolve("dev").tables["users"].generation == 1
    assert head.resolve("dev").tables["users"].physical_name == "shop-dev-users-g2"
    named = HEAD.replace("    generation: 2\n", "    generation: 3\n    table_name: users\n")
    assert project(named).require_valid().resolve("prod").tables["users"].physical_name == "users-g3"


def test_the_generation_placeholder_places_n_in_every_generation():
    text = HEAD.replace("tables:\n", "naming: {table: '{app}-{env}-{table}-v{generation}'}\ntables:\n", 1)
    text = text.replace("      email: string\n", "      email: string\n  tenant: {}\n")
    resolved = project(text).require_valid().resolve("dev")
    assert resolved.tables["users"].physical_name == "shop-dev-users-v2"
    assert resolved.tables["tenant"].physical_name == "shop-dev-tenant-v1"


def test_a_first_generation_leaves_the_schema_hash_as_it_was():
    """Tables that never migrate keep the hash stamped in deployed templates (no spurious update)."""
    resolved = resolve(project(BASE).require_valid().schema, "dev")
    assert "generation" not in resolved.tables["users"].model_dump()
    assert resolve(project(HEAD).require_valid().schema, "dev").tables["users"].model_dump()["generation"] == 2


@pytest.mark.parametrize("value, message", [
    ("0", "Input should be greater than or equal to 1"),
    ("true", "Input should be a valid integer"),
    ("'2'", "Input should be a valid integer"),
    ("2.0", "Input should be a valid integer"),
])
def test_a_generation_is_a_whole_number_from_1_located_where_written(value, message):
    found = project(HEAD.replace("generation: 2", f"generation: {value}"))
    [d] = found.diagnostics
    assert (d.code, d.location.line, d.location.col) == ("M002", 8, 17)
    assert d.message == message


def test_a_key_change_without_a_bump_stays_destructive_and_says_to_bump():
    head = project(BASE.replace("sort_key: user_id", "sort_key: email")).require_valid().schema
    [change] = [c for c in diff_environments(project(BASE).schema, head, "dev") if c.code != "D407"]
    assert (change.code, change.severity) == ("D105", Severity.DESTRUCTIVE)
    assert change.advice.startswith("bump `generation` on the table to keep the data")


def test_a_bump_with_a_key_change_is_one_migration_not_a_replacement():
    changes = diff_environments(project(BASE).schema, project(HEAD).schema, "dev")
    [migration] = [c for c in changes if c.code != "D407"]
    assert (migration.code, migration.kind, migration.severity) == ("D207", "table_migrated", Severity.MULTI_STEP)
    assert (migration.before, migration.after) == (1, 2)
    assert migration.statement == (
        "table users moves from generation 1 (shop-dev-users) to generation 2 (shop-dev-users-g2): sort key "
        "user_id (S) → email (S); deploy creates shop-dev-users-g2, copies an unknown number of items (deploy "
        "counts them) from shop-dev-users under its key tenant_id (S) + email (S), replays the writes made "
        "meanwhile from shop-dev-users's stream, and verifies both item for item; shop-dev-users stays, "
        "replicated, until `jobwork-infra migrate finish`")
    assert "the application must move to shop-dev-users-g2" in migration.advice
    assert "--skip-unkeyed" in migration.advice


def test_a_bump_without_a_key_change_is_a_rebuild_and_a_local_index_rides_along():
    rebuild = BASE.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: user_id\n")
    [change] = diff_environments(project(BASE).schema, project(rebuild).schema, "dev")
    assert change.code == "D207" and "a rebuild with the same key and local indexes" in change.statement
    lsi = rebuild + "    local_indexes:\n      by_email: {sort_key: email}\n"
    [change] = diff_environments(project(BASE).schema, project(lsi).schema, "dev")
    assert change.code == "D207" and ": local index by_email added;" in change.statement


def test_the_plan_carries_a_migrate_step_as_data():
    base, head = resolve(project(BASE).schema, "dev"), resolve(project(HEAD).schema, "dev")
    plan = plan_changes(base, head)
    assert [(s.number, s.kind) for s in plan.steps] == [(1, "update"), (2, "migrate")]
    [migration] = plan.steps[1].migrations
    assert (migration.source, migration.target, migration.from_generation, migration.to_generation) == (
        "shop-dev-users", "shop-dev-users-g2", 1, 2)
    assert (migration.partition_key.name, migration.sort_key.name, migration.sort_key.type) == (
        "tenant_id", "email", "S")
    assert plan.steps[1].target == head
    # Before it, generation 1 stays the table, with the stream the catch-up replays turned on.
    assert plan.steps[0].target.tables["users"] == base.tables["users"].model_copy(
        update={"stream": "new_and_old_images"})
    assert plan_changes(base, base).steps == ()


def test_diff_exits_0_below_destructive_and_prints_the_migration(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "head.yaml").write_text(HEAD)
    result = runner.invoke(app, ["diff", "--schema", str(tmp_path / "head.yaml"), "--base", str(tmp_path / "base.yaml"),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    [migration] = [c for c in json.loads(result.stdout)["changes"] if c["code"] == "D207"]
    assert (migration["severity"], migration["before"], migration["after"]) == ("multi-step", 1, 2)
    blocked = runner.invoke(app, ["diff", "--schema", str(tmp_path / "head.yaml"), "--base",
                                  str(tmp_path / "base.yaml"), "--fail-on", "multi-step"])
    assert blocked.exit_code == 3


def test_a_generation_going_down_is_a_located_error(tmp_path):
    (tmp_path / "base.yaml").write_text(HEAD.replace("generation: 2", "generation: 3"))
    (tmp_path / "head.yaml").write_text(HEAD)
    result = runner.invoke(app, ["diff", "--schema", str(tmp_path / "head.yaml"), "--base", str(tmp_path / "base.yaml")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'head.yaml'}:8:17: error G101: table 'users' goes from generation 3 down to 2: a " \
           "generation only goes up" in result.output
    assert "set generation: 3 again" in result.output
    assert "Traceback" not in result.output
    # Not written at all is generation 1: located at the table's key.
    (tmp_path / "head.yaml").write_text(BASE)
    result = runner.invoke(app, ["diff", "--schema", str(tmp_path / "head.yaml"), "--base", str(tmp_path / "base.yaml")])
    assert result.exit_code == 1 and f"{tmp_path / 'head.yaml'}:7:3: error G101" in result.output


def test_a_deployed_table_read_back_without_its_generation_is_not_migrated_again():
    """Live engines and templates do not store `generation`: the same physical name is the same table."""
    head = resolve(project(HEAD).schema, "dev")
    read_back = head.model_copy(update={"tables": {"users": head.tables["users"].model_copy(update={"generation": 1})}})
    assert plan_changes(read_back, head).changes == ()


def test_the_stream_turned_on_for_the_catch_up_is_not_reported_as_a_change_to_generation_n():
    base, head = resolve(project(BASE).schema, "dev"), resolve(project(HEAD).schema, "dev")
    streaming = base.model_copy(update={"tables": {"users": base.tables["users"].model_copy(
        update={"stream": "new_and_old_images"})}})
    assert [c.code for c in plan_changes(streaming, head).changes] == ["D207"]
