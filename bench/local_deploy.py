"""`deploy --local` of 100 new tables, and a no-op redeploy of them, against boto3 doing the same.

- first deploy: the deploy flow over the local target (what `deploy --local --yes` runs, the schema
  already checked) against the very CreateTable requests it sent, replayed with boto3 under other
  names, then each waited for with boto3's `table_exists` waiter (goal <= 1.5x);
- no-op redeploy: the deploy flow again (it reads the registry and the live tables, plans, prints
  "No changes") against DescribeTable of the same 100 tables with boto3 (goal <= 3x).

Each engine runs in a temporary project root and is stopped at the end; a small deploy warms the
engine up first (DynamoDB Local is a JVM).

    .venv/bin/python bench/local_deploy.py [--engine dynamodb-local|moto] [--tables 100]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_CREATE = 1.5
GOAL_NOOP = 3.0


def _deploy(project, request, console) -> int:
    from jobwork_infra.deploy import flow
    from jobwork_infra.deploy.local.target import LocalTarget
    from jobwork_infra.report.deploy import DeployReport

    emit = DeployReport(console)
    return flow.deploy(project.resolve(request.env), request, LocalTarget(project, request, emit), emit,
                       lambda q: False)


def measure(engine: str | None = None, tables: int = 100) -> dict[str, float]:
    from rich.console import Console

    from bench.generate import make_schema
    from jobwork_infra.deploy import DeployRequest
    from jobwork_infra.deploy.local import engine as engines
    from jobwork_infra.deploy.local.client import client_for
    from jobwork_infra.project import check_project

    previous_root = os.environ.get("JOBWORK_ROOT")
    with tempfile.TemporaryDirectory(prefix="jobwork-bench-") as root:
        os.environ["JOBWORK_ROOT"] = root
        try:
            state = engines.start(engine or engines.DEFAULT_ENGINE, None, root)
            request = DeployRequest(env="dev", yes=True)
            quiet = Console(file=io.StringIO())
            warm = Path(root) / "warm.yaml"
            warm.write_text(make_schema(3).replace("app: bench", "app: warm"))
            assert _deploy(check_project(warm), request, quiet) == 0

            schema = Path(root) / "tables.yaml"
            schema.write_text(make_schema(tables))
            project = check_project(schema)
            sent: list[dict] = []
            import botocore.client

            real = botocore.client.BaseClient._make_api_call

            def recording(self, operation, params):
                if operation == "CreateTable":
                    sent.append(dict(params))
                return real(self, operation, params)

            botocore.client.BaseClient._make_api_call = recording
            try:
                started = time.perf_counter()
                assert _deploy(project, request, quiet) == 0
                tool = time.perf_counter() - started
            finally:
                botocore.client.BaseClient._make_api_call = real
            creates = [p for p in sent if p["TableName"].startswith("bench-dev-")]
            assert len(creates) == tables, len(creates)

            client = client_for(state.endpoint)
            started = time.perf_counter()
            for params in creates:
                client.create_table(**{**params, "TableName": "direct-" + params["TableName"]})
            waiter = client.get_waiter("table_exists")
            for params in creates:
                waiter.wait(TableName="direct-" + params["TableName"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
            direct = time.perf_counter() - started

            out = io.StringIO()
            started = time.perf_counter()
            assert _deploy(project, request, Console(file=out)) == 0
            noop = time.perf_counter() - started
            assert out.getvalue().startswith("No changes"), out.getvalue()
            started = time.perf_counter()
            for params in creates:
                client.describe_table(TableName=params["TableName"])
            describe = time.perf_counter() - started
            return {"deploy": tool, "create_direct": direct, "noop": noop, "describe_direct": describe,
                    "engine": state.label}
        finally:
            engines.stop(root)
            if previous_root is None:
                os.environ.pop("JOBWORK_ROOT", None)
            else:
                os.environ["JOBWORK_ROOT"] = previous_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["dynamodb-local", "moto"], default=None)
    parser.add_argument("--tables", type=int, default=100)
    args = parser.parse_args()
    r = measure(args.engine, args.tables)
    print(f"{r['engine']}: deploy {r['deploy']:.2f} s vs boto3 create+wait {r['create_direct']:.2f} s "
          f"({r['deploy'] / r['create_direct']:.2f}x, goal <= {GOAL_CREATE}x); no-op redeploy {r['noop']:.2f} s vs "
          f"describe {r['describe_direct']:.2f} s ({r['noop'] / r['describe_direct']:.2f}x, goal <= {GOAL_NOOP}x)")


if __name__ == "__main__":
    main()
