"""`make bench` keeps working: every bench module imports, and each runs in its smallest mode.

The ratios are not asserted (they are measurements, bench/run.py prints them); what is asserted is
that each benchmark runs to the end and measures something, so a refactor cannot break one silently
(issue 22: bench/codegen.py imported a name a merge had removed, and nothing ran the benches).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", BENCHES)
def test_every_bench_module_imports(name):
    module = importlib.import_module(f"bench.{name}")
    assert module.__doc__, f"bench/{name}.py says what it measures"


def test_the_in_process_benches_run_at_their_smallest():
    validate = importlib.import_module("bench.validate")
    diff = importlib.import_module("bench.diff")
    codegen = importlib.import_module("bench.codegen")
    assert validate.measure(2, 1) > 0
    assert diff.measure(2, quick=True)["whole"] > 0
    generated = codegen.measure_generate(2, 1)
    assert generated["codegen"] > 0 and generated["validate"] > 0


def run_bench(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], check=False, cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args, says", [
    (("bench/deploy_double.py", "--sizes", "2"), "redeploy/validate"),
    (("bench/local_deploy.py", "--engine", "moto", "--tables", "2"), "boto3 create+wait"),
    (("bench/redeploy.py", "--engine", "moto", "--runs", "1"), "deploy/validate"),
    (("bench/migrate.py", "--items", "100", "--burst", "20", "--segments", "2"), "catch-up after a burst"),
    (("bench/unique.py", "--calls", "3"), "put with one unique attribute"),
], ids=["deploy_double", "local_deploy", "redeploy", "migrate", "unique"])
def test_the_deploy_benches_run_to_the_end_at_their_smallest(args, says):
    """In a process of their own: the strict double and the engines they start are theirs."""
    assert says in run_bench(*args)


@pytest.mark.slow
def test_the_run_of_every_bench_starts_each_part():
    """bench/run.py imports a bench only for its part: with every part skipped it still runs to the end."""
    parts = importlib.import_module("bench.run").PARTS
    assert "whole run" in run_bench("bench/run.py", "--quick", "--skip", ",".join(parts))
