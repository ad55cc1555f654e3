"""Live state → ResolvedTable: what the local engine holds for one environment, as a ResolvedSchema.

The live state is read from the engine on every run (describe_table, describe_time_to_live,
describe_continuous_backups, tags) and turned into the same `ResolvedSchema` that `diff` compares,
so the plan, the staging and the safety gate are the ones a CloudFormation deploy gets. Only the
tables the registry (registry.py) says are this environment's are read.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ...model import (
    MANAGED_BY,
    Encryption,
    KeyAttribute,
    ResolvedSchema,
    ResolvedTable,
    logical_id,
)
from ..aws import describe_table_or_none
from ..dynamodb import EnvironmentState, Sources, live_table, not_reported, read_live_table, unmanaged_tables
from ..shapes import table_from_live
from .registry import REGISTRY, Entry, foreign_table_error, owned, read_registry

# Each table costs four reads (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups,
# ListTagsOfResource), one round trip each; they run side by side on this many threads. boto3 clients
# are thread-safe ("Low-level clients are thread safe",
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients),
# and botocore's pool keeps 10 connections, more than these threads use.
READERS = 8

# ---------------------------------------------------------------------------------------------
# Live state → ResolvedTable

@dataclass
class Live:
    """What the engine holds for one environment."""

    base: ResolvedSchema | None                              # None: nothing of this environment deployed
    entries: dict[str, Entry]                                # physical name → registry entry (ours)
    descriptions: dict[str, dict] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)           # registry entries whose table is gone


def read_live(client, head: ResolvedSchema, notes: Callable[[str], None] | None = None) -> Live:
    """The environment's live tables as a ResolvedSchema; raises on a name owned by someone else.

    What the engine cannot tell (descriptions, non-key attributes, access patterns, tenancy, and
    any option the engine does not support) is taken from `head`, so it never shows as a change.
    """
    registry = read_registry(client)
    by_name = {t.physical_name: t for t in head.tables.values()}
    ours = {n: e for n, e in registry.items() if (e.app, e.env) == (head.app, head.env)}
    live: dict[str, ResolvedTable] = {}
    result = Live(None, {})
    names = list(dict.fromkeys([*by_name, *ours]))
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        described = dict(zip(names, pool.map(lambda n: describe_table_or_none(client, n), names), strict=True))
        _read_tables(client, head, registry, ours, by_name, described, live, result, pool)
    if live:
        order = [k for k in head.tables if k in live] + [k for k in live if k not in head.tables]
        result.base = head.model_copy(update={"tables": {k: live[k] for k in order}})
    return result


def _read_tables(client, head: ResolvedSchema, registry: dict[str, Entry], ours: dict[str, Entry],
                 by_name: dict[str, ResolvedTable], described: dict[str, dict | None],
                 live: dict[str, ResolvedTable], result: Live, pool: ThreadPoolExecutor) -> None:
    todo: list[tuple[dict, Entry, ResolvedTable | None]] = []
    for name, description in described.items():
        entry = registry.get(name)
        if description is None:
            if name in ours:
                result.stale.append(name)
            continue
        if not owned(entry, description, head.app, head.env):
            if name in by_name:
                raise foreign_table_error(name, entry, head)
            continue  # re-created by someone else after we made it: not ours any more
        if entry.role:
            continue  # another generation of a migrating table (docs/migrate.md): not the table of record
        todo.append((description, entry, head.tables.get(entry.table_key)))
        result.entries[name] = entry
        result.descriptions[name] = description
    read = pool.map(lambda job: _to_resolved(client, job[0], job[1], job[2], head), todo)
    for (_, entry, head_table), resolved in zip(todo, read, strict=True):
        # A local engine has no stacks: `stack:` is only a label there, so it never reads as a change.
        # Nor does DynamoDB store a generation: the registry does.
        resolved = resolved.model_copy(update={"generation": entry.generation})
        live[entry.table_key] = resolved.model_copy(update={"stack": head_table.stack}) if head_table else resolved


def _to_resolved(client, d: dict, entry: Entry, head: ResolvedTable | None, schema: ResolvedSchema) -> ResolvedTable:
    # The engine does not store descriptions, attributes or access patterns: the schema's table
    # (or, for one the schema dropped, the built-ins) fills them in, and options the engine lacks.
    return table_from_live(live_table(client, d), key=entry.table_key, tenancy_attribute=schema.tenancy_attribute,
                           known=head or _bare_table(entry, schema), removal_policy=entry.removal_policy)


def _bare_table(entry: Entry, schema: ResolvedSchema) -> ResolvedTable:
    """Defaults for a live table the schema no longer has (only what the engine shows matters)."""
    return ResolvedTable(
        key=entry.table_key, logical_id=logical_id(entry.table_key), physical_name=entry.table_name,
        description=None, tenant_scoped=False, partition_key=KeyAttribute(name="_", type="S"), sort_key=None,
        attributes={}, global_indexes=(), local_indexes=(), ttl=None, stream=None, billing="on_demand",
        capacity=None, table_class="standard", encryption=Encryption(type="aws_owned"),
        point_in_time_recovery=False, deletion_protection=False, removal_policy=entry.removal_policy,
        tags={"app": schema.app, "env": schema.env, "table": entry.table_key, "managed-by": MANAGED_BY},
        access_patterns=(),
    )


# ---------------------------------------------------------------------------------------------
# For `drift --local`

def read_local_environment(sources: Sources, head: ResolvedSchema, prefix: str | None) -> EnvironmentState:
    """The registry's tables of this environment, live. The registry records ownership, not a
    template: the schema stands in for what was deployed, so an undeployed schema edit shows too."""
    registry = read_registry(sources.dynamodb)
    ours = {n: e for n, e in registry.items() if (e.app, e.env) == (head.app, head.env)}
    reference: dict[str, ResolvedTable] = {}
    live: dict[str, ResolvedTable] = {}
    state = EnvironmentState(head, head, "the schema", f"environment {head.env} on {sources.label}")
    for key, table in head.tables.items():
        found = read_live_table(sources.dynamodb, table.physical_name)
        entry = registry.get(table.physical_name)
        if found is None:
            if table.physical_name in ours:  # registered, so deployed once: deleted behind our back
                reference[key] = table
            continue
        if not owned(entry, found.description, head.app, head.env):
            state.unadopted.append(table.physical_name)
            continue
        reference[key] = table
        live[key] = table_from_live(found, key=key, tenancy_attribute=head.tenancy_attribute, known=table,
                                    removal_policy=entry.removal_policy)
        state.not_reported += not_reported(found)
    state.reference = head.model_copy(update={"tables": reference})
    state.live = head.model_copy(update={"tables": live})
    known = {t.physical_name for t in head.tables.values()} | set(ours)
    state.unmanaged = unmanaged_tables(sources.dynamodb, prefix, known | {REGISTRY})
    return state
