"""The everyday CLI: --version, --debug anywhere, the schema found from a subdirectory, help, completion,
and the model errors a new user met first, each said in words with the fix."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import _debug_first, app, find_schema
from jobwork_infra.errors import JobworkError
from jobwork_infra.project import check_project
from tests.conftest import FIXTURES, ROOT

runner = CliRunner()
MINIMAL = (FIXTURES / "good" / "minimal.yaml").read_text()


def invoke(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


def test_version_prints_the_installed_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"jobwork-infra {importlib.metadata.version('jobwork-infra')}\n"


@pytest.mark.parametrize("args", [
    ["--debug", "diff", "--env", "nope"],
    ["diff", "--debug", "--env", "nope"],
    ["diff", "--env", "nope", "--debug"],
])
def test_debug_anywhere_on_the_line_raises_the_real_exception(args, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("JOBWORK_SCHEMA", raising=False)
    result = invoke(*args)
    assert isinstance(result.exception, JobworkError)
    assert result.exception.message == "unknown environment 'nope'"


def test_without_debug_the_same_failure_is_a_message(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("JOBWORK_SCHEMA", raising=False)
    result = invoke("diff", "--env", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: unknown environment 'nope'\n  hint: the schema defines: dev, prod\n"


def test_debug_after_a_double_dash_is_left_alone():
    assert _debug_first(["diff", "--", "--debug"]) == ["diff", "--", "--debug"]
    assert _debug_first(["diff", "-s", "x", "--debug"]) == ["--debug", "diff", "-s", "x"]


def test_validate_works_from_the_schema_directory(monkeypatch):
    monkeypatch.chdir(ROOT / "schema")
    monkeypatch.delenv("JOBWORK_SCHEMA", raising=False)
    result = invoke("validate", "--strict")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "tables.yaml: valid (2 tables, 1 index; 0 errors, 0 warnings, 1 note)"


def test_schema_found_from_a_deep_subdirectory_relative_to_it(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "tables.yaml").write_text(MINIMAL)
    deep = tmp_path / "services" / "api"
    deep.mkdir(parents=True)
    assert find_schema(deep) == "../../schema/tables.yaml"
    assert find_schema(tmp_path) == "schema/tables.yaml"


def test_the_search_stops_at_the_repository_root(tmp_path):
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "tables.yaml").write_text(MINIMAL)
    inner = tmp_path / "other-repo"
    (inner / ".git").mkdir(parents=True)
    assert find_schema(inner / ".git") == "schema/tables.yaml"  # not found: the default, Y001 then
    assert find_schema(inner) == "schema/tables.yaml"
    assert not (inner / "schema" / "tables.yaml").exists()


def test_an_explicit_schema_is_not_searched_for(monkeypatch):
    monkeypatch.chdir(ROOT / "schema")
    result = invoke("validate", "-s", "schema/tables.yaml")
    assert result.exit_code == 1
    assert "error Y001: no such file" in result.stdout


@pytest.mark.parametrize("command", ["deploy", "destroy", "validate", "diff"])
def test_help_shows_no_value_label_on_flags(command):
    result = invoke(command, "--help", env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert re.search(r"--help\s+-h\s+Show this message", result.stdout)


def test_root_help_lists_version_debug_and_completion():
    result = invoke("--help", env={"COLUMNS": "160"})
    for option in ("--version", "--debug", "--install-completion", "--show-completion"):
        assert option in result.stdout
    assert "<bool>" not in result.stdout


def test_shell_completion_completes_commands():
    tool = [str(Path(sys.executable).parent / "jobwork-infra")]
    env = {"COMP_WORDS": "jobwork-infra dif", "COMP_CWORD": "1", "_JOBWORK_INFRA_COMPLETE": "complete_bash",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run(tool, check=True, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["diff"]


# ---------------------------------------------------------------------------------------------
# Model errors a new user hit, in words with the fix

def _errors(text: str) -> list[tuple[str, int, int, str, str | None]]:
    project = check_project("t.yaml", text=text)
    return [(d.code, d.location.line, d.location.col, d.message, d.hint) for d in project.diagnostics]


@pytest.mark.parametrize("value, shown", [("2", "2"), ("true", "true"), ("1.0", "1.0"), ("'1'", "'1'")])
def test_only_the_integer_1_is_a_schema_version(value, shown):
    text = MINIMAL.replace("version: 1", f"version: {value}")
    [(code, line, col, message, hint)] = _errors(text)
    assert (code, line, col) == ("M002", 2, 10)
    assert message == f"unsupported schema version {shown}: this jobwork-infra reads version 1"
    assert hint == "write `version: 1` (a plain number); no other version exists yet"


def test_integer_is_answered_with_number():
    text = MINIMAL.replace("  notes: {}", "  notes:\n    attributes: {n: integer}")
    [(code, _, _, message, hint)] = _errors(text)
    assert code == "M002" and message.startswith("'integer' is not one of: string, number,")
    assert hint == "did you mean 'number'?"


def test_an_empty_map_is_said_in_words_not_pydantic():
    text = "version: 1\napp: demo\nenvironments: {}\n"
    [(code, line, col, message, hint)] = _errors(text)
    assert (code, line, col, message) == ("M002", 3, 15, "environments needs at least 1 entry")
    assert hint == "name at least one, e.g. `environments: {dev: {}}`"
    assert "Dictionary" not in message and "after validation" not in message


def test_a_tenant_scoped_index_without_partition_key_is_told_to_name_the_tenancy_attribute():
    text = MINIMAL.replace("  notes: {}", "  notes:\n    sort_key: id\n    attributes: {id: string}\n"
                           "    global_indexes:\n      by_id: {sort_key: id}")
    [(code, _, _, message, hint)] = _errors(text)
    assert (code, message) == ("M003", "missing required key 'partition_key'")
    assert hint.endswith("for a tenant-scoped index that is the tenancy attribute: partition_key: tenant_id")


def test_an_unknown_index_sort_key_is_offered_the_implied_tenancy_attribute():
    text = MINIMAL.replace("  notes: {}", "  notes:\n    sort_key: id\n    attributes: {id: string, email: string}\n"
                           "    global_indexes:\n      by_email: {partition_key: email, sort_key: tenantid, "
                           "tenant_scoped: false}\n      by_id: {partition_key: tenant_id, sort_key: idd}")
    hints = {message.split("'")[1]: hint for code, _, _, message, hint in _errors(text) if code == "K101"}
    assert hints["tenantid"].startswith("did you mean 'tenant_id'?")
    assert hints["idd"].startswith("did you mean 'id'?")


def test_only_the_scripts_import_one_command_module():
    from jobwork_infra.cli import _modules_to_import

    everything = _modules_to_import(["pytest", "-k", "validate"])
    assert {"validate", "diff", "deploy", "synth", "local"} <= set(everything)
    assert _modules_to_import(["/usr/bin/jobwork-infra", "--debug", "validate", "-s", "x"]) == ["validate"]
    assert _modules_to_import(["cli.py", "destroy", "--env", "dev"]) == ["deploy"]
    assert _modules_to_import(["jobwork-infra", "json-schema"]) == ["validate"]
    assert _modules_to_import(["jobwork-infra", "--help", "validate"]) == everything
    assert _modules_to_import(["jobwork-infra", "nonsense"]) == everything
    assert _modules_to_import(["jobwork-infra"]) == everything
