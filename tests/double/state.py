"""The double's own state: the clock the tests control, the backfill time and injected failures.

One `Double` per session (the moto server runs in this process, in a thread); `reset()` empties it
before each test. What belongs to a live table (when its TTL last changed, when an index finishes
backfilling) is kept on moto's own table objects, so a moto reset forgets it with the table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DEFAULT_BACKFILL_SECONDS = 1.0
# How long UpdateTimeToLive leaves TimeToLiveStatus ENABLING or DISABLING: "It can take up to one hour for
# the change to fully process" (API_UpdateTimeToLive.html; the statuses: API_TimeToLiveDescription.html).
# 0 (the default): settled at once, as before; a test that wants AWS's asynchrony sets it.
DEFAULT_TTL_TRANSITION_SECONDS = 0.0
# Tables with secondary indexes in CREATING at once (see tests/double/tables.py for the source)
DEFAULT_CREATING_WITH_INDEXES_LIMIT = 25


class Clock:
    """Wall-clock time plus an offset the tests move forward with `advance`.

    Time still flows: an index backfill of one second finishes one real second later, and
    `advance(3600)` ends a TTL cool-down without waiting an hour.
    """

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()


@dataclass
class Double:
    clock: Clock = field(default_factory=Clock)
    backfill_seconds: float = DEFAULT_BACKFILL_SECONDS
    ttl_transition_seconds: float = DEFAULT_TTL_TRANSITION_SECONDS
    creating_with_indexes_limit: int = DEFAULT_CREATING_WITH_INDEXES_LIMIT
    # logical id → message: the next stack execution touching that resource fails there
    failures: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # True while a test holds the `strict_aws` fixture; moto's own behaviour otherwise
    active: bool = False

    def reset(self) -> None:
        self.clock.reset()
        self.backfill_seconds = DEFAULT_BACKFILL_SECONDS
        self.ttl_transition_seconds = DEFAULT_TTL_TRANSITION_SECONDS
        self.creating_with_indexes_limit = DEFAULT_CREATING_WITH_INDEXES_LIMIT
        self.failures.clear()


DOUBLE = Double()
