"""Two schema versions → typed changes, each with what it does to the live table and how dangerous it is.

Every kind of change is registered once in `KINDS` (stable code, severity, statement template,
advice): detection code only says which kind happened and fills the template, so the severities in
the docs (docs/diff.md, generated from `KINDS`) are the ones the tool applies.

Severities follow DynamoDB and CloudFormation, not the YAML: a change of key or local index replaces
the table (DynamoDB cannot alter either), a global index is one create or delete per update, and
TTL cannot move to another attribute in one call. Diff imports neither aws_cdk nor boto3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from .changes import Change, Severity
from .errors import JobworkError
from .model import (
    KeyAttribute,
    Projection,
    ResolvedGlobalIndex,
    ResolvedSchema,
    ResolvedTable,
    SchemaFile,
    resolve,
)
from .outline import table_outline
from .table_options import INDEX_OPTIONS, TABLE_OPTIONS

D, M, O, S = Severity.DESTRUCTIVE, Severity.MULTI_STEP, Severity.ONLINE, Severity.SAFE


@dataclass(frozen=True)
class ChangeKind:
    code: str
    kind: str
    severity: Severity
    title: str                 # for the docs table
    statement: str             # str.format template over the fields each detector passes
    advice: str | None = None  # template too; only where the change is dangerous
    # Kinds of one family are the same event judged differently per environment (a table removed
    # under destroy or retain); merging over environments keeps the worst of a family.
    family: str | None = None


KINDS: dict[str, ChangeKind] = {k.kind: k for k in [
    # -- destructive: the table is deleted or replaced -----------------------------------------
    ChangeKind("D101", "table_removed", D, "table removed (removal_policy: destroy)",
               "table {name} is deleted with its data (removal_policy: destroy)",
               "set removal_policy: retain on the table and deploy that first, "
               "or keep the table in the schema", family="table_removed"),
    ChangeKind("D102", "table_renamed", D, "table renamed (a removed and an added table with the same keys)",
               "renamed? {before} → {after} have the same keys and indexes, but a table cannot be renamed: "
               "{name} is created empty and {old_name} is {fate}; no data is moved",
               "keep the old YAML key (the table's logical ID and name come from it), "
               "or copy the data into the new table before removing the old one"),
    ChangeKind("D103", "physical_name_changed", D, "physical table name changed (also: a naming pattern change)",
               "CloudFormation replaces a custom-named table: {after} is created empty and {before} is {fate}",
               "keep the old name (set table_name: {before} on the table), or copy the data before switching"),
    ChangeKind("D104", "partition_key_changed", D, "partition key name or type changed",
               "the partition key changes from {before} to {after}: DynamoDB cannot change a key, "
               "so the table is replaced and {old_state}",
               "bump `generation` on the table to keep the data (deploy copies every item into a new table "
               "under the new key; docs/migrate.md), or add a global index with the new key instead"),
    ChangeKind("D105", "sort_key_changed", D, "sort key added, removed, or name or type changed",
               "the sort key changes from {before} to {after}: DynamoDB cannot change a key, "
               "so the table is replaced and {old_state}",
               "bump `generation` on the table to keep the data (deploy copies every item into a new table "
               "under the new key; docs/migrate.md), or add a global index with the new key instead"),
    ChangeKind("D106", "lsi_added", D, "local index added",
               "local index {index} can only be created with the table: the update fails as a replacement of "
               "named table {name} (CloudFormation cannot replace a table that keeps its name); {lsi_state}",
               "add a global index instead (created online), or bump `generation` on the table: deploy copies the "
               "items into a new table that has the local index (docs/migrate.md)"),
    ChangeKind("D107", "lsi_removed", D, "local index removed",
               "local index {index} can only be removed with the table: the update fails as a replacement of "
               "named table {name} (CloudFormation cannot replace a table that keeps its name); {lsi_state}",
               "keep the local index (unused indexes cost only their storage), or bump `generation` on the "
               "table: deploy copies the items into a new table without it (docs/migrate.md)"),
    ChangeKind("D108", "lsi_changed", D, "local index key or projection changed",
               "local index {index} changes ({before} → {after}): local indexes are fixed at creation, so the "
               "update fails as a replacement of named table {name}; {lsi_state}",
               "add a global index with the new definition instead, or bump `generation` on the table: deploy "
               "copies the items into a new table with the new definition (docs/migrate.md)"),
    # CloudFormation creates new resources before it deletes removed ones, and a retained table
    # keeps its name: either way the CREATE fails with "already exists" and the update rolls back.
    # A kept table renamed onto a removed table's name is the same collision: its replacement is a
    # new resource, created before the removed table is deleted in the update's cleanup.
    ChangeKind("D109", "table_name_taken", D, "a table (added, or renamed by table_name) takes the physical name "
               "of a removed table",
               "table {name} cannot be created under key {after}: table {name} of key {before} still holds "
               "the name when it is created ({fate}), so the update fails; deploy refuses it",
               "keep the YAML key {before} if {after} is meant to be that table (a table's key cannot be renamed), "
               "or give {after} another table_name"),
    ChangeKind("D110", "environment_renamed", D, "app or environment renamed (found by deploy)",
               "{renamed}: {after} would be created empty, while {before} stays with its data, no longer "
               "managed by jobwork-infra",
               "to keep the data, keep the old name (table_name: {before} on the table, or the old app or "
               "environment name); to start empty, rerun with --allow-destructive: the old table is left "
               "as it is, for you to copy from, then delete by hand (or by `jobwork-infra destroy --env {old_env}` "
               "with the schema as it was)"),
    # -- multi-step: CloudFormation rejects it as one update ------------------------------------
    ChangeKind("D201", "gsi_key_changed", M, "global index key changed",
               "index {index}'s key changes from {before} to {after}: it is deleted, then created again "
               "and backfilled; queries on it fail in between",
               "add the new key as an index with a new name, move the readers, then remove the old index"),
    ChangeKind("D202", "gsi_projection_changed", M, "global index projection changed",
               "index {index}'s projection changes from {before} to {after}: it is deleted, then created "
               "again and backfilled; queries on it fail in between",
               "add an index with the new projection under a new name, move the readers, then remove the old one"),
    ChangeKind("D203", "gsi_renamed", M, "global index renamed (removed and added with the same key)",
               "renamed? index {before} → {after}: an index cannot be renamed, so {before} is deleted "
               "and {after} created and backfilled; queries on {before} fail from then on",
               "keep the old name, or add {after} first and remove {before} in a later change"),
    ChangeKind("D204", "ttl_renamed", M, "TTL attribute renamed",
               "TTL moves from {before} to {after}: it is disabled, then enabled on {after} at least 1 h later; "
               "no item expires in between, and the items that carry only {before} (every item written before; "
               "how many is not known here: a deploy --dry-run counts them) never expire afterwards unless {after} "
               "is written on them",
               "deploy stages it in two steps an hour apart; deploy --backfill-ttl first writes {after} on the "
               "existing items (from {before}), or keep {before} as the TTL attribute"),
    ChangeKind("D205", "gsi_updates_staged", M, "several global indexes created or deleted on one table",
               "{count} global index creations/deletions ({ops}): CloudFormation allows one per update, "
               "so deploy stages them in {count} steps",
               "let deploy stage them, or split the schema change into one index per pull request"),
    # A table belongs to one stack's template; moving it means removing it from one stack with
    # DeletionPolicy Retain and importing it into the other (IMPORT change set). No single update
    # does it, and a naive one deletes (destroy) or orphans (retain) the table while the other stack
    # fails to create the name again.
    ChangeKind("D206", "stack_changed", M, "table moved to another stack (`stack:` changed)",
               "table {name} moves from stack {before} to stack {after}: CloudFormation cannot move a table "
               "between stacks in one update; deploy moves it only when told to (--adopt --from-stack {before})",
               "move it without a copy, keeping the table and its items: `jobwork-infra deploy --env {env} --adopt "
               "--from-stack {before}` (retained in {before}, removed from it, imported into {after}; "
               "docs/migrate.md, \"Moving a table between stacks\"); or keep the old `stack:` for now"),
    # A generation bump (docs/migrate.md): the one way to change what DynamoDB fixes at creation
    # (keys, key types, local indexes) without losing the items. Nothing is deleted: the previous
    # generation stays, replicated, until `migrate finish`.
    ChangeKind("D207", "table_migrated", M, "generation bumped: a new table filled from the previous generation",
               "table {key} moves from generation {before} ({old_name}) to generation {after} ({name}): {what}; "
               "deploy creates {name}, copies {items} from {old_name} under its key {new_key}, replays the "
               "writes made meanwhile from {old_name}'s stream, and verifies both item for item; "
               "{old_name} stays, replicated, until `jobwork-infra migrate finish`",
               "the application must move to {name} once deploy has verified the copy: regenerate the data "
               "layer (`jobwork-infra codegen python` names {name}) and deploy it; items without {new_key} "
               "are refused unless deploy runs with --skip-unkeyed; a source over 50 GB or 50 million items "
               "(DescribeTable) is refused (R027) unless deploy runs with --allow-large-copy (docs/migrate.md, "
               "\"Scale\")"),
    # -- online: in place, with an effect to know -----------------------------------------------
    ChangeKind("D301", "gsi_added", O, "global index added",
               "index {index} is created and backfilled from the existing items; queryable once ACTIVE"),
    ChangeKind("D302", "gsi_removed", O, "global index removed",
               "index {index} is deleted; queries that use it fail from then on",
               "move its readers off it before deploying"),
    ChangeKind("D303", "ttl_enabled", O, "TTL enabled",
               "TTL is enabled on {after}: items whose {after} is in the past start being deleted",
               "check that no item you still need has an old {after} value"),
    ChangeKind("D304", "ttl_disabled", O, "TTL disabled",
               "TTL on {before} is disabled (Enabled: false): expired items are no longer deleted, "
               "and AWS allows the next TTL change on the table only 1 h later"),
    ChangeKind("D305", "billing_changed", O, "billing mode switched",
               "billing switches from {before} to {after} in place; AWS allows at most four switches to "
               "on_demand per table in a rolling 24 h (back to provisioned any time)"),
    ChangeKind("D306", "stream_changed", O, "stream enabled, disabled or view type changed",
               "the stream changes from {before} to {after}: {effect}"),
    ChangeKind("D307", "table_class_changed", O, "table class changed",
               "table class changes from {before} to {after} in place; storage and request prices change"),
    ChangeKind("D308", "encryption_changed", O, "encryption changed",
               "encryption changes from {before} to {after}: the table is re-encrypted in place"),
    ChangeKind("D309", "table_removed_retained", O, "table removed (removal_policy: retain)",
               "table {name} leaves the stack but is kept with its data (removal_policy: retain): "
               "it is orphaned, no longer managed", family="table_removed"),
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html:
    # disabling PITR deletes the continuous backups; re-enabling starts a new window.
    ChangeKind("D310", "point_in_time_recovery_disabled", O, "point-in-time recovery turned off",
               "point-in-time recovery is turned off: the restore window (up to 35 days of continuous "
               "backups) is discarded; turning it on again starts an empty one",
               "take an on-demand backup first if you may need to restore"),
    ChangeKind("D311", "gsi_tenancy_changed", O, "global index tenant scoping changed",
               "index {index} becomes {after} in the TenantDataAccess policy"),
    ChangeKind("D312", "table_tenancy_changed", O, "table tenant scoping changed",
               "the table becomes {after} in the TenantDataAccess policy"),
    ChangeKind("D313", "environment_removed", O, "environment removed",
               "environment {env} is no longer in the schema: stack {stack} stays as deployed "
               "until `jobwork-infra destroy --env {env}`"),
    ChangeKind("D314", "location_changed", O, "environment region or account changed",
               "environment {env} moves from {before} to {after}: a new stack with empty tables is created "
               "there; the old stack and its data stay where they are",
               "copy the data to the new location, then destroy the old stack"),
    # Issue 19: guards for the values already stored, written by the deploy (docs/codegen.md).
    ChangeKind("D315", "unique_added", O, "attribute declared unique",
               "{attribute} becomes unique ({after}): deploy first scans {name} for values held twice and is "
               "refused (exit 3, nothing written, the duplicates listed by key) when there are any; otherwise it "
               "writes one guard item per stored value, one write capacity unit each",
               "make the stored values unique before deploying (the deploy lists any it finds)"),
    ChangeKind("D316", "tenant_access_changed", O, "tenant access of a table changed",
               "tenant principals may now {after} the items of {name} (TenantDataAccess), instead of {before}"),
    # -- safe: nothing existing is touched, or metadata only -----------------------------------
    ChangeKind("D401", "table_added", S, "table added", "table {name} is created"),
    ChangeKind("D402", "point_in_time_recovery_changed", S, "point-in-time recovery turned on",
               "point-in-time recovery is turned {after}"),
    ChangeKind("D403", "deletion_protection_changed", S, "deletion protection switched",
               "deletion protection is turned {after}"),
    ChangeKind("D404", "tags_changed", S, "tags changed", "tags change: {detail}"),
    ChangeKind("D405", "capacity_changed", S, "provisioned capacity changed",
               "provisioned capacity changes from {before} to {after}"),
    ChangeKind("D406", "description_changed", S, "description changed", "the description changes (metadata only)"),
    ChangeKind("D407", "attributes_changed", S, "declared attributes changed",
               "declared attributes change: {detail}; items are not rewritten"),
    ChangeKind("D408", "access_patterns_changed", S, "access patterns changed",
               "access patterns change: {detail} (documentation and checks only)"),
    ChangeKind("D409", "removal_policy_changed", S, "removal policy changed",
               "removal policy changes from {before} to {after}: it decides what a later removal does "
               "to the data"),
    ChangeKind("D410", "unique_removed", S, "attribute no longer unique",
               "{attribute} is no longer unique: the generated data layer stops checking it (its guard items "
               "are left in place, unused)"),
    ChangeKind("D411", "version_changed", S, "optimistic versions turned on or off",
               "optimistic versions are turned {after} in the generated data layer (items are not rewritten)"),
    # Registered table options (table_options.py): their kinds come from the registry.
    *[ChangeKind(c.code, c.kind, Severity[c.severity], c.title, c.statement)
      for o in TABLE_OPTIONS for c in o.changes],
]}

ORDER = {kind: n for n, kind in enumerate(KINDS)}


def make_change(kind: str, table: str, subject: str = "", *, before: Any = None, after: Any = None,
                env: str | None = None, index: str | None = None, **fields: Any) -> Change:
    spec = KINDS[kind]
    values = {"before": _show(before), "after": _show(after), "env": env or "",
              **({"index": index} if index is not None else {}),
              **{k: _show(v) for k, v in fields.items()}}
    return Change(
        code=spec.code, kind=kind, severity=spec.severity, table=table, subject=subject,
        statement=spec.statement.format(**values),
        advice=spec.advice.format(**values) if spec.advice else None,
        before=_plain(before), after=_plain(after), env=env, index=index,
    )


def _show(value: Any) -> str:
    """How a value reads inside a statement."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, KeyAttribute):
        return f"{value.name} ({value.type})"
    if isinstance(value, Projection):
        return value.type if value.type != "include" else "[" + ", ".join(value.attributes) + "]"
    if hasattr(value, "model_dump"):
        return ", ".join(f"{k}={v}" for k, v in value.model_dump(exclude_none=True).items())
    if isinstance(value, tuple):
        return " + ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_show(v)}" for k, v in value.items())
    return str(value)


def _plain(value: Any) -> Any:
    """JSON-ready before/after values (the json report prints them as they are)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# One environment

def is_migration(before: ResolvedTable, after: ResolvedTable) -> bool:
    """True when `after` is a later generation of `before`: a new table copied from the old one.

    Under the same physical name it is the same table: a deployed table read back from a live engine
    or a template does not always know its generation, and that must not start a migration again.
    """
    return after.generation > before.generation and after.physical_name != before.physical_name


def generation_decreases(base: ResolvedSchema | None, head: ResolvedSchema) -> list[tuple[str, int, int]]:
    """(table, deployed generation, schema generation) for each table whose generation went down.

    A generation only goes up: the lower one's table was retired (or is still the source of a
    migration), so going back is refused before any change is judged (rule G101).
    """
    if base is None:
        return []
    return [(key, base.tables[key].generation, table.generation) for key, table in head.tables.items()
            if key in base.tables and table.generation < base.tables[key].generation]


def migration_change(old: ResolvedTable, new: ResolvedTable, env: str | None, items: int | None = None,
                     exactness: str = "") -> Change:
    """The D207 change of a generation bump; `items` is the source's item count where it was read
    (`exactness`: "" exact, "at least" for a bounded count)."""
    return make_change("table_migrated", new.key, "generation", env=env, before=old.generation,
                       after=new.generation, key=new.key, name=new.physical_name, old_name=old.physical_name,
                       what=_migration_what(old, new), new_key=_key_text(new),
                       items="an unknown number of items (deploy counts them)" if items is None
                       else f"{exactness + ' ' if exactness else ''}{items} item{'' if items == 1 else 's'}")


def _key_text(table: ResolvedTable) -> str:
    return " + ".join(f"{k.name} ({k.type})" for k in (table.partition_key, table.sort_key) if k is not None)


def _migration_what(old: ResolvedTable, new: ResolvedTable) -> str:
    """What the new generation changes that needs a new table, in words."""
    parts = []
    if old.partition_key != new.partition_key:
        parts.append(f"partition key {_show(old.partition_key)} → {_show(new.partition_key)}")
    if old.sort_key != new.sort_key:
        parts.append(f"sort key {_show(old.sort_key)} → {_show(new.sort_key)}")
    old_lsi, new_lsi = _lsi_map(old), _lsi_map(new)
    parts += [f"local index {n} added" for n in new_lsi if n not in old_lsi]
    parts += [f"local index {n} removed" for n in old_lsi if n not in new_lsi]
    parts += [f"local index {n} changed" for n in new_lsi if n in old_lsi and old_lsi[n] != new_lsi[n]]
    return ", ".join(parts) if parts else "a rebuild with the same key and local indexes"


def replaces_table(before: ResolvedTable, after: ResolvedTable) -> bool:
    """True when deploying `after` over `before` replaces the table (new empty table, data gone)."""
    return (before.physical_name != after.physical_name
            or before.partition_key != after.partition_key
            or before.sort_key != after.sort_key
            or _lsi_map(before) != _lsi_map(after))


def _lsi_map(table: ResolvedTable) -> dict:
    return {i.name: (i.sort_key, i.projection) for i in table.local_indexes}


def _fate(policy: str) -> str:
    return {"destroy": "deleted with its data", "retain": "kept, orphaned with its data"}[policy]


def _old_state(policy: str) -> str:
    return {"destroy": "its data is lost",
            # deploy refuses this one (deploy/gate.py): the retained table keeps the name
            "retain": "deploy refuses it: the retained table keeps the name the new one needs"}[policy]


def _shape(table: ResolvedTable) -> tuple:
    """What a table holds, whatever it is called: two tables with one shape may be a rename."""
    return (table.partition_key, table.sort_key,
            tuple(sorted((i.name, i.partition_key, i.sort_key, i.projection) for i in table.global_indexes)),
            tuple(sorted(_lsi_map(table).items())))


def diff_schemas(base: ResolvedSchema | None, head: ResolvedSchema) -> list[Change]:
    """The changes that deploying `head` makes to an environment where `base` is deployed."""
    env = head.env
    changes: list[Change] = []
    if base is not None and (base.region, base.account) != (head.region, head.account):
        changes.append(make_change("location_changed", "", "environment", env=env, stack=head.stack_name,
                                   before=_where(base), after=_where(head)))
    base_tables = base.tables if base is not None else {}
    added = [k for k in head.tables if k not in base_tables]
    removed = [k for k in base_tables if k not in head.tables]

    renamed: dict[str, str] = {}  # head key → base key
    for new in added:
        shape = _shape(head.tables[new])
        old = next((o for o in removed if o not in renamed.values() and _shape(base_tables[o]) == shape), None)
        if old is not None:
            renamed[new] = old

    removed_names = {base_tables[k].physical_name: k for k in removed}

    def name_taken(key: str, table: ResolvedTable) -> Change:
        old = base_tables[removed_names[table.physical_name]]
        return make_change("table_name_taken", key, env=env, before=old.key, after=key, name=table.physical_name,
                           fate=_fate(old.removal_policy))

    for key, table in head.tables.items():
        if key not in base_tables and table.physical_name in removed_names:
            changes.append(name_taken(key, table))
            renamed.pop(key, None)
        elif key in renamed:
            old = base_tables[renamed[key]]
            changes.append(make_change("table_renamed", key, env=env, before=old.key, after=key,
                                       name=table.physical_name, old_name=old.physical_name,
                                       fate=_fate(old.removal_policy)))
        elif key not in base_tables:
            # A new table shows what it will be: keys, indexes, TTL and protections (issue 23).
            changes.append(make_change("table_added", key, env=env, name=table.physical_name,
                                       after=table_outline(table)))
        elif base_tables[key] != table:  # most tables of a real diff are untouched: skip them whole
            if table.physical_name in removed_names:  # a kept table renamed onto a removed one's name
                changes.append(name_taken(key, table))
            changes += _diff_table(base_tables[key], table, env)
            if base is not None and base.stack_of(base_tables[key]) != head.stack_of(table):
                changes.append(make_change("stack_changed", key, "stack", env=env, before=base.stack_of(base_tables[key]),
                                           after=head.stack_of(table), name=table.physical_name))
    for key in removed:
        if key in renamed.values():
            continue
        old = base_tables[key]
        kind = {"destroy": "table_removed", "retain": "table_removed_retained"}[old.removal_policy]
        changes.append(make_change(kind, key, env=env, name=old.physical_name))
    return sort_changes(_with_stacks(changes, base, head), list(head.tables) + removed)


def _with_stacks(changes: list[Change], base: ResolvedSchema | None, head: ResolvedSchema) -> list[Change]:
    """Each change with the stack it lands in: the table's stack in `head`, or in `base` when removed."""
    def stack(change: Change) -> str | None:
        if change.table in head.tables:
            return head.stack_of(head.tables[change.table])
        if base is not None and change.table in base.tables:
            return base.stack_of(base.tables[change.table])
        return None
    return [replace(c, stack=stack(c)) for c in changes]


def _where(schema: ResolvedSchema) -> str:
    return f"region {schema.region or 'default'}, account {schema.account or 'default'}"


def _diff_table(old: ResolvedTable, new: ResolvedTable, env: str) -> list[Change]:
    out: list[Change] = []
    add = lambda kind, subject="", **kw: out.append(make_change(kind, new.key, subject, env=env, **kw))
    state = _old_state(old.removal_policy)
    lsi_state = ("deploy refuses it; re-creating the table (destroy, then deploy) loses its data"
                 if old.removal_policy == "destroy" else _old_state(old.removal_policy))

    migrating = is_migration(old, new)
    if migrating:
        # The new generation is created whole beside the old one and filled from it: the key and
        # local index changes are what the migration does (said in D207), not a replacement.
        out.append(migration_change(old, new, env))
    elif old.physical_name != new.physical_name:
        add("physical_name_changed", "table name", before=old.physical_name, after=new.physical_name,
            fate=_fate(old.removal_policy))
    if old.partition_key != new.partition_key and not migrating:
        add("partition_key_changed", "partition key", before=old.partition_key, after=new.partition_key,
            old_state=state)
    if old.sort_key != new.sort_key and not migrating:
        add("sort_key_changed", "sort key", before=old.sort_key, after=new.sort_key, old_state=state)
    old_lsi, new_lsi = _lsi_map(old), _lsi_map(new)
    if migrating:
        old_lsi = new_lsi
    # Walk the dicts, never set operations on their keys: the order reaches the output.
    for name in (n for n in new_lsi if n not in old_lsi):
        add("lsi_added", f"local index {name}", index=name, name=new.physical_name, lsi_state=lsi_state)
    for name in (n for n in old_lsi if n not in new_lsi):
        add("lsi_removed", f"local index {name}", index=name, name=new.physical_name, lsi_state=lsi_state)
    for name in (n for n in new_lsi if n in old_lsi):
        if old_lsi[name] != new_lsi[name]:
            add("lsi_changed", f"local index {name}", index=name, before=_lsi_text(old_lsi[name]),
                after=_lsi_text(new_lsi[name]), name=new.physical_name, lsi_state=lsi_state)

    out += _diff_global_indexes(old, new, env, staged=not replaces_table(old, new))

    if old.ttl != new.ttl:
        if old.ttl and new.ttl:
            add("ttl_renamed", "ttl", before=old.ttl, after=new.ttl)
        elif new.ttl:
            add("ttl_enabled", "ttl", before=None, after=new.ttl)
        else:
            add("ttl_disabled", "ttl", before=old.ttl, after=None)
    # A migration turns generation N-1's stream on for its catch-up; generation N has a stream of its own.
    if old.stream != new.stream and not (migrating and old.stream == "new_and_old_images"):
        add("stream_changed", "stream", before=old.stream, after=new.stream, effect=_stream_effect(old, new))
    if old.billing != new.billing:
        add("billing_changed", "billing", before=old.billing, after=new.billing)
    if old.table_class != new.table_class:
        add("table_class_changed", "table class", before=old.table_class, after=new.table_class)
    if old.encryption != new.encryption:
        add("encryption_changed", "encryption", before=old.encryption, after=new.encryption)
    if old.tenant_scoped != new.tenant_scoped:
        add("table_tenancy_changed", "tenancy", before=_scoping(old.tenant_scoped),
            after=_scoping(new.tenant_scoped))
    if old.capacity != new.capacity and old.billing == new.billing == "provisioned":
        add("capacity_changed", "capacity", before=old.capacity, after=new.capacity)
    if old.point_in_time_recovery != new.point_in_time_recovery:
        add("point_in_time_recovery_changed" if new.point_in_time_recovery else "point_in_time_recovery_disabled", "point-in-time recovery", before=old.point_in_time_recovery,
            after=new.point_in_time_recovery)
    for option in TABLE_OPTIONS:
        before, after = getattr(old, option.field), getattr(new, option.field)
        if before != after:
            add(option.change_between(before, after).kind, option.field.replace("_", " "), before=before,
                after=after)
    if old.deletion_protection != new.deletion_protection:
        add("deletion_protection_changed", "deletion protection", before=old.deletion_protection,
            after=new.deletion_protection)
    if old.removal_policy != new.removal_policy:
        add("removal_policy_changed", "removal policy", before=old.removal_policy, after=new.removal_policy)
    if old.tags != new.tags:
        add("tags_changed", "tags", before=old.tags, after=new.tags, detail=_dict_detail(old.tags, new.tags))
    if old.description != new.description:
        add("description_changed", "description", before=old.description, after=new.description)
    old_unique, new_unique = old.unique_attributes(), new.unique_attributes()
    for name, scope in new_unique.items():
        if old_unique.get(name) != scope:
            add("unique_added", f"attribute {name}", attribute=name, before=old_unique.get(name), after=scope,
                name=new.physical_name)
    for name in old_unique:
        if name not in new_unique:
            add("unique_removed", f"attribute {name}", attribute=name, before=old_unique[name], after=None)
    if old.tenant_access != new.tenant_access and new.tenant_scoped:
        add("tenant_access_changed", "tenant access", before=old.tenant_access, after=new.tenant_access,
            name=new.physical_name)
    if old.version != new.version:
        add("version_changed", "version", before=old.version, after=new.version)
    attributes = _attribute_detail(old, new)
    if attributes:
        add("attributes_changed", "attributes", before=old.attributes, after=new.attributes, detail=attributes)
    if old.access_patterns != new.access_patterns:
        add("access_patterns_changed", "access patterns", before=old.access_patterns, after=new.access_patterns,
            detail=_patterns_detail(old, new))
    return out


def _diff_global_indexes(old: ResolvedTable, new: ResolvedTable, env: str, staged: bool) -> list[Change]:
    out: list[Change] = []
    add = lambda kind, subject, **kw: out.append(make_change(kind, new.key, subject, env=env, **kw))
    before = {i.name: i for i in old.global_indexes}
    after = {i.name: i for i in new.global_indexes}
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    renamed: dict[str, str] = {}
    for name in added:
        gone = next((r for r in removed if r not in renamed.values() and _gsi_shape(before[r]) == _gsi_shape(after[name])),
                    None)
        if gone is not None:
            renamed[name] = gone
    for name, a in after.items():
        if name in renamed:
            add("gsi_renamed", f"index {name}", index=name, before=renamed[name], after=name)
        elif name not in before:
            add("gsi_added", f"index {name}", index=name)
        else:
            b = before[name]
            if (b.partition_key, b.sort_key) != (a.partition_key, a.sort_key):
                add("gsi_key_changed", f"index {name}", index=name, before=_gsi_key(b), after=_gsi_key(a))
            elif b.projection != a.projection:
                add("gsi_projection_changed", f"index {name}", index=name, before=b.projection, after=a.projection)
            if b.tenant_scoped != a.tenant_scoped:
                add("gsi_tenancy_changed", f"index {name}", index=name, before=_scoping(b.tenant_scoped),
                    after=_scoping(a.tenant_scoped))
            if b.capacity != a.capacity and b.capacity and a.capacity:
                add("capacity_changed", f"index {name} capacity", index=name, before=b.capacity, after=a.capacity)
            for option in INDEX_OPTIONS:   # table_options.py: the index's own contributor insights, maximum…
                was, now = getattr(b, option.field), getattr(a, option.field)
                if was != now:
                    add(option.change_between(was, now).kind, f"index {name} {option.field.replace('_', ' ')}",
                        index=name, before=was, after=now)
    for name in removed:
        if name not in renamed.values():
            add("gsi_removed", f"index {name}", index=name)

    ops = gsi_operations(old, new)
    # One lone operation is an ordinary online change; two or more on one table are what
    # CloudFormation rejects, unless the table is replaced anyway (then it is created whole).
    structural = [c for c in out if c.kind in _GSI_STRUCTURAL]
    if staged and len(ops) >= 2 and len(structural) >= 2:
        add("gsi_updates_staged", "global indexes", count=len(ops),
            ops=", ".join(f"{op} {name}" for op, name in ops))
    return out


# The index changes that create or delete an index (one alone may already be two operations).
_GSI_STRUCTURAL = {"gsi_added", "gsi_removed", "gsi_renamed", "gsi_key_changed", "gsi_projection_changed"}


def gsi_operations(old: ResolvedTable, new: ResolvedTable) -> list[tuple[str, str]]:
    """The index creations and deletions that turn `old` into `new`: deletions first, as deploy runs them."""
    before = {i.name: i for i in old.global_indexes}
    after = {i.name: i for i in new.global_indexes}
    rebuilt = [n for n in after if n in before and not _same_index_definition(before[n], after[n])]
    deletes = [n for n in before if n not in after or n in rebuilt]
    creates = [n for n in after if n not in before or n in rebuilt]
    return [("delete", n) for n in deletes] + [("create", n) for n in creates]


def _same_index_definition(a: ResolvedGlobalIndex, b: ResolvedGlobalIndex) -> bool:
    """Same keys and projection: what cannot change in place (capacity and tenancy can)."""
    return (a.partition_key, a.sort_key, a.projection) == (b.partition_key, b.sort_key, b.projection)


def _gsi_shape(index: ResolvedGlobalIndex) -> tuple:
    return (index.partition_key, index.sort_key, index.projection)


def _gsi_key(index: ResolvedGlobalIndex) -> tuple[KeyAttribute, ...]:
    """The index's key as data (shown "email (S) + at (S)"; JSON as a list of {name, type})."""
    return tuple(k for k in (index.partition_key, index.sort_key) if k is not None)


def _lsi_text(definition: tuple) -> dict:
    """A local index's definition as data; `_show` reads it as "sort_key=…, projection=…"."""
    sort_key, projection = definition
    return {"sort_key": sort_key, "projection": projection}


def _stream_effect(old: ResolvedTable, new: ResolvedTable) -> str:
    if old.stream is None:
        return "item changes start being recorded for 24 h"
    if new.stream is None:
        return "consumers (triggers, pipes) stop receiving changes and its records expire"
    # A new view type is a new stream with a new ARN (DynamoDB disables the old one, whose records
    # stay readable 24 h); an event-source mapping names a stream ARN, so it keeps reading the old one.
    return ("the stream is replaced by a new one with a new stream ARN: consumers (Lambda event-source "
            "mappings) keep reading the old ARN until they are pointed at the new one")


def _scoping(scoped: bool) -> str:
    return "tenant-scoped" if scoped else "cross-tenant"


def _dict_detail(old: dict, new: dict) -> str:
    parts = [f"+{k}" for k in new if k not in old] + [f"-{k}" for k in old if k not in new]
    parts += [f"~{k}" for k in new if k in old and old[k] != new[k]]
    return " ".join(parts)


def _key_names(table: ResolvedTable) -> set[str]:
    keys = {table.partition_key, table.sort_key}
    keys |= {k for i in table.global_indexes for k in (i.partition_key, i.sort_key)}
    keys |= {i.sort_key for i in table.local_indexes}
    return {k.name for k in keys if k is not None}


def _attribute_detail(old: ResolvedTable, new: ResolvedTable) -> str:
    # A key attribute's type change is already a key change (with its own, harsher verdict).
    keys = _key_names(old) | _key_names(new)
    # An attribute that is (or was) a table or index key says so: after a sort key change the old and
    # new sort keys are added/removed here, and they are not "non-key attributes" (issue 13).
    role = lambda k: f" ({_key_role(k, new if k in new.attributes else old)})" if k in keys else ""
    parts = [f"+{k}{role(k)}" for k in new.attributes if k not in old.attributes]
    parts += [f"-{k}{role(k)}" for k in old.attributes if k not in new.attributes]
    for k in new.attributes:
        # `unique` alone is its own change (unique_added / unique_removed)
        if k in old.attributes and old.attributes[k].model_copy(update={"unique": None}) != \
                new.attributes[k].model_copy(update={"unique": None}):
            if k in keys and old.attributes[k].type != new.attributes[k].type:
                continue
            parts.append(f"~{k}{role(k)}")
    return " ".join(parts)


def _key_role(name: str, table: ResolvedTable) -> str:
    if table.partition_key.name == name:
        return "partition key"
    if table.sort_key is not None and table.sort_key.name == name:
        return "sort key"
    return "index key" if name in _key_names(table) else "key"


def _patterns_detail(old: ResolvedTable, new: ResolvedTable) -> str:
    before = {p.name: p for p in old.access_patterns}
    after = {p.name: p for p in new.access_patterns}
    return _dict_detail(before, after) or "reordered"


# ---------------------------------------------------------------------------------------------
# Over environments

def diff_environments(base: SchemaFile | None, head: SchemaFile, env: str | None) -> list[Change]:
    """Diff one environment, or every environment merged to the worst verdict per change.

    Without `env`, a table removed in dev (destroy) and prod (retain) is one destructive change: CI
    judges the schema before knowing where it will be deployed. A base of None (no schema yet)
    makes every table new.
    """
    def base_of(name: str) -> ResolvedSchema | None:
        return resolve(base, name) if base is not None and name in base.environments else None

    if env is not None:
        if env not in head.environments:
            raise JobworkError(f"unknown environment {env!r}",
                               f"the schema defines: {', '.join(head.environments)}")
        return diff_schemas(base_of(env), resolve(head, env))
    per_env: list[Change] = []
    for name in head.environments:
        per_env += diff_schemas(base_of(name), resolve(head, name))
    gone_envs = [name for name in (base.environments if base else {}) if name not in head.environments]
    for name in gone_envs:
        per_env.append(make_change("environment_removed", "", f"environment {name}", env=name,
                                   stack=resolve(base, name).stack_name))
    gone_tables = [t for t in (base.tables if base else {}) if t not in head.tables]
    return merge_changes(per_env, table_order=list(head.tables) + gone_tables)


def merge_changes(changes: Iterable[Change], table_order: list[str] | None = None) -> list[Change]:
    """One change per (table, subject, family), the worst over environments, `env` set to None."""
    groups: dict[tuple, list[Change]] = {}
    for change in changes:
        family = KINDS[change.kind].family or change.kind
        groups.setdefault((change.table, change.subject, family), []).append(change)
    merged = []
    for group in groups.values():
        worst = max(c.severity for c in group)
        top = [c for c in group if c.severity == worst]
        first = top[0]
        statement = _merge_texts([(c.env, c.statement) for c in top])
        if len(group) > len(top) and len({c.statement for c in top}) == 1:
            # the other environments were milder: say where this verdict applies
            statement += f" (in {', '.join(c.env for c in top if c.env)})"
        advice = _merge_texts([(c.env, c.advice) for c in top if c.advice]) or None
        merged.append(replace(
            first, statement=statement, advice=advice, env=None, stack=None,
            before=_per_env(top, "before"), after=_per_env(top, "after"),
        ))
    return sort_changes(merged, table_order)


def _merge_texts(texts: list[tuple[str | None, str]]) -> str:
    """One sentence for several environments: the words they share, and the part that differs per env.

    ("dev", "table shop-dev-x is created"), ("prod", "table shop-prod-x is created")
    → "table [dev: shop-dev-x | prod: shop-prod-x] is created"
    """
    distinct = list(dict.fromkeys(text for _, text in texts))
    if len(distinct) <= 1:
        return distinct[0] if distinct else ""
    words = [text.split(" ") for _, text in texts]
    prefix = 0
    while all(len(w) > prefix for w in words) and len({w[prefix] for w in words}) == 1:
        prefix += 1
    suffix = 0
    while (all(len(w) - prefix > suffix for w in words)
           and len({w[len(w) - 1 - suffix] for w in words}) == 1):
        suffix += 1
    middle = " | ".join(f"{env}: {' '.join(w[prefix:len(w) - suffix])}" for (env, _), w in zip(texts, words))
    return " ".join([*words[0][:prefix], f"[{middle}]", *words[0][len(words[0]) - suffix:]])


def _per_env(changes: list[Change], attr: str) -> Any:
    """The value when every environment agrees, else environment → value."""
    values = {c.env: getattr(c, attr) for c in changes}
    first = next(iter(values.values()))
    return first if all(v == first for v in values.values()) else values


def sort_changes(changes: Iterable[Change], table_order: list[str] | None = None) -> list[Change]:
    """Environment-wide changes first, then per table in schema order, worst first within a table."""
    order = {t: n for n, t in enumerate(table_order or [])}
    return sorted(changes, key=lambda c: (c.table != "", order.get(c.table, len(order)), c.table,
                                          -c.severity, ORDER[c.kind]))


def worst(changes: Iterable[Change]) -> Severity | None:
    return max((c.severity for c in changes), default=None)
