"""Findings for people: `FILE:LINE:COL: error CODE: message`, the source line with a caret, the hint."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from ..errors import Diagnostic, Severity

STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.NOTE: "bold cyan"}


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def format_diagnostic(diagnostic: Diagnostic, sources: dict[str, str]) -> Text:
    loc = diagnostic.location
    text = Text()
    if loc is not None:
        text.append(f"{loc}: ", style="bold")
    text.append(str(diagnostic.severity), style=STYLES[diagnostic.severity])
    text.append(f" {diagnostic.code}: ", style="bold")
    text.append(diagnostic.message)
    if loc is not None and loc.file in sources:
        lines = sources[loc.file].splitlines()
        if 0 < loc.line <= len(lines):
            line = lines[loc.line - 1]
            gutter = f"{loc.line:>5} | "
            # Expand tabs ourselves so the caret lines up whatever the terminal does with them.
            indent = " " * len(line[: loc.col - 1].expandtabs(4))
            # Control characters (ESC, BEL, ...) shown as U+FFFD: the terminal must not act on them.
            shown = "".join(c if c == "\t" or c.isprintable() else "\ufffd" for c in line).expandtabs(4)
            text.append(f"\n{gutter}{shown}")
            text.append(f"\n{' ' * (len(gutter) - 2)}| {indent}")
            text.append("^", style=STYLES[diagnostic.severity])
    if diagnostic.hint:
        text.append("\n  hint: ", style="dim")
        text.append(diagnostic.hint)
    return text


def source_of(path: str) -> dict[str, str]:
    """The file's text for caret lines when the loader refused it (a tab, a syntax error); {} if unreadable."""
    from ..load import read_schema_file

    raw = read_schema_file(path)  # bounded: never /dev/zero, a FIFO or a file over the size limit
    return {path: raw.decode("utf-8-sig", errors="replace")} if isinstance(raw, bytes) else {}


def render_diagnostics(diagnostics: Iterable[Diagnostic], sources: dict[str, str], console: Console) -> None:
    for diagnostic in diagnostics:
        console.print(format_diagnostic(diagnostic, sources))


def summary(file: str, diagnostics: list[Diagnostic], tables: int | None, indexes: int | None,
            strict: bool = False) -> tuple[str, bool]:
    """The closing line of `validate`, and whether the schema passes."""
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    passed = errors == 0 and not (strict and warnings) and tables is not None
    notes = sum(d.severity is Severity.NOTE for d in diagnostics)
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    if notes:  # acknowledged findings: visible, never failing
        counts += f", {_plural(notes, 'note')}"
    if tables is not None:
        counts = f"{_plural(tables, 'table')}, {_plural(indexes or 0, 'index', 'indexes')}; {counts}"
    if strict and warnings and not errors and tables is not None:
        counts += "; --strict: warnings fail"
    return f"{file}: {'valid' if passed else 'invalid'} ({counts})", passed
