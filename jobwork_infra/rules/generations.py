"""Generations (docs/migrate.md): a generation only goes up.

Not a check over one schema: it compares two versions (the base of `diff`, or what is deployed),
so `diff` and `deploy` call `generations_went_down`; the code is registered here for the reference.
"""

from __future__ import annotations

from ..errors import Diagnostic, Severity
from ..load import Document
from ..model import SchemaFile
from .registry import register

register("G101", "a table's generation only goes up (checked by diff against the base, and by deploy against "
         "what is deployed)", "generations",
         note="The lower generation was retired by `migrate finish`, or is the source of a migration in progress.")


def generations_went_down(base: SchemaFile | None, head: SchemaFile, document: Document) -> list[Diagnostic]:
    """G101 errors, located at each `generation:` (or table key) of `head` that is below the base's."""
    if base is None:
        return []
    found = []
    for key, table in head.tables.items():
        before = base.tables.get(key)
        if before is None or table.generation >= before.generation:
            continue
        path: tuple[str, ...] = ("tables", key, "generation")
        written = isinstance(document.data, dict) and "generation" in (document.data.get("tables", {}).get(key) or {})
        location = document.locate(path if written else ("tables", key), "value" if written else "key")
        found.append(Diagnostic(
            "G101", Severity.ERROR,
            f"table {key!r} goes from generation {before.generation} down to {table.generation}: "
            "a generation only goes up",
            location,
            f"set generation: {before.generation} again; to change the table once more, bump it to "
            f"{before.generation + 1} (docs/migrate.md)",
            path,
        ))
    return found
