"""Codegen never harms what it did not write (issue 19, items 2 and 3): the manifest, refusals, --check."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.codegen_support import ROOT

PROJECT = ROOT / "schema" / "tables.yaml"


def codegen(*args: str):
    return CliRunner().invoke(app, ["codegen", "python", *args])


def generated(tmp_path):
    out = tmp_path / "jobwork_data"
    result = codegen("--out", str(out), "--schema", str(PROJECT))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("name", ["__init__.py", "data.py", "items.py"])
def test_a_hand_written_file_in_the_folder_is_never_replaced(tmp_path, name):
    out = tmp_path / "jobwork_data"
    out.mkdir()
    (out / name).write_text("MINE = True\n")
    result = codegen("--out", str(out), "--schema", str(PROJECT))
    assert result.exit_code == 3, result.output
    assert "holds files codegen did not write" in result.output
    assert (out / name).read_text() == "MINE = True\n"
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_a_symlink_in_the_package_is_never_written_through(tmp_path):
    out = generated(tmp_path)
    victim = tmp_path / "victim.py"
    victim.write_text("KEEP = 1\n")
    (out / "data.py").unlink()
    (out / "data.py").symlink_to(victim)
    result = codegen("--out", str(out), "--schema", str(PROJECT))
    assert result.exit_code == 3, result.output
    assert "symbolic link" in result.output
    assert victim.read_text() == "KEEP = 1\n"


def test_a_symlinked_out_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "jobwork_data").symlink_to(real)
    result = codegen("--out", str(tmp_path / "jobwork_data"), "--schema", str(PROJECT))
    assert result.exit_code == 3, result.output
    assert list(real.iterdir()) == []


def test_an_extended_copy_with_the_generated_header_is_not_deleted(tmp_path):
    out = generated(tmp_path)
    copy = out / "data_extended.py"
    copy.write_text((out / "data.py").read_text() + "\nEXTRA = 1\n")
    result = codegen("--out", str(out), "--schema", str(PROJECT))
    assert result.exit_code == 3, result.output
    assert "data_extended.py" in result.output
    assert copy.exists() and copy.read_text().endswith("EXTRA = 1\n")


def test_out_is_never_the_current_or_the_schema_directory(tmp_path, monkeypatch):
    project = tmp_path / "jobwork_app"
    project.mkdir()
    schema = project / "tables.yaml"
    schema.write_text(PROJECT.read_text())
    (project / "app.py").write_text("print('mine')\n")
    monkeypatch.chdir(project)
    for out in (".", str(project)):
        result = codegen("--out", out, "--schema", str(schema))
        assert result.exit_code == 3, result.output
        assert "writes its package into a folder of its own" in result.output
    assert sorted(p.name for p in project.iterdir()) == ["app.py", "tables.yaml"]


def test_only_files_listed_in_the_manifest_are_deleted(tmp_path):
    out = generated(tmp_path)
    manifest = json.loads((out / "_generated.json").read_text())
    assert sorted(manifest["files"]) == ["__init__.py", "_runtime.py", "data.py", "items.py", "py.typed"]
    # A manifest entry that tries to lead outside the package is not a manifest codegen wrote.
    outside = tmp_path / "outside.py"
    outside.write_text("KEEP = 1\n")
    manifest["files"]["../outside.py"] = "0" * 64
    (out / "_generated.json").write_text(json.dumps(manifest))
    result = codegen("--out", str(out), "--schema", str(PROJECT))
    assert result.exit_code == 3, result.output
    assert outside.read_text() == "KEEP = 1\n"


def test_check_compares_the_whole_tree(tmp_path):
    out = generated(tmp_path)
    assert codegen("--out", str(out), "--schema", str(PROJECT), "--check").exit_code == 0
    # A package folder beside the module is imported instead of it (issue 19, item 3).
    (out / "_runtime").mkdir()
    (out / "_runtime" / "__init__.py").write_text((out / "_runtime.py").read_text())
    result = codegen("--out", str(out), "--schema", str(PROJECT), "--check")
    assert result.exit_code == 1
    assert "_runtime/: a folder that is not part of the generated package" in result.output
    assert "_runtime/__init__.py: a file that is not part of the generated package" in result.output


def test_check_fails_on_a_missing_an_extra_and_a_changed_file(tmp_path):
    out = generated(tmp_path)
    (out / "items.py").unlink()
    (out / "extra.py").write_text("X = 1\n")
    (out / "_runtime.py").write_text((out / "_runtime.py").read_text().replace("TenantIsolationError(", "Exception(", 1))
    result = codegen("--out", str(out), "--schema", str(PROJECT), "--check")
    assert result.exit_code == 1
    assert "items.py: missing" in result.output
    assert "extra.py: a file that is not part of the generated package" in result.output
    assert "_runtime.py: edited by hand" in result.output


def test_bytecode_caches_are_neither_foreign_nor_a_difference(tmp_path):
    out = generated(tmp_path)
    (out / "__pycache__").mkdir()
    (out / "__pycache__" / "data.cpython-311.pyc").write_bytes(b"\0")
    assert codegen("--out", str(out), "--schema", str(PROJECT), "--check").exit_code == 0
    assert codegen("--out", str(out), "--schema", str(PROJECT)).exit_code == 0


def test_a_run_writes_every_file_atomically(tmp_path, monkeypatch):
    """A write that fails half way leaves each file whole (the old one or the new one, never a part)."""
    out = generated(tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    changed = tmp_path / "tables.yaml"
    changed.write_text(PROJECT.read_text().replace("      name: string\n", "      name: string\n      phone: string\n"))
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if str(dst).endswith("items.py"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    result = codegen("--out", str(out), "--schema", str(changed))
    assert result.exit_code == 1, result.output
    assert (out / "items.py").read_bytes() == before["items.py"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(os, "replace", real_replace)
    assert codegen("--out", str(out), "--schema", str(changed)).exit_code == 0  # the next run recovers


def test_a_package_of_an_earlier_codegen_without_a_manifest_is_taken_over(tmp_path):
    """Exactly the files codegen generates, each with its header: written before manifests existed."""
    out = generated(tmp_path)
    (out / "_generated.json").unlink()
    (out / "data.py").write_text((out / "data.py").read_text() + "# an old version\n")
    result = codegen("--out", str(out), "--schema", str(PROJECT))
    assert result.exit_code == 0, result.output
    assert (out / "_generated.json").is_file() and "an old version" not in (out / "data.py").read_text()
    # A file without the header, or one more file, and it is not taken over.
    (out / "_generated.json").unlink()
    (out / "notes.py").write_text("# Generated by jobwork-infra codegen (copied by hand)\n")
    assert codegen("--out", str(out), "--schema", str(PROJECT)).exit_code == 3
    assert (out / "notes.py").exists()
