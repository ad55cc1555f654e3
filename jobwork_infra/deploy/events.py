"""What a deploy or destroy reports while it runs: plain records, rendered by report/deploy.py.

The deploy flow and its targets never print; they emit these through a callable (`Emit`), so the
same run can be shown in a terminal, captured by a test, or written as JSON later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..changes import Plan


@dataclass(frozen=True)
class Planned:
    """The plan, before any gate: what `--dry-run` shows and what apply executes."""

    plan: Plan
    where: str


@dataclass(frozen=True)
class AtRisk:
    """Tables the plan deletes or replaces, with the items they hold (before any gate or prompt).

    Each entry: (physical name, "deleted" or "replaced", item count or None when unknown, how exact:
    "" exact, "at least" for a bounded count, "approximately" for DynamoDB's ItemCount)."""

    tables: tuple[tuple[str, str, int | None, str], ...]


@dataclass(frozen=True)
class NoChanges:
    where: str
    detail: str = ""
    destroy: bool = False  # destroy found nothing deployed


@dataclass(frozen=True)
class DryRun:
    where: str
    steps: int


@dataclass(frozen=True)
class Adopting:
    """A table that exists and nothing manages, taken over by `deploy --adopt` (deploy/adopt.py)."""

    table: str
    key: str
    items: int | None           # DescribeTable's ItemCount (updated by AWS about every six hours)
    destroy: bool               # the schema's removal_policy is destroy: destroy would delete its data
    env: str
    stack: str | None = None    # the CloudFormation stack it is taken out of


@dataclass(frozen=True)
class Cancelled:
    pass


@dataclass(frozen=True)
class StepStarted:
    number: int
    total: int
    summary: str


@dataclass(frozen=True)
class Applied:
    """One thing done to a table (the local target reports each call)."""

    text: str


@dataclass(frozen=True)
class Note:
    text: str
    warning: bool = False


@dataclass(frozen=True)
class StackEvent:
    """One CloudFormation resource event, `elapsed` seconds into the operation."""

    status: str
    logical_id: str
    resource_type: str
    reason: str
    elapsed: float


@dataclass(frozen=True)
class Waiting:
    """Tables or indexes not yet settled (CREATING, UPDATING, DELETING), `elapsed` seconds into the wait."""

    pending: tuple[str, ...]
    elapsed: float


@dataclass(frozen=True)
class Deferred:
    """The rest of the plan must wait for AWS's TTL cool-down; `wait` says whether the run sleeps through it."""

    number: int
    total: int
    at: datetime
    tables: tuple[str, ...]
    wait: bool


@dataclass(frozen=True)
class Failed:
    """Why an operation failed, as AWS said it (one line per failed resource)."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class Deployed:
    where: str
    steps: int
    seconds: float
    changed: bool = True


@dataclass(frozen=True)
class StacksDone:
    """The one summary of a deploy over several stacks: stack → steps applied, or None (no changes),
    "deferred" (TTL cool-down), "not started" or "failed"."""

    env: str
    outcomes: tuple[tuple[str, int | str | None], ...]
    seconds: float
    failed: bool = False


@dataclass(frozen=True)
class Verified:
    checks: int


@dataclass(frozen=True)
class Outputs:
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DestroyPlanned:
    where: str
    deleted: tuple[str, ...]
    kept: tuple[str, ...]
    protected: tuple[str, ...] = field(default=())
    others: tuple[str, ...] = field(default=())   # deleted with the stack: "IAM managed policy NAME"
    termination_protection: bool = False          # on: turned off first, once the user said yes


@dataclass(frozen=True)
class Destroyed:
    where: str
    kept: tuple[str, ...]


Event = (Planned | AtRisk | Adopting | NoChanges | DryRun | Cancelled | StepStarted | Applied | Note | StackEvent
         | Waiting | Deferred | Failed | Deployed | StacksDone | Verified | Outputs | DestroyPlanned | Destroyed)
Emit = Callable[[Event], None]
