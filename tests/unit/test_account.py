"""The right account or nothing (issue 23, item 1), on the strict AWS double.

moto's STS answers GetCallerIdentity with its fixed account, 123456789012: an environment naming
another account is refused before anything is read; naming that one, the deploy runs and its header
says which account and region it deploys to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwork_infra.account import Caller, check_account
from jobwork_infra.deploy import factory
from jobwork_infra.deploy.cloudformation import target as cloudformation
from jobwork_infra.deploy.timing import TIMING
from jobwork_infra.errors import Blocked
from tests.helpers import run_cli as run

MOTO_ACCOUNT = "123456789012"
RETAINED = "    removal_policy: retain\n    point_in_time_recovery: true\n    deletion_protection: true\n"

SCHEMA = """\
version: 1
app: shop
environments:
  prod:
    region: eu-west-1
{account}{protections}tables:
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
"""


def schema(tmp_path: Path, account: str | None) -> str:
    path = tmp_path / "tables.yaml"
    # Retained tables get termination protection, which the double does not implement (moto lacks
    # UpdateTerminationProtection): the deploy that succeeds is of a destroy environment.
    protections = "    removal_policy: destroy\n" if account == MOTO_ACCOUNT else RETAINED
    path.write_text(SCHEMA.format(account=f'    account: "{account}"\n' if account else "", protections=protections))
    return str(path)


def test_another_account_is_refused_without_a_stack_or_table_read(strict_aws, tmp_path, monkeypatch):
    path = schema(tmp_path, "000000000000")

    def never(*args, **kwargs):  # reading anything after the refusal would be a defect
        raise AssertionError("read after the account was refused")

    monkeypatch.setattr(cloudformation, "make_clients", never)
    monkeypatch.setattr(factory, "open_sources", never)
    for command in (["deploy", "--yes"], ["deploy", "--dry-run"], ["deploy", "--adopt", "--yes"],
                    ["destroy", "--yes"], ["drift"], ["drift", "--format", "json"], ["import", "users"]):
        result = run(*command, "--env", "prod", "--schema", path, "--endpoint-url", strict_aws.endpoint)
        assert result.exit_code == 3, (command, result.output)
        assert (f"environment prod is account 000000000000, but the credentials belong to account {MOTO_ACCOUNT}"
                in " ".join(result.output.split())), command
        assert "nothing was read or changed" in result.output
        assert f"AWS account {MOTO_ACCOUNT} (arn:aws:" in result.output and "region eu-west-1" in result.output
    assert strict_aws.client("cloudformation").list_stacks()["StackSummaries"] == []


@pytest.mark.slow
def test_the_right_account_deploys_and_says_where(strict_aws, tmp_path, monkeypatch):
    monkeypatch.setattr(TIMING, "stack_poll", 0)
    monkeypatch.setattr(TIMING, "change_set_poll", 0)
    path = schema(tmp_path, MOTO_ACCOUNT)
    result = run("deploy", "--env", "prod", "--schema", path, "--endpoint-url", strict_aws.endpoint, "--yes")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"AWS account {MOTO_ACCOUNT} (arn:aws:") and first.endswith("region eu-west-1")
    drift = run("drift", "--env", "prod", "--schema", path, "--endpoint-url", strict_aws.endpoint)
    assert drift.output.splitlines()[0] == first
    assert drift.exit_code in (0, 3), drift.output


def test_no_account_in_the_schema_checks_nothing_but_still_says_who():
    caller = Caller(MOTO_ACCOUNT, f"arn:aws:iam::{MOTO_ACCOUNT}:user/x", "eu-west-1")
    check_account("dev", None, caller)  # nothing named, nothing refused
    check_account("prod", MOTO_ACCOUNT, caller)
    with pytest.raises(Blocked, match="environment prod is account 111111111111"):
        check_account("prod", "111111111111", caller)
    assert caller.line == f"AWS account {MOTO_ACCOUNT} (arn:aws:iam::{MOTO_ACCOUNT}:user/x), region eu-west-1"
