"""`make bench`: every benchmark of DESIGN.md §7 in one run, reported as ratios.

Absolute times depend on the machine; ratios between two things measured in the same run on the
same machine mostly do not, so the ratio column is the one to compare across machines and commits:

- validate and diff at 2, 100 and 1000 tables, against the 2-table figure (linear scaling would
  give 50x and 500x); and the CLI's fixed start-up cost (`jobwork-infra validate` on the project's
  schema against a bare `python -c pass`);
- synth against the equivalent hand-written CDK app (goal: tool / hand-written wall <= 1.15x), and
  at scale: 1,000 tables in four stacks against a hand-written app with the same tables and stacks
  (goal <= 1.2x);
- the `validate` command at 2, 100 and 1,000 tables (goal: 1,000 within 4x of 2);
- a no-op redeploy to a local engine started in a temporary root (and stopped), against a
  `validate` command;
- deploys to the strict AWS double (tests/double, in process) at 2, 100 and 1,000 tables (four
  stacks at 1,000), against the 2-table deploy; a no-op redeploy of each against `validate` of the
  same schema (goal at 1,000 tables <= 2x);
- `deploy --local` of 100 new tables against the same CreateTable calls made with boto3 and waited
  for (goal <= 1.5x), and its no-op redeploy against describing the 100 tables (goal <= 3x);
- codegen of 1000 tables against validate of the same schema (goal <= 2x), and the generated data
  layer's get/put/query against the same calls written with boto3 on DynamoDB Local (goal <= 1.3x);
- the migration copy of 100,000 items against a plain boto3 parallel Scan + BatchWriteItem (goal
  <= 1.3x), and the catch-up after a burst of 10,000 writes (bench/migrate.py).
- a put with one unique attribute against boto3 doing the same transaction by hand (goal <= 1.3x).

    .venv/bin/python bench/run.py [--quick] [--engine dynamodb-local|moto] [--skip synth,redeploy,codegen]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import importlib

SIZES = (2, 100, 1000)
PARTS = ("validate", "diff", "synth", "synth-scale", "redeploy", "deploy-double", "local-deploy", "codegen",
         "migrate", "unique")


def bench(name: str):
    """A bench module, imported only when its part runs: one broken bench does not stop the others'
    parts from being asked for (tests/unit/test_bench.py imports and runs every one)."""
    return importlib.import_module(f"bench.{name}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (noisier), about a minute")
    parser.add_argument("--engine", choices=["dynamodb-local", "moto"], default="dynamodb-local",
                        help="local engine for the redeploy (default: the one `deploy --local` starts)")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {', '.join(PARTS)}")
    args = parser.parse_args()
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    if skip - set(PARTS):
        parser.error(f"--skip: unknown part(s) {', '.join(sorted(skip - set(PARTS)))}")
    q = args.quick
    rows: list[tuple[str, str, str]] = []  # (what, ratio, absolute)
    started = time.perf_counter()

    if "validate" not in skip:
        validate_bench = bench("validate")
        progress("validate …")
        times = {n: validate_bench.measure(n, validate_bench.default_runs(n, q)) for n in SIZES}
        for n in SIZES:
            rows.append((f"validate, {n} tables (in process)", f"{times[n] / times[2]:.1f}x", ms(times[n])))
        cli = validate_bench.measure_cli(SIZES, 3 if q else 5)
        for n in SIZES:
            goal = " (goal <= 4x)" if n == 1000 else ""
            rows.append((f"validate command, {n} tables (split in stacks of 250){goal}",
                         f"{cli[n] / cli[2]:.1f}x", ms(cli[n])))
        startup = validate_bench.measure_startup(3 if q else 5)
        fixed = startup["validate"] - startup["python"]
        rows.append(("CLI start-up: jobwork-infra validate / python -c pass",
                     f"{startup['validate'] / startup['python']:.1f}x",
                     f"{ms(startup['validate'])} vs {ms(startup['python'])} (fixed cost {ms(fixed)})"))
        libraries = startup["libraries"]
        ratio = startup["validate"] / libraries
        verdict = "ok" if ratio <= validate_bench.STARTUP_GOAL else "OVER"
        rows.append(((f"CLI start-up: validate (2 tables) / import pydantic, yaml, typer "
                     f"(goal <= {validate_bench.STARTUP_GOAL}x: {verdict})"),
                     f"{ratio:.2f}x", f"{ms(startup['validate'])} vs {ms(libraries)} (findings cache warm)"))
        rows.append(("  the same without the findings cache (first run after a change)",
                     f"{startup['validate_cold'] / libraries:.2f}x", ms(startup["validate_cold"])))
        rows.append(("  floor: a two-option Typer app / the same imports",
                     f"{startup['typer_floor'] / libraries:.2f}x", ms(startup["typer_floor"])))

    if "diff" not in skip:
        diff_bench = bench("diff")
        progress("diff …")
        results = {n: diff_bench.measure(n, q) for n in SIZES}
        for n in SIZES:
            r = results[n]
            rows.append((f"diff, {n} tables, load+check+diff ({r['changes']} changes)",
                         f"{r['whole'] / results[2]['whole']:.1f}x", ms(r["whole"])))
        for n in SIZES:
            r = results[n]
            rows.append((f"diff, {n} tables, diff alone (all envs)",
                         f"{r['all_envs'] / results[2]['all_envs']:.1f}x", ms(r["all_envs"])))

    if "synth" not in skip:
        synth_bench = bench("synth")
        progress("synth (fresh processes, CDK on Node) …")
        runs = 3 if q else 9  # the goal sits within noise of a busy 2-core machine
        synth = synth_bench.measure(runs, seed_runs=1)
        tool, tool_cpu = synth[synth_bench.TOOL]
        same, same_cpu = synth[synth_bench.SAME]
        seed = synth[synth_bench.SEED][0]
        verdict = "ok" if tool / same <= synth_bench.GOAL else "OVER"
        rows.append((f"synth: tool / hand-written, same App settings (goal <= {synth_bench.GOAL}x: {verdict})",
                     f"{tool / same:.2f}x", f"{tool:.2f} s vs {same:.2f} s (median of {runs}); cpu ratio {tool_cpu / same_cpu:.2f}x"))
        rows.append(("synth: tool / hand-written as the seed (CDK validation on)",
                     f"{tool / seed:.2f}x", f"{tool:.2f} s vs {seed:.2f} s (1 run)"))

    if "synth-scale" not in skip:
        synth_scale_bench = bench("synth_scale")
        progress("synth of 1,000 tables in 4 stacks (fresh processes) …")
        runs = 1 if q else 3
        scale = synth_scale_bench.measure(runs)
        tool, tool_cpu = scale[synth_scale_bench.TOOL]
        hand, hand_cpu = scale[synth_scale_bench.HAND]
        verdict = "ok" if tool / hand <= synth_scale_bench.GOAL else "OVER"
        rows.append((f"synth 1,000 tables / 4 stacks: tool / hand-written (goal <= {synth_scale_bench.GOAL}x: {verdict})",
                     f"{tool / hand:.2f}x", (f"{tool:.1f} s vs {hand:.1f} s (median of {runs}); cpu ratio "
                     f"{tool_cpu / hand_cpu:.2f}x")))

    if "redeploy" not in skip:
        redeploy_bench = bench("redeploy")
        progress(f"no-op redeploy ({args.engine} in a temporary root) …")
        r = redeploy_bench.measure(args.engine, 3 if q else 5)
        rows.append((f"no-op redeploy --local ({args.engine}) / validate command",
                     f"{r['command'] / r['validate_command']:.2f}x",
                     f"{ms(r['command'])} vs {ms(r['validate_command'])}; in process {ms(r['in_process'])}"))

    if "deploy-double" not in skip:
        deploy_double_bench = bench("deploy_double")
        progress("deploy to the strict AWS double at 2, 100 and 1,000 tables (about 2 minutes) …")
        d = deploy_double_bench.measure(SIZES)
        for n in SIZES:
            rows.append((f"deploy to the strict double, {n} tables, {d[n]['stacks']:.0f} stack(s), first deploy",
                         f"{d[n]['deploy'] / d[2]['deploy']:.1f}x", f"{d[n]['deploy']:.2f} s"))
        for n in SIZES:
            ratio = d[n]["noop"] / d[n]["validate"]
            goal = (f" (goal <= {deploy_double_bench.GOAL_NOOP}x: "
                    f"{'ok' if ratio <= deploy_double_bench.GOAL_NOOP else 'OVER'})") if n == 1000 else ""
            rows.append((f"no-op redeploy to the strict double / validate, {n} tables{goal}", f"{ratio:.2f}x",
                         f"{ms(d[n]['noop'])} vs {ms(d[n]['validate'])} (in process)"))

    if "local-deploy" not in skip:
        local_deploy_bench = bench("local_deploy")
        progress(f"deploy --local of 100 tables vs boto3 ({args.engine} in a temporary root) …")
        r = local_deploy_bench.measure(args.engine, 100)
        for what, tool, direct, goal in (
                ("deploy --local, 100 new tables / boto3 CreateTable + wait", r["deploy"], r["create_direct"],
                 local_deploy_bench.GOAL_CREATE),
                ("no-op deploy --local, 100 tables / boto3 DescribeTable", r["noop"], r["describe_direct"],
                 local_deploy_bench.GOAL_NOOP)):
            verdict = "ok" if tool / direct <= goal else "OVER"
            rows.append((f"{what} (goal <= {goal}x: {verdict})", f"{tool / direct:.2f}x",
                         f"{tool:.2f} s vs {direct:.2f} s (in process)"))

    if "codegen" not in skip:
        codegen_bench = bench("codegen")
        progress("codegen (1000 tables; generated calls vs boto3 on DynamoDB Local in a temporary root) …")
        g = codegen_bench.measure_generate(1000, 2 if q else 3)
        ratio = g["codegen"] / g["validate"]
        verdict = "ok" if ratio <= codegen_bench.GOAL_GENERATE else "OVER"
        absolute = f"{ms(g['codegen'])} vs {ms(g['validate'])}; generation alone {ms(g['generate_alone'])}"
        rows.append((f"codegen / validate, 1000 tables (goal <= {codegen_bench.GOAL_GENERATE}x: {verdict})",
                     f"{ratio:.2f}x", absolute))
        calls = codegen_bench.measure_calls(100 if q else 300)
        for name in ("get", "put", "query"):
            ratio = calls["generated"][name] / calls["boto3"][name]
            verdict = "ok" if ratio <= codegen_bench.GOAL_CALL else "OVER"
            what = f"generated {name} / boto3 {name}, DynamoDB Local (goal <= {codegen_bench.GOAL_CALL}x: {verdict})"
            absolute = (f"{ms(calls['generated'][name])} vs {ms(calls['boto3'][name])} per call (median); "
                        f"without I/O {calls['overhead'][f'generated {name}'] * 1e6:.0f} µs vs "
                        f"{calls['overhead'][f'boto3 {name}'] * 1e6:.0f} µs")
            rows.append((what, f"{ratio:.2f}x", absolute))

    if "migrate" not in skip:
        items, burst = (10_000, 1_000) if q else (100_000, 10_000)
        progress(f"migration copy of {items:,} items and catch-up of {burst:,} writes (DynamoDB Local) …")
        migrate_bench = bench("migrate")
        m = migrate_bench.measure(items, burst)
        ratio = m["copy"] / m["plain"]
        verdict = "ok" if ratio <= migrate_bench.GOAL_COPY else "OVER"
        rows.append(((f"migration copy / plain boto3 scan + batch write, {items:,} items "
                     f"(goal <= {migrate_bench.GOAL_COPY}x: {verdict})"), f"{ratio:.2f}x",
                     f"{m['copy']:.1f} s ({items / m['copy']:,.0f} items/s) vs {m['plain']:.1f} s"))
        rows.append((f"migration catch-up after {burst:,} writes / the burst itself",
                     f"{m['lag'] / m['burst_seconds']:.2f}x",
                     f"{m['lag']:.1f} s to apply ({m['records'] / m['lag']:,.0f} records/s) vs {m['burst_seconds']:.1f} s"))
    if "unique" not in skip:
        progress("put with one unique attribute: generated vs the same transaction by hand, DynamoDB Local …")
        unique_bench = bench("unique")
        u = unique_bench.measure(100 if q else 300)
        ratio = u["generated"] / u["boto3"]
        verdict = "ok" if ratio <= unique_bench.GOAL else "OVER"
        rows.append((f"generated put, one unique attribute / boto3 by hand (goal <= {unique_bench.GOAL}x: {verdict})",
                     f"{ratio:.2f}x", f"{ms(u['generated'])} vs {ms(u['boto3'])} per call (median)"))

    width = max((len(what) for what, _, _ in rows), default=len("benchmark"))
    print(f"\n{'benchmark':<{width}}  {'ratio':>8}  absolute (this machine)")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 23}")
    for what, ratio, absolute in rows:
        print(f"{what:<{width}}  {ratio:>8}  {absolute}")
    print(f"\nmedians; {'--quick, ' if q else ''}whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
