"""Synth time: `jobwork-infra synth --env dev` against the equivalent hand-written CDK app (the seed's).

Every run is a fresh process (what a user waits for); the variants are alternated so that a busy
moment of the machine hits all of them, and medians are compared. Wall time is what the goal is
about (the tool within 1.15x of hand-written); CPU time (user + sys of the process and its Node.js
child) is printed beside it because it moves far less when other work shares the machine.

Two hand-written variants: as the seed writes it (CDK defaults, which include a built-in template
validation of several seconds), and with the App settings the tool uses, which isolates the cost
of the tool itself (CLI, YAML, rules, the generic compiler).

    .venv/bin/python bench/synth.py [--runs 7] [--seed-runs N]
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


TOOL = "jobwork-infra synth --env dev"
SEED = "hand-written, as the seed"
SAME = "hand-written, same App settings"


def measure(runs: int = 7, seed_runs: int | None = None) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) seconds of each variant, keyed by TOOL, SEED and SAME.

    The seed variant takes several times longer than the others and is only there to show how far
    off the like-for-like comparison is, so `seed_runs` (default: `runs`) can run it less often.
    """
    seed_runs = runs if seed_runs is None else seed_runs
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    tool_bin = BIN / "jobwork-infra"
    tool_cmd = [str(tool_bin)] if tool_bin.exists() else [sys.executable, str(ROOT / "cli.py")]
    hand_cmd = [sys.executable, str(ROOT / "bench" / "handwritten" / "app.py")]
    with tempfile.TemporaryDirectory() as tmp:
        variants = {
            TOOL: (tool_cmd + ["synth", "--env", "dev", "--out", f"{tmp}/tool"], env),
            SEED: (hand_cmd, {**env, "CDK_OUTDIR": f"{tmp}/hand"}),
            SAME: (hand_cmd, {**env, "CDK_OUTDIR": f"{tmp}/same", "BENCH_SAME_APP_SETTINGS": "1"}),
        }
        # SAME loads every file SEED does, so warming it warms both.
        for name in (TOOL, SAME):
            timed(*variants[name])
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for i in range(max(runs, seed_runs)):
            for name, (command, variant_env) in variants.items():
                if i < (seed_runs if name == SEED else runs):
                    times[name].append(timed(command, variant_env))
    return {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
            for name, t in times.items() if t}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed-runs", type=int, default=None, help="runs of the slow seed variant (default: --runs)")
    args = parser.parse_args()
    medians = measure(args.runs, args.seed_runs)
    for name, (wall, cpu) in medians.items():
        print(f"{name:34} wall {wall:5.2f} s   cpu {cpu:5.2f} s")
    tool_wall, tool_cpu = medians[TOOL]
    for name in (SEED, SAME):
        if name not in medians:
            continue
        wall, cpu = medians[name]
        verdict = "ok" if tool_wall / wall <= GOAL else "over the goal"
        print(f"ratio vs {name:31} wall {tool_wall / wall:.2f}x   cpu {tool_cpu / cpu:.2f}x   "
              f"(goal <= {GOAL}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
