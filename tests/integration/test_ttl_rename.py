"""A TTL rename on the local engine (issue 23, item 3): the deploy counts the items that carry only the old
attribute, says the local engine has no TTL hour, and `--backfill-ttl` writes the new attribute on them
before TTL moves — resumable, concurrent writes win, deleted items stay deleted, verified by a count."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.migrate import backfill as engine

pytestmark = pytest.mark.slow


def schema_text(app_name: str, ttl: str) -> str:
    return textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        environments:
          dev:
            removal_policy: destroy
        tables:
          jobs:
            sort_key: job_id
            ttl: {ttl}
            attributes:
              tenant_id: uuid
              job_id: uuid
              expires_at: epoch_seconds
              purge_at: epoch_seconds
        """)


def deploy(schema, *args: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema), *args])


def flat(text: str) -> str:
    return " ".join(text.split())


def seed(client, table: str, n: int, *, with_new: int = 0) -> None:
    """`n` items with expires_at; the first `with_new` also carry purge_at already (written by new code)."""
    for i in range(n):
        item = {"tenant_id": {"S": "t1"}, "job_id": {"S": f"j{i:03}"}, "expires_at": {"N": str(2_000_000_000 + i)}}
        if i < with_new:
            item["purge_at"] = {"N": "1"}
        client.put_item(TableName=table, Item=item)


def items(client, table: str) -> dict[str, dict]:
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return {i["job_id"]["S"]: i for page in pages for i in page["Items"]}


def ttl_of(client, table: str) -> tuple[str, str]:
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    return ttl["TimeToLiveStatus"], ttl["AttributeName"]


@pytest.fixture
def renamed(local_engine, app_name, tmp_path):
    """A jobs table with TTL on expires_at holding 30 items (5 with purge_at already); the schema moved to purge_at."""
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name, "expires_at"))
    assert deploy(schema, "--yes").exit_code == 0
    client = local_engine.client()
    table = f"{app_name}-dev-jobs"
    seed(client, table, 30, with_new=5)
    schema.write_text(schema_text(app_name, "purge_at"))
    return schema, client, table


def checkpoints(table: str) -> list:
    """The backfill checkpoints of `table` under the project root ($JOBWORK_ROOT: the engine's root)."""
    root = Path(os.environ["JOBWORK_ROOT"])
    return list((root / ".jobwork" / "backfills" / "dev").glob(f"{table}.json"))


def test_a_dry_run_counts_the_items_that_would_stop_expiring_and_offers_the_backfill(renamed):
    schema, client, table = renamed
    result = deploy(schema, "--dry-run")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert (f"warning: {table}: TTL moves from expires_at to purge_at; 25 items carry only expires_at: they never "
            "expire once TTL is on purge_at") in text
    assert f"`jobwork-infra deploy --env dev --local --schema {schema} --backfill-ttl` writes purge_at on them" in text
    asked = flat(deploy(schema, "--dry-run", "--backfill-ttl").output)
    assert "the deploy (not this dry run) writes purge_at on them (from expires_at) before TTL moves" in asked
    assert ttl_of(client, table) == ("ENABLED", "expires_at")  # a dry run changes nothing, with --backfill-ttl too
    assert all("purge_at" not in i for k, i in items(client, table).items() if k >= "j005")


def test_without_backfill_the_rename_runs_and_says_the_local_engine_has_no_hour(renamed):
    schema, client, table = renamed
    result = deploy(schema, "--yes")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "25 items carry only expires_at" in text
    assert ("jobs: the local engine has no TTL hour: step 2 runs now; on AWS it waits until 1 h after the "
            "previous TTL change") in text
    assert text.index("Step 1/2") < text.index("no TTL hour") < text.index("Step 2/2")
    assert ttl_of(client, table) == ("ENABLED", "purge_at")
    assert sum("purge_at" not in i for i in items(client, table).values()) == 25  # the warning was true


def test_backfill_writes_the_new_attribute_before_ttl_moves_and_concurrent_writes_win(renamed, monkeypatch):
    schema, client, table = renamed
    before = items(client, table)
    # Hostile: between the backfill's scan and its writes, the application gives j010 its own purge_at,
    # deletes j011, and changes j012's expires_at (the backfill must copy the value as it is at the write).
    real_copy = engine._copy
    raced: list[str] = []
    lock = threading.Lock()  # no copy of any segment runs before the application's writes are done

    def racing_copy(c, t, key, old, new):
        with lock:
            if raced:
                return real_copy(c, t, key, old, new)
            raced.append("done")
            client.update_item(TableName=t, Key={"tenant_id": {"S": "t1"}, "job_id": {"S": "j010"}},
                               UpdateExpression="SET purge_at = :p", ExpressionAttributeValues={":p": {"N": "42"}})
            client.delete_item(TableName=t, Key={"tenant_id": {"S": "t1"}, "job_id": {"S": "j011"}})
            client.update_item(TableName=t, Key={"tenant_id": {"S": "t1"}, "job_id": {"S": "j012"}},
                               UpdateExpression="SET expires_at = :e", ExpressionAttributeValues={":e": {"N": "7"}})
            return real_copy(c, t, key, old, new)

    monkeypatch.setattr(engine, "_copy", racing_copy)
    result = deploy(schema, "--yes", "--backfill-ttl")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "this deploy writes purge_at on them (from expires_at) before TTL moves" in text
    assert f"{table}: wrote purge_at from expires_at on " in text and "verified: no item carries only expires_at" in text
    assert text.index("verified: no item carries only expires_at") < text.index("Step 1/2")
    after = items(client, table)
    assert "j011" not in after                                   # deleted meanwhile: not re-created
    assert after["j010"]["purge_at"] == {"N": "42"}              # the concurrent write won
    assert after["j012"]["purge_at"] == {"N": "7"}               # copied as it was at the write
    for key in ("j000", "j004"):
        assert after[key]["purge_at"] == {"N": "1"}              # new code's values untouched
    for key, item in after.items():
        assert "purge_at" in item, key
        assert item["expires_at"] == (before[key]["expires_at"] if key != "j012" else {"N": "7"})  # old kept
    assert ttl_of(client, table) == ("ENABLED", "purge_at")
    assert checkpoints(table) == []  # nothing left to resume


def test_a_killed_backfill_changes_no_ttl_and_the_same_command_resumes_it(renamed, monkeypatch):
    schema, client, table = renamed
    real_copy, real_call, writes, scans = engine._copy, engine.call, [], []

    def dies_after_ten(c, t, key, old, new):
        if len(writes) == 10:
            raise RuntimeError("killed")  # the process dies mid-page
        writes.append(key["job_id"]["S"])
        return real_copy(c, t, key, old, new)

    def small_pages(fn, **kwargs):  # pages of 4 items, so the kill lands after some pages were checkpointed
        if "Segment" in kwargs and "Select" not in kwargs:
            scans.append(dict(kwargs))
            kwargs["Limit"] = 4
        return real_call(fn, **kwargs)

    monkeypatch.setattr(engine, "SEGMENTS", 1)
    monkeypatch.setattr(engine, "call", small_pages)
    monkeypatch.setattr(engine, "_copy", dies_after_ten)
    killed = deploy(schema, "--yes", "--backfill-ttl")
    assert killed.exit_code != 0
    assert ttl_of(client, table) == ("ENABLED", "expires_at")   # TTL not moved: no item stopped expiring
    [checkpoint] = checkpoints(table)
    saved = json.loads(checkpoint.read_text())
    [segment] = saved["segments"]
    assert segment["last_key"] is not None and not segment["done"] and 0 < segment["items"] <= 10

    monkeypatch.setattr(engine, "_copy", lambda c, t, key, old, new: (writes.append(key["job_id"]["S"]),
                                                                        real_copy(c, t, key, old, new))[1])
    scans.clear()
    result = deploy(schema, "--yes", "--backfill-ttl")
    assert result.exit_code == 0, result.output
    assert scans[0]["ExclusiveStartKey"] == segment["last_key"]  # resumed from the checkpoint, not restarted
    assert len(writes) == 25 and len(set(writes)) == 25          # each item written once (the filter skips the rest)
    assert "verified: no item carries only expires_at" in flat(result.output)
    assert all("purge_at" in i for i in items(client, table).values())
    assert ttl_of(client, table) == ("ENABLED", "purge_at")


def test_items_still_written_without_the_new_attribute_refuse_the_ttl_move(renamed, monkeypatch):
    schema, client, table = renamed
    real_copy, n = engine._copy, [0]

    def old_code_keeps_writing(c, t, key, old, new):
        if n[0] >= 500:  # a bound for the test; three passes take far fewer
            return real_copy(c, t, key, old, new)
        n[0] += 1  # code generated before the change: every write adds an item with expires_at only
        client.put_item(TableName=t, Item={"tenant_id": {"S": "t2"}, "job_id": {"S": f"new{n[0]}"},
                                           "expires_at": {"N": "5"}})
        return real_copy(c, t, key, old, new)

    monkeypatch.setattr(engine, "_copy", old_code_keeps_writing)
    result = deploy(schema, "--yes", "--backfill-ttl")
    assert result.exit_code == 3, result.output
    text = flat(result.output)
    assert "R025" in text and "still carry only expires_at after 3 pass(es)" in text
    assert "TTL was not moved" in text and "--backfill-ttl" in text
    assert ttl_of(client, table) == ("ENABLED", "expires_at")
