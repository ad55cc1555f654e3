"""What a migration reports while it runs: plain records, rendered by report/migrate.py.

The stages never print; they call an `Emit` with these, as the deploy flow does with deploy/events.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamEnabled:
    table: str
    arn: str
    enabled_now: bool          # False: it was already on with NEW_AND_OLD_IMAGES


@dataclass(frozen=True)
class Prescanned:
    table: str
    items: int
    unkeyed: int
    sample: tuple[tuple[str, str], ...]   # (source key, why it cannot be copied), the first few
    collisions: tuple[str, ...]           # new keys held by more than one source item, the first few
    seconds: float


@dataclass(frozen=True)
class Resumed:
    table: str
    phase: str
    copied: int
    segments_done: int
    segments: int


@dataclass(frozen=True)
class CopyProgress:
    table: str
    items: int
    total: int | None          # from the prescan (exact then), None when unknown
    per_second: float
    eta_seconds: float | None


@dataclass(frozen=True)
class Copied:
    table: str
    items: int
    seconds: float
    throttled: int             # BatchWriteItem calls that came back with UnprocessedItems


@dataclass(frozen=True)
class CaughtUp:
    table: str
    records: int               # stream records read in this pass
    writes: int                # writes and deletes applied to the new generation
    seconds: float
    lag_seconds: float | None  # age of the newest record applied when the pass ended


@dataclass(frozen=True)
class LeftBehind:
    table: str
    count: int
    file: str


@dataclass(frozen=True)
class Verified:
    table: str
    source_items: int
    target_items: int
    differences: tuple[tuple[str, str], ...]   # (kind, key), the first few
    difference_count: int
    rounds: int


Event = StreamEnabled | Prescanned | Resumed | CopyProgress | Copied | CaughtUp | LeftBehind | Verified
Emit = Callable[[Event], None]


def ignore(_: Event) -> None:
    """An Emit that drops every event (library use, tests that do not look)."""
