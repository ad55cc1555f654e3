"""Findings as GitHub Actions workflow commands: annotations on the pull request's lines."""

from __future__ import annotations

from ..errors import Diagnostic, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render_line(d: Diagnostic) -> str:
    props = ""
    if d.location is not None:
        loc = d.location
        props = f" file={_escape_property(loc.file)},line={loc.line},col={loc.col}"
    message = f"{d.code} {d.message}" + (f"\nhint: {d.hint}" if d.hint else "")
    return f"::{_LEVEL[d.severity]}{props}::{_escape_data(message)}"


def render(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(render_line(d) for d in diagnostics)
