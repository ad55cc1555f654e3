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
# How long a stack operation stays *_IN_PROGRESS after ExecuteChangeSet/CreateStack/UpdateStack return. AWS takes
# seconds to hours and answers at once ("ExecuteChangeSet ... the stack status changes to UPDATE_IN_PROGRESS",
# API_ExecuteChangeSet.html); 0 (the default): the operation is over when the call returns, as before.
DEFAULT_STACK_OPERATION_SECONDS = 0.0


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
    stack_operation_seconds: float = DEFAULT_STACK_OPERATION_SECONDS
    # added to backfill_seconds per item of the table a new index backfills (0 by default)
    backfill_seconds_per_item: float = 0.0
    # logical id → message: the next stack execution touching that resource fails there
    failures: dict[str, str] = field(default_factory=dict)
    # logical id → message: rolling that resource back fails (the stack ends UPDATE_ROLLBACK_FAILED) until
    # ContinueUpdateRollback skips it
    rollback_failures: dict[str, str] = field(default_factory=dict)
    # stack id → {logical id: message}: the resources whose rollback failed, for ContinueUpdateRollback
    stuck: dict[str, dict[str, str]] = field(default_factory=dict)
    # stack operations under way (cloudformation.Operation), cancelled by reset()
    pending: list = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # True while a test holds the `strict_aws` fixture; moto's own behaviour otherwise
    active: bool = False

    def reset(self) -> None:
        self.clock.reset()
        self.backfill_seconds = DEFAULT_BACKFILL_SECONDS
        self.ttl_transition_seconds = DEFAULT_TTL_TRANSITION_SECONDS
        self.creating_with_indexes_limit = DEFAULT_CREATING_WITH_INDEXES_LIMIT
        self.stack_operation_seconds = DEFAULT_STACK_OPERATION_SECONDS
        self.backfill_seconds_per_item = 0.0
        self.failures.clear()
        self.rollback_failures.clear()
        self.stuck.clear()
        self.cancel_operations()

    def cancel_operations(self) -> None:
        """Stack operations still under way never run (a test ended before their time was up)."""
        for operation in self.pending:
            operation.cancel()
        self.pending.clear()

    def finish_operations(self, phases: int | None = None) -> None:
        """The stack operations under way end now, as if their time were up: every phase (an update's
        UPDATE_IN_PROGRESS, then its UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), or only the next `phases`."""
        while self.pending and (phases is None or phases > 0):
            self.pending.pop(0).run()
            phases = None if phases is None else phases - 1


DOUBLE = Double()
