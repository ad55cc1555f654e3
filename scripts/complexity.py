"""The complexity budget of jobwork_infra/deploy/ (docs/architecture.md): no function above
cyclomatic complexity 25 nor longer than 80 lines. A dev script, not a test (radon's numbers move
with its versions); `make complexity` runs it. Exit 1 over budget.

    python scripts/complexity.py [PATH ...] [--max-complexity 25] [--max-lines 80] [--top 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parent.parent


def measure(paths: list[Path]) -> list[tuple[int, int, str]]:
    """(complexity, lines, "file:line name") of every function and method under `paths`."""
    out = []
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            for block in cc_visit(file.read_text()):
                items = [block, *getattr(block, "methods", [])] if hasattr(block, "methods") else [block]
                for item in items:
                    if type(item).__name__ == "Class":
                        continue
                    name = f"{item.classname}.{item.name}" if getattr(item, "classname", None) else item.name
                    out.append((item.complexity, item.endline - item.lineno + 1,
                                f"{file.relative_to(ROOT)}:{item.lineno} {name}"))
    return sorted(set(out))  # radon lists a method under its class and on its own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "jobwork_infra" / "deploy")])
    parser.add_argument("--max-complexity", type=int, default=25)
    parser.add_argument("--max-lines", type=int, default=80)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    found = measure([Path(p).resolve() for p in args.paths])
    for label, key in (("complexity", 0), ("lines", 1)):
        print(f"highest {label}:")
        for row in sorted(found, key=lambda r: r[key], reverse=True)[:args.top]:
            print(f"  cc {row[0]:3d}  {row[1]:4d} lines  {row[2]}")
    over = [r for r in found if r[0] > args.max_complexity or r[1] > args.max_lines]
    for row in over:
        print(f"over budget: cc {row[0]}, {row[1]} lines: {row[2]}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
