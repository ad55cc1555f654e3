"""The findings cache of `validate`: a repeated validate of the same bytes by the same build answers
from the cache without building the models; anything else is a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import jobwork_infra.project
from jobwork_infra import cache
from jobwork_infra.cli import app
from tests.conftest import FIXTURES, ROOT

runner = CliRunner()
K101 = (FIXTURES / "bad" / "k101_undeclared_key.yaml").read_text()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("JOBWORK_CACHE_DIR", str(directory))
    monkeypatch.delenv("JOBWORK_NO_CACHE", raising=False)
    return directory


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(K101)
    return path


def _no_pipeline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline ran: the cache was not used")

    monkeypatch.setattr(jobwork_infra.project, "check_project", refuse)


def test_a_repeated_validate_answers_from_the_cache(cache_dir, schema, monkeypatch):
    first = runner.invoke(app, ["validate", "-s", str(schema)])
    assert first.exit_code == 1 and "error K101" in first.stdout
    assert len(list((cache_dir / "validate").glob("*.json"))) == 1
    _no_pipeline(monkeypatch)
    for fmt in ("text", "json", "github", "sarif"):
        again = runner.invoke(app, ["validate", "-s", str(schema), "-f", fmt])
        assert again.exit_code == 1
    assert runner.invoke(app, ["validate", "-s", str(schema)]).stdout == first.stdout


def test_a_changed_schema_is_a_miss(cache_dir, schema):
    runner.invoke(app, ["validate", "-s", str(schema)])
    schema.write_text(K101.replace("sort_key: order_id", "sort_key: orderid"))
    result = runner.invoke(app, ["validate", "-s", str(schema)])
    assert result.stdout.count("error K101") == 1  # the fixed one is gone


def test_another_build_of_the_tool_is_a_miss(cache_dir, schema, tmp_path, monkeypatch):
    package = tmp_path / "package"
    package.mkdir()
    source = package / "model.py"
    source.write_text("one")
    monkeypatch.setattr(cache, "_PACKAGE", package)
    data = schema.read_bytes()
    cache.store(str(schema), data, cache.CheckedSchema([], 1, 0))
    assert cache.load(str(schema), data) == cache.CheckedSchema([], 1, 0)
    source.write_text("two, longer")
    assert cache.load(str(schema), data) is None


def test_a_corrupt_or_foreign_entry_is_a_miss(cache_dir, schema):
    data = schema.read_bytes()
    cache.store(str(schema), data, cache.CheckedSchema([], 1, 0))
    [entry] = (cache_dir / "validate").glob("*.json")
    entry.write_text("{not json")
    assert cache.load(str(schema), data) is None
    entry.write_text('{"key": "someone else", "diagnostics": []}')
    assert cache.load(str(schema), data) is None


def test_the_cache_can_be_turned_off(cache_dir, schema, monkeypatch):
    monkeypatch.setenv("JOBWORK_NO_CACHE", "1")
    assert runner.invoke(app, ["validate", "-s", str(schema)]).exit_code == 1
    assert not cache_dir.exists()


def test_a_missing_file_is_never_cached(cache_dir, tmp_path):
    result = runner.invoke(app, ["validate", "-s", str(tmp_path / "nope.yaml")])
    assert "error Y001" in result.stdout
    assert not cache_dir.exists()


def test_a_warm_validate_process_loads_neither_the_model_nor_the_rules(cache_dir):
    tool = str(Path(sys.executable).parent / "jobwork-infra")
    env = {**os.environ, "JOBWORK_CACHE_DIR": str(cache_dir)}
    subprocess.run([tool, "validate"], cwd=ROOT / "schema", env=env, check=True, capture_output=True)
    probe = ("import sys; sys.argv = ['jobwork-infra', 'validate']\n"
             "from jobwork_infra.cli import main\n"
             "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
             "loaded = sorted(m for m in sys.modules if m.startswith('jobwork_infra.'))\n"
             "print(code, loaded, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "schema", env=env, check=True,
                          capture_output=True, text=True)
    code, loaded = done.stderr.strip().split(" ", 1)
    assert code == "0"
    assert "jobwork_infra.model" not in loaded and "jobwork_infra.rules" not in loaded
    assert "jobwork_infra.cli.deploy" not in loaded  # only the invoked command's module is imported


def test_an_entry_keeps_every_field_of_a_finding(cache_dir, schema):
    from jobwork_infra.errors import Diagnostic, Location, Severity

    finding = Diagnostic("T002", Severity.NOTE, "crosses tenants (acknowledged: login)", Location("t.yaml", 3, 4),
                         None, ("tables", "users", "global_indexes", "by_email", "tenant_scoped"), "login")
    data = schema.read_bytes()
    cache.store(str(schema), data, cache.CheckedSchema([finding], 1, 1))
    [loaded] = cache.load(str(schema), data).diagnostics
    assert (loaded, loaded.path, loaded.acknowledged) == (finding, finding.path, "login")
