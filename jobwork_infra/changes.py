"""The records shared by diff, plan and deploy: a typed change with its severity, and a staged plan.

These are plain data (computed apart from printing them): `diff` produces `Change`s, `plan` orders
them into `Step`s, deploy executes the steps and `--dry-run` prints the very same `Plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .model import KeyAttribute, ResolvedSchema


class Severity(IntEnum):
    """Ordered: a higher value is more dangerous, and `--fail-on` compares with >=."""

    SAFE = 0         # nothing existing is touched, or metadata only
    ONLINE = 1       # in place, with an effect to know (backfill, expiry, orphaned table)
    MULTI_STEP = 2   # CloudFormation rejects it as one update; deploy stages it
    DESTRUCTIVE = 3  # the table is deleted or replaced: its data is gone

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, label: str) -> Severity:
        return cls[label.upper().replace("-", "_")]


@dataclass(frozen=True)
class Change:
    code: str                 # stable: D101 …
    kind: str                 # "gsi_added", "partition_key_changed", …
    severity: Severity
    table: str                # the YAML table key
    subject: str              # what in the table, for display: "index by_email", "partition key", "" for the table
    statement: str            # what happens to the live table, one line
    advice: str | None = None  # what to do instead, where dangerous
    before: Any = None
    after: Any = None
    env: str | None = None    # the environment judged, None when judged over all
    # The index the change is about (global or local), None when it is not about one; for a
    # renamed index the new name (`before`/`after` hold both). Stages read this, never `subject`.
    index: str | None = None
    # The CloudFormation stack the change lands in ({app}-{env} or {app}-{env}-NAME); None when judged
    # over every environment (the stack names differ per environment) or for environment-wide changes.
    stack: str | None = None


@dataclass(frozen=True)
class Migration:
    """A generation bump as the plan carries it: fill `target` from `source` under the new key
    (copy, catch-up from the source's stream, verify; jobwork_infra/migrate/)."""

    table: str                      # the YAML key
    from_generation: int
    to_generation: int
    source: str                     # generation N-1's physical name
    target: str                     # generation N's physical name
    partition_key: KeyAttribute     # generation N's key, which every copied item must have
    sort_key: KeyAttribute | None


@dataclass(frozen=True)
class Step:
    """One legal update: at most one GSI created or deleted per table, deployable on its own.

    A step of kind "migrate" changes no table definition (its target is the one before it): it
    copies the items of each of its `migrations` into the new generation created by an earlier step.
    """

    number: int
    summary: str
    changes: tuple[Change, ...]
    target: ResolvedSchema     # the whole environment as it stands after this step
    kind: str = "update"       # "update" | "migrate"
    migrations: tuple[Migration, ...] = ()


@dataclass(frozen=True)
class Plan:
    base: ResolvedSchema | None  # None: nothing deployed yet
    head: ResolvedSchema
    changes: tuple[Change, ...]
    steps: tuple[Step, ...] = field(default=())

    @property
    def severity(self) -> Severity | None:
        return max((c.severity for c in self.changes), default=None)

    @property
    def is_empty(self) -> bool:
        return not self.changes
