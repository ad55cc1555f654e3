"""`validate`, `json-schema` and `docs`: the commands that read a schema and never touch AWS."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from . import (
    EXIT_FAILED,
    EXIT_OK,
    SCHEMA_DEFAULT,
    SchemaOption,
    app,
    find_schema,
    refuse_output_over,
    stderr,
    stdout,
)

OutOption = Annotated[str | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


def _write(text: str, out: str | None, what: str, schema: str | None) -> None:
    from ..fsio import atomic_write

    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    refuse_output_over(out, schema, "--out")
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {out}: {exc.strerror}", param_hint="--out") from exc
    atomic_write(path, text)
    stderr.print(f"wrote {what} to {out}", markup=False)


@app.command()
def validate(
    schema: SchemaOption = SCHEMA_DEFAULT,
    format: Annotated[Format, typer.Option("--format", "-f", help="How to print findings.")] = Format.text,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Leave out acknowledged findings (notes); the summary still counts them.")] = False,
) -> None:
    """Check the schema: YAML, shape and every rule; print located findings.

    Exit 0 when valid, 1 when not (with --strict, warnings count), 2 on a usage error.
    The reference of every rule code is docs/rules.md.

    Example: jobwork-infra validate --format github   # annotations in GitHub Actions
    """
    from ..report import text as text_report

    checked, project = _check(schema)
    diagnostics, tables, indexes = checked.diagnostics, checked.tables, checked.indexes
    line, passed = text_report.summary(schema, diagnostics, tables, indexes, strict)
    # --quiet: an acknowledged finding was read and accepted once; it need not take three lines on every
    # run (text and GitHub annotations; JSON and SARIF keep every finding).
    shown = [d for d in diagnostics if not (quiet and d.acknowledged is not None)]
    if format is Format.text:
        text_report.render_diagnostics(shown, text_report.source_of(schema), stdout)
        stdout.print(line, markup=False)
    else:
        if format is Format.json:
            from ..budgets import usage
            from ..model import resolve
            from ..report.json import render

            stacks = None
            if project is None:  # a cache hit: the budgets need the model
                from ..project import check_project

                project = check_project(schema)
            if project.schema is not None:
                stacks = {env: [u.as_dict() for u in usage(resolve(project.schema, env))]
                          for env in project.schema.environments}
            typer.echo(render(diagnostics, schema, passed, tables, indexes, stacks))
        elif format is Format.github:
            from ..report.github import render

            if shown:
                typer.echo(render(shown))
        else:
            from ..report.sarif import render

            typer.echo(render(diagnostics))
        # Machine formats keep stdout parseable; the summary goes to stderr.
        stderr.print(line, markup=False)
    raise typer.Exit(EXIT_OK if passed else EXIT_FAILED)


def _check(schema: str):
    """The findings of `schema` and the checked project (None on a cache hit), from the cache when this
    very file was checked by this very build (jobwork_infra/cache.py: a repeated validate then never
    builds the pydantic models)."""
    from .. import cache
    from ..load import read_schema_file

    # The loader's bounded read (regular files only): a special file such as /dev/zero reports st_size 0
    # and would otherwise be read without end. Unreadable: no cache; the loader reports why (Y001, Y002).
    read = read_schema_file(schema)
    data = read if isinstance(read, bytes) else None
    if data is not None and (hit := cache.load(schema, data)) is not None:
        return hit, None
    from ..project import check_project

    project = check_project(schema)
    tables = indexes = None
    if project.schema is not None:
        tables = len(project.schema.tables)
        indexes = sum(len(t.global_indexes) + len(t.local_indexes) for t in project.schema.tables.values())
    checked = cache.CheckedSchema(project.diagnostics, tables, indexes)
    if data is not None and project.document is not None and project.document.text == _decoded(data):
        cache.store(schema, data, checked)
    return checked, project


def _decoded(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


@app.command("json-schema")
def json_schema(out: OutOption = None) -> None:
    """Print the JSON Schema of tables.yaml, for editor completion and checks.

    The committed copy is schema/tables.schema.json; tables.yaml points at it with a
    `# yaml-language-server: $schema=./tables.schema.json` modeline.

    Example: jobwork-infra json-schema --out schema/tables.schema.json
    """
    from ..model import SchemaFile

    text = json.dumps(SchemaFile.model_json_schema(), indent=2) + "\n"
    _write(text, out, "the JSON Schema", find_schema())


@app.command()
def docs(
    schema: SchemaOption = SCHEMA_DEFAULT,
    out: OutOption = None,
) -> None:
    """Print Markdown of the tables and indexes, with a Mermaid diagram.

    The schema must be valid; findings are printed as by `validate` otherwise.

    Example: jobwork-infra docs --out docs/tables.md
    """
    from ..docs import schema_markdown
    from ..project import check_project

    project = check_project(schema).require_valid()
    _write(schema_markdown(project.schema, schema), out, "the tables' documentation", schema)
