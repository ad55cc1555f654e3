"""Findings as one JSON document, for scripts."""

from __future__ import annotations

import json

from ..errors import Diagnostic
from ..load import format_path


def diagnostic_dict(d: Diagnostic) -> dict:
    loc = d.location
    return {
        "code": d.code,
        "severity": str(d.severity),
        "message": d.message,
        "hint": d.hint,
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
        "path": format_path(d.path) if d.path else None,
    }


def render(diagnostics: list[Diagnostic], file: str, valid: bool, tables: int | None, indexes: int | None,
           stacks: dict[str, list[dict]] | None = None) -> str:
    """`stacks`: environment → each stack's use of each budget (jobwork_infra.budgets)."""
    return json.dumps({
        "file": file,
        "valid": valid,
        "tables": tables,
        "indexes": indexes,
        "errors": sum(d.is_error for d in diagnostics),
        "warnings": sum(str(d.severity) == "warning" for d in diagnostics),
        "notes": sum(str(d.severity) == "note" for d in diagnostics),
        "diagnostics": [diagnostic_dict(d) for d in diagnostics],
        "stacks": stacks or {},
    }, indent=2)
