"""Generate a schema's data layer into a temporary directory and import it (shared by tests and bench)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from jobwork_infra.codegen import generate, write
from jobwork_infra.project import check_project

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "codegen"
EVERY_TYPE = FIXTURES / "every_type.yaml"


def schema_for_app(source: Path, app: str) -> str:
    """The schema's text with its app name replaced (tables of one run never meet another's)."""
    lines = source.read_text().splitlines(keepends=True)
    return "".join(f"app: {app}\n" if line.startswith("app:") else line for line in lines)


def generate_package(schema_path: Path, out_dir: Path, package: str) -> Path:
    project = check_project(schema_path).require_valid()
    _, files = generate(project.schema, schema_path.name, package)
    write(files, out_dir / package)
    return out_dir / package


def import_package(out_dir: Path, package: str) -> ModuleType:
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))
    importlib.invalidate_caches()
    return importlib.import_module(package)
