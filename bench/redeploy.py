"""Wall time of a no-op redeploy to the local engine (DynamoDB Local and moto).

A no-op redeploy is what a developer pays on every `deploy --local` that changes nothing: read the
live tables, plan, print "No changes". Measured two ways: the whole command as a user runs it (a new
process: Python start-up and imports included) and the deploy itself in process (engine round trips
and planning only). The command is also set against `jobwork-infra validate`, a command that
touches no engine, as a ratio that means the same on any machine. Each engine runs in a temporary project root and is stopped at the end.

    .venv/bin/python bench/redeploy.py [--runs N] [--engine dynamodb-local|moto|both]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console

from jobwork_infra.deploy import DeployRequest, flow
from jobwork_infra.deploy.local import engine as engines
from jobwork_infra.deploy.local.target import LocalTarget
from jobwork_infra.project import check_project
from jobwork_infra.report.deploy import DeployReport

SCHEMA = ROOT / "schema" / "tables.yaml"
CLI = str(Path(sys.executable).parent / "jobwork-infra")


def deploy_local(project, request: DeployRequest, console: Console, confirm) -> int:
    """What `deploy --local` runs, in process: the deploy flow over the local target."""
    emit = DeployReport(console)
    return flow.deploy(project.resolve(request.env), request, LocalTarget(project, request, emit), emit, confirm)


def _never(question: str) -> bool:
    raise AssertionError("a no-op redeploy must not ask")


def measure(engine: str = engines.DEFAULT_ENGINE, runs: int = 5) -> dict[str, float | str]:
    """Median seconds of a no-op redeploy: `command` (a new process, as a user runs it), `in_process`,
    and `validate_command` (`jobwork-infra validate`, alternated with the deploy command so both see
    the same machine): the ratio of the two says what the engine round trips add to any command."""
    previous_root = os.environ.get("JOBWORK_ROOT")
    with tempfile.TemporaryDirectory(prefix="jobwork-bench-") as root:
        # The CLI subprocesses find the temporary engine through this, never the project's own.
        os.environ["JOBWORK_ROOT"] = root
        try:
            state = engines.start(engine, None, root)
            project = check_project(SCHEMA)
            request = DeployRequest(env="dev", yes=True)
            quiet = Console(file=io.StringIO())
            assert deploy_local(project, request, quiet, _never) == 0  # the first deploy creates the tables

            in_process = []
            for _ in range(runs):
                out = io.StringIO()
                started = time.perf_counter()
                code = deploy_local(check_project(SCHEMA), request, Console(file=out), _never)
                in_process.append(time.perf_counter() - started)
                assert code == 0 and out.getvalue().startswith("No changes"), out.getvalue()

            deploy = [CLI, "deploy", "--env", "dev", "--local", "--schema", str(SCHEMA), "--yes"]
            validate = [CLI, "validate", "--schema", str(SCHEMA)]
            command, validate_command = [], []
            for _ in range(runs):
                started = time.perf_counter()
                done = subprocess.run(deploy, check=False, capture_output=True, text=True, cwd=root)
                command.append(time.perf_counter() - started)
                assert done.returncode == 0 and done.stdout.startswith("No changes"), done.stdout + done.stderr
                started = time.perf_counter()
                subprocess.run(validate, check=True, capture_output=True, cwd=root)
                validate_command.append(time.perf_counter() - started)
            return {"in_process": statistics.median(in_process), "command": statistics.median(command),
                    "validate_command": statistics.median(validate_command), "endpoint": state.endpoint}
        finally:
            engines.stop(root)
            if previous_root is None:
                os.environ.pop("JOBWORK_ROOT", None)
            else:
                os.environ["JOBWORK_ROOT"] = previous_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", choices=["dynamodb-local", "moto", "both"], default="both")
    args = parser.parse_args()
    names = ["dynamodb-local", "moto"] if args.engine == "both" else [args.engine]
    print(f"no-op redeploy of {SCHEMA.relative_to(ROOT)} (env dev), median of {args.runs} runs")
    print(f"{'engine':16} {'command':>10} {'in process':>12} {'validate cmd':>13} {'deploy/validate':>16}")
    for name in names:
        r = measure(name, args.runs)
        print(f"{name:16} {r['command']:>9.2f}s {r['in_process'] * 1000:>10.0f}ms "
              f"{r['validate_command']:>12.2f}s {r['command'] / r['validate_command']:>15.2f}x")


if __name__ == "__main__":
    main()
