"""Synth time: `jobwork-infra synth --env dev` against the equivalent hand-written CDK app (the seed's).

Every run is a fresh process (what a user waits for); the variants are alternated so that a busy
moment of the machine hits all of them, and medians are compared. Wall time is what the goal is
about (the tool within 1.15x of hand-written); CPU time (user + sys of the process and its Node.js
child) is printed beside it because it moves far less when other work shares the machine.

Two hand-written variants: as the seed writes it (CDK defaults, which include a built-in template
validation of several seconds), and with the App settings the tool uses, which isolates the cost
of the tool itself (CLI, YAML, rules, the generic compiler).

    .venv/bin/python bench/synth.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOAL = 1.15


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    tool_bin = BIN / "jobwork-infra"
    tool_cmd = [str(tool_bin)] if tool_bin.exists() else [sys.executable, str(ROOT / "cli.py")]
    hand_cmd = [sys.executable, str(ROOT / "bench" / "handwritten" / "app.py")]
    with tempfile.TemporaryDirectory() as tmp:
        variants = {
            "jobwork-infra synth --env dev": (tool_cmd + ["synth", "--env", "dev", "--out", f"{tmp}/tool"], env),
            "hand-written, as the seed": (hand_cmd, {**env, "CDK_OUTDIR": f"{tmp}/hand"}),
            "hand-written, same App settings": (hand_cmd, {**env, "CDK_OUTDIR": f"{tmp}/same",
                                                           "BENCH_SAME_APP_SETTINGS": "1"}),
        }
        for command, variant_env in variants.values():
            timed(command, variant_env)  # warm the file cache
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, (command, variant_env) in variants.items():
                runs[name].append(timed(command, variant_env))

    medians = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
               for name, r in runs.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name:34} wall {wall:5.2f} s   cpu {cpu:5.2f} s   (median of {args.runs})")
    tool_wall, tool_cpu = medians["jobwork-infra synth --env dev"]
    for name in ("hand-written, as the seed", "hand-written, same App settings"):
        wall, cpu = medians[name]
        verdict = "ok" if tool_wall / wall <= GOAL else "over the goal"
        print(f"ratio vs {name:31} wall {tool_wall / wall:.2f}x   cpu {tool_cpu / cpu:.2f}x   "
              f"(goal <= {GOAL}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
