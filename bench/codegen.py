"""Codegen: generating 1,000 tables against validating them, and the per-call cost of the generated layer.

- Generation: `codegen python` in process (load, model, rules, then describe and render) on a
  generated 1,000-table schema, against `validate` of the same schema (goal: <= 2x).
- Per call: the generated repositories' get, put and query against the same calls written directly
  with the boto3 client and TypeSerializer/TypeDeserializer (what hand-written code would do), on
  DynamoDB Local started in a temporary root (goal: <= 1.3x). Calls alternate between the two so both
  see the same engine and machine; the figure is the median per call. The same calls against a
  canned client (no I/O) show what each layer costs in itself, in microseconds.

    .venv/bin/python bench/codegen.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console

from bench.generate import make_schema, median_seconds
from jobwork_infra.codegen import generate, write
from jobwork_infra.deploy import DeployRequest, flow
from jobwork_infra.deploy.factory import make_targets
from jobwork_infra.deploy.local import engine as engines
from jobwork_infra.deploy.local.client import client_for
from jobwork_infra.project import check_project
from jobwork_infra.report.deploy import DeployReport

SCHEMA = ROOT / "schema" / "tables.yaml"
GOAL_GENERATE = 2.0
GOAL_CALL = 1.3
TENANT = "7f1c2a3e-0d4b-4c5e-9f60-1a2b3c4d5e6f"


def measure_generate(n: int = 1000, runs: int = 3) -> dict[str, float]:
    """Median seconds of validate (check_project) and of codegen (check_project + generate) on n tables."""
    text = make_schema(n)
    name = f"tables_{n}.yaml"

    def codegen() -> None:
        project = check_project(name, text=text).require_valid()
        generate(project.schema, name, "bench_data")

    codegen()  # warm the lazy imports of both
    validate = median_seconds(lambda: check_project(name, text=text), runs)
    whole = median_seconds(codegen, runs)
    schema = check_project(name, text=text).schema
    alone = median_seconds(lambda: generate(schema, name, "bench_data"), runs)
    return {"validate": validate, "codegen": whole, "generate_alone": alone}


def _never(question: str) -> bool:
    raise AssertionError("the bench deploy must not ask")


def _raw_calls(client, users: str):
    """The same three calls written by hand with boto3, as an application without codegen would."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    serializer, deserializer = TypeSerializer(), TypeDeserializer()

    def put(user_id: str) -> None:
        item = {"tenant_id": TENANT, "user_id": user_id, "name": "Anita Rao", "email": "anita@example.com",
                "role": "OWNER", "created_at": "2024-05-01T08:00:00+00:00"}
        client.put_item(TableName=users, Item={k: serializer.serialize(v) for k, v in item.items()})

    def get(user_id: str) -> dict:
        item = client.get_item(TableName=users, Key={"tenant_id": {"S": TENANT}, "user_id": {"S": user_id}})["Item"]
        return {k: deserializer.deserialize(v) for k, v in item.items()}

    def query() -> list[dict]:
        items = client.query(TableName=users, KeyConditionExpression="#p = :p",
                             ExpressionAttributeNames={"#p": "tenant_id"},
                             ExpressionAttributeValues={":p": {"S": TENANT}}, Limit=10)["Items"]
        return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]

    return put, get, query


def _generated_calls(gen, client):
    from datetime import UTC, datetime
    from uuid import UUID

    data = gen.TenantData(TENANT, client=client, env="dev")

    def put(user_id: str) -> None:
        data.users.put(gen.UsersItem(user_id=UUID(user_id), name="Anita Rao", email="anita@example.com",
                                     role="OWNER", created_at=datetime(2024, 5, 1, 8, tzinfo=UTC)))

    def get(user_id: str):
        return data.users.get(UUID(user_id))

    def query():
        return data.users.list_users_of_a_tenant(limit=10).items

    return put, get, query


class _CannedClient:
    """Answers get/put/query with fixed responses: what is left is the Python on either side of the wire."""

    def __init__(self) -> None:
        item = {"tenant_id": {"S": TENANT}, "user_id": {"S": "00000000-0000-4000-8000-000000000001"},
                "name": {"S": "Anita Rao"}, "email": {"S": "anita@example.com"}, "role": {"S": "OWNER"},
                "created_at": {"S": "2024-05-01T08:00:00+00:00"}}
        self._item, self._items = {"Item": item}, {"Items": [item] * 10}

    def put_item(self, **_: object) -> dict:
        return {}

    def get_item(self, **_: object) -> dict:
        return self._item

    def query(self, **_: object) -> dict:
        return self._items


def measure_overhead(gen, calls: int = 2000) -> dict[str, dict[str, float]]:
    """Median seconds per call with no I/O at all (a canned client): the layers' own cost."""
    client = _CannedClient()
    sides = {"boto3": _raw_calls(client, "users"), "generated": _generated_calls(gen, client)}
    user_id = "00000000-0000-4000-8000-000000000001"
    out: dict[str, dict[str, float]] = {}
    for side, (put, get, query) in sides.items():
        out[side] = {}
        for name, call, args in (("put", put, (user_id,)), ("get", get, (user_id,)), ("query", query, ())):
            out[side][name] = median_seconds(lambda call=call, args=args: call(*args), calls)
    return out


def measure_calls(calls: int = 300) -> dict[str, dict[str, float]]:
    """Median seconds per call of put, get and query: generated layer and direct boto3, alternated."""
    previous_root = os.environ.get("JOBWORK_ROOT")
    with tempfile.TemporaryDirectory(prefix="jobwork-bench-codegen-") as root:
        os.environ["JOBWORK_ROOT"] = root
        try:
            state = engines.start("dynamodb-local", None, root)
            # The plain calls: users without its unique attributes (a put with a unique attribute is
            # bench/unique.py's, against the same transaction written by hand).
            plain = re.sub(r"(, )?unique: (global|tenant)", "", SCHEMA.read_text())
            project = check_project(SCHEMA.name, text=plain).require_valid()
            request = DeployRequest(env="dev", yes=True)
            report = DeployReport(Console(file=io.StringIO()))
            head = project.resolve("dev")
            assert flow.deploy(head, request, make_targets(project, request, report, local=True), report, _never) == 0
            _, files = generate(project.schema, SCHEMA.name, "bench_jobwork_data")
            write(files, Path(root) / "bench_jobwork_data")
            sys.path.insert(0, root)
            gen = importlib.import_module("bench_jobwork_data")
            client = client_for(state.endpoint)
            users = project.resolve("dev").tables["users"].physical_name
            sides = {"boto3": _raw_calls(client, users), "generated": _generated_calls(gen, client)}
            ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(20)]
            times: dict[str, dict[str, list[float]]] = {s: {"put": [], "get": [], "query": []} for s in sides}
            for n in range(calls + 20):  # the first 20 rounds warm connections and caches
                user_id = ids[n % len(ids)]
                for side, (put, get, query) in sides.items():
                    for name, call, args in (("put", put, (user_id,)), ("get", get, (user_id,)), ("query", query, ())):
                        started = time.perf_counter()
                        call(*args)
                        if n >= 20:
                            times[side][name].append(time.perf_counter() - started)
            result = {side: {name: statistics.median(t) for name, t in per.items()} for side, per in times.items()}
            result["overhead"] = {f"{side} {name}": seconds for side, per in measure_overhead(gen).items()
                                  for name, seconds in per.items()}
            return result
        finally:
            engines.stop(root)
            sys.path[:] = [p for p in sys.path if p != root]
            if previous_root is None:
                os.environ.pop("JOBWORK_ROOT", None)
            else:
                os.environ["JOBWORK_ROOT"] = previous_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and calls")
    args = parser.parse_args()
    g = measure_generate(1000, 2 if args.quick else 3)
    print(f"1000 tables: validate {g['validate'] * 1000:.0f} ms, codegen {g['codegen'] * 1000:.0f} ms "
          f"({g['codegen'] / g['validate']:.2f}x, goal <= {GOAL_GENERATE}x); "
          f"generation alone {g['generate_alone'] * 1000:.0f} ms")
    c = measure_calls(100 if args.quick else 300)
    for name in ("put", "get", "query"):
        ratio = c["generated"][name] / c["boto3"][name]
        print(f"{name:6} generated {c['generated'][name] * 1e3:.2f} ms, boto3 {c['boto3'][name] * 1e3:.2f} ms: "
              f"{ratio:.2f}x (goal <= {GOAL_CALL}x); without I/O {c['overhead'][f'generated {name}'] * 1e6:.0f} µs "
              f"vs {c['overhead'][f'boto3 {name}'] * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
