"""`fast_polls`: the deploy's poll intervals near zero and, with the strict double, its clock.

Timing is one object (jobwork_infra/deploy/timing.py `TIMING`), so this is the one fixture that sets it.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fast_polls(monkeypatch, request):
    from jobwork_infra.deploy.timing import TIMING

    monkeypatch.setattr(TIMING, "stack_poll", 0)
    monkeypatch.setattr(TIMING, "change_set_poll", 0)
    monkeypatch.setattr(TIMING, "first_poll", 0.05)
    if "strict_aws" in request.fixturenames:
        monkeypatch.setattr(TIMING, "now", request.getfixturevalue("strict_aws").clock.now)
    return TIMING
