"""The generated code passes `mypy --strict` and ruff, for the project's schema and a rich one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.codegen_support import EVERY_TYPE, ROOT, generate_package

pytestmark = pytest.mark.slow

RUFF = Path(sys.executable).parent / "ruff"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("typing")
    generate_package(ROOT / "schema" / "tables.yaml", out, "jobwork_data")
    generate_package(EVERY_TYPE, out, "rich_data")
    return out


def test_generated_code_passes_mypy_strict(generated):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(generated / ".mypy"),
         "-p", "jobwork_data", "-p", "rich_data"],
        cwd=generated, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 8 source files" in result.stdout


def test_generated_code_passes_ruff(generated):
    # The rules a strict project typically turns on, independent of this repository's configuration.
    result = subprocess.run(
        [str(RUFF), "check", "--isolated", "--select", "E,F,W,I,UP,B,C4,SIM", "--line-length", "110",
         "--target-version", "py311", "jobwork_data", "rich_data"],
        cwd=generated, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_sees_a_wrong_call(generated):
    """The check above can fail: a call with a wrongly typed key argument is reported."""
    (generated / "use_it.py").write_text(
        "from jobwork_data import TenantData\n\n\n"
        "def f(data: TenantData) -> None:\n"
        "    data.users.get(user_id=42)\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(generated / ".mypy2"), "use_it.py"],
        cwd=generated, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert 'Argument "user_id" to "get" of "UsersRepository" has incompatible type "int"; expected "UUID"' in result.stdout
