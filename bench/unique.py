"""A put with one unique attribute: the generated layer against boto3 doing the same transaction by hand.

Each round replaces an item with a new value of its unique attribute: read the old value (a strongly
consistent GetItem of the key and the unique attribute), then one TransactWriteItems that puts the
item on the condition that the value is still the one read, claims the new value's guard
(attribute_not_exists) and releases the old one's. The hand-written side makes exactly those two
calls with the client and TypeSerializer; the generated side is `TenantData(...).accounts.put(item)`.
Both run on DynamoDB Local, started with `jobwork-infra local start` in a temporary root (and
stopped), alternating call by call; the figure is the median per call (goal: <= 1.3x).

    .venv/bin/python bench/unique.py [--quick] [--calls N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobwork_infra.codegen import generate, write
from jobwork_infra.project import check_project

GOAL = 1.3
TENANT = "7f1c2a3e-0d4b-4c5e-9f60-1a2b3c4d5e6f"
SCHEMA = """\
version: 1
app: benchuq
environments:
  dev: {removal_policy: destroy}
tables:
  accounts:
    sort_key: account_id
    attributes:
      tenant_id: uuid
      account_id: string
      email: {type: string, unique: tenant}
      name: string
"""


def create_tables(client, schema_path: Path, env: str = "dev") -> list[str]:
    """Every table of the resolved schema (the guard table included), with CreateTable."""
    resolved = check_project(schema_path).require_valid().resolve(env)
    names = []
    for table in resolved.tables.values():
        keys = [k for k in (table.partition_key, table.sort_key) if k]
        definitions = {k.name: k.type for k in keys}
        indexes = []
        for index in table.global_indexes:
            index_keys = [k for k in (index.partition_key, index.sort_key) if k]
            definitions.update({k.name: k.type for k in index_keys})
            projection = {"ProjectionType": {"all": "ALL", "keys_only": "KEYS_ONLY", "include": "INCLUDE"}[
                index.projection.type]}
            if index.projection.type == "include":
                projection["NonKeyAttributes"] = list(index.projection.attributes)
            indexes.append({"IndexName": index.name, "Projection": projection,
                            "KeySchema": [{"AttributeName": k.name, "KeyType": t}
                                          for k, t in zip(index_keys, ("HASH", "RANGE"), strict=False)]})
        request = {"TableName": table.physical_name, "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()],
                   "KeySchema": [{"AttributeName": k.name, "KeyType": t}
                                 for k, t in zip(keys, ("HASH", "RANGE"), strict=False)]}
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        client.create_table(**request)
        names.append(table.physical_name)
    for name in names:
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    return names


def _by_hand(client, accounts: str, guards: str):
    """The same put, written with boto3: read the old value, then the transaction."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()

    def put(account_id: str, email: str) -> None:
        key = {"tenant_id": {"S": TENANT}, "account_id": {"S": account_id}}
        old = client.get_item(TableName=accounts, Key=key, ConsistentRead=True,
                              ProjectionExpression="#k0, #k1, #u", ExpressionAttributeNames={
                                  "#k0": "tenant_id", "#k1": "account_id", "#u": "email"}).get("Item")
        before = old["email"]["S"] if old and "email" in old else None
        item = {"tenant_id": TENANT, "account_id": account_id, "email": email, "name": "Anita Rao"}
        owner = json.dumps({"account_id": {"S": account_id}, "tenant_id": {"S": TENANT}}, sort_keys=True)
        condition = ("attribute_exists(#t) AND #u = :old", {":old": {"S": before}}) if before else (
            "attribute_not_exists(#t)", {})
        actions = [{"Put": {"TableName": accounts, "Item": {k: serializer.serialize(v) for k, v in item.items()},
                            "ConditionExpression": condition[0],
                            "ExpressionAttributeNames": {"#t": "tenant_id", **({"#u": "email"} if before else {})},
                            **({"ExpressionAttributeValues": condition[1]} if condition[1] else {})}},
                   {"Put": {"TableName": guards, "Item": {
                       "tenant_id": {"S": TENANT}, "guard": {"S": f"accounts#email#S:{email}"}, "owner": {"S": owner},
                       "table": {"S": "accounts"}, "attribute": {"S": "email"}, "owner_tenant": {"S": TENANT}},
                       "ConditionExpression": "attribute_not_exists(#t)",
                       "ExpressionAttributeNames": {"#t": "tenant_id"}}}]
        if before:
            actions.append({"Delete": {"TableName": guards, "Key": {
                "tenant_id": {"S": TENANT}, "guard": {"S": f"accounts#email#S:{before}"}},
                "ConditionExpression": "attribute_not_exists(#t) OR #o = :o",
                "ExpressionAttributeNames": {"#t": "tenant_id", "#o": "owner"},
                "ExpressionAttributeValues": {":o": {"S": owner}}}})
        client.transact_write_items(TransactItems=actions)

    return put


def _generated(gen, client):
    data = gen.TenantData(TENANT, client=client, env="dev")

    def put(account_id: str, email: str) -> None:
        data.accounts.put(gen.AccountsItem(account_id=account_id, email=email, name="Anita Rao"))

    return put


def _cli(*args: str, root: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], check=True, capture_output=True, text=True,
                   env={**os.environ, "JOBWORK_ROOT": root}, cwd=root)


def measure(calls: int = 300) -> dict[str, float]:
    """Median seconds per put with one unique attribute: generated and by hand, alternated."""
    with tempfile.TemporaryDirectory(prefix="jobwork-bench-unique-") as root:
        _cli("local", "start", root=root)
        try:
            schema = Path(root) / "tables.yaml"
            schema.write_text(SCHEMA)
            project = check_project(schema).require_valid()
            _, files = generate(project.schema, schema.name, "bench_unique_data")
            write(files, Path(root) / "bench_unique_data")
            sys.path.insert(0, root)
            gen = importlib.import_module("bench_unique_data")
            client = gen.local_client(root)
            create_tables(client, schema)
            names = project.resolve("dev").tables
            sides = {"boto3": _by_hand(client, names["accounts"].physical_name,
                                       names["unique_guards"].physical_name),
                     "generated": _generated(gen, client)}
            times: dict[str, list[float]] = {side: [] for side in sides}
            for n in range(calls + 20):  # the first 20 rounds warm connections and caches
                for side, put in sides.items():
                    account = f"{side}-{n % 10}"
                    started = time.perf_counter()
                    put(account, f"{account}-{n}@example.com")   # a new value each round: claim and release
                    if n >= 20:
                        times[side].append(time.perf_counter() - started)
            return {side: statistics.median(t) for side, t in times.items()}
        finally:
            _cli("local", "stop", root=root)
            sys.path[:] = [p for p in sys.path if p != root]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per side (default 300, --quick 100)")
    args = parser.parse_args()
    result = measure(args.calls or (100 if args.quick else 300))
    ratio = result["generated"] / result["boto3"]
    print(f"put with one unique attribute: generated {result['generated'] * 1e3:.2f} ms, boto3 by hand "
          f"{result['boto3'] * 1e3:.2f} ms: {ratio:.2f}x (goal <= {GOAL}x: {'ok' if ratio <= GOAL else 'OVER'})")


if __name__ == "__main__":
    main()
