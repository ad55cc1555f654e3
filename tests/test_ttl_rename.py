"""A TTL rename on the local engine (issue 23, item 3): the deploy says what becomes of the items that
carry only the old attribute, says the local engine has no TTL hour, and refuses --backfill-ttl clearly."""

from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app

pytestmark = pytest.mark.slow


def schema_text(app_name: str, ttl: str) -> str:
    return textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        environments:
          dev:
            removal_policy: destroy
        tables:
          jobs:
            sort_key: job_id
            ttl: {ttl}
            attributes:
              tenant_id: uuid
              job_id: uuid
              expires_at: epoch_seconds
              purge_at: epoch_seconds
        """)


def deploy(schema, *args: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema), *args])


def test_a_ttl_rename_says_what_stops_expiring_and_that_the_local_engine_has_no_hour(local_engine, app_name,
                                                                                      tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name, "expires_at"))
    assert deploy(schema, "--yes").exit_code == 0
    schema.write_text(schema_text(app_name, "purge_at"))

    refused = deploy(schema, "--yes", "--backfill-ttl")
    assert refused.exit_code == 3, refused.output
    assert "R025" in refused.output and "--backfill-ttl: writing the new TTL attribute" in refused.output
    assert "nothing was changed" in refused.output
    ttl = local_engine.client().describe_time_to_live(TableName=f"{app_name}-dev-jobs")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")  # untouched

    result = deploy(schema, "--yes")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert (f"warning: {app_name}-dev-jobs: TTL moves from expires_at to purge_at; the items written before carry "
            "only expires_at") in flat
    assert "they never expire once TTL is on purge_at, unless purge_at is written on them" in flat
    assert ("jobs: the local engine has no TTL hour: step 2 runs now; on AWS it waits until 1 h after the "
            "previous TTL change") in flat
    assert flat.index("Step 1/2") < flat.index("no TTL hour") < flat.index("Step 2/2")
    ttl = local_engine.client().describe_time_to_live(TableName=f"{app_name}-dev-jobs")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "purge_at")
