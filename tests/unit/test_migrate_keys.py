"""The migration engine's pure parts: new keys, content hashes, the replay plan, the left-behind file,
the checkpoint file and the progress report (no server)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from jobwork_infra.errors import JobworkError
from jobwork_infra.migrate import events as ev
from jobwork_infra.migrate.catchup import plan_writes
from jobwork_infra.migrate.checkpoint import Checkpoint, MigrationState, load
from jobwork_infra.migrate.copy import LeftBehindFile
from jobwork_infra.migrate.keys import KeyAttr, KeySchema, item_hash
from jobwork_infra.report.migrate import MigrateReport

NEW = KeySchema(KeyAttr("tenant_id", "S"), KeyAttr("email", "S"))
OLD = KeySchema(KeyAttr("tenant_id", "S"), KeyAttr("user_id", "S"))


def item(user: str, email: str | None = "a@x", **extra) -> dict:
    out = {"tenant_id": {"S": "t1"}, "user_id": {"S": user}, **extra}
    if email is not None:
        out["email"] = {"S": email}
    return out


@pytest.mark.parametrize("value, problem", [
    (None, "lacks email"),
    ({"N": "7"}, "email is N, the key needs S"),
    ({"S": ""}, "email is empty"),
    ({"S": "x" * 1025}, "email is longer than 1024 bytes"),
    ({"S": "é" * 512}, None),  # 1024 bytes exactly
    ({"NULL": True}, "email is NULL, the key needs S"),
])
def test_an_item_cannot_have_the_new_key_for_a_named_reason(value, problem):
    candidate = item("u1", None)
    if value is not None:
        candidate["email"] = value
    assert NEW.problem(candidate) == problem
    assert (NEW.of(candidate) is None) == (problem is not None)


def test_numbers_are_one_key_by_value_and_the_hash_ignores_set_order():
    numeric = KeySchema(KeyAttr("n", "N"))
    assert numeric.of({"n": {"N": "100"}}) == numeric.of({"n": {"N": "1E+2"}}) == numeric.of({"n": {"N": "100.0"}})
    a = item("u1", roles={"SS": ["b", "a"]}, score={"N": "1.50"})
    b = item("u1", roles={"SS": ["a", "b"]}, score={"N": "1.5"})
    assert item_hash(a) == item_hash(b)
    assert item_hash(a) != item_hash(item("u1", roles={"SS": ["a"]}, score={"N": "1.5"}))
    assert item_hash(item("u1", blob={"B": b"\x00\x01"})) != item_hash(item("u1", blob={"B": b"\x00\x02"}))


def record(name: str, old: dict | None, new: dict | None, seq: int) -> dict:
    data = {"SequenceNumber": f"{seq:021d}", "ApproximateCreationDateTime": datetime(2026, 1, 1)}
    if old is not None:
        data["OldImage"] = old
    if new is not None:
        data["NewImage"] = new
    return {"eventName": name, "dynamodb": data}


def test_the_replay_deletes_under_the_old_images_key_and_keeps_the_last_write(tmp_path):
    left = LeftBehindFile(tmp_path / "left.jsonl", OLD)
    records = [
        record("INSERT", None, item("u1", "a@x"), 1),
        record("MODIFY", item("u1", "a@x"), item("u1", "b@x"), 2),    # email moved: a@x must go
        record("MODIFY", item("u2", "c@x"), item("u2", "c@x", name={"S": "C"}), 3),
        record("REMOVE", item("u3", "d@x"), None, 4),
        record("MODIFY", item("u4", "e@x"), item("u4", None), 5),      # lost its key: delete, leave behind
    ]
    ops = plan_writes(records, NEW, left)
    assert {k[1][1]: next(iter(v)) for k, v in ops.items()} == {
        "a@x": "DeleteRequest", "b@x": "PutRequest", "c@x": "PutRequest", "d@x": "DeleteRequest",
        "e@x": "DeleteRequest"}
    assert ops[(("S", "t1"), ("S", "a@x"))] == {"DeleteRequest": {"Key": {"tenant_id": {"S": "t1"},
                                                                          "email": {"S": "a@x"}}}}
    assert len(left) == 1
    # The item given its key again is copied and leaves the list; the file is rewritten whole.
    plan_writes([record("MODIFY", item("u4", None), item("u4", "f@x"), 6)], NEW, left)
    left.flush()
    assert len(left) == 0 and (tmp_path / "left.jsonl").read_text() == ""


def test_a_record_without_an_old_image_is_refused(tmp_path):
    left = LeftBehindFile(tmp_path / "left.jsonl", OLD)
    with pytest.raises(JobworkError, match="NEW_AND_OLD_IMAGES"):
        plan_writes([record("REMOVE", None, None, 1)], NEW, left)


def test_the_left_behind_file_is_dynamodb_json_and_reloads(tmp_path):
    path = tmp_path / "left.jsonl"
    left = LeftBehindFile(path, OLD)
    left.add(item("u9", None, blob={"B": b"\xff"}), "lacks email")
    left.flush()
    [line] = [json.loads(line) for line in path.read_text().splitlines()]
    assert line == {"key": {"tenant_id": {"S": "t1"}, "user_id": {"S": "u9"}}, "reason": "lacks email",
                    "item": {"tenant_id": {"S": "t1"}, "user_id": {"S": "u9"}, "blob": {"B": "/w=="}}}
    again = LeftBehindFile(path, OLD)
    again.discard(item("u9", None))
    again.flush()
    assert path.read_text() == ""


def fresh(**changes) -> MigrationState:
    values = {"table": "users", "env": "dev", "source": "a", "target": "a-g2", "from_generation": 1,
              "to_generation": 2, "key": NEW.to_json(), "stream_arn": "arn:1"}
    return MigrationState(**{**values, **changes})


def test_a_checkpoint_of_another_migration_or_a_damaged_one_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "users-g2.json"
    Checkpoint.open(path, fresh())
    assert Checkpoint.open(path, fresh()).state.source == "a"
    with pytest.raises(JobworkError) as other:
        Checkpoint.open(path, fresh(key=OLD.to_json()))
    assert str(path) in other.value.message and "key tenant_id (S) + user_id (S)" in other.value.message
    path.write_text('{"format": 1, "phase": "copying"')
    with pytest.raises(JobworkError, match="cannot be read"):
        load(path)


def test_the_report_says_items_rate_eta_and_differences():
    out = io.StringIO()
    report = MigrateReport(Console(file=out, width=200, color_system=None))
    report(ev.CopyProgress("shop-dev-users", 40_000, 100_000, 4_000.0, 15.0))
    report(ev.Copied("shop-dev-users", 100_000, 125.0, 2))
    report(ev.CaughtUp("shop-dev-users", 10_000, 9_500, 3.2, 0.8))
    report(ev.LeftBehind("users", 3, ".jobwork/migrations/dev/users-g2.unkeyed.jsonl"))
    report(ev.Verified("shop-dev-users", 10, 9, (("missing", "t1, a@x"),), 1, 6))
    assert out.getvalue().splitlines() == [
        "  copy shop-dev-users: 40,000/100,000 items (4,000 items/s, ETA 15 s)",
        "  copied 100,000 items of shop-dev-users in 2 min 05 s (800 items/s; 2 throttled calls retried)",
        "  caught up from the stream of shop-dev-users: 10,000 records, 9,500 writes in 3 s; lag 0.8 s",
        "  left behind: 3 items of users without the new key, listed in .jobwork/migrations/dev/users-g2.unkeyed.jsonl",
        "  verify: 1 difference after 6 rounds (10 items in shop-dev-users, 9 in the new generation)",
        "    missing: t1, a@x",
    ]


@pytest.mark.parametrize("lie, why", [
    ({"phase": "copied", "total_segments": 2, "segments": [{"done": True}, {"done": False}]},
     "phase copied with segments not copied"),
    ({"phase": "copying", "total_segments": 3, "segments": [{"done": True}]}, "1 segments recorded for 3"),
    ({"phase": "copying", "stream_arn": None, "total_segments": 0}, "no stream recorded for a copy"),
    ({"phase": "done"}, "phase 'done'"),
])
def test_a_checkpoint_that_contradicts_itself_is_not_trusted(tmp_path, lie, why):
    """Never trust state you did not write: a copy marked finished with a segment left would skip it."""
    path = tmp_path / "users-g2.json"
    Checkpoint.open(path, fresh())
    data = json.loads(path.read_text())
    data.update(lie)
    path.write_text(json.dumps(data))
    with pytest.raises(JobworkError) as refused:
        load(path)
    assert why in refused.value.message and str(path) in refused.value.message


class EndlessStream:
    """A shard that a writer faster than the replay keeps filling: every GetRecords returns records,
    stamped with the (fake) clock, which moves a second per call."""

    def __init__(self, clock: list[float]):
        self.clock, self.calls, self.seq = clock, 0, 0

    def describe_stream(self, **_):
        return {"StreamDescription": {"Shards": [{"ShardId": "s1"}]}}

    def get_shard_iterator(self, **_):
        return {"ShardIterator": "it"}

    def get_records(self, **_):
        self.calls += 1
        self.clock[0] += 1.0
        assert self.calls < 100, "catch-up chased the writer instead of ending its pass"
        records = []
        for _ in range(3):
            self.seq += 1
            written = record("INSERT", None, item(f"u{self.seq}", f"e{self.seq}@x"), self.seq)
            written["dynamodb"]["ApproximateCreationDateTime"] = datetime.fromtimestamp(int(self.clock[0]), tz=UTC)
            records.append(written)
        return {"Records": records, "NextShardIterator": "it"}


class Sink:
    def __init__(self):
        self.written = 0

    def batch_write_item(self, RequestItems):
        self.written += sum(len(v) for v in RequestItems.values())
        return {}


def test_a_catch_up_pass_ends_even_when_the_writer_outruns_the_replay(tmp_path):
    """Hostile: a stream that is never at its tip. The pass replays to the moment it began (plus the
    second of stamp rounding) and leaves the rest, checkpointed and not done, for the next pass."""
    from jobwork_infra.migrate.catchup import HORIZON_SLACK_SECONDS, catch_up

    clock = [1_800_000_000.0]
    state = MigrationState("users", "dev", "a-dev-users", "a-dev-users-g2", 1, 2, NEW.to_json(), phase="copied",
                           stream_arn="arn:stream", started=clock[0])
    checkpoint = Checkpoint(tmp_path / "c.json", state)
    stream, sink = EndlessStream(clock), Sink()
    result = catch_up(sink, stream, checkpoint, LeftBehindFile(tmp_path / "l.jsonl", OLD), now=lambda: clock[0])
    assert stream.calls == int(HORIZON_SLACK_SECONDS) + 1
    assert result.records == sink.written == 3 * stream.calls
    assert state.shards["s1"].after == f"{stream.seq:021d}" and not state.shards["s1"].done
    assert load(tmp_path / "c.json").shards["s1"].after == f"{stream.seq:021d}"
