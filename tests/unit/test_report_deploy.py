"""Deploy progress as text (report/deploy.py): the sentences users act on, exactly."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from jobwork_infra.deploy import events
from jobwork_infra.report.deploy import DeployReport


def render(*seen) -> str:
    out = io.StringIO()
    report = DeployReport(Console(file=out, width=200, color_system=None, soft_wrap=True))
    for event in seen:
        report(event)
    return out.getvalue()


def test_the_cool_down_says_when_the_next_step_can_run_rounded_up_to_the_minute():
    at = datetime(2026, 11, 25, 15, 41, 10, tzinfo=UTC)
    assert render(events.Deferred(2, 2, at, ("users",), False)) == (
        "Step 2 of 2 can run after 15:42 UTC; run deploy again then. "
        "AWS allows one TTL change per table per hour (users).\n")
    exact = datetime(2026, 11, 25, 15, 42, 0, tzinfo=UTC)
    assert "after 15:42 UTC: AWS allows one TTL change per table per hour (users); waiting (--wait)." in render(
        events.Deferred(2, 2, exact, ("users",), True))


def test_no_changes_dry_run_cancel_and_destroy_read_the_same_on_every_target():
    assert render(events.NoChanges("stack shop-dev")) == "No changes: stack shop-dev matches the schema.\n"
    assert render(events.NoChanges("stack shop-dev", destroy=True)) == \
        "Nothing to destroy: stack shop-dev has nothing deployed.\n"
    assert render(events.DryRun("stack shop-dev", 2)) == \
        "Dry run: 2 steps would be applied to stack shop-dev; nothing was changed.\n"
    assert render(events.Cancelled()) == "Cancelled; nothing was changed.\n"
    assert render(events.DestroyPlanned("stack shop-dev", ("a", "b"), ("c",), ("b",))) == (
        "stack shop-dev:\n  delete  a  (its data is lost)\n"
        "  delete  b  (its data is lost) (deletion protection on: turned off first)\n"
        "  keep    c  (removal_policy: retain)\n")


def test_waiting_and_failures():
    assert render(events.Waiting(("index by_email of shop-dev-users CREATING (backfilling)",), 12.4)) == \
        "     12s  waiting for index by_email of shop-dev-users CREATING (backfilling)\n"
    assert render(events.Failed(("UsersTable (AWS::DynamoDB::Table): boom",))) == \
        "Failed:\n  UsersTable (AWS::DynamoDB::Table): boom\n"
