"""The CLI copy's size limit (migrate/scale.py, docs/migrate.md "Scale"): a migration whose source is over
50 GB or 50 million items by DescribeTable is refused (R027, exit 3) before anything changes, unless
--allow-large-copy; diff's D207 says so. Fast tests on a recorded DescribeTable, one slow test through
deploy on the strict double."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from jobwork_infra.deploy.gate import Refused
from jobwork_infra.migrate import scale
from jobwork_infra.migrate.scale import MAX_BYTES, MAX_ITEMS, TableSize, read_sizes, refuse_large_copies
from tests.helpers import schema_text

RETRY = "jobwork-infra deploy --env prod --allow-large-copy"


class DescribeOnly:
    """DescribeTable as AWS answers it: ItemCount and TableSizeBytes, ResourceNotFoundException when gone."""

    def __init__(self, tables: dict[str, tuple[int, int]]):
        self.tables = tables

    def describe_table(self, TableName: str) -> dict:
        if TableName not in self.tables:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}},
                              "DescribeTable")
        items, size = self.tables[TableName]
        return {"Table": {"TableName": TableName, "ItemCount": items, "TableSizeBytes": size}}


def test_the_limits_are_50_million_items_and_50_gb_exclusive():
    assert (MAX_ITEMS, MAX_BYTES) == (50_000_000, 50_000_000_000)
    assert not TableSize("t", MAX_ITEMS, MAX_BYTES).too_large
    assert TableSize("t", MAX_ITEMS + 1, 0).too_large
    assert TableSize("t", 0, MAX_BYTES + 1).too_large


@pytest.mark.parametrize(("items", "size", "shown"), [
    (60_000_000, 1_000, "about 60,000,000 items"),          # many small items
    (2_000_000, 120 * 1000 ** 3, "120.0 GB"),                # few large ones: the bytes alone refuse it
], ids=["items", "bytes"])
def test_a_source_over_the_limit_is_refused_with_its_size_and_the_ways_forward(items, size, shown):
    client = DescribeOnly({"shop-prod-users": (items, size), "shop-prod-orders": (10, 10)})

    with pytest.raises(Refused) as refused:
        refuse_large_copies(read_sizes(client, ["shop-prod-users", "shop-prod-orders"]), allow=False, retry=RETRY)

    assert refused.value.code == "R027"
    assert shown in str(refused.value) and "shop-prod-users" in str(refused.value)
    assert "shop-prod-orders" not in str(refused.value)       # only the large one is named
    assert "nothing was changed" in str(refused.value)
    assert f"`{RETRY}`" in refused.value.hint and "ExportTableToPointInTime" in refused.value.hint


def test_allowed_or_under_the_limit_or_gone_is_not_refused():
    client = DescribeOnly({"big": (MAX_ITEMS + 1, 0), "small": (MAX_ITEMS, MAX_BYTES)})
    refuse_large_copies(read_sizes(client, ["big"]), allow=True, retry=RETRY)
    refuse_large_copies(read_sizes(client, ["small"]), allow=False, retry=RETRY)
    assert read_sizes(client, ["gone", "small"]) == [TableSize("small", MAX_ITEMS, MAX_BYTES)]


def test_a_describe_failure_other_than_not_found_is_not_read_as_small():
    class Denied:
        def describe_table(self, TableName: str) -> dict:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTable")

    with pytest.raises(ClientError):
        read_sizes(Denied(), ["big"])


def test_diff_says_the_limit_and_the_flag_with_the_migration():
    from jobwork_infra.diff import KINDS

    advice = KINDS["table_migrated"].advice
    assert scale.LIMIT_TEXT in advice and "R027" in advice and "--allow-large-copy" in advice


SCHEMA = schema_text(tables={"users": {"sort_key": "user_id", "attributes": {"user_id": "string", "email": "string"}}})
BUMPED = SCHEMA.replace("    sort_key: user_id\n", "    generation: 2\n    sort_key: email\n")


@pytest.mark.slow
def test_deploy_refuses_a_large_migration_before_anything_changes_then_copies_it_when_allowed(
        strict_aws, fast_polls, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    monkeypatch.setattr(scale, "MAX_ITEMS", 25)   # 30 items stand for 50 million (moto's TableSizeBytes is 0)
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)

    def deploy(*extra: str):
        return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url",
                                        strict_aws.endpoint, "--yes", *extra])

    assert (first := deploy()).exit_code == 0, first.output
    dynamodb, cfn = strict_aws.client("dynamodb"), strict_aws.client("cloudformation")
    for n in range(30):
        dynamodb.put_item(TableName="shop-dev-users",
                          Item={"tenant_id": {"S": "t1"}, "user_id": {"S": f"u{n}"}, "email": {"S": f"u{n}@x"}})
    before = json.dumps(cfn.get_template(StackName="shop-dev")["TemplateBody"], sort_keys=True)
    path.write_text(BUMPED)

    for extra in (("--dry-run",), ()):
        refused = deploy(*extra)
        assert refused.exit_code == 3, refused.output
        text = " ".join(refused.output.split())
        assert "R027" in text and "about 30 items" in text
        assert f"jobwork-infra deploy --env dev --endpoint-url {strict_aws.endpoint} --schema {path} " \
               "--allow-large-copy" in text
    # Nothing changed: no new generation, no stream turned on, the stack's template as it was.
    assert dynamodb.list_tables()["TableNames"] == ["shop-dev-users"]
    assert "StreamSpecification" not in dynamodb.describe_table(TableName="shop-dev-users")["Table"]
    assert json.dumps(cfn.get_template(StackName="shop-dev")["TemplateBody"], sort_keys=True) == before

    allowed = deploy("--allow-large-copy")
    assert allowed.exit_code == 0, allowed.output
    assert dynamodb.scan(TableName="shop-dev-users-g2", Select="COUNT")["Count"] == 30


def test_the_flow_refuses_a_large_migration_before_any_step_and_applies_it_when_allowed(monkeypatch, tmp_path):
    """Through flow.deploy with a recording target: the refusal comes before any step is applied."""
    from jobwork_infra.deploy import DeployRequest, flow
    from tests.unit.test_gate_flow import SORTED_BY_EMAIL, Migrating, resolve, schema

    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))   # the deploy lock
    base = resolve(schema(stream="new_and_old_images"), "dev")
    head = resolve(schema(stream="new_and_old_images", generation=2, **SORTED_BY_EMAIL), "dev")
    def run(allow: bool) -> tuple[int | None, Migrating]:
        target = Migrating(base)
        target.sizes = {"flow-dev-users": {"TableSizeBytes": MAX_BYTES + 1}}
        try:
            return flow.deploy(head, DeployRequest(env="dev", yes=True, allow_large_copy=allow), target,
                               lambda e: None, lambda q: True), target
        except Refused as exc:
            assert "flow-dev-users: about 7 items, 50.0 GB" in str(exc) and exc.code == "R027"
            return None, target

    refused, target = run(False)
    assert refused is None and target.applied == []
    code, target = run(True)
    assert code == 0 and target.applied[-1][1].startswith("users: create flow-dev-users-g2")
