"""One record for every finding, and the exception base of the tool.

Parse failures, model errors and rule hits all become a `Diagnostic`; they are returned, not raised,
so a run reports everything it found at once. `JobworkError` is for failures that stop a command
(a missing file, an unreachable engine); the CLI's error boundary turns it into a message and exit 1.
"""

from __future__ import annotations

import errno
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


# Failures raised by the standard library or botocore that have a known cause and a known fix. Matched
# by class name so that this module (imported by validate) never imports botocore.
_BOTOCORE_FIXES = {
    "InvalidRegionError": ("the region {region_name!r} is not an AWS region name",
                           "use a region code such as eu-west-1 or us-east-1 (--region, or the environment's region:)"),
    "NoRegionError": ("no AWS region is configured",
                      "pass --region, set region: on the environment, or set $AWS_REGION"),
    "NoCredentialsError": ("no AWS credentials were found",
                           "configure them (`aws configure`, $AWS_PROFILE, or an SSO login), or use --local"),
    "ProfileNotFound": ("the AWS profile {profile!r} does not exist",
                        "check $AWS_PROFILE against ~/.aws/config, or unset it"),
}
_OUTPUT_ERRNOS = {errno.ENOSPC: "the device is full", errno.EPIPE: "the reader closed the pipe",
                  errno.EIO: "an input/output error", errno.EDQUOT: "the disk quota is exceeded"}


def explain(exc: BaseException) -> JobworkError | None:
    """A JobworkError with the fix for a known third-party failure; None for a real bug."""
    module = type(exc).__module__ or ""
    fix = _BOTOCORE_FIXES.get(type(exc).__name__) if module.startswith("botocore") else None
    if fix is not None:
        message, hint = fix
        try:
            message = message.format(**getattr(exc, "kwargs", {}))
        except (KeyError, IndexError, ValueError):
            message = message.split(" {", 1)[0]
        return JobworkError(message, hint)
    if isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS:
        where = f"to {exc.filename}" if exc.filename else "the output"
        return JobworkError(f"could not write {where}: {_OUTPUT_ERRNOS[exc.errno]}",
                            "free some space or redirect the output elsewhere (e.g. > file.txt), then rerun")
    return None
