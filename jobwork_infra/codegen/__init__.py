"""Codegen: a schema → the Python package of its tenant-bound data layer (pydantic items, boto3 underneath).

Stage: SchemaFile, resolved per environment → `Api` (api.py, the decisions as data) → files (python.py).
Nothing here imports boto3 or aws_cdk: the generated code does, the generator only writes it.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import JobworkError
from ..model import SchemaFile
from .api import Api, describe, describe_schema
from .compat import ApiNote, api_notes
from .package import CheckResult, check, write
from .python import render

__all__ = ["Api", "ApiNote", "CheckResult", "api_notes", "check", "describe", "describe_schema", "generate",
           "package_name", "schema_api_notes", "write"]


def package_name(out: Path) -> str:
    """The package's import name: the last part of --out, which must be a Python identifier."""
    name = out.resolve().name if out.name in ("", ".", "..") else out.name
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in ("jobwork_infra",):
        suggestion = re.sub(r"\W", "_", name, flags=re.ASCII).lstrip("0123456789") or "tables"
        raise JobworkError(f"--out {out}: the package would be named {name!r}, which Python cannot import",
                           f"end --out with a Python name, e.g. --out {out.parent / suggestion}")
    return name


def generate(schema: SchemaFile, source: str, package: str) -> tuple[Api, dict[str, str]]:
    if not schema.tables:
        raise JobworkError(f"{source} declares no table: there is nothing to generate",
                           "add a table under tables: (see docs/schema.md)")
    api = describe_schema(schema, source)
    return api, render(api, package)


def schema_api_notes(before: SchemaFile | None, after: SchemaFile, source: str = "") -> list[ApiNote]:
    """What breaks for code written against the API generated from `before` (none for a first schema)."""
    if before is None:
        return []
    return api_notes(describe_schema(before, source), describe_schema(after, source)) + ttl_notes(before, after)


def ttl_notes(before: SchemaFile, after: SchemaFile) -> list[ApiNote]:
    """A TTL moved to another attribute: code that keeps writing the old one writes items that never
    expire (the signatures may not change at all, so api_notes cannot see it; issue 23)."""
    from .api import pascal

    notes = []
    for key, table in after.tables.items():
        old = before.tables.get(key)
        if old is not None and old.ttl and table.ttl and old.ttl != table.ttl:
            notes.append(ApiNote(
                pascal(key) + "Item",
                f"TTL moves from {old.ttl!r} to {table.ttl!r}: {old.ttl!r} no longer makes an item expire; code must "
                f"write {table.ttl!r} (code generated before keeps writing {old.ttl!r} only, and those items never "
                "expire)"))
    return notes
