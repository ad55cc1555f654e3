"""`deploy --local --adopt`: which live tables are candidates (the registry says nobody's), and the
registry claim that takes them over (deploy/adopt.py gates and announces them, for both targets)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ...model import ResolvedSchema
from ..adopt import Adoption, Candidate
from ..aws import describe_table_or_none
from ..dynamodb import read_live_table
from ..events import Applied
from ..shapes import table_from_live
from .client import RunContext
from .live import READERS
from .registry import Entry, claim_for_adoption, created_ms, foreign_table_error, read_registry


def find_adoption(client, head: ResolvedSchema) -> Adoption:
    """The schema's tables that exist live and are not this environment's (nor another's)."""
    registry = read_registry(client)
    adoption = Adoption()
    # Registered here: the live reading checks its creation time (a no-op redeploy pays no extra
    # call). A table re-created behind the registry's back is refused there.
    unregistered = [(key, table) for key, table in head.tables.items()
                    if (entry := registry.get(table.physical_name)) is None or (entry.app, entry.env) != (head.app, head.env)]
    # Described side by side (as live.py reads), then looked at in the schema's order.
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        descriptions = list(pool.map(lambda kt: describe_table_or_none(client, kt[1].physical_name), unregistered))
    for (key, table), description in zip(unregistered, descriptions, strict=True):
        entry = registry.get(table.physical_name)
        if description is None:
            continue
        current = entry is not None and entry.created in (0, created_ms(description))
        if current and (entry.app, entry.env) == (head.app, head.env):
            continue  # ours already
        if current:
            raise foreign_table_error(table.physical_name, entry, head)  # another environment's: never taken
        live = read_live_table(client, table.physical_name)
        model = table_from_live(live, key=key, tenancy_attribute=head.tenancy_attribute, known=table,
                                removal_policy=table.removal_policy)
        adoption.candidates.append(Candidate(key, live, model, entry))
    return adoption


def claim(ctx: RunContext, adoption: Adoption, head: ResolvedSchema) -> None:
    """Register each adopted table for this environment, one atomic conditional write each."""
    for c in adoption.candidates:
        entry = Entry(c.live.name, head.app, head.env, c.key, created_ms(c.live.description),
                      head.tables[c.key].removal_policy, ctx.source, generation=head.tables[c.key].generation)
        claim_for_adoption(ctx, entry, c.previous)
        ctx.emit(Applied(f"adopted table {c.live.name}"))
