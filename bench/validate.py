"""Wall time of `validate`: generated 2/100/1000-table schemas, and the CLI's fixed start-up cost.

In process (check_project, median of several runs), and as a user runs it: the installed
`jobwork-infra validate` on the project's schema against a bare `python -c pass`, alternated, so the
difference is what the CLI's imports and set-up cost on every command whatever the schema size.

    .venv/bin/python bench/validate.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
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
    """Median seconds of check_project (load, model, rules) on a generated schema of n tables."""
    text = make_schema(n)
    project = check_project(f"tables_{n}.yaml", text=text)  # also warms the lazy imports
    assert project.ok, [str(d) for d in project.diagnostics if d.is_error][:3]
    return median_seconds(lambda: check_project(f"tables_{n}.yaml", text=text), runs or default_runs(n))


def measure_startup(runs: int = 5) -> dict[str, float]:
    """Median seconds of `jobwork-infra validate` (project schema, two tables), of `python -c pass` and of
    a bare `import pydantic, yaml, typer`, alternated."""
    commands = {
        "validate": CLI + ["validate", "--schema", str(SCHEMA)],
        "python": [sys.executable, "-c", "pass"],
        # What validate cannot do without: the goal is validate <= STARTUP_GOAL x this.
        "libraries": [sys.executable, "-c", "import pydantic, yaml, typer"],
    }
    for command in commands.values():
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
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
    print(f"validate / bare import of pydantic, yaml, typer ({startup['libraries'] * 1000:.0f}ms): "
          f"{startup['validate'] / startup['libraries']:.2f}x (goal <= {STARTUP_GOAL}x)")


if __name__ == "__main__":
    main()
