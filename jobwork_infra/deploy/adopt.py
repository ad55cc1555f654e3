"""Adoption: tables that exist under the schema's names but are not managed by this environment.

A table made by hand, by the seed's CDK app or by another tool, under a physical name the schema
gives one of its tables, is not this environment's: a deploy refuses it (exit 3, naming `--adopt`).
With `--adopt`, each such table is first compared with the schema where DynamoDB cannot change a
table — the partition and sort keys (names and types) and the local indexes — and refused with the
difference and the fix when they differ; then the registry claims it, atomically (a conditional
write: two deploys cannot both adopt it, and a table claimed meanwhile by another environment is
never taken), and the deploy carries on with the normal plan from the live table (the schema's
global indexes, TTL, …). Adopting again finds nothing to adopt: the rerun is a no-op.

A table that the registry gives to another app or environment is never a candidate.

Where it hooks in (the deploy flow, flow.py, calls the targets; the targets call this module): in
`read`, `local/adopt.find_adoption` or `cloudformation/adopt.find_stack_adoption` before the live
tables are read, `gate_adoption` at once, the candidates left out of the ordinary reading and added
to the plan's base (`Adoption.base`, from `shapes.table_from_live`); `announce` with the plan; in
`adopt`, after the deploy is approved and before its first step, `local/adopt.claim` (the registry) or the
IMPORT change set (CloudFormation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import ResolvedSchema, ResolvedTable
from .events import Adopting, Emit
from .gate import Refused
from .shapes import LiveTable


@dataclass(frozen=True)
class Candidate:
    key: str                       # the schema's YAML key
    live: LiveTable
    table: ResolvedTable           # the live table in the model (what the plan starts from)
    previous: Any = None           # local/registry.Entry left for this name by a table since re-created
    stack: str | None = None       # CloudFormation: the stack that holds the table now (--from-stack)
    # What the table has that the schema cannot keep yet, one line each ("OnDemandThroughput: why; way
    # forward"): adopting would leave it unmanaged, or the next update would turn it off (R023).
    unkept: tuple[str, ...] = ()
    held_by: str | None = None     # CloudFormation: the stack holding it, whatever --from-stack says


@dataclass
class Adoption:
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.live.name for c in self.candidates]

    def managed(self, head: ResolvedSchema) -> ResolvedSchema:
        """The head without the candidates: what the ordinary live reading may look at."""
        keys = {c.key for c in self.candidates}
        return head.model_copy(update={"tables": {k: t for k, t in head.tables.items() if k not in keys}})

    def base(self, read: ResolvedSchema | None, head: ResolvedSchema) -> ResolvedSchema | None:
        """The live state to plan from: what the environment manages plus the adopted tables."""
        if not self.candidates:
            return read
        tables = dict(read.tables) if read is not None else {}
        tables.update({c.key: c.table for c in self.candidates})
        order = [k for k in head.tables if k in tables] + [k for k in tables if k not in head.tables]
        return head.model_copy(update={"tables": {k: tables[k] for k in order}})


def fixed_differences(live: ResolvedTable, schema: ResolvedTable) -> list[str]:
    """What DynamoDB cannot change on a table and differs: keys (names and types) and local indexes."""
    show = lambda k: f"{k.name} ({k.type})" if k else "none"
    out = []
    if live.partition_key != schema.partition_key:
        out.append(f"partition key {show(live.partition_key)} live, {show(schema.partition_key)} in the schema")
    if live.sort_key != schema.sort_key:
        out.append(f"sort key {show(live.sort_key)} live, {show(schema.sort_key)} in the schema")
    live_lsis = {i.name: i for i in live.local_indexes}
    schema_lsis = {i.name: i for i in schema.local_indexes}
    for name in sorted(live_lsis.keys() | schema_lsis.keys()):
        a, b = live_lsis.get(name), schema_lsis.get(name)
        if a is None:
            out.append(f"local index {name} is in the schema only")
        elif b is None:
            out.append(f"local index {name} is on the live table only")
        elif (a.sort_key, a.projection.type, sorted(a.projection.attributes)) != (
                b.sort_key, b.projection.type, sorted(b.projection.attributes)):
            out.append(f"local index {name}: sort key {show(a.sort_key)}, projection {a.projection.type} live; "
                       f"sort key {show(b.sort_key)}, projection {b.projection.type} in the schema")
    return out


def gate_adoption(adoption: Adoption, head: ResolvedSchema, *, adopt: bool, source: str = "--local") -> None:
    """Refuse (exit 3): without --adopt, naming it; with it, any table whose fixed parts differ.

    `source` is how `import` reaches the same tables (`--local`, `--endpoint-url URL`, or nothing for AWS).
    """
    if not adoption.candidates:
        return
    names = ", ".join(adoption.names)
    if not adopt:
        one = len(adoption.candidates) == 1
        held = sorted({c.held_by for c in adoption.candidates if c.held_by})
        raise Refused(
            "R012",
            f"table{'' if one else 's'} {names} already exist{'s' if one else ''} under the schema's names but "
            f"{'is' if one else 'are'} not managed by environment {head.env}"
            + "".join(f"; stack {s} holds {', '.join(c.live.name for c in adoption.candidates if c.held_by == s)}"
                      for s in held),
            (f"rerun with --adopt --from-stack {held[0]} to take them out of stack {held[0]} (retained: they stay, "
             "with their items) and bring them under management" if len(held) == 1 else
             "rerun with --adopt (and --from-stack NAME for the tables another stack holds)" if held else
             "rerun with --adopt to bring them under management")
            + " (their keys and local indexes are compared with the schema first; no item is touched), or give "
            "the schema's tables other names")
    refused = []
    for c in adoption.candidates:
        differences = fixed_differences(c.table, head.tables[c.key])
        if differences:
            refused.append(f"{c.live.name}: " + "; ".join(differences))
    if refused:
        raise Refused(
            "R013",
            "cannot adopt " + " | ".join(refused) + ": DynamoDB cannot change a table's keys or local indexes",
            f"write the live table's keys and local indexes into the schema (`jobwork-infra import --env "
            f"{head.env} {source + ' ' if source else ''}{' '.join(c.live.name for c in adoption.candidates)}` "
            "prints them), or give "
            "the schema's table another name (table_name:) and copy the items into it")
    unkept = [f"{c.live.name}: {line}" for c in adoption.candidates for line in c.unkept]
    if unkept:
        raise Refused(
            "R023",
            "cannot adopt without dropping what the schema cannot keep yet: " + " | ".join(unkept)
            + "; nothing was changed",
            "each names its way forward; docs/schema.md lists every property of AWS::DynamoDB::Table and what "
            "jobwork-infra does with it")


def announce(adoption: Adoption, head: ResolvedSchema, emit: Emit) -> None:
    """What will be adopted, with the plan: before the question, and in a dry run."""
    for c in adoption.candidates:
        items = c.live.description.get("ItemCount")
        emit(Adopting(c.live.name, c.key, items if isinstance(items, int) else None,
                      head.tables[c.key].removal_policy == "destroy", head.env, c.stack))
