"""The deploy flow (deploy/flow.py) over a recording target: no server, every decision exact and fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobwork_infra.deploy import DeployRequest, events, flow
from jobwork_infra.deploy import destroy as destroying
from jobwork_infra.deploy.apply import ttl_changes
from jobwork_infra.deploy.target import Capabilities, DeployedState
from jobwork_infra.deploy.timing import TIMING
from jobwork_infra.errors import Blocked, JobworkError
from jobwork_infra.model import SchemaFile, resolve

T0 = datetime(2026, 11, 25, 14, 41, 30, tzinfo=UTC)


def schema(**users) -> SchemaFile:
    return SchemaFile.model_validate({
        "version": 1, "app": "flow", "environments": {"dev": {"removal_policy": "destroy"}},
        "tables": {"users": {"sort_key": "user_id", "attributes": {
            "user_id": "uuid", "email": "string", "a": "epoch_seconds", "b": "epoch_seconds"}, **users}},
    })


class Recorder:
    """A target that applies by remembering: what the flow asked, in order."""

    capabilities = Capabilities(lock_scope="recorder", replaces_in_place=False)

    def __init__(self, base, ttl_changed=None, problems=(), verify_problems=()):
        self.base, self.ttl_changed = base, dict(ttl_changed or {})
        self.problems, self.verify_problems = list(problems), list(verify_problems)
        self.calls: list = []

    def read(self, head, *, destroying=False):
        return DeployedState(self.base, "stack flow-dev", dict(self.ttl_changed), exists=self.base is not None)

    def wait_settled(self, names, deadline):
        self.calls.append(("wait", tuple(names)))

    def check_live(self, state, plan):
        return self.problems

    def drift(self, head, state):
        return None

    def announce(self, state, head):
        self.calls.append(("announce",))

    def adopt(self, state):
        self.calls.append(("adopt",))

    def apply(self, step, before, state):
        self.calls.append(("apply", step.number, step.summary))
        return True

    def verify(self, plan, applied):
        self.calls.append(("verify",))
        return 3, self.verify_problems

    def count_items(self, names):
        return {name: (7, "") for name in names}

    def item_client(self):
        return NoItems(getattr(self, "sizes", {}))

    def finish(self, state, changed):
        return 0

    def destroy(self, state):
        self.calls.append(("destroy",))
        return ()

    @property
    def applied(self):
        return [c[1:] for c in self.calls if c[0] == "apply"]


class NoItems:
    """The item client of a target whose tables hold 7 items (DescribeTable, as a migration's size
    check reads it; `sizes` overrides per table) none of which a scan finds (a TTL rename counts
    the items it would leave)."""

    def __init__(self, sizes: dict):
        self.sizes = sizes

    def describe_table(self, TableName, **kwargs):  # boto3's parameter name
        return {"Table": {"TableName": TableName, "ItemCount": 7, "TableSizeBytes": 700,
                          "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"}],
                          **self.sizes.get(TableName, {})}}

    def scan(self, **kwargs):
        return {"Count": 0, "Items": []}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch, tmp_path):
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))  # the deploy lock's .jobwork/locks/
    clock = {"now": T0}
    monkeypatch.setattr(TIMING, "now", lambda: clock["now"])
    monkeypatch.setattr(TIMING, "sleep", lambda seconds: clock.update(now=clock["now"] + timedelta(seconds=seconds)))
    return clock


def deploy(base, head, target=None, **request):
    seen: list = []
    target = target or Recorder(base)
    code = flow.deploy(head, DeployRequest(env="dev", yes=True, **request), target, seen.append, lambda q: True)
    return code, target, seen


def test_two_indexes_are_two_steps_each_waited_for_then_verified():
    base = resolve(schema(), "dev")
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}, "by_a": {"partition_key": "a"}}),
                   "dev")
    code, target, seen = deploy(base, head)
    assert code == 0
    assert [c[0] for c in target.calls] == ["wait", "wait", "apply", "wait", "wait", "apply", "wait", "wait", "verify"]
    assert target.applied == [(1, "users: create index by_email"), (2, "users: create index by_a")]
    assert isinstance(seen[-1], events.Deployed) and isinstance(seen[-2], events.Verified)


def test_a_ttl_rename_inside_the_hour_stops_after_step_1_with_exit_0_and_says_when(fixed_clock):
    base = resolve(schema(ttl="a"), "dev")
    head = resolve(schema(ttl="b"), "dev")
    target = Recorder(base, ttl_changed={"users": T0 - timedelta(hours=2)})
    code, target, seen = deploy(base, head, target)
    assert code == 0
    assert target.applied == [(1, "users: disable TTL on a")]
    [deferred] = [e for e in seen if isinstance(e, events.Deferred)]
    assert (deferred.number, deferred.total, deferred.at, deferred.wait) == (2, 2, T0 + timedelta(hours=1), False)
    assert ("verify",) in target.calls  # what step 1 promised is checked


def test_a_ttl_change_inside_the_hour_of_the_last_one_changes_nothing():
    base = resolve(schema(), "dev")
    head = resolve(schema(ttl="b"), "dev")
    target = Recorder(base, ttl_changed={"users": T0 - timedelta(minutes=20)})
    code, target, seen = deploy(base, head, target)
    assert code == 0 and target.applied == []
    [deferred] = [e for e in seen if isinstance(e, events.Deferred)]
    assert deferred.at == T0 + timedelta(minutes=40)


def test_after_the_hour_the_ttl_change_runs():
    base, head = resolve(schema(), "dev"), resolve(schema(ttl="b"), "dev")
    target = Recorder(base, ttl_changed={"users": T0 - timedelta(minutes=60)})
    code, target, seen = deploy(base, head, target)
    assert code == 0 and target.applied == [(1, "apply 1 change in one update: users: enable TTL on b")]
    assert not [e for e in seen if isinstance(e, events.Deferred)]


def test_wait_sleeps_through_the_cool_down_and_completes(fixed_clock):
    base, head = resolve(schema(ttl="a"), "dev"), resolve(schema(ttl="b"), "dev")
    code, target, seen = deploy(base, head, Recorder(base), wait=True)
    assert code == 0
    assert [e.wait for e in seen if isinstance(e, events.Deferred)] == [True]
    assert [n for n, _ in target.applied] == [1, 2]
    assert fixed_clock["now"] == T0 + timedelta(hours=1)


def test_a_table_created_with_ttl_is_recorded_so_the_hour_runs_from_it():
    head = resolve(schema(ttl="a"), "dev")
    state = DeployedState(None, "x")
    assert ttl_changes(None, head) == ["users"]
    assert ttl_changes(head, head) == []
    assert state.ttl_changed == {}


def test_deleting_a_protected_table_is_refused_then_unprotected_first_when_allowed():
    base = resolve(schema(deletion_protection=True, local_indexes={"by_a": {"sort_key": "a"}}), "dev")
    head = base.model_copy(update={"tables": {}})
    with pytest.raises(Blocked) as caught:
        deploy(base, head)
    assert "flow-dev-users, which has deletion protection on" in caught.value.message
    code, target, _ = deploy(base, head, allow_destructive=True)
    assert code == 0
    assert target.applied == [(1, "turn deletion protection off on flow-dev-users"), (2, "apply 1 change in one update: users: delete table")]


def test_live_problems_stop_the_plan_before_anything_is_applied():
    base = resolve(schema(), "dev")
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")
    target = Recorder(base, problems=[("index x of flow-dev-users exists", "delete it")])
    with pytest.raises(Blocked) as caught:
        deploy(base, head, target)
    assert caught.value.message == "index x of flow-dev-users exists; nothing was changed"
    assert caught.value.hint == "delete it"
    assert target.applied == []


def test_a_broken_promise_is_a_failure():
    base = resolve(schema(), "dev")
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")
    target = Recorder(base, verify_problems=["index by_email of flow-dev-users is CREATING, not ACTIVE"])
    with pytest.raises(JobworkError) as caught:
        deploy(base, head, target)
    assert "index by_email of flow-dev-users is CREATING, not ACTIVE" in caught.value.message


def test_dry_run_and_no_changes_apply_nothing():
    base = resolve(schema(), "dev")
    code, target, seen = deploy(base, base)
    assert (code, target.applied, type(seen[-1])) == (0, [], events.NoChanges)
    head = resolve(schema(ttl="a"), "dev")
    code, target, seen = deploy(base, head, dry_run=True)
    assert (code, target.applied, seen[-1]) == (0, [], events.DryRun("stack flow-dev", 1))


def test_destroy_refuses_a_protected_table_and_unprotects_it_when_allowed():
    base = resolve(schema(deletion_protection=True), "dev")
    head = resolve(schema(), "dev")
    seen: list = []
    with pytest.raises(Blocked):
        destroying.destroy(head, DeployRequest(env="dev", yes=True), Recorder(base), seen.append, lambda q: True)
    target = Recorder(base)
    assert destroying.destroy(head, DeployRequest(env="dev", yes=True, allow_destructive=True), target, seen.append,
                        lambda q: True) == 0
    assert target.applied == [(1, "turn deletion protection off on flow-dev-users")]
    assert target.calls[-1] == ("destroy",)


def test_when_nothing_may_run_yet_nothing_is_asked_even_in_a_dry_run():
    base, head = resolve(schema(), "dev"), resolve(schema(ttl="b"), "dev")
    for extra in ({}, {"dry_run": True}):
        target = Recorder(base, ttl_changed={"users": T0 - timedelta(minutes=59)})
        seen: list = []
        code = flow.deploy(head, DeployRequest(env="dev", **extra), target, seen.append,
                           lambda q: pytest.fail("asked: " + q))
        assert code == 0 and target.applied == []
        assert seen[-1] == events.Deferred(1, 1, T0 + timedelta(minutes=1), ("users",), False)


def test_a_target_without_the_hour_runs_a_ttl_rename_through():
    base, head = resolve(schema(ttl="a"), "dev"), resolve(schema(ttl="b"), "dev")

    class Local(Recorder):
        capabilities = Capabilities(lock_scope="recorder", ttl_cool_down=False)

        def read(self, head, *, destroying=False):
            return DeployedState(self.base, "local", exists=True)

    code, target, seen = deploy(base, head, Local(base))
    assert code == 0 and [n for n, _ in target.applied] == [1, 2]
    assert not [e for e in seen if isinstance(e, events.Deferred)]


# -- the lock and the re-check after the prompt (issue 14, item 1) -----------------------------

class MovesAtThePrompt(Recorder):
    """What is deployed changes between the first read and the one after the prompt."""

    def __init__(self, base, later):
        super().__init__(base)
        self.later, self.reads = later, 0

    def read(self, head, *, destroying=False):
        self.reads += 1
        if self.reads > 1:
            self.base = self.later
        return super().read(head)


def test_a_plan_gone_stale_at_the_prompt_is_not_applied_and_the_change_is_named():
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "tenant_id", "sort_key": "email"}}), "dev")
    base = resolve(schema(), "dev")
    moved = resolve(schema(ttl="a"), "dev")
    target = MovesAtThePrompt(base, moved)
    with pytest.raises(Blocked) as refused:
        flow.deploy(head, DeployRequest(env="dev"), target, [].append, lambda q: True)
    assert refused.value.message == (
        "what is deployed changed while the plan waited for confirmation: table flow-dev-users changed "
        "(TTL is enabled on a: items whose a is in the past start being deleted)")
    assert "nothing was applied" in refused.value.hint
    assert target.applied == [] and target.reads == 2


def test_an_unchanged_environment_after_the_prompt_is_applied():
    head = resolve(schema(ttl="a"), "dev")
    target = MovesAtThePrompt(resolve(schema(), "dev"), resolve(schema(), "dev"))
    code = flow.deploy(head, DeployRequest(env="dev"), target, [].append, lambda q: True)
    assert code == 0 and target.reads == 2 and len(target.applied) == 1


def test_with_yes_there_is_no_prompt_and_no_second_read():
    head = resolve(schema(ttl="a"), "dev")
    target = MovesAtThePrompt(resolve(schema(), "dev"), None)
    code, _, _ = deploy(None, head, target)
    assert code == 0 and target.reads == 1


def test_a_deploy_of_an_environment_being_deployed_is_refused_naming_the_holder(tmp_path):
    from jobwork_infra.deploy.lock import DeployLocked, deploy_lock

    head = resolve(schema(ttl="a"), "dev")
    target = Recorder(None)
    with deploy_lock("recorder", "flow", "dev"), pytest.raises(DeployLocked) as refused:
        flow.deploy(head, DeployRequest(env="dev", yes=True), target, [].append, lambda q: True)
    assert refused.value.message.startswith("environment dev of app flow (recorder) is being deployed by ")
    assert target.calls == []  # nothing read, nothing applied
    # A dry run changes nothing: it does not wait for the lock.
    with deploy_lock("recorder", "flow", "dev"):
        assert flow.deploy(head, DeployRequest(env="dev", dry_run=True), target, [].append, lambda q: True) == 0
