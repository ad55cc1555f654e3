"""Wall time of `validate`: the project's schema and generated 100/1000-table schemas.

In process (check_project, best of several runs) and through the installed CLI (a fresh Python each
run, so imports count). Run: .venv/bin/python bench/validate.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import make_schema
from jobwork_infra.project import check_project

CLI = [sys.executable, "-m", "jobwork_infra.cli"]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cli_time(path: Path, repeat: int) -> float:
    def run():
        subprocess.run([sys.executable, "-c", "from jobwork_infra.cli import main; main()", "validate",
                        "--schema", str(path)], cwd=ROOT, check=True, capture_output=True)
    return statistics.median(best(run, 1) for _ in range(repeat))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("project schema (2 tables)", ROOT / "schema" / "tables.yaml")]
        for n in (100, 1000):
            path = Path(tmp) / f"tables_{n}.yaml"
            path.write_text(make_schema(n))
            cases.append((f"generated, {n} tables", path))
        print(f"{'schema':<28} {'in-process':>12} {'CLI (fresh process)':>20}")
        for name, path in cases:
            project = check_project(path)
            assert project.ok, [str(d) for d in project.diagnostics if d.is_error][:3]
            inproc = best(lambda p=path: check_project(p), 5 if "1000" not in name else 3)
            cli = cli_time(path, 3)
            print(f"{name:<28} {inproc * 1000:>10.1f}ms {cli * 1000:>18.1f}ms")


if __name__ == "__main__":
    main()
