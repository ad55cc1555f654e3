"""Wall time of `validate`: generated 2/100/1000-table schemas, and the CLI's fixed start-up cost.

In process (check_project, median of several runs), and as a user runs it: the installed
`jobwork-infra validate` on the project's schema against a bare `python -c pass`, alternated, so the
difference is what the CLI's imports and set-up cost on every command whatever the schema size.

    .venv/bin/python bench/validate.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import make_schema, median_seconds
from jobwork_infra.project import check_project

SIZES = (2, 100, 1000)
STARTUP_GOAL = 1.5  # `validate` of the two-table project schema / bare import of pydantic, PyYAML, Typer
SCHEMA = ROOT / "schema" / "tables.yaml"
_tool = Path(sys.executable).parent / "jobwork-infra"
CLI = [str(_tool)] if _tool.exists() else [sys.executable, str(ROOT / "cli.py")]


def default_runs(n: int, quick: bool = False) -> int:
    # Enough runs that the median is stable, few enough that 1000 tables stays a few seconds.
    runs = 30 if n <= 10 else 10 if n <= 100 else 3
    return max(1, runs // 3) if quick else runs


def measure(n: int, runs: int | None = None) -> float:
    """Median seconds of check_project (load, model, rules) on a generated schema of n tables
    (in stacks of 250 tables, so that it is valid)."""
    text = make_schema(n, tables_per_stack=250)
    project = check_project(f"tables_{n}.yaml", text=text)  # also warms the lazy imports
    assert project.ok, [str(d) for d in project.diagnostics if d.is_error][:3]
    return median_seconds(lambda: check_project(f"tables_{n}.yaml", text=text), runs or default_runs(n))


def measure_cli(sizes=SIZES, runs: int = 5) -> dict[int, float]:
    """Median seconds of the `jobwork-infra validate` command (what a user and CI wait for) on
    schemas of each size, split into stacks of 250 tables so that every one is valid; alternated."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for n in sizes:
            paths[n] = Path(tmp) / f"tables_{n}.yaml"
            paths[n].write_text(make_schema(n, tables_per_stack=250))
        commands = {n: CLI + ["validate", "--schema", str(path)] for n, path in paths.items()}
        env = {**os.environ, "JOBWORK_NO_CACHE": "1"}  # the scaling of the work, not of a cache hit
        for command in commands.values():
            subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)  # valid, and warm
        times: dict[int, list[float]] = {n: [] for n in sizes}
        for _ in range(runs):
            for n, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
                times[n].append(time.perf_counter() - start)
    return {n: statistics.median(t) for n, t in times.items()}


# The least any Typer CLI with two options costs (typer 0.29 builds pydantic adapters for its
# parameters): the floor under `validate`'s start-up while the CLI is a Typer app.
TYPER_FLOOR = """
import typer
app = typer.Typer()
@app.callback()
def root(debug: bool = False): pass
@app.command()
def validate(schema: str = typer.Option("x", "--schema"), strict: bool = False): pass
app()
"""


def measure_startup(runs: int = 5) -> dict[str, float]:
    """Median seconds, alternated, of: `jobwork-infra validate` on the project schema (two tables) with
    the findings cache warm and with it off (JOBWORK_NO_CACHE: every start builds the models), `python -c
    pass`, the bare `import pydantic, yaml, typer`, and a two-option Typer app."""
    with tempfile.TemporaryDirectory() as cache:
        warm = {**os.environ, "JOBWORK_CACHE_DIR": cache}
        cold = {**warm, "JOBWORK_NO_CACHE": "1"}
        commands = {
            "validate": (CLI + ["validate", "--schema", str(SCHEMA)], warm),
            "validate_cold": (CLI + ["validate", "--schema", str(SCHEMA)], cold),
            "python": ([sys.executable, "-c", "pass"], warm),
            # What validate cannot do without: the goal is validate <= STARTUP_GOAL x this.
            "libraries": ([sys.executable, "-c", "import pydantic, yaml, typer"], warm),
            "typer_floor": ([sys.executable, "-c", TYPER_FLOOR, "validate"], warm),
        }
        for command, env in commands.values():  # warm the file cache, and the findings cache
            subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (command, env) in commands.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    results = {n: measure(n, default_runs(n, args.quick)) for n in SIZES}
    print(f"{'tables':>6} {'in process':>12} {'vs 2 tables':>12}")
    for n, seconds in results.items():
        print(f"{n:>6} {seconds * 1000:>10.1f}ms {seconds / results[SIZES[0]]:>11.1f}x")
    startup = measure_startup(3 if args.quick else 5)
    print(f"jobwork-infra validate (project schema) {startup['validate'] * 1000:.0f}ms, "
          f"python -c pass {startup['python'] * 1000:.0f}ms: "
          f"{startup['validate'] / startup['python']:.1f}x, fixed cost "
          f"{(startup['validate'] - startup['python']) * 1000:.0f}ms")
    libraries = startup["libraries"]
    print(f"against the bare import of pydantic, yaml, typer ({libraries * 1000:.0f}ms; goal <= {STARTUP_GOAL}x): "
          f"validate {startup['validate'] / libraries:.2f}x, without the findings cache "
          f"{startup['validate_cold'] / libraries:.2f}x, a two-option Typer app {startup['typer_floor'] / libraries:.2f}x")


if __name__ == "__main__":
    main()
