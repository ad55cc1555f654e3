"""Deploys at scale against the strict AWS double (issue 10, "Done when").

- 60 tenant-scoped tables with a GSI each deploy in one stack: the packed tenant policies, the
  creation lanes, and (the template is over 51,200 bytes) the template through S3;
- the same template without --template-bucket is refused before any change;
- tables split over several stacks deploy with every stack complete, and a redeploy says "No changes".

1,000 tables over four stacks is measured by `make bench` (bench/deploy_double.py) rather than here:
it takes longer than the whole suite may spend on one case. A 1,000-table schema without `stack:` is
refused by validate (test_budgets.py), and every template of the 1,000 tables in four stacks is
cfn-lint clean (test_budgets.py, one synth).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.generate import make_schema
from jobwork_infra.cli import app
from tests.conftest import after_caller

pytestmark = pytest.mark.slow

BUCKET = "my-templates"
SIXTY = "version: 1\napp: big\nenvironments:\n  dev:\n    removal_policy: destroy\ntables:\n" + "".join(
    f"  table_{i:02d}:\n    sort_key: item_id\n    attributes: {{item_id: uuid, status: string}}\n"
    f"    global_indexes: {{by_status: {{partition_key: tenant_id, sort_key: status}}}}\n" for i in range(60))


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Every test here deploys through the strict double, polling at once (tests/plugins/timing.py)."""


def deploy(path: Path, endpoint: str, *extra: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint,
                                    *extra], catch_exceptions=False)


def complete_stacks(strict_aws) -> dict[str, str]:
    summaries = strict_aws.client("cloudformation").list_stacks()["StackSummaries"]
    return {s["StackName"]: s["StackStatus"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"}


def all_tables(strict_aws) -> list[dict]:
    dynamodb = strict_aws.client("dynamodb")
    names = dynamodb.get_paginator("list_tables").paginate().build_full_result()["TableNames"]
    return [dynamodb.describe_table(TableName=n)["Table"] for n in names]


def test_sixty_tenant_tables_with_a_gsi_each_deploy_in_one_stack(tmp_path, strict_aws):
    path = tmp_path / "tables.yaml"
    path.write_text(SIXTY)
    strict_aws.client("s3").create_bucket(Bucket=BUCKET)

    refused = deploy(path, strict_aws.endpoint, "--yes")

    assert refused.exit_code == 1, refused.output
    assert "over CloudFormation's 51,200-byte limit for templates sent inline; nothing was changed" in refused.output
    assert "hint: pass --template-bucket BUCKET" in refused.output
    assert complete_stacks(strict_aws) == {}  # refused before any change set

    result = deploy(path, strict_aws.endpoint, "--yes", "--template-bucket", BUCKET)

    assert result.exit_code == 0, result.output
    assert complete_stacks(strict_aws) == {"big-dev": "CREATE_COMPLETE"}
    tables = all_tables(strict_aws)
    assert len(tables) == 60
    assert all(t["TableStatus"] == "ACTIVE" and [i["IndexStatus"] for i in t["GlobalSecondaryIndexes"]] == ["ACTIVE"]
               for t in tables)
    iam = strict_aws.client("iam")
    policies = sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"])
    assert len(policies) >= 2 and policies[0] == "big-dev-TenantDataAccess"  # packed under IAM's limit
    keys = strict_aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [k["Key"].split("/")[1] for k in keys] == ["big-dev"]

    again = deploy(path, strict_aws.endpoint, "--template-bucket", BUCKET)

    assert again.exit_code == 0, again.output
    assert after_caller(again.output).startswith("No changes: stack big-dev matches the schema")


def test_tables_split_over_several_stacks_deploy_every_stack_complete_and_redeploy_changes_nothing(
        tmp_path, strict_aws):
    path = tmp_path / "tables.yaml"
    path.write_text(make_schema(120, tables_per_stack=40))  # three stacks of 40, each over 51,200 bytes
    strict_aws.client("s3").create_bucket(Bucket=BUCKET)

    result = deploy(path, strict_aws.endpoint, "--yes", "--template-bucket", BUCKET)

    assert result.exit_code == 0, result.output
    assert complete_stacks(strict_aws) == {"bench-dev": "CREATE_COMPLETE", "bench-dev-part2": "CREATE_COMPLETE",
                                           "bench-dev-part3": "CREATE_COMPLETE"}
    assert "Deployed 3 of 3 stacks of dev" in result.output
    tables = all_tables(strict_aws)
    assert len(tables) == 120
    assert all(t["TableStatus"] == "ACTIVE" for t in tables)
    assert all(i["IndexStatus"] == "ACTIVE" for t in tables for i in t.get("GlobalSecondaryIndexes", []))

    again = deploy(path, strict_aws.endpoint, "--template-bucket", BUCKET)

    assert again.exit_code == 0, again.output
    assert again.output.rstrip().endswith("No changes: the 3 stacks of dev match the schema.")
    assert "Deployed" not in again.output
