"""Adoption on the local engine: tables that exist under the schema's names but are not managed.

A table made by hand, by the seed's CDK app or by another tool, under a physical name the schema
gives one of its tables, is not this environment's: a deploy refuses it (exit 3, naming `--adopt`).
With `--adopt`, each such table is first compared with the schema where DynamoDB cannot change a
table — the partition and sort keys (names and types) and the local indexes — and refused with the
difference and the fix when they differ; then the registry claims it, atomically (a conditional
write: two deploys cannot both adopt it, and a table claimed meanwhile by another environment is
never taken), and the deploy carries on with the normal plan from the live table (the schema's
global indexes, TTL, …). Adopting again finds nothing to adopt: the rerun is a no-op.

A table that the registry gives to another app or environment is never a candidate.

Where it hooks in: `find_adoption` before the live tables are read (the candidates are left out of
that reading and added to the base from `inspect.table_from_live`), `claim` once the deploy is
approved, before the first step is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError
from rich.console import Console

from ..errors import Blocked, JobworkError
from ..model import MANAGED_BY, ResolvedSchema, ResolvedTable
from .inspect import LiveTable, read_live_table, table_from_live
from .local_client import RunContext, error_code
from .registry import (
    REGISTRY,
    Entry,
    _ensure_registry,
    created_ms,
    describe_or_none,
    foreign_table_error,
    read_registry,
)


@dataclass(frozen=True)
class Candidate:
    key: str                       # the schema's YAML key
    live: LiveTable
    table: ResolvedTable           # the live table in the model (what the plan starts from)
    previous: Entry | None         # a registry entry left for this name by a table since re-created


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


def find_adoption(client, head: ResolvedSchema) -> Adoption:
    """The schema's tables that exist live and are not this environment's (nor another's)."""
    registry = read_registry(client)
    adoption = Adoption()
    for key, table in head.tables.items():
        entry = registry.get(table.physical_name)
        if entry is not None and (entry.app, entry.env) == (head.app, head.env):
            # Registered here: the live reading checks its creation time (a no-op redeploy pays no
            # extra call). A table re-created behind the registry's back is refused there.
            continue
        description = describe_or_none(client, table.physical_name)
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


def gate_adoption(adoption: Adoption, head: ResolvedSchema, *, adopt: bool) -> None:
    """Refuse (exit 3): without --adopt, naming it; with it, any table whose fixed parts differ."""
    if not adoption.candidates:
        return
    names = ", ".join(adoption.names)
    if not adopt:
        one = len(adoption.candidates) == 1
        raise Blocked(
            f"table{'' if one else 's'} {names} already exist{'s' if one else ''} under the schema's names but "
            f"{'is' if one else 'are'} not managed by environment {head.env}",
            "rerun with --adopt to bring them under management (their keys and local indexes are compared "
            "with the schema first; no item is touched), or give the schema's tables other names")
    refused = []
    for c in adoption.candidates:
        differences = fixed_differences(c.table, head.tables[c.key])
        if differences:
            refused.append(f"{c.live.name}: " + "; ".join(differences))
    if refused:
        raise Blocked(
            "cannot adopt " + " | ".join(refused) + ": DynamoDB cannot change a table's keys or local indexes",
            f"write the live table's keys and local indexes into the schema (`jobwork-infra import --env "
            f"{head.env} --local {' '.join(c.live.name for c in adoption.candidates)}` prints them), or give "
            "the schema's table another name (table_name:) and copy the items into it")


def announce(adoption: Adoption, head: ResolvedSchema, console: Console) -> None:
    for c in adoption.candidates:
        items = c.live.description.get("ItemCount")
        count = f" ({items} item{'' if items == 1 else 's'} as last counted)" if isinstance(items, int) else ""
        console.print(f"Adopting table {c.live.name}{count} as {c.key}: keys and local indexes match the schema.")
        if c.table.removal_policy == "destroy":
            console.print(f"  [yellow]note:[/] removal_policy is destroy for {c.key}: `destroy --env {head.env}` "
                          "would delete it with its data; set removal_policy: retain to keep it", markup=True)


def claim(ctx: RunContext, adoption: Adoption, head: ResolvedSchema) -> None:
    """Register each adopted table for this environment in one conditional write each.

    The condition makes the claim atomic: it succeeds only if the registry still holds what was
    read (no entry, or the stale one), so a concurrent deploy or another environment cannot both
    take the table.
    """
    _ensure_registry(ctx)
    for c in adoption.candidates:
        item = {"table_name": {"S": c.live.name}, "app": {"S": head.app}, "env": {"S": head.env},
                "table_key": {"S": c.key}, "created": {"N": str(created_ms(c.live.description))},
                "removal_policy": {"S": c.table.removal_policy}, "managed_by": {"S": MANAGED_BY}}
        if c.previous is None:
            condition = {"ConditionExpression": "attribute_not_exists(table_name)"}
        else:
            condition = {"ConditionExpression": "created = :created AND app = :app AND env = :env",
                         "ExpressionAttributeValues": {":created": {"N": str(c.previous.created)},
                                                       ":app": {"S": c.previous.app}, ":env": {"S": c.previous.env}}}
        try:
            ctx.client.put_item(TableName=REGISTRY, Item=item, **condition)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise JobworkError(f"table {c.live.name} was claimed by another deploy while this one ran: "
                                   "not adopting it", "rerun the deploy: it reads the registry again") from None
            raise
        ctx.console.print(f"  [green]✓[/] adopted table {c.live.name}", markup=True)
