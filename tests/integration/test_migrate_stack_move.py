"""Moving a table between this tool's own stacks (D206), on the strict AWS double: the command the refusal
prints (`deploy --adopt --from-stack OLD`) moves the physical table with every item — retained, removed
from the old stack, imported into the new one: no copy, no table deleted, the table never missing — and
ends with every stack matching the schema, resuming when it stops half-way
(docs/migrate.md, "Moving a table between stacks")."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.helpers import schema_text

pytestmark = pytest.mark.slow

SCHEMA = schema_text(tables="""\
  users:
    sort_key: user_id
    attributes:
      user_id: string
  audit:
    sort_key: at
    stack: archive
    attributes:
      at: string
""")
INVOICES = """\
  invoices:
    sort_key: invoice_id
    stack: sales
    attributes:
      invoice_id: string
"""


def schema(orders_stack: str | None, *, shared: bool, retain: bool = False) -> str:
    """The schema with `orders` in `orders_stack` (None: not in the schema); with `shared`, stack sales
    also holds `invoices`."""
    text = SCHEMA + (INVOICES if shared else "")
    if orders_stack is not None:
        text += (f"  orders:\n    stack: {orders_stack}\n" + ("    removal_policy: retain\n" if retain else "")
                 + "    sort_key: order_id\n    attributes:\n      order_id: string\n")
    return text


@pytest.fixture(autouse=True)
def _fast(strict_aws, fast_polls):
    """Through the strict double, polling at once (tests/plugins/timing.py)."""


def deploy(path, endpoint: str, *extra: str):
    return CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(path), "--endpoint-url", endpoint,
                                    "--yes", *extra])


def stacks(strict_aws) -> set[str]:
    live = strict_aws.client("cloudformation").list_stacks(
        StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"])["StackSummaries"]
    return {s["StackName"] for s in live}


def holder(strict_aws, table: str) -> str | None:
    from jobwork_infra.deploy.cloudformation.adopt import holding_stack

    return holding_stack(strict_aws.client("cloudformation"), table)


def order(n: int) -> dict:
    return {"tenant_id": {"S": "t1"}, "order_id": {"S": f"o{n}"}, "total": {"N": str(n)}}


def orders(dynamodb) -> list[dict]:
    return sorted(dynamodb.scan(TableName="shop-dev-orders", ConsistentRead=True)["Items"],
                  key=lambda i: i["order_id"]["S"])


def template(strict_aws, stack: str) -> dict:
    body = strict_aws.client("cloudformation").get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, dict) else json.loads(body)


@pytest.mark.parametrize("shared", [False, True], ids=["alone-in-its-stack", "sharing-its-stack"])
def test_the_printed_command_moves_a_table_between_stacks_with_every_item(strict_aws, tmp_path, shared,
                                                                          monkeypatch):
    from jobwork_infra.deploy.cloudformation import adopt

    path = tmp_path / "tables.yaml"
    path.write_text(schema("sales", shared=shared))
    assert (first := deploy(path, strict_aws.endpoint)).exit_code == 0, first.output
    dynamodb = strict_aws.client("dynamodb")
    for n in range(20):
        dynamodb.put_item(TableName="shop-dev-orders", Item=order(n))
    assert holder(strict_aws, "shop-dev-orders") == "shop-dev-sales"

    # The move as the user writes it: refused, naming the command; nothing changed.
    path.write_text(schema("archive", shared=shared))
    refused = deploy(path, strict_aws.endpoint)
    assert refused.exit_code == 3, refused.output
    advice = " ".join(refused.output.split())
    assert "[D206]" in advice and "`jobwork-infra deploy --env dev --adopt --from-stack shop-dev-sales`" in advice
    assert holder(strict_aws, "shop-dev-orders") == "shop-dev-sales"

    # The command, stopped after the table left the old stack and before the import (the process died):
    # the table is in no stack, with its items, and the application keeps writing to it.
    take_out = adopt._take_out

    def take_out_then_die(*args, **kwargs):
        take_out(*args, **kwargs)
        dynamodb.put_item(TableName="shop-dev-orders", Item=order(100))
        dynamodb.delete_item(TableName="shop-dev-orders", Key={"tenant_id": {"S": "t1"}, "order_id": {"S": "o3"}})
        raise KeyboardInterrupt("killed between the removal and the import")

    monkeypatch.setattr(adopt, "_take_out", take_out_then_die)
    died = deploy(path, strict_aws.endpoint, "--adopt", "--from-stack", "shop-dev-sales")
    assert died.exit_code != 0
    assert holder(strict_aws, "shop-dev-orders") is None and len(orders(dynamodb)) == 20
    monkeypatch.setattr(adopt, "_take_out", take_out)

    # The same command again resumes: the import, then each stack's update.
    moved = deploy(path, strict_aws.endpoint, "--adopt", "--from-stack", "shop-dev-sales")

    assert moved.exit_code == 0, moved.output
    assert holder(strict_aws, "shop-dev-orders") == "shop-dev-archive"
    assert orders(dynamodb) == sorted([order(n) for n in [*range(20), 100] if n != 3],
                                      key=lambda i: i["order_id"]["S"])
    # The new stack's tenant policies cover the table; the old stack's no longer refer to its resource.
    assert "OrdersTable" in json.dumps(template(strict_aws, "shop-dev-archive")["Resources"]["TenantDataAccess"])
    sales = template(strict_aws, "shop-dev-sales")
    assert "OrdersTable" not in json.dumps(sales["Resources"])
    assert ("InvoicesTable" in sales["Resources"]) is shared
    again = deploy(path, strict_aws.endpoint)
    assert again.exit_code == 0, again.output
    assert "match the schema" in again.output and "Deployed" not in again.output
    assert set(dynamodb.list_tables()["TableNames"]) == {
        "shop-dev-users", "shop-dev-orders", "shop-dev-audit", *(["shop-dev-invoices"] if shared else [])}
