"""Changes → ordered steps, each one update that CloudFormation and DynamoDB accept on its own.

DynamoDB creates or deletes at most one global index per table per update, and TTL cannot move to
another attribute while enabled (disable, then enable ≥ 1 h later). So the planner gives each
table its index operations one per step (deletions first: they free the name and the slot a
re-created index needs) and splits a TTL rename over two steps. Every other change rides in step 1.
Each step's `target` is the whole environment after that step, so a deployer only ever reconciles
or synthesizes a target, never interprets a change.
"""

from __future__ import annotations

from dataclasses import replace

from .changes import Change, Migration, Plan, Step
from .diff import KINDS, diff_schemas, gsi_operations, is_migration, migration_change, replaces_table
from .model import ResolvedSchema, ResolvedTable

TTL_WAIT = "AWS needs at least 1 h between disabling TTL and enabling it again: wait before this step"


def is_legal_step(before: ResolvedSchema | None, after: ResolvedSchema) -> bool:
    """One legal update: per kept table at most one index created or deleted, and no TTL rename."""
    if before is None:
        return True  # creating tables: any number of indexes may come with them
    for key, new in after.tables.items():
        old = before.tables.get(key)
        if old is None or replaces_table(old, new):
            continue  # a new table is created whole
        if len(gsi_operations(old, new)) > 1:
            return False
        if old.ttl and new.ttl and old.ttl != new.ttl:
            return False
    return True


def plan_changes(base: ResolvedSchema | None, head: ResolvedSchema) -> Plan:
    """The changes from `base` (None: nothing deployed) to `head`, staged into legal steps."""
    changes = tuple(diff_schemas(base, head))
    if not changes:
        return Plan(base, head, changes)
    staged = _staged_tables(base, head)
    count = max([1] + [s.steps for s in staged.values()])
    migrating = _migrating(base, head)
    before = _before_migrations(head, migrating)
    if count == 1:
        summary = f"apply {_n(len(changes), 'change')} in one update: {_grouped(_named(changes))}"
        first = Step(1, summary, changes, before)
        return Plan(base, head, changes, (first, *_migrate_step(migrating, head, changes, 2)))

    steps = []
    for number in range(1, count + 1):
        target = before.model_copy(update={"tables": {
            key: staged[key].at(number) if key in staged else table for key, table in before.tables.items()}})
        mine = tuple(c for c in changes if number in _steps_of(c, staged))
        steps.append(Step(number, _summary(number, mine, staged), mine, target))
    return Plan(base, head, changes, (*steps, *_migrate_step(migrating, head, changes, count + 1)))


# The stream view a migration replays: a deleted item's new-key value is only in its old image.
MIGRATION_STREAM = "new_and_old_images"


def _migrating(base: ResolvedSchema | None, head: ResolvedSchema) -> dict[str, ResolvedTable]:
    """Key → the deployed generation, for each table whose generation the head bumps."""
    if base is None:
        return {}
    return {key: old for key, new in head.tables.items()
            if (old := base.tables.get(key)) is not None and is_migration(old, new)}


def _before_migrations(head: ResolvedSchema, migrating: dict[str, ResolvedTable]) -> ResolvedSchema:
    """`head` with each migrating table still its deployed generation, its stream on for the copy:
    what the update steps before the migrate step leave (generation N is created by that step)."""
    if not migrating:
        return head
    return head.model_copy(update={"tables": {
        key: migrating[key].model_copy(update={"stream": MIGRATION_STREAM}) if key in migrating else table
        for key, table in head.tables.items()}})


def _migrate_step(migrating: dict[str, ResolvedTable], head: ResolvedSchema, changes: tuple[Change, ...],
                  number: int) -> tuple[Step, ...]:
    """The step that creates and fills each new generation, after the other steps (none: no bump)."""
    migrations = tuple(
        Migration(key, old.generation, head.tables[key].generation, old.physical_name,
                  head.tables[key].physical_name, head.tables[key].partition_key, head.tables[key].sort_key)
        for key, old in migrating.items())
    if not migrations:
        return ()
    mine = tuple(c for c in changes if c.kind == "table_migrated")
    summary = "; ".join(f"{m.table}: create {m.target} (generation {m.to_generation}), copy {m.source} into "
                        f"{m.target}, catch up from the stream, verify" for m in migrations)
    return (Step(number, summary, mine, head, kind="migrate", migrations=migrations),)


def with_item_counts(plan: Plan, counts: dict[str, tuple[int, str]]) -> Plan:
    """The plan with each migration's change saying how many items its source holds (deploy read them)."""
    if plan.base is None or not counts:
        return plan

    def counted(change: Change) -> Change:
        if change.kind != "table_migrated":
            return change
        old, new = plan.base.tables[change.table], plan.head.tables[change.table]
        if old.physical_name not in counts:
            return change
        return replace(migration_change(old, new, change.env, *counts[old.physical_name]), stack=change.stack)

    steps = tuple(replace(step, changes=tuple(counted(c) for c in step.changes)) for step in plan.steps)
    return replace(plan, changes=tuple(counted(c) for c in plan.changes), steps=steps)


class _StagedTable:
    """A kept table whose index operations or TTL rename need more than one update."""

    def __init__(self, old: ResolvedTable, new: ResolvedTable):
        self.old, self.new = old, new
        self.ops = gsi_operations(old, new)
        self.ttl_renamed = bool(old.ttl and new.ttl and old.ttl != new.ttl)
        self.steps = max(len(self.ops), 2 if self.ttl_renamed else 1)

    def step_of(self, op: str, index: str) -> int:
        return self.ops.index((op, index)) + 1

    def at(self, number: int) -> ResolvedTable:
        """The table after `number` steps: its first `number` index operations done."""
        head = {i.name: i for i in self.new.global_indexes}
        current = {i.name: head.get(i.name) if ("delete", i.name) not in self.ops else i
                   for i in self.old.global_indexes}
        for op, name in self.ops[:number]:
            if op == "delete":
                del current[name]
            else:
                current[name] = head[name]
        # The head's order once complete, so the last target equals the head exactly.
        ordered = [current[n] for n in head if n in current] + [i for n, i in current.items() if n not in head]
        ttl = None if self.ttl_renamed and number < 2 else self.new.ttl
        return self.new.model_copy(update={"global_indexes": tuple(ordered), "ttl": ttl})


def _staged_tables(base: ResolvedSchema | None, head: ResolvedSchema) -> dict[str, _StagedTable]:
    if base is None:
        return {}
    out = {}
    for key, new in head.tables.items():
        old = base.tables.get(key)
        if old is not None and not replaces_table(old, new):
            table = _StagedTable(old, new)
            if table.steps > 1:
                out[key] = table
    return out


def _steps_of(change: Change, staged: dict[str, _StagedTable]) -> set[int]:
    """The steps that carry (part of) a change."""
    table = staged.get(change.table)
    if table is None:
        return {1}
    index = change.index
    if change.kind == "gsi_added":
        return {table.step_of("create", index)}
    if change.kind == "gsi_removed":
        return {table.step_of("delete", index)}
    if change.kind == "gsi_renamed":
        return {table.step_of("delete", change.before), table.step_of("create", change.after)}
    if change.kind in ("gsi_key_changed", "gsi_projection_changed"):
        return {table.step_of("delete", index), table.step_of("create", index)}
    if change.kind == "gsi_updates_staged":
        return set(range(1, len(table.ops) + 1))
    if change.kind == "ttl_renamed":
        return {1, 2}
    return {1}


def _summary(number: int, changes: tuple[Change, ...], staged: dict[str, _StagedTable]) -> str:
    parts: list[tuple[str, str]] = []  # (table, what the step does to it)
    if number == 1:
        staged_kinds = {"gsi_added", "gsi_removed", "gsi_renamed", "gsi_key_changed", "gsi_projection_changed",
                        "gsi_updates_staged", "ttl_renamed"}
        parts += _named([c for c in changes if not (c.table in staged and c.kind in staged_kinds)])
    for key, table in staged.items():
        if number <= len(table.ops):
            op, index = table.ops[number - 1]
            parts.append((key, f"{op} index {index}"))
        if table.ttl_renamed and number == 1:
            parts.append((key, f"disable TTL on {table.old.ttl}"))
        if table.ttl_renamed and number == 2:
            parts.append((key, (f"enable TTL on {table.new.ttl} ({TTL_WAIT}; items carrying only "
                                f"{table.old.ttl} do not expire)")))
    return _grouped(parts)


# How a change reads inside a step's summary: what the step does, not the verdict.
_STEP_WORDS = {
    "table_added": "create table", "table_removed": "delete table",
    "table_removed_retained": "remove table from the stack (kept: retain)",
    "gsi_added": "create index {index}", "gsi_removed": "delete index {index}",
    "ttl_enabled": "enable TTL on {after}", "ttl_disabled": "disable TTL on {before}",
}


def _named(changes) -> list[tuple[str, str]]:
    """Every change by name: (table, `create index by_email`), or its code and subject (`D105 sort key`)
    as the change list above the plan names it. A step names all it applies (issue 23: "apply 4 other
    changes" hid a new index)."""
    out = []
    for c in changes:
        words = _STEP_WORDS.get(c.kind)
        out.append((c.table or "environment", words.format(index=c.index, before=c.before, after=c.after) if words
                    else f"{c.code} {c.subject or KINDS[c.kind].title}"))
    return out


def _grouped(parts: list[tuple[str, str]]) -> str:
    """`users: create index by_email, D406 description; jobs: create table` (tables in order of appearance)."""
    by_table: dict[str, list[str]] = {}
    for table, text in parts:
        by_table.setdefault(table, []).append(text)
    return "; ".join(f"{table}: {', '.join(texts)}" for table, texts in by_table.items())


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
