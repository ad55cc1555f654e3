"""GitHub Actions workflow commands: findings and changes as annotations on the pull request's lines.

`validate --format github` prints one line per finding; `diff --format github` one per change, at the
YAML line of the table, index or option it is about in the head schema (a removed table: its line in
the base, said in the message, since the head has no line for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..changes import Change
from ..changes import Severity as ChangeSeverity
from ..errors import Diagnostic, Location, Severity
from ..load import Document, Path_
from ..table_options import TABLE_OPTIONS
from .changes import subject_adds

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
# destructive stops the check; multi-step and online need a reader's eye; safe is for the record.
_CHANGE_LEVEL = {
    ChangeSeverity.DESTRUCTIVE: "error",
    ChangeSeverity.MULTI_STEP: "warning",
    ChangeSeverity.ONLINE: "warning",
    ChangeSeverity.SAFE: "notice",
}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, location: Location | None, message: str, title: str | None = None) -> str:
    props = []
    if location is not None:
        props += [f"file={escape_property(location.file)}", f"line={location.line}", f"col={location.col}"]
    if title:
        props.append(f"title={escape_property(title)}")
    return f"::{level}{' ' + ','.join(props) if props else ''}::{escape_data(message)}"


def render_line(d: Diagnostic) -> str:
    message = f"{d.code} {d.message}" + (f"\nhint: {d.hint}" if d.hint else "")
    return _command(_LEVEL[d.severity], d.location, message)


def render(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(render_line(d) for d in diagnostics)


# ---------------------------------------------------------------------------------------------
# Changes

@dataclass(frozen=True)
class ChangePlace:
    """What in the schema a change is about, in YAML terms."""

    table: str | None          # the YAML table key; None for environment-wide changes
    index: str | None = None   # a global or local index of that table
    index_kind: str = "global_indexes"
    option: str | None = None  # a table option (stream, ttl, …) or, with no table, an environment
    removed: bool = False      # the thing is gone from the head: locate it in the base


# Table options per change kind (the YAML key the change is about).
_OPTION_OF_KIND = {
    "physical_name_changed": "table_name", "partition_key_changed": "partition_key",
    "sort_key_changed": "sort_key", "ttl_renamed": "ttl", "ttl_enabled": "ttl", "ttl_disabled": "ttl",
    "stream_changed": "stream", "billing_changed": "billing", "table_class_changed": "table_class",
    "encryption_changed": "encryption", "table_tenancy_changed": "tenant_scoped",
    "capacity_changed": "capacity", "point_in_time_recovery_changed": "point_in_time_recovery",
    "deletion_protection_changed": "deletion_protection", "removal_policy_changed": "removal_policy",
    "tags_changed": "tags", "description_changed": "description", "attributes_changed": "attributes",
    "access_patterns_changed": "access_patterns", "gsi_updates_staged": "global_indexes",
    **{c.kind: o.field for o in TABLE_OPTIONS for c in o.changes},
}
_LSI_KINDS = {"lsi_added", "lsi_removed", "lsi_changed"}


def change_place(change: Change) -> ChangePlace:
    """Which table, index or option `change` is about, from Change's structured fields (`kind`,
    `table`, `index`, `env`), never from the rendered `subject`."""
    kind, index = change.kind, change.index
    if kind == "environment_removed":
        return ChangePlace(None, option=change.env, removed=True)
    if kind == "location_changed":
        return ChangePlace(None, option=change.env)
    if kind in ("table_removed", "table_removed_retained"):
        return ChangePlace(change.table, removed=True)
    if index is not None and kind in _LSI_KINDS:
        return ChangePlace(change.table, index=index, index_kind="local_indexes", removed=kind == "lsi_removed")
    if index is not None and kind == "capacity_changed":
        return ChangePlace(change.table, index=index, option="capacity")
    if index is not None:
        return ChangePlace(change.table, index=index, removed=kind == "gsi_removed")
    return ChangePlace(change.table, option=_OPTION_OF_KIND.get(kind))


def _first_key(document: Document | None, paths: list[Path_]) -> tuple[Location, Path_] | None:
    if document is None:
        return None
    for path in paths:
        if path in document.key_marks:
            return Location(document.file, *document.key_marks[path]), path
    return None


def locate_change(change: Change, head: Document, base: Document | None) -> tuple[Location | None, str]:
    """The head-file location to annotate, and a note to add to the message ('' when none)."""
    place = change_place(change)
    if place.table is None:  # an environment
        env = place.option
        paths: list[Path_] = [("environments", env, "region"), ("environments", env)] if env else []
        paths.append(("environments",))
        if place.removed:
            return _in_base(base, head, [("environments", env)] if env else [], f"environment {env}")
        found = _first_key(head, paths)
        return (found[0] if found else None), ""
    table: Path_ = ("tables", place.table)
    if place.removed and place.index is None:
        return _in_base(base, head, [table], f"table {place.table}")
    paths = []
    if place.index is not None:
        index: Path_ = table + (place.index_kind, place.index)
        if place.removed:
            # The head has no line for it: the table's list of indexes (or the table) stands in.
            found = _first_key(head, [table + (place.index_kind,), table])
            return (found[0] if found else None), f" (removed: shown on the table's {place.index_kind})"
        if place.option:
            paths.append(index + (place.option,))
        paths.append(index)
    elif place.option is not None:
        # A table option may be set on the table, its environment or the defaults: where it is written.
        paths.append(table + (place.option,))
        envs = [change.env] if change.env else list(head.data.get("environments") or {})
        paths += [("environments", env, place.option) for env in envs]
        paths.append(("defaults", place.option))
    paths.append(table)
    found = _first_key(head, paths)
    return (found[0] if found else None), ""


def _in_base(base: Document | None, head: Document, paths: list[Path_], what: str) -> tuple[Location | None, str]:
    found = _first_key(base, paths)
    if found is None:
        return None, f" ({what} is removed)"
    location, _ = found
    # Annotations name files of the head commit: the line is the base's, said so in the message.
    return (Location(head.file, location.line, location.col),
            f" ({what} is removed: line {location.line} is where it was in {base.file})")


def render_changes(changes: Sequence[Change], head: Document, base: Document | None) -> str:
    """One annotation per change: error destructive, warning multi-step and online, notice safe."""
    lines = []
    for change in changes:
        location, note = locate_change(change, head, base)
        # "index by_email: index by_email is created" says it twice: the subject only when the
        # statement does not start with it.
        subject = f"{change.subject}: " if subject_adds(change) else ""
        message = f"{change.code} {change.severity.label}: {subject}{change.statement}{note}"
        if change.advice:
            message += f"\nadvice: {change.advice}"
        title = f"{change.code} {change.severity.label}" + (f" ({change.table})" if change.table else "")
        lines.append(_command(_CHANGE_LEVEL[change.severity], location, message, title))
    return "\n".join(lines)
