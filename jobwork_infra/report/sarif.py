"""Findings as SARIF 2.1.0, for code-scanning dashboards; the rules come from the registry."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote

from ..errors import Diagnostic, Severity
from ..rules import REGISTRY

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _tool_version() -> str:
    try:
        return version("jobwork-infra")
    except PackageNotFoundError:
        return "0"


def render(diagnostics: list[Diagnostic]) -> str:
    codes = list(REGISTRY)
    rules = [{
        "id": r.code,
        "name": r.family,
        "shortDescription": {"text": r.summary},
        **({"fullDescription": {"text": r.note}} if r.note else {}),
        "defaultConfiguration": {"level": _LEVEL[Severity(r.severity)]},
        "properties": {"family": r.family},
    } for r in REGISTRY.values()]
    results = []
    for d in diagnostics:
        result: dict = {
            "ruleId": d.code,
            "level": _LEVEL[d.severity],
            "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
        }
        if d.code in REGISTRY:
            result["ruleIndex"] = codes.index(d.code)
        if d.acknowledged is not None:
            # Accepted in the schema itself: code scanning shows it as suppressed, with the reason.
            result["suppressions"] = [{"kind": "inSource", "justification": d.acknowledged}]
        if d.location is not None:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": quote(d.location.file)},
                "region": {"startLine": d.location.line, "startColumn": d.location.col},
            }}]
        results.append(result)
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "jobwork-infra", "version": _tool_version(), "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2)
