"""A generation bump on the CloudFormation target (strict AWS double): refused before any change, since
CloudFormation alone would replace the table and lose its items (docs/migrate.md, "On AWS")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app

pytestmark = pytest.mark.slow

SCHEMA = """\
version: 1
app: shop
environments:
  dev:
    removal_policy: destroy
tables:
  users:
    sort_key: user_id
    attributes:
      user_id: string
      email: string
"""


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Through the strict double, polling at once (tests/plugins/timing.py)."""


def deploy(path, endpoint: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint,
                                    "--yes"])


def test_a_generation_bump_is_refused_on_cloudformation_and_nothing_changes(strict_aws, tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    first = deploy(path, strict_aws.endpoint)
    assert first.exit_code == 0, first.output
    dynamodb = strict_aws.client("dynamodb")
    dynamodb.put_item(TableName="shop-dev-users", Item={"tenant_id": {"S": "t1"}, "user_id": {"S": "u1"},
                                                        "email": {"S": "a@x"}})
    path.write_text(SCHEMA.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n"))
    refused = deploy(path, strict_aws.endpoint)
    assert refused.exit_code == 3, refused.output
    assert "this target cannot run a migration yet: users (generation 1 → 2)" in refused.output
    assert "nothing was changed" in refused.output
    assert sorted(dynamodb.list_tables()["TableNames"]) == ["shop-dev-users"]
    assert dynamodb.scan(TableName="shop-dev-users")["Count"] == 1
