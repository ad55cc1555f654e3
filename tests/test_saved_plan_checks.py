"""Saved plans through the deploy flow with a recording target: fast, every refusal exact (issue 21).

tests/test_saved_plan.py runs the whole story on DynamoDB Local and the strict AWS double (slow).
These pin each check of deploy/saved_plan.py where the flow calls it: the target, environment and
app; the schema; what is deployed; the plan computed now against the saved steps; the carried
--allow-destructive; and the file itself (missing, too large, not JSON, another format, damaged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobwork_infra.deploy import DeployRequest, flow
from jobwork_infra.deploy.saved_plan import MAX_BYTES, load_plan, write_plan
from jobwork_infra.deploy.target import deployed_fingerprint
from jobwork_infra.errors import Blocked, JobworkError
from jobwork_infra.model import resolve

from .test_flow import Recorder, fixed_clock, schema  # noqa: F401  (fixed_clock: the autouse fixture)

BASE = resolve(schema(), "dev")
HEAD = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev")


def save(tmp_path, base=BASE, head=HEAD, **request) -> str:
    path = str(tmp_path / "plan.json")
    code = flow.deploy(head, DeployRequest(env="dev", dry_run=True, plan_out=path, **request), Recorder(base),
                       lambda event: None, lambda q: pytest.fail("a dry run asks nothing"))
    assert code == 0
    return path


def apply(path: str, base=BASE, head=HEAD, target=None):
    """Apply a saved plan as the CLI does: load, check the schema, then the flow with the plan."""
    target = target or Recorder(base)
    saved = load_plan(path)
    saved.check_schema(head, target.capabilities.lock_scope)
    code = flow.deploy(head, DeployRequest(env="dev", plan_file=path), target, lambda event: None,
                       lambda q: pytest.fail("a saved plan is the approval: no prompt"), saved)
    return code, target


def test_a_saved_plan_applies_its_steps_without_a_prompt(tmp_path):
    code, target = apply(save(tmp_path))
    assert code == 0
    assert target.applied == [(1, "apply 1 change in one update")]


def test_a_plan_for_another_target_environment_or_app_is_refused_before_anything_is_read(tmp_path):
    saved = load_plan(save(tmp_path))
    for head, target in ((HEAD, "local"), (HEAD.model_copy(update={"env": "prod"}), "recorder"),
                         (HEAD.model_copy(update={"app": "other"}), "recorder")):
        with pytest.raises(Blocked, match="is a plan for environment dev of app flow \\(recorder\\)"):
            saved.check_schema(head, target)
    saved.check_schema(HEAD, "recorder")


def test_a_schema_edited_after_the_plan_is_refused(tmp_path):
    path = save(tmp_path)
    edited = resolve(schema(global_indexes={"by_email": {"partition_key": "email", "projection": "keys_only"}}), "dev")
    with pytest.raises(Blocked, match="the schema changed since"):
        apply(path, head=edited)


def test_what_is_deployed_changing_after_the_plan_refuses_it_and_applies_nothing(tmp_path):
    path = save(tmp_path)
    moved = resolve(schema(point_in_time_recovery=True), "dev")
    target = Recorder(moved)
    with pytest.raises(Blocked, match="changed since .* was written"):
        apply(path, target=target)
    assert target.applied == []


def test_a_plan_applied_once_is_refused_the_second_time(tmp_path):
    path = save(tmp_path)
    apply(path)
    with pytest.raises(Blocked, match="the plan was applied already"):
        apply(path, base=HEAD)


def test_a_plan_that_this_version_would_plan_differently_is_refused_and_applies_nothing(tmp_path):
    path = save(tmp_path)
    document = json.loads(Path(path).read_text())
    document["steps"][0]["summary"] = "create index by_email (as another version said it)"
    Path(path).write_text(json.dumps(document))
    target = Recorder(BASE)
    with pytest.raises(Blocked, match=r"plans the change differently .* \(1 step\(s\) now, 1 saved\)"):
        apply(path, target=target)
    assert target.applied == []


def test_a_saved_plan_carries_the_allow_destructive_it_was_reviewed_with(tmp_path):
    """The dry run that writes it is gated like a deploy; applying it needs no --allow-destructive again."""
    other = BASE.model_copy(update={"tables": {"other": BASE.tables["users"].model_copy(
        update={"key": "other", "physical_name": "flow-dev-other"})}})
    with pytest.raises(Blocked, match="refusing 1 destructive change"):
        save(tmp_path, head=other)
    allowed = save(tmp_path, head=other, allow_destructive=True)
    assert json.loads(Path(allowed).read_text())["allow_destructive"] is True
    code, target = apply(allowed, head=other)
    assert code == 0 and target.applied == [(1, "apply 1 change in one update")]


# -- the file ----------------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (None, "no such plan file"),
    ("{", "not a jobwork-infra plan (not JSON"),
    ("[]", "not a jobwork-infra plan (format None"),
    ('{"format": "jobwork-infra-plan/0"}', "format 'jobwork-infra-plan/0', expected 'jobwork-infra-plan/1'"),
    ('{"format": "jobwork-infra-plan/1", "steps": []}', "a damaged jobwork-infra plan (missing or wrong field"),
    ('{"format": "jobwork-infra-plan/1", "steps": [1]}', "a damaged jobwork-infra plan (missing or wrong field"),
    (b"\xff\xfe", "not a jobwork-infra plan (not JSON"),
])
def test_a_file_that_is_not_a_plan_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "plan.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(JobworkError, match=None) as error:
        load_plan(str(path))
    assert message in error.value.message
    assert error.value.hint == "pass a file written by `jobwork-infra deploy --dry-run --plan-out FILE`"


def test_a_directory_is_not_a_plan(tmp_path):
    with pytest.raises(JobworkError, match="not a regular file"):
        load_plan(str(tmp_path))


def test_a_file_over_the_size_limit_is_refused_unread_and_one_at_the_limit_is_read(tmp_path):
    path = tmp_path / "plan.json"
    with open(path, "wb") as file:  # sparse: no 20 MB written
        file.truncate(MAX_BYTES + 1)
    with pytest.raises(JobworkError, match=f"too large to be a plan \\({MAX_BYTES + 1:,} bytes\\)"):
        load_plan(str(path))
    with open(path, "wb") as file:
        file.truncate(MAX_BYTES)
    with pytest.raises(JobworkError, match="not JSON"):  # read, and then found not to be a plan
        load_plan(str(path))


def test_a_plan_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(JobworkError, match="cannot write the plan to .*: Not a directory"):
        write_plan(str(tmp_path / "file" / "plan.json"), None, HEAD, "stack flow-dev", "x", "recorder", False)


def test_the_file_records_what_the_plan_was_computed_from(tmp_path):
    document = json.loads(Path(save(tmp_path)).read_text())
    assert document["format"] == "jobwork-infra-plan/1"
    assert (document["target"], document["where"], document["app"], document["env"]) == (
        "recorder", "stack flow-dev", "flow", "dev")
    assert document["schema_hash"] == HEAD.schema_hash and document["allow_destructive"] is False
    assert [(s["number"], s["summary"], s["target_hash"]) for s in document["steps"]] == [
        (1, "apply 1 change in one update", HEAD.schema_hash)]
    assert document["steps"][0]["changes"] == [{"code": "D301", "table": "users", "severity": "online",
                                                "statement": document["steps"][0]["changes"][0]["statement"]}]
    saved = load_plan(save(tmp_path))
    assert saved.steps == (("apply 1 change in one update", HEAD.schema_hash),)
    assert saved.deployed == deployed_fingerprint(Recorder(BASE).read(HEAD))


def test_a_plan_that_cannot_be_read_is_a_clear_error(tmp_path, monkeypatch):
    path = save(tmp_path)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(JobworkError, match=f"cannot read the plan {path}: Permission denied"):
        load_plan(path)


def test_nothing_to_do_is_saved_as_a_plan_without_steps(tmp_path):
    path = save(tmp_path, base=HEAD)
    document = json.loads(Path(path).read_text())
    assert document["steps"] == [] and document["schema_hash"] == HEAD.schema_hash
    code, target = apply(path, base=HEAD)
    assert code == 0 and target.applied == []


class Templated(Recorder):
    """CloudFormation's fingerprint is the deployed template: tables can change under the same one."""

    def read(self, head, *, destroying=False):
        state = super().read(head)
        state.fingerprint = "template 1"
        return state


def test_a_plan_saved_without_allow_destructive_never_lends_it_to_a_plan_that_became_destructive(tmp_path):
    path = str(tmp_path / "plan.json")
    assert flow.deploy(HEAD, DeployRequest(env="dev", dry_run=True, plan_out=path), Templated(BASE),
                       lambda e: None, lambda q: True) == 0
    grown = BASE.model_copy(update={"tables": {**BASE.tables, "old": BASE.tables["users"].model_copy(
        update={"key": "old", "physical_name": "flow-dev-old"})}})
    target = Templated(grown)  # a table appeared under the same template: the plan now deletes it
    with pytest.raises(Blocked, match="refusing 1 destructive change"):
        apply(path, target=target)
    assert target.applied == []
