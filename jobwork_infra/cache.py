"""The findings of checking a schema, remembered so a repeated `validate` skips the pipeline.

Building the pydantic models is most of a `validate` start-up (bench/validate.py); pre-commit hooks
and editors run validate again and again on a schema that did not change. An entry is keyed by
everything its findings depend on — the path as given (it names the findings' file), the file's
bytes, and this build of the tool and its parsing libraries (version plus the size and mtime of every
source file) — so a changed schema, a changed tool or an upgraded library is a miss, never a stale
answer. Entries are written atomically; an unreadable or foreign entry is a miss. Importing this module
imports neither pydantic nor the rules.

The cache lives in $JOBWORK_CACHE_DIR, else $XDG_CACHE_HOME/jobwork-infra, else ~/.cache/jobwork-infra;
JOBWORK_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from . import __version__
from .errors import Diagnostic, Location, Severity
from .fsio import UnsafeWriteError, atomic_write

_PACKAGE = Path(__file__).resolve().parent
_LIBRARIES = ("pydantic", "pydantic_core", "yaml")
_FORMAT = 2


@dataclass(frozen=True)
class CheckedSchema:
    """What `validate` prints: the findings, and the counts of a schema that could be modelled."""

    diagnostics: list[Diagnostic]
    tables: int | None
    indexes: int | None


def cache_dir() -> Path | None:
    if os.environ.get("JOBWORK_NO_CACHE"):
        return None
    if os.environ.get("JOBWORK_CACHE_DIR"):
        return Path(os.environ["JOBWORK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jobwork-infra"


def _build_identity() -> str:
    """This tool's code and the libraries that parse and check: any edit or upgrade changes it."""
    parts = [f"format {_FORMAT}", __version__]
    for path in sorted(_PACKAGE.rglob("*.py")):
        stat = path.stat()
        parts.append(f"{path.relative_to(_PACKAGE)} {stat.st_size} {stat.st_mtime_ns}")
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None and spec.origin else ""
        parts.append(f"{name} {origin} {os.stat(origin).st_mtime_ns if origin else ''}")
    return "\n".join(parts)


def _entry(path: str, data: bytes) -> tuple[Path, str] | None:
    directory = cache_dir()
    if directory is None:
        return None
    key = hashlib.sha256(f"{_build_identity()}\n{path}\n".encode() + data).hexdigest()
    # One file per schema path: a new version of the schema replaces the old entry.
    name = hashlib.sha256(path.encode()).hexdigest()[:32]
    return directory / "validate" / f"{name}.json", key


def load(path: str, data: bytes) -> CheckedSchema | None:
    """The remembered result for exactly these bytes at this path with this build; None on a miss."""
    entry = _entry(path, data)
    if entry is None:
        return None
    file, key = entry
    try:
        stored = json.loads(file.read_text(encoding="utf-8"))
        if stored.get("key") != key:
            return None
        diagnostics = [
            Diagnostic(d["code"], Severity(d["severity"]), d["message"],
                       Location(**d["location"]) if d["location"] else None, d["hint"], tuple(d["path"]),
                       d["acknowledged"])
            for d in stored["diagnostics"]
        ]
        return CheckedSchema(diagnostics, stored["tables"], stored["indexes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(path: str, data: bytes, result: CheckedSchema) -> None:
    """Remember `result`; a cache that cannot be written is only a slower next start."""
    entry = _entry(path, data)
    if entry is None:
        return
    file, key = entry
    document = {
        "key": key,
        "tables": result.tables,
        "indexes": result.indexes,
        "diagnostics": [{**asdict(d), "severity": str(d.severity),
                         "location": asdict(d.location) if d.location else None} for d in result.diagnostics],
    }
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(file, json.dumps(document))
    except (OSError, UnsafeWriteError):
        return
