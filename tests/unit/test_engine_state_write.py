"""The local engine's state file is written through `atomic_write` (issue 18's leftovers): a full disk
(`ulimit -f`, RLIMIT_FSIZE) while writing it leaves the previous state file whole and no temporary file beside
it, and says so (exit non-zero, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.unit.test_fsio_writers import _limit_file_size

WRITE = """
import sys
from jobwork_infra.deploy.local import engine
from jobwork_infra.errors import JobworkError
state = engine.EngineState("moto", 4242, 8000, "http://127.0.0.1:8000", None, "x" * 4096, 0.0)
try:
    engine._write_state(sys.argv[1], state)
except JobworkError as exc:
    print(exc.message, file=sys.stderr)
    sys.exit(1)
"""


def test_a_full_disk_while_writing_the_engine_state_leaves_the_previous_state(tmp_path: Path):
    state_dir = tmp_path / ".jobwork"
    state_dir.mkdir()
    previous = json.dumps({"engine": "moto", "pid": 1, "port": 1}) + "\n"
    (state_dir / "engine.json").write_text(previous)

    result = subprocess.run([sys.executable, "-c", WRITE, str(tmp_path)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False, preexec_fn=_limit_file_size(1024),
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)})

    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "it was left as it was" in result.stderr
    assert "Traceback" not in result.stderr
    assert (state_dir / "engine.json").read_text() == previous
    assert sorted(p.name for p in state_dir.iterdir()) == ["engine.json"]


def test_the_engine_state_is_written_whole(tmp_path: Path):
    from jobwork_infra.deploy.local import engine

    state = engine.EngineState("moto", 4242, 8000, "http://127.0.0.1:8000", None, "log", 1.5)
    (tmp_path / ".jobwork").mkdir()
    engine._write_state(tmp_path, state)
    assert json.loads((tmp_path / ".jobwork" / "engine.json").read_text())["endpoint"] == "http://127.0.0.1:8000"
    assert sorted(p.name for p in (tmp_path / ".jobwork").iterdir()) == ["engine.json"]
