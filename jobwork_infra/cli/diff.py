"""`diff`: what a schema change does to the live tables, with a verdict CI can fail on."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from ..changes import Severity
from ..errors import Blocked
from ..project import check_base, check_project
from . import SCHEMA_DEFAULT, SchemaOption, app, stderr, stdout


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
    base_schema: Annotated[str | None, typer.Option(
        "--base-schema", help="The schema file's path at --base REF, when it was elsewhere then "
                              "(renames are followed on their own).")] = None,
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
    previous = check_base(base, schema, base_schema, head.schema.app)
    if previous is None:
        stderr.print(f"note: {schema} does not exist at {base}: every table is new")
    else:
        if previous.note:
            stderr.print(f"note: {previous.note}")
        previous.require_valid()
    changes = diff_environments(previous.schema if previous else None, head.schema, env)

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
