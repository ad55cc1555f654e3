"""Plain moto's CloudFormation ignores PointInTimeRecoverySpecification (issue 23, item 8: rehearsing prod on
a moto server reported point-in-time recovery drift where nothing had changed, and now failed its verify).

The deploy sets what the emulator dropped, through the DynamoDB API, says so, and verifies; a change made
by hand afterwards is still drift. Never on AWS: only an endpoint on this machine is ever corrected.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from jobwork_infra.deploy.cloudformation.emulator import apply_dropped_pitr, pitr_set_by_step
from jobwork_infra.project import check_project
from tests.helpers import run_cli as run

SCHEMA = """\
version: 1
app: {app}
environments:
  prod:
    region: us-east-1
    removal_policy: destroy
    point_in_time_recovery: {pitr}
tables:
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
"""


def write(path: Path, app_name: str, pitr: str) -> Path:
    path.write_text(SCHEMA.format(app=app_name, pitr=pitr))
    return path


def flat(text: str) -> str:
    return " ".join(text.split())


def pitr_status(client, name: str) -> str:
    return client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]


@pytest.mark.slow
def test_a_plain_moto_rehearsal_keeps_pitr_verifies_and_reports_no_drift_until_changed_by_hand(
        tmp_path, moto_endpoint, fast_polls, app_name):
    schema = write(tmp_path / "tables.yaml", app_name, "true")
    common = ["--env", "prod", "--schema", str(schema), "--endpoint-url", moto_endpoint]
    deployed = run("deploy", *common, "--yes")
    assert deployed.exit_code == 0, deployed.output
    assert (f"the engine at {moto_endpoint} did not apply point-in-time recovery from the template to "
            f"{app_name}-prod-users") in flat(deployed.output)
    assert "checks of what the plan promised passed" in flat(deployed.output)
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert pitr_status(client, f"{app_name}-prod-users") == "ENABLED"

    clean = run("drift", *common)
    assert clean.exit_code == 0 and "No drift" in clean.output, clean.output

    # Turned off by hand: real drift, reported, and the next deploy neither hides nor undoes it.
    client.update_continuous_backups(TableName=f"{app_name}-prod-users",
                                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    drifted = run("drift", *common)
    assert drifted.exit_code == 3 and "point-in-time recovery: on in the deployed template, off live" in flat(
        drifted.output), drifted.output
    again = run("deploy", *common, "--yes")
    assert again.exit_code == 3 and "R009" in again.output, again.output
    assert pitr_status(client, f"{app_name}-prod-users") == "DISABLED"


class Recording:
    """A DynamoDB client that records calls and answers PITR DISABLED for every table."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def describe_continuous_backups(self, **kwargs):
        self.calls.append(("describe", kwargs))
        return {"ContinuousBackupsDescription": {"PointInTimeRecoveryDescription": {
            "PointInTimeRecoveryStatus": "DISABLED"}}}

    def update_continuous_backups(self, **kwargs):
        self.calls.append(("update", kwargs))


@pytest.mark.parametrize("endpoint", [None, "https://dynamodb.eu-west-1.amazonaws.com", "http://10.0.0.5:4566",
                                      "http://127.0.0.1.example.com:4566"])
def test_no_endpoint_but_one_on_this_machine_is_ever_read_or_corrected(endpoint):
    client, notes = Recording(), []
    assert apply_dropped_pitr(client, endpoint, {"shop-prod-users": True}, notes.append) == []
    assert client.calls == [] and notes == []


def test_on_an_emulator_only_what_reads_otherwise_is_corrected_and_said():
    client, notes = Recording(), []
    fixed = apply_dropped_pitr(client, "http://localhost:4566", {"a": True, "b": False}, notes.append)
    assert fixed == ["a"]
    assert [c for c in client.calls if c[0] == "update"] == [
        ("update", {"TableName": "a", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})]
    assert len(notes) == 1 and "did not apply point-in-time recovery from the template to a " in notes[0].text


def test_only_tables_a_step_creates_or_whose_setting_it_changes_are_considered(tmp_path):
    on = check_project(str(write(tmp_path / "on.yaml", "shop", "true"))).resolve("prod")
    off = check_project(str(write(tmp_path / "off.yaml", "shop", "false"))).resolve("prod")
    assert pitr_set_by_step(None, on) == {"shop-prod-users": True}       # created
    assert pitr_set_by_step(on, on) == {}                                # unchanged: a hand change stays drift
    assert pitr_set_by_step(on, off) == {"shop-prod-users": False}       # changed
