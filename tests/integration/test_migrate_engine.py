"""The migration engine (jobwork_infra/migrate/) on DynamoDB Local: copy, catch-up, verify, resume.

The oracle is a plain consistent Scan of both generations compared here, not the engine's verify.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobwork_infra.errors import Blocked
from jobwork_infra.migrate import events as ev
from jobwork_infra.migrate.aws import local_clients
from jobwork_infra.migrate.catchup import catch_up
from jobwork_infra.migrate.checkpoint import Checkpoint, load, path_for
from jobwork_infra.migrate.copy import LeftBehindFile
from jobwork_infra.migrate.keys import KeyAttr, KeySchema
from jobwork_infra.migrate.run import ensure_stream, migrate_table
from jobwork_infra.migrate.verify import verify
from tests.migrate_support import NEW_KEY, Writer, create_table, job, scan_all, seed, user

pytestmark = [pytest.mark.slow, pytest.mark.local]
ROOT = Path(__file__).resolve().parent.parent.parent
OLD_KEY = KeySchema(KeyAttr("tenant_id", "S"), KeyAttr("user_id", "S"))


def _plain(value: dict) -> object:
    (kind, raw), = value.items()
    if kind in ("SS", "NS", "BS"):
        return kind, tuple(sorted(raw))
    if kind == "M":
        return kind, tuple(sorted((k, _plain(v)) for k, v in raw.items()))
    if kind == "L":
        return kind, tuple(_plain(v) for v in raw)
    if kind == "N":
        return kind, float(raw)
    return kind, raw


def by_new_key(items: list[dict]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for item in items:
        key = (item["tenant_id"]["S"], item["email"]["S"])
        assert key not in out, f"two items share {key}"
        out[key] = {name: _plain(value) for name, value in item.items()}
    return out


@pytest.fixture
def tables(dynamodb_local, app_name, tmp_path):
    client, streams = local_clients(dynamodb_local.endpoint)
    source, target = f"{app_name}-dev-users", f"{app_name}-dev-users-g2"
    create_table(client, source, "user_id")
    create_table(client, target, "email")
    yield client, streams, source, target, tmp_path
    for name in (source, target):
        client.delete_table(TableName=name)


def test_writes_during_the_copy_land_and_deletes_stay_deleted(tables):
    """Issue 17: a writer puts, updates, moves (changes the new-key attribute) and deletes items in
    generation 1 while the copy runs; afterwards generation 2 equals generation 1 item for item."""
    client, streams, source, target, root = tables
    seed(client, source, 600)
    writer = Writer(client, source, 600)
    seen: list = []

    def emit(event):
        seen.append(event)
        if isinstance(event, ev.Prescanned):
            writer.start()
        if isinstance(event, ev.Copied):
            # The writes that race the copy are this test's point; the writer stops here so that the
            # catch-up replays a finite stream (a writer outrunning the replay is the endless-stream
            # test in tests/unit/test_migrate_keys.py).
            writer.stop.set()
            writer.join()
            writer.writes_during_copy = writer.writes

    outcome = migrate_table(client, streams, job(source.rsplit("-dev-", 1)[0], page_size=20, segments=4,
                                                 concurrency=4), root, emit=emit)
    assert writer.writes_during_copy > 20, "the writer must have written while the copy ran"
    assert outcome.state.phase == "verified"
    old, new = by_new_key(scan_all(client, source)), by_new_key(scan_all(client, target))
    lost = [k for k in old if k not in new]
    resurrected = sorted(writer.deleted & set(new))
    assert (len(lost), len(resurrected)) == (0, 0)
    assert new == old
    assert verify(client, source, target, NEW_KEY, OLD_KEY, segments=4, concurrency=4).equal
    assert [e.items for e in seen if isinstance(e, ev.Prescanned)] == [600]


def test_a_copy_killed_mid_segment_resumes_and_converges(tables):
    client, streams, source, target, root = tables
    seed(client, source, 800)
    app = source.rsplit("-dev-", 1)[0]
    path = path_for(root, "dev", target)
    options = {"page_size": 5, "segments": 4, "concurrency": 2}
    process = subprocess.Popen([sys.executable, "-m", "tests.migrate_support", _endpoint(client), str(root), app,
                                json.dumps(options)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = load(path) if path.exists() else None
            if state is not None and state.phase == "copying" and state.copied >= 100:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    killed = load(path)
    assert killed.phase == "copying"
    assert any(s.last_key is not None and not s.done for s in killed.segments), "killed inside a segment"
    assert 0 < killed.copied < 800

    # Writes after the kill and before the resume must land too.
    client.delete_item(TableName=source, Key={"tenant_id": user(1)["tenant_id"], "user_id": user(1)["user_id"]})
    client.put_item(TableName=source, Item=user(5000))
    resumed: list = []
    outcome = migrate_table(client, streams, job(app, **options), root, emit=resumed.append)
    assert any(isinstance(e, ev.Resumed) and e.copied == killed.copied for e in resumed)
    assert outcome.verify.equal and outcome.state.phase == "verified"
    old, new = by_new_key(scan_all(client, source)), by_new_key(scan_all(client, target))
    assert new == old and len(new) == 800
    assert (user(1)["tenant_id"]["S"], user(1)["email"]["S"]) not in new


def _endpoint(client) -> str:
    return client.meta.endpoint_url


def test_unkeyed_items_are_refused_before_any_write_then_left_behind_to_the_named_file(tables):
    client, streams, source, target, root = tables
    seed(client, source, 50)
    strays = [user(900, email={"N": "7"}), user(901, email={"S": ""})]
    lacking = user(902)
    del lacking["email"]
    for item in (*strays, lacking):
        client.put_item(TableName=source, Item=item)
    app = source.rsplit("-dev-", 1)[0]
    with pytest.raises(Blocked) as refused:
        migrate_table(client, streams, job(app), root)
    message = refused.value.message
    assert message.startswith(f"3 item(s) of {source} cannot exist under the new key tenant_id (S) + email (S)")
    for reason in ("u000900: email is N, the key needs S", "u000901: email is empty", "u000902: lacks email"):
        assert reason in message
    assert "--skip-unkeyed" in refused.value.hint
    assert scan_all(client, target) == []  # refused before any write

    outcome = migrate_table(client, streams, job(app, skip_unkeyed=True), root)
    assert outcome.verify.equal and outcome.verify.unkeyed == 3 and outcome.state.phase == "verified"
    assert outcome.left_behind == path_for(root, "dev", target).with_suffix(".unkeyed.jsonl")
    lines = [json.loads(line) for line in outcome.left_behind.read_text().splitlines()]
    assert sorted(line["item"]["user_id"]["S"] for line in lines) == ["u000900", "u000901", "u000902"]
    assert {line["reason"] for line in lines} == {"email is N, the key needs S", "email is empty", "lacks email"}
    assert len(scan_all(client, target)) == 50


def test_two_items_with_one_new_key_are_refused_even_with_skip_unkeyed(tables):
    client, streams, source, target, root = tables
    seed(client, source, 20)
    client.put_item(TableName=source, Item=user(30, email=user(3)["email"], tenant_id=user(3)["tenant_id"]))
    with pytest.raises(Blocked) as refused:
        migrate_table(client, streams, job(source.rsplit("-dev-", 1)[0], skip_unkeyed=True), root)
    assert "1 item(s) of" in refused.value.message and "t3, user3@example.com" in refused.value.message
    assert scan_all(client, target) == []


def test_a_stream_of_another_view_type_is_refused(tables):
    client, streams, source, _, _ = tables
    client.update_table(TableName=source, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    with pytest.raises(Blocked) as refused:
        ensure_stream(client, streams, source)
    assert "KEYS_ONLY" in refused.value.message and "new_and_old_images" in refused.value.hint


def _finish_checkpoint(root, target):
    path = path_for(root, "dev", target)
    return Checkpoint(path, load(path))


def test_finish_keeps_the_source_unless_allowed_then_deletes_it_after_an_export(tables):
    from jobwork_infra.migrate.finish import finish

    client, streams, source, target, root = tables
    seed(client, source, 120)
    migrate_table(client, streams, job(source.rsplit("-dev-", 1)[0]), root)
    client.delete_item(TableName=source, Key={"tenant_id": user(5)["tenant_id"], "user_id": user(5)["user_id"]})
    before = by_new_key(scan_all(client, source))

    kept = finish(client, streams, _finish_checkpoint(root, target), root=root, local=True, allow_destructive=False)
    assert (kept.deleted, kept.backup, kept.items) == (False, None, 119)
    assert client.describe_table(TableName=source)["Table"]["TableName"] == source
    assert by_new_key(scan_all(client, target)) == before  # the delete was replayed first

    gone = finish(client, streams, _finish_checkpoint(root, target), root=root, local=True, allow_destructive=True)
    assert gone.deleted and gone.backup.startswith(str(root / ".jobwork" / "backups" / f"{source}-"))
    exported = [json.loads(line) for line in Path(gone.backup).read_text().splitlines()]
    assert by_new_key(exported) == before
    assert source not in client.list_tables()["TableNames"]
    assert load(path_for(root, "dev", target)).retired == "deleted"
    client.create_table(**_same_shape(source))  # the fixture deletes it at the end


def _same_shape(name: str) -> dict:
    return {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "tenant_id", "AttributeType": "S"},
                                     {"AttributeName": "user_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                          {"AttributeName": "user_id", "KeyType": "RANGE"}]}


def test_finish_refuses_while_the_generations_differ_and_keeps_the_source(tables):
    from jobwork_infra.migrate.finish import finish

    client, streams, source, target, root = tables
    seed(client, source, 30)
    migrate_table(client, streams, job(source.rsplit("-dev-", 1)[0]), root)
    client.put_item(TableName=target, Item=user(999))  # written to the new generation only
    with pytest.raises(Blocked) as refused:
        finish(client, streams, _finish_checkpoint(root, target), root=root, local=True, allow_destructive=True)
    assert "differs from" in refused.value.message and "extra t5, user999@example.com" in refused.value.message
    assert source in client.list_tables()["TableNames"]
    assert not (root / ".jobwork" / "backups").exists()


def test_a_catch_up_that_dies_between_batches_resumes_and_converges(tables, monkeypatch):
    """A crash after some writes and before their checkpoint: the same records are applied again, in order."""
    from jobwork_infra.migrate import catchup as catchup_module

    client, streams, source, target, root = tables
    seed(client, source, 60)
    migrate_table(client, streams, job(source.rsplit("-dev-", 1)[0]), root)
    for n in range(60, 100):
        client.put_item(TableName=source, Item=user(n))
    for n in range(0, 60, 3):
        client.delete_item(TableName=source, Key={"tenant_id": user(n)["tenant_id"], "user_id": user(n)["user_id"]})
    client.update_item(TableName=source, Key={"tenant_id": user(1)["tenant_id"], "user_id": user(1)["user_id"]},
                       UpdateExpression="SET email = :e", ExpressionAttributeValues={":e": {"S": "moved@example.com"}})
    real = catchup_module._write_chunks
    calls = []

    def dies_on_the_second(client_, table, ops):
        calls.append(len(ops))
        real(client_, table, ops[: len(ops) // 2])  # half of the batch lands, then the process "dies"
        if len(calls) == 1:
            return real(client_, table, ops[len(ops) // 2:])
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(catchup_module, "_write_chunks", dies_on_the_second)
    checkpoint = Checkpoint(path_for(root, "dev", target), load(path_for(root, "dev", target)))
    left = LeftBehindFile(root / "left.jsonl", OLD_KEY)
    original = catchup_module.RECORDS_PER_CALL
    monkeypatch.setattr(catchup_module, "RECORDS_PER_CALL", 25)  # several batches
    with pytest.raises(KeyboardInterrupt):
        catch_up(client, streams, checkpoint, left)
    monkeypatch.setattr(catchup_module, "_write_chunks", real)
    monkeypatch.setattr(catchup_module, "RECORDS_PER_CALL", original)
    catch_up(client, streams, Checkpoint(checkpoint.path, load(checkpoint.path)), left)
    old, new = by_new_key(scan_all(client, source)), by_new_key(scan_all(client, target))
    assert new == old and len(new) == 80
