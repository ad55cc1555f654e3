"""Synth at scale: 1,000 tables over four stacks, `jobwork-infra synth` against a hand-written CDK app
with the same tables and stacks (bench/handwritten/many_stacks.py). Goal: tool / hand-written <= 1.2x.

Fresh processes, alternated, medians (as bench/synth.py). The tool's time includes what the
hand-written app does not do: loading and checking the YAML, every rule and every budget.

    .venv/bin/python bench/synth_scale.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import make_schema
from bench.synth import BIN, timed

GOAL = 1.2
TABLES, PER_STACK = 1000, 250
TOOL = f"jobwork-infra synth, {TABLES} tables in {TABLES // PER_STACK} stacks"
HAND = "hand-written CDK app, same tables and stacks"


def measure(runs: int = 3) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) seconds of TOOL and HAND."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    tool_bin = BIN / "jobwork-infra"
    tool_cmd = [str(tool_bin)] if tool_bin.exists() else [sys.executable, str(ROOT / "cli.py")]
    with tempfile.TemporaryDirectory() as tmp:
        schema = Path(tmp) / "tables.yaml"
        schema.write_text(make_schema(TABLES, tables_per_stack=PER_STACK))
        variants = {
            TOOL: (tool_cmd + ["synth", "--env", "prod", "--schema", str(schema), "--out", f"{tmp}/tool"], env),
            HAND: ([sys.executable, str(ROOT / "bench" / "handwritten" / "many_stacks.py")],
                   {**env, "CDK_OUTDIR": f"{tmp}/hand"}),
        }
        for command, variant_env in variants.values():
            timed(command, variant_env)  # warm the file cache
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, (command, variant_env) in variants.items():
                times[name].append(timed(command, variant_env))
    return {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    medians = measure(args.runs)
    for name, (wall, cpu) in medians.items():
        print(f"{name:48} wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    (tool, tool_cpu), (hand, hand_cpu) = medians[TOOL], medians[HAND]
    print(f"ratio wall {tool / hand:.2f}x   cpu {tool_cpu / hand_cpu:.2f}x   (goal <= {GOAL}x: "
          f"{'ok' if tool / hand <= GOAL else 'over the goal'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
