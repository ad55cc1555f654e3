"""How long the deploy waits between polls, and which clock it reads: one object, set once.

Tests make a deploy fast by setting the fields of `TIMING` (tests/support.py `fast_polls`), and point
`TIMING.now`/`TIMING.sleep` at the strict double's clock; nothing else in the package holds a
poll interval or reads the wall clock for AWS's TTL hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def wall_clock() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


@dataclass
class Timing:
    # Seconds between the CloudFormation waiters' polls. The botocore defaults (30 s) would leave the
    # progress view silent for half a minute at a time.
    stack_poll: float = 5
    change_set_poll: float = 2
    # Waiting for tables to settle: first poll after 1 s, doubling to at most 30 s (a backfill takes
    # minutes to hours on AWS); progress at least every 30 s while nothing changes.
    first_poll: float = 1.0
    max_poll: float = 30.0
    report_every: float = 30.0
    # The clock AWS's one-hour TTL window is read on, and how a --wait sleeps through it.
    now: Callable[[], datetime] = field(default=wall_clock)
    sleep: Callable[[float], None] = field(default=time.sleep)


TIMING = Timing()
