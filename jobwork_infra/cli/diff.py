"""`diff`: what a schema change does to the live tables, with a verdict CI can fail on."""

from __future__ import annotations

import subprocess
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..changes import Severity
from ..errors import Blocked, JobworkError
from ..project import Project, check_project
from . import SCHEMA_DEFAULT, SchemaOption, app, stdout


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class FailOn(str, Enum):
    destructive = "destructive"
    multi_step = "multi-step"
    online = "online"
    safe = "safe"
    never = "never"


@app.command("diff")
def diff_command(
    schema: SchemaOption = SCHEMA_DEFAULT,
    base: Annotated[str, typer.Option(
        "--base", "-b", help="The version to compare with: a file, or a git ref (origin/main, HEAD~1).")] = "HEAD",
    env: Annotated[str | None, typer.Option(
        "--env", "-e", help="Judge one environment (default: all, keeping the worst verdict).")] = None,
    output: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 3 when a change at or above this severity exists.")] = FailOn.destructive,
) -> None:
    """Compare the schema with a base version and say what each change does to live data.

    Verdicts, worst first: destructive (the table is replaced or deleted: data lost),
    multi-step (deploy stages it), online (in place, with an effect to know), safe.
    Exits 3 when a change at or above --fail-on is found, so CI can stop it.

    Example: jobwork-infra diff --base origin/main --format markdown
    """
    from ..diff import diff_environments
    from ..report.changes import changes_json, changes_markdown, render_changes_text

    head = check_project(schema).require_valid()
    if env is not None:
        head.resolve(env)  # an unknown environment is an error before any git work
    previous = _load_base(base, schema).require_valid()
    changes = diff_environments(previous.schema, head.schema, env)

    if output is Format.json:
        typer.echo(changes_json(changes))
    elif output is Format.markdown:
        typer.echo(changes_markdown(changes), nl=False)
    else:
        render_changes_text(changes, stdout)

    if fail_on is not FailOn.never:
        level = Severity.parse(fail_on.value)
        reached = [c for c in changes if c.severity >= level]
        if reached:
            raise Blocked(
                f"{len(reached)} change{'' if len(reached) == 1 else 's'} at or above {level.label} "
                f"(--fail-on {level.label})",
                "review the changes above; --fail-on never reports them without failing",
            )


def _load_base(base: str, schema: str) -> Project:
    if Path(base).is_file():
        return check_project(base)
    name, text = _git_show(base, Path(schema))
    return check_project(name, text=text)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise JobworkError("--base needs git to read a ref, and git is not installed",
                           "install git, or pass --base FILE") from None


def _git_show(ref: str, schema: Path) -> tuple[str, str]:
    """The schema as committed at `ref`: (a name for locating findings, its text)."""
    schema = schema.resolve()
    if not schema.parent.is_dir():
        raise JobworkError(f"--base {ref}: {schema.parent} does not exist", "pass --schema PATH")
    found = _git(["rev-parse", "--show-toplevel"], schema.parent)
    if found.returncode != 0:
        raise JobworkError(f"--base {ref!r} is not a file, and {schema.parent} is not in a git repository",
                           "pass --base FILE, or run inside the repository that holds the schema")
    root = Path(found.stdout.strip()).resolve()
    path = schema.relative_to(root).as_posix()
    if _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).returncode != 0:
        raise JobworkError(f"--base {ref!r} is neither a file nor a git ref",
                           "pass a branch, tag or commit (origin/main, HEAD~1) or a schema file")
    shown = _git(["show", f"{ref}:{path}"], root)
    if shown.returncode != 0:
        raise JobworkError(f"{path} does not exist at {ref}",
                           "compare with a ref that has the schema, or pass --base FILE")
    return f"{ref}:{path}", shown.stdout
