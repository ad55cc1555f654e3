"""Deploys to the strict AWS double (tests/double), in process: 2, 100 and 1,000 tables.

What is measured, each the deploy flow as `jobwork-infra deploy --env dev --endpoint-url URL --yes`
runs it (one target per stack, `cloudformation/target.environment_targets`), in this process:

- a first deploy of `make_schema(n, tables_per_stack=250)` (1,000 tables: four stacks), with the
  double's polls at 0 s (the waiters' 2–5 s delays would measure sleeping, not the tool);
- a no-op redeploy of the same schema, against `validate` of it (load, model, rules and budgets,
  `check_project`) in the same process: the goal is a redeploy within 2x of validate.

The double is moto's server in this process (as the `strict_aws` fixture starts it), so its own
work is counted too; the ratios, not the seconds, are the figures to compare.

    .venv/bin/python bench/deploy_double.py [--sizes 2,100,1000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_NOOP = 2.0
BUCKET = "bench-templates"  # past 51,200 bytes a template goes through S3 (--template-bucket)
SIZES = (2, 100, 1000)


def start_double() -> str:
    from moto.server import ThreadedMotoServer

    from tests.conftest import free_port
    from tests.double.install import install
    from tests.double.state import DOUBLE

    install()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    DOUBLE.active = True
    return f"http://127.0.0.1:{port}"


def reset(endpoint: str) -> None:
    from tests.double.state import DOUBLE

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    DOUBLE.reset()
    DOUBLE.active = True
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)


def deploy(schema: Path, endpoint: str) -> tuple[int, str]:
    """What `deploy --env dev --endpoint-url URL --yes` runs: check, resolve, the flow over every stack."""
    from rich.console import Console

    from jobwork_infra.deploy import DeployRequest, flow
    from jobwork_infra.deploy.cloudformation.target import environment_targets
    from jobwork_infra.project import check_project
    from jobwork_infra.report.deploy import DeployReport

    out = io.StringIO()
    emit = DeployReport(Console(file=out, width=200))
    project = check_project(schema)
    request = DeployRequest(env="dev", yes=True, endpoint_url=endpoint, template_bucket=BUCKET)
    head = project.resolve("dev")
    code = flow.deploy(head, request, environment_targets(project, request, emit), emit, lambda q: False)
    return code, out.getvalue()


def measure(sizes=SIZES) -> dict[int, dict[str, float]]:
    import os

    from bench.generate import make_schema
    from jobwork_infra.deploy.timing import TIMING
    from jobwork_infra.project import check_project

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["JOBWORK_NO_CACHE"] = "1"  # validate and deploy both do the checks, as on a changed schema
    TIMING.stack_poll = TIMING.change_set_poll = 0
    TIMING.first_poll = 0.05
    endpoint = start_double()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="jobwork-bench-") as tmp:
        for n in sizes:
            reset(endpoint)
            schema = Path(tmp) / f"tables-{n}.yaml"
            schema.write_text(make_schema(n, tables_per_stack=250))
            started = time.perf_counter()
            code, out = deploy(schema, endpoint)
            first = time.perf_counter() - started
            assert code == 0, out[-2000:]
            started = time.perf_counter()
            code, out = deploy(schema, endpoint)
            noop = time.perf_counter() - started
            assert code == 0 and "No changes" in out and "Deployed" not in out, out[-2000:]
            validate = min(_timed(lambda path=schema: check_project(path)) for _ in range(3))
            results[n] = {"deploy": first, "noop": noop, "validate": validate,
                          "stacks": len(check_project(schema).resolve("dev").stacks)}
    return results


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    results = measure(tuple(int(s) for s in args.sizes.split(",")))
    for n, r in results.items():
        print(f"{n:5} tables, {r['stacks']:.0f} stack(s): deploy {r['deploy']:.2f} s; no-op redeploy {r['noop']:.2f} s; "
              f"validate {r['validate']:.2f} s; redeploy/validate {r['noop'] / r['validate']:.2f}x")


if __name__ == "__main__":
    main()
