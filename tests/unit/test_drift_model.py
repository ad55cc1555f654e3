"""find_drift on its own: three versions of an environment written as schemas (no engine, no AWS)."""

from __future__ import annotations

import textwrap

import pytest

from jobwork_infra.drift import find_drift
from jobwork_infra.model import ResolvedSchema
from jobwork_infra.project import check_project
from tests.helpers import schema_text

BASE = schema_text(environments={"dev": "{{removal_policy: {policy}}}"}, tables="""\
  users:
    sort_key: user_id
    attributes: {{tenant_id: uuid, user_id: uuid, email: string, expires_at: epoch_seconds}}
{extra}""")


def env(extra: str = "", policy: str = "retain") -> ResolvedSchema:
    project = check_project("t.yaml", text=BASE.format(extra=textwrap.indent(extra, "    "), policy=policy))
    return project.resolve("dev")


INDEX = "global_indexes:\n  by_email: {partition_key: tenant_id, sort_key: email}\n"


def cloudformation(reference, live, head):
    return find_drift(head, reference, live, target="cloudformation", reference_label="the deployed template",
                      where="stack shop-dev")


@pytest.mark.parametrize(("by_hand", "expected"), [
    (INDEX, "deploy will fail: the index already exists, and CloudFormation would create it again"),
    ("ttl: expires_at\n", "deploy will fail: TTL already enabled, and CloudFormation would enable it again"),
    ("stream: new_image\n", "deploy will fail: stream already enabled, and CloudFormation would enable it again"),
    ("point_in_time_recovery: true\n", "deploy sets it to what it already is: no effect"),
])
def test_cloudformation_fails_on_what_the_schema_now_asks_and_was_done_by_hand(by_hand, expected):
    report = cloudformation(reference=env(), live=env(by_hand), head=env(by_hand))
    assert len(report.items) == 1
    assert report.items[0].next_deploy.startswith(expected)
    assert [c.code for c in report.pending] == [report.items[0].change.code]  # the schema is ahead too


def test_cloudformation_leaves_drift_the_schema_does_not_touch():
    report = cloudformation(reference=env(INDEX), live=env(), head=env(INDEX))
    (item,) = report.items
    assert (item.change.code, item.drift) == ("D302", ("index by_email is missing from the live table: deleted "
                                                      "outside jobwork-infra"))
    assert item.next_deploy.startswith("deploy leaves it drifted: CloudFormation changes only what differs")
    assert report.pending == ()


def test_cloudformation_applies_what_the_schema_changes_differently():
    report = cloudformation(reference=env(), live=env("stream: new_image\n"), head=env("stream: keys_only\n"))
    (item,) = report.items
    assert item.next_deploy == ("deploy will change it: the stream changes from none to keys_only: item changes "
                                "start being recorded for 24 h")


def test_local_undoes_drift_and_refuses_what_would_destroy_data():
    live = env().model_copy(update={"tables": {}})  # the table was deleted by hand
    report = find_drift(env(policy="destroy"), env(policy="destroy"), live, target="local",
                        reference_label="the schema", where="dev")
    (item,) = report.items
    assert (item.change.code, item.severity.label) == ("D101", "destructive")
    assert item.next_deploy == "deploy will undo it: table shop-dev-users is created"


def test_capacity_is_noise_and_a_clean_environment_has_no_drift():
    provisioned = "billing: provisioned\ncapacity: {read: %d, write: 5}\n"
    report = cloudformation(reference=env(provisioned % 5), live=env(provisioned % 40), head=env(provisioned % 5))
    assert report.items == ()
    assert any(reason.startswith("provisioned capacity") for reason in report.not_checked)
    assert cloudformation(env(INDEX), env(INDEX), env(INDEX)).severity is None


@pytest.mark.parametrize("command", ["drift", "import"])
def test_one_target_only(command, project_schema):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    result = CliRunner().invoke(app, [command, "--env", "dev", "--schema", str(project_schema), "--local",
                                      "--endpoint-url", "http://127.0.0.1:9", "users"][:8 if command == "drift" else 9])
    assert result.exit_code == 2, result.output
    assert "choose one target: --local or --endpoint-url" in result.output
