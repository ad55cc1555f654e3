"""One record for every finding, and the exception base of the tool.

Parse failures, model errors and rule hits all become a `Diagnostic`; they are returned, not raised,
so a run reports everything it found at once. `JobworkError` is for failures that stop a command
(a missing file, an unreachable engine); the CLI's error boundary turns it into a message and exit 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    location: Location | None = None
    hint: str | None = None
    # The schema path the finding is about (("tables", "users", "sort_key")), when it has one.
    path: tuple[str | int, ...] = field(default=(), compare=False)
    # The reason given in `acknowledge:` when the finding was accepted on purpose (then a note).
    acknowledged: str | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def sort_key(diagnostic: Diagnostic) -> tuple:
    loc = diagnostic.location
    return (loc is None, loc.file if loc else "", loc.line if loc else 0, loc.col if loc else 0, diagnostic.code)


class JobworkError(Exception):
    """A failure that ends a command with exit 1; the message says what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class SchemaInvalid(JobworkError):
    """Raised by pipeline entry points that need a valid schema and did not get one."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        errors = [d for d in diagnostics if d.is_error]
        super().__init__(f"the schema has {len(errors)} error(s)")
        self.diagnostics = diagnostics
        # file name → text, for printing the source line under each finding
        self.sources = sources or {}


class Blocked(JobworkError):
    """A run refused on purpose (a destructive change without --allow-destructive): exit 3."""
