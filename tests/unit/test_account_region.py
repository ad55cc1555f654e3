"""The right region or nothing (issue 23, leftover of item 1), on the strict AWS double.

An environment that declares `region:` is refused (R026, exit 3) when the run uses another one
(`--region`), before any stack or table is read; the schema's region, or a `--region` equal to it, runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwork_infra.account import Caller, check_region
from jobwork_infra.deploy import factory
from jobwork_infra.deploy.cloudformation import target as cloudformation
from jobwork_infra.deploy.gate import Refused
from tests.helpers import run_cli as run

MOTO_ACCOUNT = "123456789012"

SCHEMA = f"""\
version: 1
app: shop
environments:
  prod:
    region: eu-west-1
    account: "{MOTO_ACCOUNT}"
    removal_policy: destroy
tables:
  users:
    sort_key: user_id
    attributes:
      user_id: uuid
"""


def schema(tmp_path: Path) -> str:
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    return str(path)


@pytest.mark.slow
def test_another_region_is_refused_without_a_stack_or_table_read(strict_aws, tmp_path, monkeypatch):
    path = schema(tmp_path)

    def never(*args, **kwargs):  # reading anything after the refusal would be a defect
        raise AssertionError("read after the region was refused")

    monkeypatch.setattr(cloudformation, "make_clients", never)
    monkeypatch.setattr(factory, "open_sources", never)
    # One run per command path through the guard (the text/JSON variants share it: tests/unit/test_account.py).
    for command in (["deploy", "--dry-run"], ["deploy", "--adopt", "--yes"], ["destroy", "--yes"],
                    ["drift", "--format", "json"], ["import", "users"], ["status"]):
        result = run(*command, "--env", "prod", "--schema", path, "--endpoint-url", strict_aws.endpoint,
                     "--region", "us-east-1")
        assert result.exit_code == 3, (command, result.output)
        flat = " ".join(result.output.split())
        assert "environment prod is in region eu-west-1, but this run uses region us-east-1" in flat, command
        assert "R026" in flat and "nothing was read or changed" in flat, command
    assert strict_aws.client("cloudformation").list_stacks()["StackSummaries"] == []


@pytest.mark.slow
def test_the_schema_region_or_the_same_region_given_reads(strict_aws, tmp_path):
    path = schema(tmp_path)
    for extra in ([], ["--region", "eu-west-1"]):
        result = run("status", "--env", "prod", "--schema", path, "--endpoint-url", strict_aws.endpoint, *extra)
        assert result.exit_code == 0, (extra, result.output)
        assert result.output.splitlines()[0].endswith("region eu-west-1")
        assert "stack shop-prod (not deployed)" in result.output


@pytest.mark.parametrize("declared, used, refused", [
    (None, "us-east-1", False),          # nothing declared: the caller's region is the environment's
    ("eu-west-1", "eu-west-1", False),
    ("eu-west-1", "eu-west-2", True),    # one character apart
    ("us-gov-west-1", "us-west-1", True),
])
def test_check_region_compares_the_declared_region_exactly(declared, used, refused):
    caller = Caller(MOTO_ACCOUNT, f"arn:aws:iam::{MOTO_ACCOUNT}:user/x", used)
    if refused:
        with pytest.raises(Refused) as caught:
            check_region("prod", declared, caller)
        assert caught.value.code == "R026"
    else:
        check_region("prod", declared, caller)
