"""Rewrite the golden templates from the current compiler: `make golden` (python -m tests.regenerate_golden).

Review the git diff of tests/golden/ afterwards: every change there is a change to what deploys.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

# name → (schema file, environment)
CASES: dict[str, tuple[Path, str]] = {
    "dev": (ROOT / "schema" / "tables.yaml", "dev"),
    "prod": (ROOT / "schema" / "tables.yaml", "prod"),
    "rich": (Path(__file__).resolve().parent / "fixtures" / "compile" / "rich.yaml", "staging"),
}


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.template.json"


def render(template: dict) -> str:
    """The text of a golden file: the layout CDK itself writes, plus a final newline."""
    return json.dumps(template, indent=1) + "\n"


def synth_case(name: str) -> dict:
    from jobwork_infra.compile import synth_template
    from jobwork_infra.project import check_project

    schema, env = CASES[name]
    return synth_template(check_project(schema).resolve(env))


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in CASES:
        path = golden_path(name)
        text = render(synth_case(name))
        changed = not path.exists() or path.read_text() != text
        path.write_text(text)
        print(f"{'updated' if changed else 'unchanged'}: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
