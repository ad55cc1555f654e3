"""The emulator correction for time to live (deploy/cloudformation/emulator.py): plain moto's CloudFormation
ignores TimeToLiveSpecification, so on an endpoint on this machine the deploy sets it with UpdateTimeToLive, for
the tables a step creates or whose TTL it changes, and says so. Never on AWS. Fast: a recording client; the
deploy on a moto server is tests/integration/test_verify.py::test_plain_moto_dropping_the_ttl_gets_it_set_verified_and_a_hand_change_stays_drift.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwork_infra.deploy.cloudformation.emulator import apply_dropped_ttl, ttl_set_by_step
from jobwork_infra.project import check_project

SCHEMA = """\
version: 1
app: shop
environments:
  dev: {{removal_policy: destroy}}
tables:
  sessions:
    sort_key: session_id
{ttl}
    attributes:
      session_id: string
      expires_at: number
      valid_until: number
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
"""


class Recording:
    """A DynamoDB client that records calls and answers each table's TTL as given."""

    def __init__(self, live: dict[str, dict]):
        self.live, self.calls = live, []

    def describe_time_to_live(self, **kwargs):
        self.calls.append(("describe", kwargs["TableName"]))
        return {"TimeToLiveDescription": self.live.get(kwargs["TableName"], {"TimeToLiveStatus": "DISABLED"})}

    def update_time_to_live(self, **kwargs):
        self.calls.append(("update", kwargs["TableName"], kwargs["TimeToLiveSpecification"]))

    @property
    def updates(self):
        return [c[1:] for c in self.calls if c[0] == "update"]


def resolved(tmp_path: Path, ttl: str):
    path = tmp_path / f"{abs(hash(ttl))}.yaml"
    path.write_text(SCHEMA.format(ttl=ttl))
    return check_project(str(path)).resolve("dev")


@pytest.mark.parametrize("endpoint", [None, "https://dynamodb.us-east-1.amazonaws.com", "http://10.0.0.5:5000",
                                      "http://127.0.0.1.example.com:5000", "http://localhost.evil.io:5000"])
def test_no_endpoint_but_one_on_this_machine_is_ever_read_or_corrected(endpoint):
    client, notes = Recording({}), []
    assert apply_dropped_ttl(client, endpoint, {"shop-dev-sessions": "expires_at"}, notes.append) == []
    assert client.calls == [] and notes == []


def test_on_an_emulator_ttl_is_set_where_it_reads_otherwise_and_said_once():
    client, notes = Recording({
        "dropped": {"TimeToLiveStatus": "DISABLED"},
        "kept": {"TimeToLiveStatus": "ENABLED", "AttributeName": "at"},
        "enabling": {"TimeToLiveStatus": "ENABLING", "AttributeName": "at"},       # AWS's transition: applied
        "other": {"TimeToLiveStatus": "ENABLED", "AttributeName": "old"},
        "left_on": {"TimeToLiveStatus": "ENABLED", "AttributeName": "at"},
        "disabling": {"TimeToLiveStatus": "DISABLING", "AttributeName": "at"},     # on its way off: applied
    }), []
    wanted = {"dropped": "at", "kept": "at", "enabling": "at", "other": "at", "left_on": None, "disabling": None}

    fixed = apply_dropped_ttl(client, "http://127.0.0.1:5000", wanted, notes.append)

    assert fixed == ["dropped", "left_on", "other"]
    assert client.updates == [
        ("dropped", {"Enabled": True, "AttributeName": "at"}),
        ("left_on", {"Enabled": False, "AttributeName": "at"}),
        ("other", {"Enabled": False, "AttributeName": "old"}),   # one change at a time: off, then on the new one
        ("other", {"Enabled": True, "AttributeName": "at"}),
    ]
    assert len(notes) == 1
    assert ("the engine at http://127.0.0.1:5000 did not apply time to live from the template to dropped, left_on, "
            "other (moto's CloudFormation ignores TimeToLiveSpecification)") in notes[0].text


def test_nothing_to_set_says_nothing():
    client, notes = Recording({"t": {"TimeToLiveStatus": "ENABLED", "AttributeName": "at"}}), []
    assert apply_dropped_ttl(client, "http://localhost:4566", {"t": "at"}, notes.append) == []
    assert client.updates == [] and notes == []


def test_only_tables_a_step_creates_or_whose_ttl_it_changes_are_considered(tmp_path):
    on = resolved(tmp_path, "    ttl: expires_at")
    moved = resolved(tmp_path, "    ttl: valid_until")
    off = resolved(tmp_path, "")
    assert ttl_set_by_step(None, on) == {"shop-dev-sessions": "expires_at", "shop-dev-users": None}  # created
    assert ttl_set_by_step(on, on) == {}                 # unchanged: a hand change stays drift
    assert ttl_set_by_step(on, moved) == {"shop-dev-sessions": "valid_until"}
    assert ttl_set_by_step(on, off) == {"shop-dev-sessions": None}
