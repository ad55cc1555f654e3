"""Saved plans refuse every plan that is not the one reviewed, where and when it was reviewed (issue 21).

Fast: `flow.deploy` over recording targets that keep a deploy serial as the real ones do (bumped by
every apply, "LINEAGE:NUMBER"), the plan written by `--dry-run --plan-out` and applied by loading it
as `deploy --plan` does. Each test breaks one thing a plan claims (where, lineage, serial, what is
deployed, stacks, steps, target state, schema, allow_destructive, the file itself) and checks the
refusal: its code, its words, nothing applied. The slow tests (test_saved_plan*.py) do the same on
DynamoDB Local and the strict AWS double.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy import DeployRequest, flow
from jobwork_infra.deploy import saved_plan as saved_plan_module
from jobwork_infra.deploy.gate import Refused
from jobwork_infra.deploy.saved_plan import PlanFile, load_plan, steps_record
from jobwork_infra.deploy.target import DeployedState
from jobwork_infra.errors import Blocked, JobworkError
from jobwork_infra.followup import Invocation
from jobwork_infra.model import resolve
from tests.unit.test_flow import Recorder, fixed_clock, schema  # noqa: F401  (fixed_clock: the autouse fixture)
from tests.unit.test_gate_flow import with_orders

USERS = resolve(schema(), "dev")
INDEXED = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")
ONE_STEP = [(1, "apply 1 change in one update: users: create index by_email")]


class Serial(Recorder):
    """A target that keeps a deploy serial where its state lives: every apply bumps it."""

    def __init__(self, base, where="stack flow-dev", lineage="stack-id-1", number=4):
        super().__init__(base)
        self.where, self.lineage, self.number = where, lineage, number
        self.fingerprint = ""

    @property
    def serial(self) -> str:
        return f"{self.lineage}:{self.number}"

    def read(self, head, *, destroying=False):
        return DeployedState(self.base, self.where, exists=self.base is not None, serial=self.serial,
                             fingerprint=self.fingerprint)

    def apply(self, step, before, state):
        self.number += 1
        return super().apply(step, before, state)


def write_plan(tmp_path, base, head, target, **request) -> str:
    path = str(tmp_path / "plan.json")
    code = flow.deploy(head, DeployRequest(env="dev", dry_run=True, plan_out=path, **request), target,
                       lambda e: None, lambda q: pytest.fail("a dry run asks nothing"))
    assert code == 0 and not any(t.applied for t in (target.values() if isinstance(target, dict) else [target]))
    return path


def apply_saved(path, head, target, **request) -> int:
    """As `deploy --plan FILE` does: load, check against the schema, then deploy with it."""
    request = DeployRequest(env="dev", plan_file=path, **request)
    saved = dataclasses.replace(load_plan(path), rerun=Invocation.of(request))  # as the CLI does
    one = next(iter(target.values())) if isinstance(target, dict) else target
    saved.check_schema(head, one.capabilities.lock_scope)
    return flow.deploy(head, request, target, lambda e: None,
                       lambda q: pytest.fail(f"a saved plan was reviewed already; asked {q!r}"), saved)


def refused(path, head, target, code: str, **request) -> str:
    with pytest.raises(Refused) as error:
        apply_saved(path, head, target, **request)
    assert error.value.code == code, error.value.message
    assert target.applied == [], "a refused plan applies nothing"
    assert error.value.message.endswith("nothing was changed")
    # The way forward is a new plan, written on the same target as the command that was refused.
    local = " --local" if request.get("local") else ""
    assert error.value.hint.endswith(
        f"write a new plan and review it: `jobwork-infra deploy --env dev{local} --dry-run --plan-out {path}`")
    return error.value.message


def edit(path: str, change) -> None:
    document = json.loads(Path(path).read_text())
    change(document)
    Path(path).write_text(json.dumps(document))


# -- applies once, exactly as written --------------------------------------------------------------

def test_a_saved_plan_applies_exactly_its_steps_once(tmp_path):
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    document = json.loads(Path(path).read_text())
    [record] = document["stacks"]
    assert (record["stack"], record["where"], record["serial"]) == ("flow-dev", "stack flow-dev", "stack-id-1:4")
    assert document["allow_destructive"] is False and document["format"] == "jobwork-infra-plan/2"
    assert [c["code"] for c in record["steps"][0]["changes"]] == ["D301"]
    assert apply_saved(path, INDEXED, target) == 0
    assert target.applied == ONE_STEP and target.serial == "stack-id-1:5"
    # Applied: the serial moved on, so the same file is refused, even against the same tables.
    again = Serial(USERS, number=5)
    message = refused(path, INDEXED, again, "R019")
    assert message == (f"what is deployed to stack flow-dev changed since {path} was written (deploy serial 4 "
                       "then, 5 now: the plan was applied already, or another deploy ran since); a plan applies "
                       "once; nothing was changed")


def test_a_replay_after_a_revert_is_refused_by_its_serial_though_the_tables_look_the_same(tmp_path):
    path = write_plan(tmp_path, USERS, INDEXED, Serial(USERS))
    # Another deploy added the index and a third removed it: the tables are as planned, the serial is not.
    reverted = Serial(USERS, number=6)
    reverted.fingerprint = "same template"
    assert "deploy serial 4 then, 6 now" in refused(path, INDEXED, reverted, "R019")


def test_the_serial_alone_refuses_a_replay_whatever_the_targets_fingerprint(tmp_path):
    # A target's fingerprint need not cover the serial (the Target contract does not ask it to): a revert
    # that brings back the very template reviewed still leaves the serial moved on, and that refuses.
    target = Serial(USERS)
    target.fingerprint = "template T"
    path = write_plan(tmp_path, USERS, INDEXED, target, local=True)
    target.number = 6
    assert "deploy serial 4 then, 6 now" in refused(path, INDEXED, target, "R019", local=True)


def test_tables_that_appeared_where_a_plan_was_to_create_them_are_refused(tmp_path):
    # Planned against nothing (no serial); since then tables were created by a deploy that keeps no serial.
    nothing = Serial(None, lineage="", number="")
    nothing.read = lambda head, destroying=False: DeployedState(None, "stack flow-dev")
    path = write_plan(tmp_path, None, USERS, nothing)
    created = Serial(USERS)
    created.read = lambda head, destroying=False: DeployedState(USERS, "stack flow-dev", exists=True)
    assert "(deploy serial none then, none now:" in refused(path, USERS, created, "R019")


def test_what_is_deployed_changed_under_the_same_serial_is_refused(tmp_path):
    # A change the serial did not see (made outside the tool): the fingerprint differs.
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    target.fingerprint = "a template edited by hand"
    assert "deploy serial 4 then, 4 now" in refused(path, INDEXED, target, "R019")


def test_a_plan_for_a_stack_never_applied_is_refused_once_one_was(tmp_path):
    # Nothing deployed, no serial: a plan to create the tables. Applied, or another stack created under
    # the same name since, the place has a lineage the plan did not see.
    nothing = Serial(None, lineage="", number="")
    nothing.read = lambda head, destroying=False: DeployedState(None, "stack flow-dev")
    path = write_plan(tmp_path, None, USERS, nothing)
    assert json.loads(Path(path).read_text())["stacks"][0]["serial"] == ""
    created = Serial(USERS, lineage="stack-id-9", number=1)
    message = refused(path, USERS, created, "R017")
    assert message == (f"{path} was written for stack flow-dev, not for stack flow-dev (deployed state "
                       "stack-id-9); nothing was changed")


# -- where: the place and the lineage -----------------------------------------------------------------

def test_a_plan_for_another_place_is_refused(tmp_path):
    path = write_plan(tmp_path, USERS, INDEXED, Serial(USERS))
    elsewhere = Serial(USERS, where="tables flow-dev-* on DynamoDB Local (http://127.0.0.1:9)")
    message = refused(path, INDEXED, elsewhere, "R017")
    assert message == (f"{path} was written for stack flow-dev (deployed state stack-id-1), not for tables "
                       "flow-dev-* on DynamoDB Local (http://127.0.0.1:9) (deployed state stack-id-1); nothing "
                       "was changed")


def test_a_plan_forged_on_a_throw_away_engine_is_refused_by_its_lineage(tmp_path):
    # Same place name, same serial number, another deployed state: a stack deleted and created again, or
    # an engine started afresh and brought to the same serial.
    path = write_plan(tmp_path, USERS, INDEXED, Serial(USERS, lineage="throw-away"))
    real = Serial(USERS, lineage="stack-id-1")
    message = refused(path, INDEXED, real, "R017")
    assert "was written for stack flow-dev (deployed state throw-away), not for stack flow-dev (deployed " \
           "state stack-id-1)" in message


# -- stacks ----------------------------------------------------------------------------------------------

def _two_stacks(base, head, number=4):
    return {name: Serial(base.stack_view(name), where=f"stack {name}", lineage=f"id-{name}", number=number)
            for name in head.stacks}


SPLIT = resolve(with_orders(stack="sales"), "dev")
SPLIT_HEAD = resolve(with_orders(stack="sales", point_in_time_recovery=True), "dev")


def test_one_plan_per_stack_each_applied_once(tmp_path):
    targets = _two_stacks(SPLIT, SPLIT_HEAD)
    path = write_plan(tmp_path, SPLIT, SPLIT_HEAD, targets)
    stacks = json.loads(Path(path).read_text())["stacks"]
    assert [(s["stack"], s["serial"], len(s["steps"])) for s in stacks] == [
        ("flow-dev", "id-flow-dev:4", 0), ("flow-dev-sales", "id-flow-dev-sales:4", 1)]
    saved = load_plan(path)
    assert flow.deploy(SPLIT_HEAD, DeployRequest(env="dev", plan_file=path), targets, lambda e: None,
                       lambda q: pytest.fail("asked"), saved) == 0
    assert targets["flow-dev"].applied == [] and len(targets["flow-dev-sales"].applied) == 1


def test_one_stack_deployed_since_refuses_the_whole_plan(tmp_path):
    targets = _two_stacks(SPLIT, SPLIT_HEAD)
    path = write_plan(tmp_path, SPLIT, SPLIT_HEAD, targets)
    targets["flow-dev"].number = 5  # the stack without changes was deployed by someone else
    with pytest.raises(Refused) as error:
        apply_saved(path, SPLIT_HEAD, targets)
    assert error.value.code == "R019" and "stack flow-dev changed since" in error.value.message
    assert not any(t.applied for t in targets.values())


def test_a_plan_without_a_record_for_a_deployed_stack_is_refused(tmp_path):
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    edit(path, lambda d: d["stacks"][0].update(stack="flow-other"))
    assert refused(path, INDEXED, target, "R020") == f"{path} has no plan for stack flow-dev; nothing was changed"


def test_a_plan_with_a_stack_the_environment_does_not_have_is_refused(tmp_path):
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    edit(path, lambda d: d["stacks"].append({**d["stacks"][0], "stack": "flow-dev-extra"}))
    assert refused(path, INDEXED, target, "R020") == (
        f"{path} covers stacks flow-dev, flow-dev-extra, the environment has flow-dev; nothing was changed")


# -- what: the steps and the target state -----------------------------------------------------------

@pytest.mark.parametrize("tamper", [
    pytest.param(lambda s: s["steps"][0]["changes"][0].update(severity="safe"), id="severity"),
    pytest.param(lambda s: s["steps"][0]["changes"][0].update(table="orders"), id="table"),
    pytest.param(lambda s: s["steps"][0].update(summary="apply nothing"), id="summary"),
    pytest.param(lambda s: s["steps"].append({**s["steps"][0], "number": 2}), id="extra-step"),
    pytest.param(lambda s: s["steps"].clear(), id="no-steps"),
])
def test_recorded_steps_that_differ_from_the_plan_computed_now_are_refused(tmp_path, tamper):
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    edit(path, lambda d: tamper(d["stacks"][0]))
    message = refused(path, INDEXED, target, "R020")
    assert message.startswith("the plan computed now for stack flow-dev differs from the one recorded in ")


def test_a_plan_computed_differently_now_is_refused(tmp_path, monkeypatch):
    # Another version of the tool plans the same schema differently: what runs must be what was reviewed.
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    planned = flow.plan_deploy

    def one_more_step(state, head):
        plan = planned(state, head)
        return dataclasses.replace(plan, steps=(*plan.steps, plan.steps[0]))
    monkeypatch.setattr(flow, "plan_deploy", one_more_step)
    assert "(2 step(s) now, 1 recorded;" in refused(path, INDEXED, target, "R020")


def test_a_tampered_target_state_is_refused(tmp_path):
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    edit(path, lambda d: d["stacks"][0]["target_state"]["tables"]["users"].update(removal_policy="retain"))
    assert refused(path, INDEXED, target, "R020") == (
        f"the target state recorded in {path} for stack flow-dev is not the schema's; nothing was changed")


def test_a_plan_reformatted_by_another_tool_still_applies(tmp_path):
    # Key order and layout are not the plan: a file passed through `jq -S` (sorted keys) is the same plan.
    target = Serial(USERS)
    path = write_plan(tmp_path, USERS, INDEXED, target)
    edit(path, lambda d: None)
    Path(path).write_text(json.dumps(json.loads(Path(path).read_text()), sort_keys=True, indent=1))
    assert apply_saved(path, INDEXED, target) == 0 and target.applied == ONE_STEP


def test_a_plan_out_in_a_directory_not_made_yet_is_written(tmp_path):
    path = tmp_path / "plans" / "pr-12" / "plan.json"
    write_plan(tmp_path, USERS, INDEXED, target := Serial(USERS))  # into an existing directory too
    assert flow.deploy(INDEXED, DeployRequest(env="dev", dry_run=True, plan_out=str(path)), target,
                       lambda e: None, lambda q: True) == 0
    assert load_plan(str(path)).stacks["flow-dev"].serial == "stack-id-1:4"


def test_a_plan_of_no_changes_is_saved_and_refused_once_something_was_deployed(tmp_path):
    # The pull request changed nothing deployable: its plan says so, and applies only as nothing.
    target = Serial(INDEXED)
    path = write_plan(tmp_path, INDEXED, INDEXED, target)
    assert [s["steps"] for s in json.loads(Path(path).read_text())["stacks"]] == [[]]
    assert apply_saved(path, INDEXED, target) == 0 and target.applied == []
    target.number += 1  # another deploy since
    assert "deploy serial 4 then, 5 now" in refused(path, INDEXED, target, "R019")


def test_steps_record_of_no_plan_is_no_steps():
    assert steps_record(None) == []


# -- the schema, the environment, the target (before anything is read) -----------------------------------

def _saved(tmp_path):
    target = Serial(USERS)
    return load_plan(write_plan(tmp_path, USERS, INDEXED, target))


@pytest.mark.parametrize(("head", "target", "words"), [
    pytest.param(INDEXED.model_copy(update={"env": "prod"}), "recorder", "not for environment prod of app flow "
                 "(recorder)", id="env"),
    pytest.param(INDEXED.model_copy(update={"app": "shop"}), "recorder", "not for environment dev of app shop "
                 "(recorder)", id="app"),
    pytest.param(INDEXED, "cloudformation", "not for environment dev of app flow (cloudformation)", id="target"),
])
def test_a_plan_for_another_environment_app_or_target_is_refused(tmp_path, head, target, words):
    saved = _saved(tmp_path)
    with pytest.raises(Refused) as error:
        saved.check_schema(head, target)
    assert error.value.code == "R017"
    assert error.value.message == (f"{saved.path} is a plan for environment dev of app flow (recorder), "
                                   f"{words}; nothing was changed")


def test_a_plan_of_another_schema_is_refused(tmp_path):
    saved = _saved(tmp_path)
    saved.check_schema(INDEXED, "recorder")  # its own: accepted
    with pytest.raises(Refused) as error:
        saved.check_schema(USERS, "recorder")
    assert error.value.code == "R018"
    assert error.value.message.startswith(f"the schema changed since {saved.path} was written (schema "
                                          f"{USERS.schema_hash[:12]}, the plan was computed from "
                                          f"{INDEXED.schema_hash[:12]})")


# -- allow_destructive is recorded, never granted ----------------------------------------------------------

def test_allow_destructive_is_recorded_as_a_json_boolean_and_grants_nothing(tmp_path):
    base = resolve(with_orders(), "dev")
    path = write_plan(tmp_path, base, USERS, Serial(base), allow_destructive=True)
    assert json.loads(Path(path).read_text())["allow_destructive"] is True
    assert load_plan(path).allow_destructive is True
    with pytest.raises(Blocked, match="refusing 1 destructive change"):
        apply_saved(path, USERS, target := Serial(base))
    assert target.applied == []
    assert apply_saved(path, USERS, target, allow_destructive=True) == 0
    assert target.applied == [(1, "apply 1 change in one update: orders: delete table")]


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, [], {}])
def test_allow_destructive_that_is_not_a_json_boolean_is_a_damaged_plan(tmp_path, value):
    path = write_plan(tmp_path, USERS, INDEXED, Serial(USERS))
    edit(path, lambda d: d.update(allow_destructive=value))
    with pytest.raises(JobworkError) as error:
        load_plan(path)
    assert f"a damaged jobwork-infra plan (allow_destructive must be true or false, not {json.dumps(value)})" \
        in error.value.message


# -- the file itself ---------------------------------------------------------------------------------------

def _plan_text(tmp_path) -> str:
    return Path(write_plan(tmp_path, USERS, INDEXED, Serial(USERS))).read_text()


def not_a_plan(path, words: str) -> None:
    with pytest.raises(JobworkError) as error:
        load_plan(str(path))
    assert words in error.value.message, error.value.message
    assert error.value.hint == "pass a file written by `jobwork-infra deploy --dry-run --plan-out FILE`"


@pytest.mark.parametrize(("tamper", "words"), [
    pytest.param(lambda d: d.pop("stacks"), "missing or wrong field: 'stacks'", id="no-stacks"),
    pytest.param(lambda d: d.pop("target"), "missing or wrong field: 'target'", id="no-target"),
    pytest.param(lambda d: d["stacks"][0].pop("serial"), "missing or wrong field: 'serial'", id="no-serial"),
    pytest.param(lambda d: d["stacks"][0].update(steps={}), "wrong field: steps or target_state", id="steps"),
    pytest.param(lambda d: d["stacks"][0].update(target_state=[]), "wrong field: steps or target_state",
                 id="target-state"),
    pytest.param(lambda d: d.update(stacks=3), "missing or wrong field", id="stacks-not-a-list"),
])
def test_a_damaged_plan_is_a_clear_error(tmp_path, tamper, words):
    path = tmp_path / "p.json"
    document = json.loads(_plan_text(tmp_path))
    tamper(document)
    path.write_text(json.dumps(document))
    not_a_plan(path, f"{path}: a damaged jobwork-infra plan (")
    not_a_plan(path, words)


@pytest.mark.parametrize(("content", "words"), [
    pytest.param(b"not json", "not a jobwork-infra plan (not JSON:", id="text"),
    pytest.param(b"\xff\xfe{}", "not a jobwork-infra plan (not JSON:", id="not-utf-8"),
    pytest.param(b'{"format": "terraform"}', "(format 'terraform', expected 'jobwork-infra-plan/2'", id="format"),
    pytest.param(b'{"format": "jobwork-infra-plan/1"}', "a plan written by another version is written again",
                 id="old-format"),
    pytest.param(b'["jobwork-infra-plan/2"]', "(format None, expected", id="a-list"),
])
def test_a_file_that_is_not_a_plan_is_a_clear_error(tmp_path, content, words):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    not_a_plan(path, words)


def test_a_missing_file_a_directory_and_an_unreadable_file_are_clear_errors(tmp_path, monkeypatch):
    not_a_plan(tmp_path / "nope.json", f"{tmp_path / 'nope.json'}: no such plan file")
    not_a_plan(tmp_path, f"{tmp_path}: not a regular file")
    path = tmp_path / "p.json"
    path.write_text(_plan_text(tmp_path))

    def unreadable(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "read_text", unreadable)
    not_a_plan(path, f"cannot read the plan {path}: Permission denied")


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    assert saved_plan_module.MAX_BYTES == 20 * 1024 * 1024
    path = tmp_path / "huge.json"
    with path.open("wb") as file:  # sparse: the size is what is checked, nothing is written
        file.truncate(saved_plan_module.MAX_BYTES + 1)
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("a file too large is not read"))
    not_a_plan(path, f"{path}: too large to be a plan (20,971,521 bytes)")
    with path.open("r+b") as file:
        file.truncate(saved_plan_module.MAX_BYTES)  # at the limit: read (and here not JSON)
    monkeypatch.undo()
    not_a_plan(path, "not a jobwork-infra plan (not JSON")


def test_a_plan_out_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(JobworkError) as error:
        flow.deploy(INDEXED, DeployRequest(env="dev", dry_run=True, plan_out=str(tmp_path / "a-file" / "plan.json")),
                    Serial(USERS), lambda e: None, lambda q: True)
    assert error.value.message.startswith(f"cannot write the plan to {tmp_path / 'a-file' / 'plan.json'}: ")
    assert error.value.hint == "give --plan-out a path in a writable directory"
    assert not os.path.exists(tmp_path / "a-file" / "plan.json")


# -- through the command line: refused with exit 3 before any engine is reached ----------------------------

def test_the_cli_refuses_a_plan_for_another_environment_before_reading_anything(tmp_path):
    text = ("version: 1\napp: flow\nenvironments:\n  dev: {removal_policy: destroy}\n  prod: {removal_policy: retain}\n"
            "tables:\n  users:\n    sort_key: user_id\n    attributes: {user_id: uuid}\n")
    schema_file = tmp_path / "tables.yaml"
    schema_file.write_text(text)
    from jobwork_infra.project import check_project
    head = check_project(str(schema_file), text=text).resolve("dev")
    plan_file = PlanFile(str(tmp_path / "plan.json"), "local", head, False)
    plan_file.add(head, None, DeployedState(None, "tables flow-dev-* on DynamoDB Local"))
    plan_file.write()
    # Refused before the local engine is looked for (JOBWORK_ROOT is a fresh directory: there is none).
    result = CliRunner().invoke(app, ["deploy", "--env", "prod", "--schema", str(schema_file), "--local",
                                      "--plan", plan_file.path])
    assert result.exit_code == 3, result.output
    assert "is a plan for environment dev of app flow (local), not for environment prod" in " ".join(
        result.output.split())
