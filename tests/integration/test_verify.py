"""Verify after apply is the drift comparison (issue 18, item 6): the live tables read back equal what was
applied, field by field, with AWS's transitional states waited for, not reported.

Plain moto drops `TimeToLiveSpecification` when CloudFormation creates a table: a deploy there used to
print "Verified on the live tables: … passed" and the next deploy refused with drift on that very TTL. Verify
then caught it (the deploy failed); now the deploy sets on an emulator what its CloudFormation dropped
(deploy/cloudformation/emulator.py, issue 23) and verifies, and verify still fails where that is not done.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.verify import verify_applied
from jobwork_infra.project import check_project
from tests.helpers import schema_text

SCHEMA = schema_text(app="{app}", environments={"dev": "{{removal_policy: destroy}}"}, tables="""\
  sessions:
    sort_key: session_id
    ttl: expires_at
    stream: new_image
    attributes:
      session_id: string
      expires_at: number
""")


def deploy(path: Path, *target: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--yes", *target])


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
def test_plain_moto_dropping_the_ttl_gets_it_set_verified_and_a_hand_change_stays_drift(
        tmp_path, moto_endpoint, fast_polls, monkeypatch):
    from jobwork_infra.deploy.cloudformation import target

    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app="shop"))
    common = ["--env", "dev", "--schema", str(schema), "--endpoint-url", moto_endpoint]
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")

    result = deploy(schema, "--endpoint-url", moto_endpoint)

    assert result.exit_code == 0, result.output
    assert (f"the engine at {moto_endpoint} did not apply time to live from the template to shop-dev-sessions "
            "(moto's CloudFormation ignores TimeToLiveSpecification)") in flat(result.output)
    assert "checks of what the plan promised passed" in flat(result.output)
    assert client.describe_time_to_live(TableName="shop-dev-sessions")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    clean = CliRunner().invoke(app, ["drift", *common])
    assert clean.exit_code == 0 and "No drift" in clean.output, clean.output

    # Turned off by hand: drift, and the next deploy neither hides nor undoes it (only a step's tables are set).
    client.update_time_to_live(TableName="shop-dev-sessions",
                               TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    again = deploy(schema, "--endpoint-url", moto_endpoint)
    assert again.exit_code == 3 and "R009" in again.output and "expires_at" in again.output, again.output
    assert client.describe_time_to_live(TableName="shop-dev-sessions")["TimeToLiveDescription"][
        "TimeToLiveStatus"] == "DISABLED"

    # Without the correction, verify is what catches the engine's gap: the deploy fails, never "passed".
    monkeypatch.setattr(target, "apply_dropped_ttl", lambda *args: [])
    schema.write_text(SCHEMA.format(app="shop2"))
    failed = deploy(schema, "--endpoint-url", moto_endpoint)
    assert failed.exit_code == 1, failed.output
    assert "checks of what the plan promised passed" not in failed.output
    assert ("table shop2-dev-sessions read back is not what was applied (D303): the next deploy would find that "
            "TTL is enabled on expires_at") in flat(failed.output)


@pytest.mark.slow
def test_the_strict_double_keeps_every_field_and_verifies(tmp_path, strict_aws, fast_polls):
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app="shop"))
    result = deploy(schema, "--endpoint-url", strict_aws.endpoint)
    assert result.exit_code == 0, result.output
    assert "checks of what the plan promised passed" in flat(result.output)


@pytest.mark.slow
@pytest.mark.local
def test_the_local_engine_verifies_every_field(tmp_path, local_engine, app_name):
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app=app_name))
    result = deploy(schema, "--local")
    assert result.exit_code == 0, result.output
    assert "checks of what the plan promised passed" in flat(result.output)


class TtlStillEnabling:
    """A real moto client whose TTL reads ENABLING for the first `times` calls, as AWS's does for a while."""

    def __init__(self, client, times: int):
        self.client, self.times = client, times

    def describe_time_to_live(self, **kwargs):
        answer = self.client.describe_time_to_live(**kwargs)
        if self.times > 0:
            self.times -= 1
            answer["TimeToLiveDescription"]["TimeToLiveStatus"] = "ENABLING"
        return answer

    def __getattr__(self, name):
        return getattr(self.client, name)


def _made_by_hand(moto_endpoint: str, tmp_path: Path, *, stream: bool):
    """The schema's table created on moto by hand (TTL on; the stream as asked), and the schema resolved."""
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app="shop"))
    head = check_project(schema).resolve("dev")
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_table(
        TableName="shop-dev-sessions", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}, {"AttributeName": "session_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                              {"AttributeName": "session_id", "AttributeType": "S"}],
        **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}} if stream else {}),
        Tags=[{"Key": k, "Value": v} for k, v in head.tables["sessions"].tags.items()])
    client.update_time_to_live(TableName="shop-dev-sessions",
                               TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
    return client, head


def test_a_ttl_still_enabling_is_waited_for_not_reported(moto_endpoint, tmp_path):
    from jobwork_infra.plan import plan_changes

    client, head = _made_by_hand(moto_endpoint, tmp_path, stream=True)
    slept = []
    checks, problems = verify_applied(TtlStillEnabling(client, 2), plan_changes(None, head), head,
                                      sleep=slept.append)
    assert problems == []
    assert len(slept) == 2 and checks >= 12


def test_a_field_the_engine_did_not_apply_is_a_problem(moto_endpoint, tmp_path):
    from jobwork_infra.plan import plan_changes

    client, head = _made_by_hand(moto_endpoint, tmp_path, stream=False)
    _, problems = verify_applied(client, plan_changes(None, head), head, sleep=lambda s: None)
    assert problems == [("table shop-dev-sessions read back is not what was applied (D306): the next deploy would "
                         "find that the stream changes from none to new_image: item changes start being "
                         "recorded for 24 h")]


def test_the_double_keeps_a_ttl_change_enabling_for_its_transition(strict_aws):
    """The double's rule, shown firing: UpdateTimeToLive leaves ENABLING until its time has passed."""
    from tests.double.state import DOUBLE

    DOUBLE.ttl_transition_seconds = 30.0
    client = strict_aws.client("dynamodb")
    client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    client.update_time_to_live(TableName="t", TimeToLiveSpecification={"AttributeName": "at", "Enabled": True})
    assert client.describe_time_to_live(TableName="t")["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLING"
    strict_aws.clock.advance(30)
    assert client.describe_time_to_live(TableName="t")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "at"}


@pytest.mark.slow
def test_a_deploy_waits_through_ttl_enabling_on_the_double(tmp_path, strict_aws, fast_polls):
    from tests.double.state import DOUBLE

    DOUBLE.ttl_transition_seconds = 2.0
    schema = tmp_path / "tables.yaml"
    schema.write_text(SCHEMA.format(app="shop"))
    result = deploy(schema, "--endpoint-url", strict_aws.endpoint)
    assert result.exit_code == 0, result.output
    assert "checks of what the plan promised passed" in flat(result.output)
    ttl = strict_aws.client("dynamodb").describe_time_to_live(TableName="shop-dev-sessions")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
