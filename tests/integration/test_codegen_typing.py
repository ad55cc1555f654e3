"""The generated code passes `mypy --strict` and ruff, for the project's schema and a rich one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.codegen_support import EVERY_TYPE, FIXTURES, ROOT, generate_package

pytestmark = pytest.mark.slow

RUFF = Path(sys.executable).parent / "ruff"
PACKAGES = ["jobwork_data", "rich_data", "edge_data", "solo_data", "writes_data"]
# One tenant-scoped table and nothing else: no cross-tenant part at all.
SOLO = "version: 1\napp: solo\nenvironments:\n  dev: {}\ntables:\n  notes:\n    sort_key: note_id\n" \
       "    attributes:\n      note_id: string\n"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("typing")
    generate_package(ROOT / "schema" / "tables.yaml", out, "jobwork_data")
    generate_package(EVERY_TYPE, out, "rich_data")
    generate_package(FIXTURES / "edge_names.yaml", out, "edge_data")
    (out / "solo.yaml").write_text(SOLO)
    generate_package(out / "solo.yaml", out, "solo_data")
    generate_package(FIXTURES / "writes.yaml", out, "writes_data")   # unique, version, aliases, batches
    return out


def test_generated_code_passes_mypy_strict(generated):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(generated / ".mypy"),
         *(arg for package in PACKAGES for arg in ("-p", package))],
        cwd=generated, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 20 source files" in result.stdout


def test_generated_code_passes_ruff(generated):
    # The rules a strict project typically turns on, independent of this repository's configuration.
    result = subprocess.run(
        [str(RUFF), "check", "--isolated", "--select", "E,F,W,I,UP,B,C4,SIM", "--line-length", "110",
         "--target-version", "py311", *PACKAGES],
        cwd=generated, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_sees_a_wrong_call(generated):
    """The check above can fail: a call with a wrongly typed key argument is reported."""
    (generated / "use_it.py").write_text(
        "from jobwork_data import TenantData\n\n\n"
        "def f(data: TenantData) -> None:\n"
        "    data.users.get(user_id=42)\n\n\n"
        "# Aliased attributes are passed by their Python names (stored as 'class' and '9lives').\n"
        "from rich_data import JobsItem  # noqa: E402\n"
        "from edge_data import CatalogItem  # noqa: E402\n"
        "JobsItem(job_id='J-1', class_='A', shift_code='night')\n"
        "CatalogItem(sku='s', json_='{}', a_9lives=True)\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(generated / ".mypy2"), "use_it.py"],
        cwd=generated, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert result.stdout.count("error:") == 1, result.stdout  # the wrong call only
    assert 'Argument "user_id" to "get" of "UsersRepository" has incompatible type "int"; expected "UUID"' in result.stdout
