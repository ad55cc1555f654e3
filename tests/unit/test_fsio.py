"""The one atomic-write helper: replaced whole or left as it was, never through a link."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobwork_infra.fsio import UnsafeWriteError, atomic_write


def test_writes_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "tables.yaml"
    target.write_text("old\n")
    target.chmod(0o600)
    atomic_write(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["tables.yaml"]


def test_full_disk_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "tables.yaml"
    target.write_text("version: 1\n")
    # A child with a 1-block file-size limit writes 64 KiB: the write fails with EFBIG.
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))\n"
              "from jobwork_infra.fsio import atomic_write, UnsafeWriteError\n"
              "try:\n"
              f"    atomic_write({str(target)!r}, 'x' * 65536)\n"
              "except UnsafeWriteError as e:\n"
              "    print('refused:', e); sys.exit(1)\n")
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "left as it was" in result.stdout
    assert target.read_text() == "version: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["tables.yaml"]


def test_refuses_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "plan.json"
    link.symlink_to(victim)
    with pytest.raises(UnsafeWriteError, match="symbolic link"):
        atomic_write(link, "{}")
    assert victim.read_text() == "keep me"


def test_refuses_a_path_outside_its_folder(tmp_path: Path) -> None:
    inside = tmp_path / "out"
    inside.mkdir()
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(UnsafeWriteError, match="outside"):
        atomic_write(inside / ".." / "elsewhere" / "x.py", "x", within=inside)
    assert not (tmp_path / "elsewhere" / "x.py").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(UnsafeWriteError, match="cannot write"):
            atomic_write(folder / "x", "x")
    finally:
        folder.chmod(0o700)
