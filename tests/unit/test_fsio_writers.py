"""Every writer of the tool outside deploy/ goes through `atomic_write`: each one is run in a child
process whose file-size limit (`ulimit -f`, RLIMIT_FSIZE) is below what it writes, and the file it
would have replaced must be exactly as it was, with no temporary file left beside it. Outputs that are
the schema itself or a symbolic link are refused before any work.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.test_import import seed_tables, with_tables  # noqa: F401 - seed_tables is a fixture

# bash's `ulimit -f 1`: one block of 1,024 bytes.
ONE_BLOCK = 1024


def _limit_file_size(limit: int):
    def apply() -> None:
        # CPython ignores SIGXFSZ at start-up; before that, nothing is written. Ignored here as well, so a
        # write past the limit fails with EFBIG (as the writers must handle) instead of killing the child.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_limited(args: list[str], *, cwd: Path, limit: int = ONE_BLOCK, env: dict | None = None,
                module: str | None = None) -> subprocess.CompletedProcess:
    """`jobwork-infra ARGS` (or `python -m MODULE ARGS`) in a child limited to `limit` bytes per file."""
    command = ([sys.executable, "-m", module] if module
               else [sys.executable, "-c", "from jobwork_infra.cli import main; main()"])
    child_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*command, *args], cwd=cwd, env=child_env, capture_output=True, text=True,
                          timeout=120, check=False, preexec_fn=_limit_file_size(limit))


def only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def schema(tmp_path: Path, project_schema: Path) -> Path:
    copy = tmp_path / "schema" / "tables.yaml"
    copy.parent.mkdir()
    # The project's environments, with one table that is not live (the seed's tables are imported).
    copy.write_text(with_tables(project_schema.read_text(), "tables:\n  jobs:\n    sort_key: job_id\n"
                                                            "    attributes: {tenant_id: uuid, job_id: uuid}\n"))
    return copy


# ---------------------------------------------------------------------------------------------
# A full disk: the file is replaced whole or left as it was

@pytest.mark.parametrize("command", [["json-schema"], ["docs", "--schema", "schema/tables.yaml"]],
                         ids=["json-schema", "docs"])
def test_out_on_a_full_disk_leaves_the_old_file(command, schema, tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("the old output\n")
    result = run_limited([*command, "--out", str(out)], cwd=tmp_path, limit=64)
    assert result.returncode == 1, result.stderr
    assert "error: cannot write" in result.stderr and "it was left as it was" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert out.read_text() == "the old output\n"
    assert only(tmp_path) == ["out.txt", "schema"]


@pytest.mark.parametrize("module, reference", [("jobwork_infra.docs", "rules"),
                                               ("jobwork_infra.report.changes", "changes")])
def test_reference_regeneration_on_a_full_disk_leaves_the_old_file(module, reference, tmp_path):
    target = tmp_path / f"{reference}.md"
    target.write_text("# the committed reference\n")
    result = run_limited([str(target)], cwd=tmp_path, module=module)
    assert result.returncode != 0
    assert "left as it was" in result.stderr
    assert target.read_text() == "# the committed reference\n"
    assert only(tmp_path) == [f"{reference}.md"]
    # With room, the same command writes the whole reference.
    done = subprocess.run([sys.executable, "-m", module, str(target)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout == f"wrote {target}\n"
    assert len(target.read_text()) > ONE_BLOCK


def test_the_validate_cache_on_a_full_disk_is_only_a_miss(schema, tmp_path):
    cache = tmp_path / "cache"
    result = run_limited(["validate", "--schema", "schema/tables.yaml"], cwd=tmp_path, limit=64,
                         env={"JOBWORK_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    # No entry, and no half-written one or temporary file either: the next run is a plain miss.
    assert [p for p in cache.rglob("*") if p.is_file()] == []


@pytest.mark.slow
def test_import_write_on_a_full_disk_leaves_the_schema_as_it_was(seed_tables, local_engine, schema,  # noqa: F811
                                                                 tmp_path):
    """The repro of issue 18 item 3: `(ulimit -f 1; jobwork-infra import --env dev --local A B --write)`
    said "internal error: OSError File too large" and left tables.yaml truncated and invalid."""
    before = schema.read_text()
    result = run_limited(["import", "--env", "dev", "--local", "--schema", "schema/tables.yaml",
                          "tenant", "users", "--write"], cwd=tmp_path, env={"JOBWORK_ROOT": str(local_engine.root)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "error: cannot write schema/tables.yaml: File too large; it was left as it was" in result.stderr
    assert schema.read_text() == before
    assert only(schema.parent) == ["tables.yaml"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [0o444, 0o400])
def test_import_write_to_a_read_only_schema_is_a_clear_error(seed_tables, local_engine, schema, tmp_path,  # noqa: F811
                                                             mode, monkeypatch):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    before = schema.read_text()
    schema.chmod(mode)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["import", "--env", "dev", "--local", "--schema", "schema/tables.yaml",
                                      "users", "--write"])
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert ("error: schema/tables.yaml is read-only; the tool does not replace a read-only file\n"
            "  hint: make it writable (chmod u+w schema/tables.yaml) or write elsewhere\n") in result.output
    assert schema.read_text() == before
    assert schema.stat().st_mode & 0o777 == mode


# ---------------------------------------------------------------------------------------------
# An output that is the schema, or a link: refused before any work

@pytest.mark.parametrize("command, option", [
    (["deploy", "--env", "dev", "--local", "--dry-run", "--plan-out"], "--plan-out"),
    (["docs", "--out"], "--out"),
    (["json-schema", "--out"], "--out"),
], ids=["deploy --plan-out", "docs --out", "json-schema --out"])
@pytest.mark.parametrize("spelling", ["schema/tables.yaml", "schema/../schema/tables.yaml", "LINK"])
def test_an_output_over_the_schema_is_refused(command, option, spelling, schema, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    if spelling == "LINK":
        Path("plan.json").symlink_to("schema/tables.yaml")
        spelling = "plan.json"
    before = schema.read_text()
    args = [*command, spelling]
    if command[0] != "json-schema":
        args += ["--schema", "schema/tables.yaml"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}: {spelling} is " in " ".join(result.output.split())
    assert schema.read_text() == before
    assert not (tmp_path / ".jobwork").exists()  # refused before the deploy looked for an engine


def test_an_output_link_elsewhere_is_refused_and_its_target_kept(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out.json").symlink_to(victim)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["json-schema", "--out", "out.json"])
    assert result.exit_code == 2
    assert "out.json is a symbolic link" in " ".join(result.output.split())
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_atomic_write_refuses_a_read_only_file_even_as_root(tmp_path, mode):
    """A rename needs only the folder's permission, so root (and the owner of the folder) could replace a
    read-only file: its mode bits are the user's word that it stays."""
    from jobwork_infra.fsio import UnsafeWriteError, atomic_write

    target = tmp_path / "tables.yaml"
    target.write_text("version: 1\n")
    target.chmod(mode)
    with pytest.raises(UnsafeWriteError, match="is read-only"):
        atomic_write(target, "replaced\n")
    assert target.read_text() == "version: 1\n"
    assert only(tmp_path) == ["tables.yaml"]
