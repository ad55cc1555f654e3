"""Rules over a modelled schema: one module per family, every code in `REGISTRY`.

`check` runs every rule and turns each finding's schema path into a location through
`Document.locate`, the one place that knows about lines and columns; then acknowledgements
(`acknowledge:` on a table or index) turn the warnings they name into notes.
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..load import Document
from ..model import SchemaFile
from . import access, account, budgets, generations, indexes, keys, names, options, tenancy, unique  # noqa: F401  (registers the rules)
from .acknowledge import apply_acknowledgements
from .context import Context
from .registry import FAMILIES, REGISTRY, Finding, Rule

__all__ = ["FAMILIES", "REGISTRY", "Finding", "Rule", "check"]


def check(document: Document, schema: SchemaFile, resolved: dict | None = None) -> list[Diagnostic]:
    """The findings of every rule; `resolved` (env → ResolvedSchema) is filled with what the rules resolved."""
    ctx = Context(document, schema, resolved if resolved is not None else {})
    diagnostics: list[Diagnostic] = []
    for rule in REGISTRY.values():
        if rule.check is None:
            continue
        for finding in rule.check(ctx):
            diagnostics.append(Diagnostic(
                code=rule.code,
                severity=finding.severity or rule.severity,
                message=finding.message,
                location=document.locate(finding.path, finding.at),
                hint=finding.hint,
                path=tuple(finding.path),
            ))
    return apply_acknowledgements(diagnostics, document, schema)
