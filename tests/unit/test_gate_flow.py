"""Every refusal of the gate, through the deploy flow, with a recording target (issue 21).

tests/unit/test_gate.py calls the refusal functions; a refusal that the flow stops calling would pass it.
These deploy through `flow.deploy` and check both sides: refused (Blocked, nothing applied) without
the flag that allows it, and applied with it.
"""

from __future__ import annotations

import time

import pytest

from jobwork_infra.deploy import DeployRequest, events, flow
from jobwork_infra.deploy import destroy as destroying
from jobwork_infra.deploy.gate import refusals_markdown
from jobwork_infra.deploy.target import Capabilities, DeployedState, Predecessor
from jobwork_infra.diff import make_change
from jobwork_infra.drift import DriftItem, DriftReport
from jobwork_infra.errors import Blocked, JobworkError
from jobwork_infra.model import SchemaFile, resolve
from tests.conftest import ROOT
from tests.unit.test_flow import Recorder, deploy, fixed_clock, schema  # noqa: F401  (fixed_clock: the autouse fixture)

USERS = resolve(schema(), "dev")


def with_orders(**orders) -> SchemaFile:
    data = schema().model_dump(exclude_unset=True, by_alias=True)
    data["tables"]["orders"] = {"sort_key": "order_id", "attributes": {"order_id": "string", "status": "string"},
                                **orders}
    return SchemaFile.model_validate(data)


class Local(Recorder):
    """The local engine's contract: a destroy-policy table may be replaced under its own name."""

    capabilities = Capabilities(lock_scope="recorder", replaces_in_place=True)


def refused(base, head, target=None, **request) -> tuple[str, str, Recorder]:
    target = target or Recorder(base)
    with pytest.raises(Blocked) as error:
        deploy(base, head, target, **request)
    assert target.applied == [], "a refused deploy applies nothing"
    return error.value.message, error.value.hint, target


# -- refuse_destructive ------------------------------------------------------------------------

def test_a_table_removed_under_destroy_is_refused_unless_allowed():
    base = resolve(with_orders(), "dev")
    message, hint, _ = refused(base, USERS)
    assert message == "refusing 1 destructive change(s) to orders: the data in these tables would be lost"
    # A removed table's way forward is to keep or retain it (issue 23), not to keep its keys.
    assert hint == ("keep the table in the schema, or set removal_policy: retain on it and deploy that first (then "
                    "removing it keeps the data); or rerun with `jobwork-infra deploy --env dev --allow-destructive` "
                    "once the data is backed up or expendable (an empty table too: nothing else allows a delete)")
    code, target, seen = deploy(base, USERS, allow_destructive=True)
    assert code == 0 and target.applied == [(1, "apply 1 change in one update: orders: delete table")]
    [risk] = [e for e in seen if isinstance(e, events.AtRisk)]
    assert risk.tables == (("flow-dev-orders", "deleted", 7, ""),)


def test_a_table_removed_under_retain_is_not_destructive_and_not_at_risk():
    base = resolve(with_orders(removal_policy="retain"), "dev")
    code, target, seen = deploy(base, USERS)
    assert code == 0 and target.applied
    assert not [e for e in seen if isinstance(e, events.AtRisk)]


# -- refuse_replacement_in_place ---------------------------------------------------------------

SORTED_BY_EMAIL = {"sort_key": "email"}


def test_a_key_change_under_the_same_name_is_refused_on_cloudformation_even_when_allowed():
    base = USERS
    head = resolve(schema(**SORTED_BY_EMAIL), "dev")
    message, hint, _ = refused(base, head, allow_destructive=True, profile="ops")
    assert message == ("cannot replace flow-dev-users under the same name: a key or local index change needs a "
                       "new table, and CloudFormation cannot replace a named table in place")
    assert "the old table is deleted with its data (removal_policy: destroy)" in hint
    # The rename's command repeats the run's own target (--profile), not one made up from the plan.
    assert hint.startswith("give the new table another name (table_name: flow-dev-users-v2 on table users) and run "
                           "`jobwork-infra deploy --env dev --profile ops --allow-destructive`: ")
    assert "to start over empty" not in hint


def test_a_key_change_of_a_retained_table_says_the_old_table_stays():
    base = resolve(schema(removal_policy="retain"), "dev")
    head = resolve(schema(removal_policy="retain", **SORTED_BY_EMAIL), "dev")
    _, hint, _ = refused(base, head, allow_destructive=True)
    assert "the old table stays with its data (retained), unmanaged" in hint
    # The request as `deploy --local` makes it: the hint's commands repeat the run's own target (followup.py).
    _, local_hint, _ = refused(base, head, Local(base), allow_destructive=True, local=True)
    assert "the old table stays with its data (retained)" in local_hint
    assert local_hint.endswith(
        "; to start over empty under the same name: put the old key back, set removal_policy: destroy on table "
        "users, run `jobwork-infra deploy --env dev --local`, then change the key again and run "
        "`jobwork-infra deploy --env dev --local --allow-destructive`")


def test_locally_a_destroy_policy_table_is_replaced_in_place_when_allowed_and_counted_at_risk():
    head = resolve(schema(**SORTED_BY_EMAIL), "dev")
    message, hint, _ = refused(USERS, head, Local(USERS), local=True)
    assert message.startswith("refusing 1 destructive change(s) to users")
    assert hint == ("change the schema so the table keeps its keys and name; or rerun with `jobwork-infra deploy "
                    "--env dev --local --allow-destructive` once the data is backed up or expendable (an empty "
                    "table too: nothing else allows a delete)")
    code, target, seen = deploy(USERS, head, Local(USERS), allow_destructive=True)
    assert code == 0 and target.applied == [(1, "apply 1 change in one update: users: D105 sort key")]
    [risk] = [e for e in seen if isinstance(e, events.AtRisk)]
    assert risk.tables == (("flow-dev-users", "replaced", 7, ""),)


def test_a_protected_table_that_is_replaced_is_refused_until_allowed():
    base = resolve(schema(deletion_protection=True), "dev")
    head = resolve(schema(deletion_protection=True, **SORTED_BY_EMAIL), "dev")
    message, _, _ = refused(base, head, Local(base))
    assert message.startswith("the plan deletes flow-dev-users, which has deletion protection on")


# -- refuse_migration, and a migration deletes nothing ----------------------------------------

class Migrating(Local):
    capabilities = Capabilities(lock_scope="recorder", replaces_in_place=True, migrates=True)


def test_a_generation_bump_is_refused_where_the_target_cannot_migrate_or_the_stream_would_be_replaced():
    bumped = {"generation": 2, **SORTED_BY_EMAIL}
    message, _, _ = refused(USERS, resolve(schema(**bumped), "dev"), Local(USERS), allow_destructive=True)
    assert message == ("this target cannot run a migration yet: users (generation 1 → 2); CloudFormation alone "
                       "would replace the table and lose its items; nothing was changed")
    base = resolve(schema(stream="keys_only"), "dev")
    message, _, _ = refused(base, resolve(schema(stream="keys_only", **bumped), "dev"), Migrating(base),
                            allow_destructive=True)
    assert message == ("a migration replays its source's stream with new_and_old_images, and flow-dev-users "
                       "(keys_only) has another view type: changing it replaces the stream (a new ARN) under the "
                       "consumers that read it; nothing was changed")


def test_a_migration_of_a_protected_table_deletes_nothing_so_it_runs_unallowed_with_no_data_at_risk():
    bumped = {"generation": 2, **SORTED_BY_EMAIL}
    for users in ({"deletion_protection": True}, {"stream": "new_and_old_images"}):
        base = resolve(schema(**users), "dev")
        code, target, seen = deploy(base, resolve(schema(**users, **bumped), "dev"), Migrating(base))
        assert code == 0 and [n for n, _ in target.applied] == [1, 2]
        assert target.applied[1][1].startswith("users: create flow-dev-users-g2 (generation 2)")
        assert not [e for e in seen if isinstance(e, events.AtRisk)]


# -- refuse_name_taken, refuse_renamed ---------------------------------------------------------

def test_a_new_key_reusing_a_removed_tables_name_is_refused_even_when_allowed():
    base = resolve(with_orders(table_name="orders"), "dev")
    data = with_orders(table_name="orders").model_dump(exclude_unset=True, by_alias=True)
    data["tables"]["purchases"] = data["tables"].pop("orders")
    head = resolve(SchemaFile.model_validate(data), "dev")
    message, hint, _ = refused(base, head, allow_destructive=True)
    assert message.startswith("table orders cannot be created under key purchases")
    assert message.endswith("; nothing was changed")
    assert hint.startswith("keep the YAML key orders")


class Renamed(Recorder):
    """Nothing deployed under this environment's names, but its tables under the old app name."""

    def read(self, head, *, destroying=False):
        state = super().read(head)
        return DeployedState(None, state.where, predecessors=(Predecessor("old", "dev", (("users", "old-dev-users"),)),))


def test_an_app_rename_that_would_create_empty_tables_is_refused_unless_allowed():
    message, hint, _ = refused(None, USERS, Renamed(None))
    assert message == ("app old → flow: flow-dev-users would be created empty, while old-dev-users stays with its "
                       "data, no longer managed by jobwork-infra; nothing was changed")
    assert "rerun with --allow-destructive" in hint
    code, target, _ = deploy(None, USERS, Renamed(None), allow_destructive=True)
    assert code == 0 and target.applied == [(1, "apply 1 change in one update: users: create table")]


# -- what the prompt answered ------------------------------------------------------------------

class Fingerprinted(Recorder):
    """A target with its own fingerprint (as CloudFormation's deployed template)."""

    fingerprint = "template 1"

    def read(self, head, *, destroying=False):
        state = super().read(head)
        state.fingerprint = self.fingerprint
        return state


def test_a_change_to_what_is_deployed_while_at_the_prompt_is_refused_even_when_the_plan_is_the_same():
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")
    target = Fingerprinted(USERS)

    def answer(question):
        target.fingerprint = "template 2"  # another deploy updated the stack meanwhile
        return True
    with pytest.raises(Blocked, match="what is deployed changed while the plan waited for confirmation"):
        flow.deploy(head, DeployRequest(env="dev"), target, lambda e: None, answer)
    assert target.applied == []
    same = Fingerprinted(USERS)
    assert flow.deploy(head, DeployRequest(env="dev"), same, lambda e: None, lambda q: True) == 0
    assert same.applied == [(1, "apply 1 change in one update: users: create index by_email")]


# -- several stacks ----------------------------------------------------------------------------

def _stacks(head, base):
    return {name: Recorder(base.stack_view(name) if base is not None else None)
            for name in dict.fromkeys([*head.stacks, *(base.stacks if base is not None else {})])}


def test_with_several_stacks_yes_means_no_prompt_and_one_prompt_otherwise():
    split = resolve(with_orders(stack="sales"), "dev")
    head = resolve(with_orders(stack="sales", point_in_time_recovery=True), "dev")
    head = head.model_copy(update={"tables": {**head.tables, "users": head.tables["users"].model_copy(
        update={"point_in_time_recovery": True})}})
    targets = _stacks(head, split)
    code = flow.deploy(head, DeployRequest(env="dev", yes=True), targets, lambda e: None,
                       lambda q: pytest.fail(f"--yes asks nothing, asked {q!r}"))
    assert code == 0 and all(t.applied for t in targets.values())
    asked: list[str] = []
    targets = _stacks(head, split)
    code = flow.deploy(head, DeployRequest(env="dev"), targets, lambda e: None,
                       lambda q: asked.append(q) or False)
    assert code == 1 and asked == ["Apply 2 step(s) to stacks flow-dev, flow-dev-sales?"]
    assert not any(t.applied for t in targets.values())


def test_a_deployed_stack_left_without_tables_is_refused():
    split = resolve(with_orders(stack="sales"), "dev")
    targets = _stacks(USERS, split)
    assert list(targets) == ["flow-dev", "flow-dev-sales"]
    with pytest.raises(Blocked, match="stack flow-dev-sales is deployed, but none of its tables .flow-dev-orders."):
        flow.deploy(USERS, DeployRequest(env="dev", yes=True, allow_destructive=True), targets,
                    lambda e: None, lambda q: True)
    assert not any(t.applied for t in targets.values())
    # A stack with nothing deployed and no tables is no reason to refuse.
    fresh = _stacks(USERS, None) | {"flow-dev-sales": Recorder(None)}
    assert flow.deploy(USERS, DeployRequest(env="dev", yes=True), fresh, lambda e: None, lambda q: True) == 0


# -- second measurement: what still survived ---------------------------------------------------

def _drift(items: int) -> DriftReport:
    change = make_change("point_in_time_recovery_disabled", "users", "point-in-time recovery", env="dev")
    return DriftReport("dev", "stack flow-dev", "the deployed template",
                       tuple(DriftItem(change, "point-in-time recovery was turned off by hand", "turns it on")
                             for _ in range(items)))


class Drifted(Recorder):
    def __init__(self, base, report):
        super().__init__(base)
        self.report = report

    def drift(self, head, state):
        return self.report


def test_drift_is_refused_unless_allowed_and_an_empty_report_is_no_drift():
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")
    message, hint, _ = refused(USERS, head, Drifted(USERS, _drift(2)))
    assert message == ("2 change(s) made to stack flow-dev outside jobwork-infra; nothing was changed:"
                       + "\n  - users: point-in-time recovery was turned off by hand (deploy: turns it on)" * 2)
    assert "--allow-drift" in hint
    for target, request in ((Drifted(USERS, _drift(0)), {}), (Drifted(USERS, None), {}),
                            (Drifted(USERS, _drift(1)), {"allow_drift": True})):
        code, target, _ = deploy(USERS, head, target, **request)
        assert code == 0 and target.applied


def test_a_table_moved_between_stacks_is_refused_before_anything_is_planned():
    split = resolve(with_orders(), "dev")
    moved = resolve(with_orders(stack="sales"), "dev")
    targets = _stacks(moved, split)
    with pytest.raises(Blocked, match=r"^\[D206\] table flow-dev-orders moves from stack flow-dev to stack "
                                      r"flow-dev-sales"):
        flow.deploy(moved, DeployRequest(env="dev", yes=True, allow_destructive=True), targets,
                    lambda e: None, lambda q: True)
    assert not any(t.applied for t in targets.values())


def test_destroying_unprotected_tables_needs_no_allow_destructive():
    target = Recorder(USERS)
    assert destroying.destroy(USERS, DeployRequest(env="dev", yes=True), target, lambda e: None, lambda q: True) == 0
    assert target.calls[-1] == ("destroy",)


def test_one_stack_is_asked_about_by_its_own_name_and_a_no_cancels():
    head = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")
    asked, seen = [], []
    target = Recorder(USERS)
    code = flow.deploy(head, DeployRequest(env="dev"), target, seen.append, lambda q: asked.append(q) or False)
    assert (code, asked, target.applied) == (1, ["Apply 1 step(s) to flow-dev?"], [])
    assert isinstance(seen[-1], events.Cancelled)


def test_a_deployed_stack_without_tables_and_a_schema_without_them_is_not_refused():
    split = resolve(with_orders(stack="sales"), "dev")
    empty = split.stack_view("flow-dev-sales").model_copy(update={"tables": {}})
    targets = {"flow-dev": Recorder(USERS), "flow-dev-sales": Recorder(empty)}
    head = resolve(schema(point_in_time_recovery=True), "dev")
    assert flow.deploy(head, DeployRequest(env="dev", yes=True), targets, lambda e: None, lambda q: True) == 0
    assert targets["flow-dev"].applied


class Reads(Recorder):
    """A target whose later reads find something else (another deploy ran while the prompt waited)."""

    def __init__(self, base, later):
        super().__init__(base)
        self.later = later  # a state's base, or an exception to raise

    def read(self, head, *, destroying=False):
        state = super().read(head)
        self.base = self.later if not isinstance(self.later, Exception) else self.base
        if isinstance(self.later, Exception) and getattr(self, "read_once", False):
            raise self.later
        self.read_once = True
        return state


class SameFingerprint(Reads):
    """CloudFormation's fingerprint is the template; tables can change under the same template."""

    def read(self, head, *, destroying=False):
        state = super().read(head)
        state.fingerprint = "template 1"
        return state


HEAD_INDEXED = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")


def prompt_deploy(target) -> None:
    flow.deploy(HEAD_INDEXED, DeployRequest(env="dev"), target, lambda e: None, lambda q: True)


def test_a_plan_that_changed_at_the_prompt_is_refused_even_under_the_same_fingerprint():
    other = resolve(schema(global_indexes={"by_a": {"partition_key": "a"}}), "dev")
    # The same steps from another base: one change in one update, to the same head.
    same_steps = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}},
                                point_in_time_recovery=True), "dev")
    for later in (other, HEAD_INDEXED, same_steps):  # another plan now; nothing left to do; same steps
        target = SameFingerprint(USERS, later)
        with pytest.raises(Blocked, match="what is deployed changed while the plan waited for confirmation"):
            prompt_deploy(target)
        assert target.applied == []


def test_a_read_that_fails_after_the_prompt_is_refused_with_its_own_words():
    for error, hint in ((Blocked("a table appeared", "adopt it"), "adopt it"),
                        (JobworkError("the endpoint is gone", None), "nothing was applied; run deploy again")):
        target = Reads(USERS, error)
        with pytest.raises(Blocked) as refusal:
            prompt_deploy(target)
        assert refusal.value.message == ("what is deployed changed while the plan waited for confirmation: "
                                         + error.message)
        assert refusal.value.hint.startswith(hint)
        assert target.applied == []


class Timed(Recorder):
    def wait_settled(self, names, deadline):
        self.deadline = deadline - time.monotonic()


def test_the_timeout_asked_for_is_the_deadline_waited_for():
    target = Timed(USERS)
    deploy(USERS, HEAD_INDEXED, target, timeout=5)
    assert 0 < target.deadline <= 5


class Refusing(Recorder):
    def __init__(self, base, message):
        super().__init__(base)
        self.message = message

    def read(self, head, *, destroying=False):
        raise Blocked(self.message, "adopt it")


def test_a_stack_whose_read_refuses_stops_the_deploy_after_the_move_check():
    with pytest.raises(Blocked, match="^first$"):
        deploy(None, USERS, Refusing(None, "first"))
    split = resolve(with_orders(stack="sales"), "dev")
    targets = {"flow-dev": Refusing(None, "first"), "flow-dev-sales": Refusing(None, "second")}
    with pytest.raises(Blocked, match="^first$"):
        flow.deploy(split, DeployRequest(env="dev", yes=True), targets, lambda e: None, lambda q: True)


def test_the_refusals_doc_is_generated_from_the_registry():
    assert (ROOT / "docs" / "refusals.md").read_text() == refusals_markdown()


class Adopting(Recorder):
    """Tables that exist as the schema says but nothing manages: taken over, not created."""

    def read(self, head, *, destroying=False):
        state = super().read(head)
        state.adopting = tuple(head.tables)
        return state


def test_a_stack_that_only_adopts_is_announced_and_adopted_with_the_other_stacks_plan():
    split = resolve(with_orders(stack="sales"), "dev")
    head = resolve(with_orders(stack="sales", point_in_time_recovery=True), "dev")
    main, sales = Adopting(split.stack_view("flow-dev")), Recorder(split.stack_view("flow-dev-sales"))
    code = flow.deploy(head, DeployRequest(env="dev", yes=True), {"flow-dev": main, "flow-dev-sales": sales},
                       lambda e: None, lambda q: True)
    assert code == 0
    assert [c[0] for c in main.calls] == ["wait", "announce", "adopt"]
    assert sales.applied == [(1, "apply 1 change in one update: orders: D402 point-in-time recovery")]


# -- third measurement (after the merges of issues 17, 18, 20, 23) -------------------------------------

class Finishing(Recorder):
    """finish() is where CloudFormation turns termination protection on: its code is the deploy's."""

    def finish(self, state, changed):
        self.calls.append(("finish", changed))
        return 3


def test_a_deploy_with_nothing_to_change_still_finishes_each_stack_and_returns_its_code():
    target = Finishing(USERS)
    code = flow.deploy(USERS, DeployRequest(env="dev", yes=True), target, lambda e: None, lambda q: True)
    assert code == 3 and target.calls == [("wait", ("flow-dev-users",)), ("finish", False)]


def test_a_first_deploy_confirmed_at_the_prompt_is_read_again_and_applied():
    # Nothing deployed: the re-check after the prompt compares two plans without a base.
    target = Recorder(None)
    asked: list[str] = []
    code = flow.deploy(USERS, DeployRequest(env="dev"), target, lambda e: None, lambda q: asked.append(q) or True)
    assert code == 0 and len(asked) == 1
    assert target.applied == [(1, "apply 1 change in one update: users: create table")]
