"""The flow's wiring of the refusals merged since the last mutation run (issue 21), through `flow.deploy` with a
recording target: the size limit (R027) where a migration is planned, the re-plan after being overtaken (only
when nothing of this deploy was applied: no adoption, the first stack's first step), and an adoption with nothing
else to change. Each checks the refusal's code and that nothing was applied."""

from __future__ import annotations

import pytest

from jobwork_infra.deploy import DeployRequest, events, flow
from jobwork_infra.deploy.gate import Overtaken, Refused
from jobwork_infra.deploy.target import DeployedState
from jobwork_infra.migrate.scale import MAX_ITEMS
from jobwork_infra.model import SchemaFile, resolve
from tests.unit.test_deploy_replan import S_ORDERS, Overtakable, S
from tests.unit.test_flow import Recorder, deploy, fixed_clock, schema  # noqa: F401  (fixed_clock: the autouse fixture)
from tests.unit.test_gate_flow import Local, Migrating
from tests.unit.test_saved_plan_mutation import SPLIT, Serial, with_orders

USERS = resolve(schema(), "dev")
BUMPED = resolve(schema(generation=2, sort_key="email"), "dev")
TOO_MANY = {"flow-dev-users": {"ItemCount": MAX_ITEMS + 1}}


# -- R027: a migration's source over the CLI copy's limit ---------------------------------------------------------

def test_a_migration_over_the_size_limit_is_refused_through_the_flow_before_anything_is_applied():
    target = Migrating(USERS)
    target.sizes = TOO_MANY
    with pytest.raises(Refused) as refused:
        deploy(USERS, BUMPED, target)
    assert refused.value.code == "R027" and "nothing was changed" in refused.value.message
    assert "--allow-large-copy" in refused.value.hint
    assert target.applied == []


def test_allow_large_copy_lets_the_migration_run():
    target = Migrating(USERS)
    target.sizes = TOO_MANY
    code, target, _ = deploy(USERS, BUMPED, target, allow_large_copy=True)
    assert code == 0 and [n for n, _ in target.applied] == [1, 2]


class CountedLocal(Local):
    def count_items(self, names):
        self.calls.append(("count", tuple(names)))
        return super().count_items(names)


def test_a_target_that_cannot_migrate_is_refused_for_that_not_for_the_size():
    target = CountedLocal(USERS)
    target.sizes = TOO_MANY
    with pytest.raises(Refused) as refused:
        deploy(USERS, BUMPED, target, allow_destructive=True)
    assert refused.value.code != "R027" and "cannot run a migration yet" in refused.value.message
    assert target.applied == [] and not [c for c in target.calls if c[0] == "count"]   # no items read for it


def test_a_migrating_target_with_nothing_to_change_reads_no_counts_and_applies_nothing():
    code, target, seen = deploy(USERS, USERS, Migrating(USERS))
    assert code == 0 and target.applied == []
    assert any(isinstance(e, events.NoChanges) for e in seen)


# -- the re-plan after being overtaken ------------------------------------------------------------------------------

def test_the_wait_for_the_other_deploy_is_a_warning_and_the_replans_are_three():
    target = Overtakable(USERS, resolve(schema(), "dev"))
    code, _, seen = deploy(USERS, resolve(schema(point_in_time_recovery=True), "dev"), target)
    assert code == 0
    [note] = [e for e in seen if isinstance(e, events.Note) and "waiting for the other deploy" in e.text]
    assert note.warning
    assert flow.MAX_REPLANS == 3   # docs/deploy.md, "Two deploys of one stack": "At most 3 new plans, then R010"


class AdoptingOvertakable(Overtakable):
    """Overtaken at step 1 of a deploy that adopts a table first (deploy --adopt)."""

    def read(self, head, *, destroying=False):
        state = super().read(head)
        return DeployedState(state.base, state.where, exists=True, adopting=("flow-dev-users",))


def test_overtaken_after_an_adoption_is_not_planned_again():
    target = AdoptingOvertakable(USERS)
    with pytest.raises(Overtaken) as refused:
        deploy(USERS, resolve(schema(point_in_time_recovery=True), "dev"), target)
    assert refused.value.code == "R010"
    assert target.reads == 1 and ("adopt",) in target.calls   # the adoption is applied: no second plan


class OvertakenSerial(Serial):
    def apply(self, step, before, state):
        raise Overtaken("stack flow-dev-sales was updated by another deploy", "run deploy again", step.number)


def test_overtaken_on_the_second_stack_after_the_first_applied_is_not_planned_again():
    data = with_orders(stack="sales", point_in_time_recovery=True).model_dump(exclude_unset=True, by_alias=True)
    data["tables"]["users"]["point_in_time_recovery"] = True   # both stacks change
    head = resolve(SchemaFile.model_validate(data), "dev")
    targets = {"flow-dev": Serial(SPLIT.stack_view("flow-dev"), where="stack flow-dev", lineage="id-flow-dev"),
               "flow-dev-sales": OvertakenSerial(SPLIT.stack_view("flow-dev-sales"), where="stack flow-dev-sales",
                                                 lineage="id-flow-dev-sales")}
    with pytest.raises(Overtaken):
        flow.deploy(head, DeployRequest(env="dev", yes=True), targets, lambda e: None, lambda q: True)
    assert len(targets["flow-dev"].applied) == 1   # the first stack's step stays applied; no second plan of it


# -- an adoption with nothing else to change -----------------------------------------------------------------------

class UpToDateAdopting(Recorder):
    def read(self, head, *, destroying=False):
        return DeployedState(self.base, "stack flow-dev", exists=True, up_to_date=True, adopting=("flow-dev-users",))


def test_a_stack_up_to_date_but_adopting_still_adopts():
    code, target, _ = deploy(USERS, USERS, UpToDateAdopting(USERS))
    assert code == 0 and ("adopt",) in target.calls


# -- R031 through the flow ----------------------------------------------------------------------------------------

def test_lowering_a_warm_throughput_is_refused_through_the_flow_even_when_allowed():
    base = resolve(schema(warm_throughput={"read": 15000}), "dev")
    target = Recorder(base)
    with pytest.raises(Refused) as refused:
        deploy(base, resolve(schema(warm_throughput={"read": 14000}), "dev"), target, allow_destructive=True)
    assert refused.value.code == "R031" and refused.value.message.endswith("nothing was changed")
    assert target.applied == []
    code, target, _ = deploy(base, resolve(schema(warm_throughput={"read": 16000}), "dev"), Recorder(base))
    assert code == 0 and len(target.applied) == 1    # a raise goes through


# -- the re-plan's check of what the other deploy changed ----------------------------------------------------------

def test_a_replan_finding_the_other_deploy_did_the_same_change_ends_with_nothing_to_do():
    orders = resolve(schema(point_in_time_recovery=True), "dev")
    target = Overtakable(USERS, orders)      # the other deploy applied exactly this change
    code, target, _ = deploy(USERS, orders, target)
    assert code == 0 and target.reads == 2 and target.applied == []


def test_a_replan_of_a_stack_the_other_deploy_created_applies_only_what_is_left():
    target = Overtakable(None, S)              # nothing deployed when read; the other deploy created users
    code, target, _ = deploy(None, S_ORDERS, target)
    assert code == 0 and target.reads == 2
    assert target.applied == [(1, "apply 1 change in one update: orders: create table")]


# -- a deployed stack without tables -------------------------------------------------------------------------------

def test_a_deployed_stack_left_without_tables_is_left_as_it_is_with_a_note():
    head = resolve(schema(point_in_time_recovery=True), "dev")
    targets = {"flow-dev": Recorder(USERS), "flow-dev-sales": Recorder(USERS.stack_view("flow-dev-sales"))}
    seen: list = []
    assert flow.deploy(head, DeployRequest(env="dev", yes=True), targets, seen.append, lambda q: True) == 0
    assert targets["flow-dev-sales"].applied == [] and len(targets["flow-dev"].applied) == 1
    [note] = [e for e in seen if isinstance(e, events.Note) and "flow-dev-sales" in e.text]
    assert "holds none of the schema's tables any more" in note.text and "delete-stack" in note.text
    assert len([e for e in seen if isinstance(e, events.NoChanges)]) == 1   # the sales stack (Recorder names one place)


def test_a_deployed_stack_without_tables_gets_the_tables_the_schema_puts_there():
    head = resolve(with_orders(stack="sales"), "dev")
    targets = {"flow-dev": Recorder(USERS), "flow-dev-sales": Recorder(USERS.stack_view("flow-dev-sales"))}
    assert flow.deploy(head, DeployRequest(env="dev", yes=True), targets, lambda e: None, lambda q: True) == 0
    assert targets["flow-dev-sales"].applied == [(1, "apply 1 change in one update: orders: create table")]


class AdoptingWithChanges(Recorder):
    def read(self, head, *, destroying=False):
        return DeployedState(self.base, "stack flow-dev", exists=True, adopting=("flow-dev-users",))


def test_an_adoption_with_changes_is_announced_before_it_is_applied():
    code, target, _ = deploy(USERS, resolve(schema(point_in_time_recovery=True), "dev"), AdoptingWithChanges(USERS))
    assert code == 0
    assert [c[0] for c in target.calls].index("announce") < [c[0] for c in target.calls].index("adopt")
