"""A deploy waits out a GSI backfill whose time grows with the table's items (issue 18, item 7): on the strict
double with `backfill_seconds_per_item`, the index of a table holding items is still CREATING when the stack update
completes (CloudFormation does not wait for it); the deploy returns only once it is ACTIVE, and verifies it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.helpers import schema_text

pytestmark = pytest.mark.slow

BASE = schema_text(environments={"dev": "{removal_policy: destroy}"})
WITH_INDEX = BASE + """    global_indexes:
      by_email: {partition_key: tenant_id, sort_key: email}
"""


def test_the_deploy_waits_for_a_backfill_that_grows_with_the_items(tmp_path, strict_aws, fast_polls, monkeypatch):
    schema = tmp_path / "tables.yaml"
    schema.write_text(BASE)
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    args = ["deploy", "--env", "dev", "--schema", str(schema), "--endpoint-url", strict_aws.endpoint, "--yes"]
    assert CliRunner().invoke(app, args).exit_code == 0
    dynamodb = strict_aws.client("dynamodb")
    for i in range(20):
        dynamodb.put_item(TableName="shop-dev-users", Item={
            "tenant_id": {"S": "t1"}, "user_id": {"S": f"u{i}"}, "email": {"S": f"u{i}@x"}})
    strict_aws.backfill_seconds, strict_aws.backfill_seconds_per_item = 0.05, 0.05  # 1.05 s for 20 items

    schema.write_text(WITH_INDEX)
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    described = dynamodb.describe_table(TableName="shop-dev-users")["Table"]
    assert [(i["IndexName"], i["IndexStatus"]) for i in described["GlobalSecondaryIndexes"]] == [("by_email", "ACTIVE")]
    assert described["ItemCount"] == 20
    assert "Verified on the live tables" in " ".join(result.output.split())
