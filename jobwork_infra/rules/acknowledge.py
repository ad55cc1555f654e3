"""Acknowledged findings: `acknowledge: {CODE: reason}` on a table or an index.

A finding is acknowledged at its place: the acknowledgement sits on the table or index the finding
is about (its *owner*: the innermost index, else the table, that holds the finding's path). Only
warnings can be acknowledged; an acknowledged warning stays visible as a note carrying the reason, so
`validate --strict` passes while every reader still sees it. An acknowledgement that matches
nothing at its place is itself a warning (X001), so a stale one cannot linger after the schema
changed; one naming an error is refused the same way (X002): errors are what AWS or tenant
isolation would reject.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..errors import Diagnostic, Severity
from ..load import Document, Path_, did_you_mean
from ..model import SchemaFile
from .registry import REGISTRY, register

ACKNOWLEDGE = "acknowledge"

register("X001", "an acknowledgement names a code that does not fire at its place (stale or misplaced)",
         "acknowledge", Severity.WARNING,
         note="Acknowledgements sit on the table or index a finding is about; `validate` lists what fires there.")
register("X002", "an acknowledgement names a finding that is an error; only warnings can be acknowledged",
         "acknowledge", Severity.WARNING)


def owners(schema: SchemaFile) -> Iterable[tuple[Path_, dict[str, str]]]:
    """Every table and index with its acknowledgements (path → {code: reason}), innermost last."""
    for table_key, table in schema.tables.items():
        base: Path_ = ("tables", table_key)
        yield base, table.acknowledge or {}
        for kind in ("global_indexes", "local_indexes"):
            for name, index in getattr(table, kind).items():
                yield base + (kind, name), index.acknowledge or {}


def owner_of(path: Path_, owner_paths: list[Path_]) -> Path_ | None:
    """The innermost table or index whose path is a prefix of `path`."""
    best: Path_ | None = None
    for owner in owner_paths:
        if path[: len(owner)] == owner and (best is None or len(owner) > len(best)):
            best = owner
    return best


def apply_acknowledgements(diagnostics: list[Diagnostic], document: Document,
                           schema: SchemaFile) -> list[Diagnostic]:
    """Acknowledged warnings become notes; acknowledgements that match nothing become warnings."""
    acknowledged = {owner: acks for owner, acks in owners(schema)}
    if not any(acknowledged.values()):
        return diagnostics
    owner_paths = list(acknowledged)
    used: set[tuple[Path_, str]] = set()
    errors_named: set[tuple[Path_, str]] = set()
    out: list[Diagnostic] = []
    for d in diagnostics:
        owner = owner_of(d.path, owner_paths) if d.path else None
        reason = acknowledged.get(owner, {}).get(d.code) if owner is not None else None
        if reason is None:
            out.append(d)
        elif d.severity is Severity.ERROR:
            errors_named.add((owner, d.code))
            out.append(d)
        else:
            used.add((owner, d.code))
            out.append(replace(d, severity=Severity.NOTE, message=f"{d.message} (acknowledged: {reason})",
                               hint=None, acknowledged=reason))
    for owner, acks in acknowledged.items():
        for code in acks:
            if (owner, code) in used:
                continue
            path = owner + (ACKNOWLEDGE, code)
            location = document.locate(path, "key")
            if (owner, code) in errors_named:
                out.append(Diagnostic(
                    "X002", Severity.WARNING, f"{code} is an error here and cannot be acknowledged",
                    location, f"fix the {code} error; acknowledgements only turn warnings into notes", path))
                continue
            what = " ".join(map(str, owner[-1:]))
            if code not in REGISTRY:
                hint = did_you_mean(code, list(REGISTRY)) or "codes are listed in docs/rules.md"
                message = f"{code} is not a finding code"
            else:
                hint = (f"remove it; `jobwork-infra validate` shows which findings fire on {what}, and an "
                        "acknowledgement goes on the table or index the finding is about")
                message = f"{code} is acknowledged on {what!r} but does not fire there"
            out.append(Diagnostic("X001", Severity.WARNING, message, location, hint, path))
    return out
