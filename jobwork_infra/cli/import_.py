"""`import`: live tables (or a CloudFormation stack's) written out in the schema language."""

from __future__ import annotations

from typing import Annotated

import typer

from ..project import check_project
from . import SCHEMA_DEFAULT, EnvOption, SchemaOption, app, stderr, stdout


@app.command("import")
def import_command(
    tables: Annotated[list[str] | None, typer.Argument(
        help="Physical table names; with --from-stack also logical ids (none: every table of the stack).",
        show_default=False)] = None,
    env: EnvOption = ...,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = typer.Option(False, "--local", help="Read the local engine's tables."),
    endpoint_url: str = typer.Option(None, "--endpoint-url", help="A DynamoDB/CloudFormation-compatible endpoint."),
    profile: str = typer.Option(None, "--profile", help="AWS profile."),
    region: str = typer.Option(None, "--region", help="AWS region (default: the environment's region)."),
    from_stack: str = typer.Option(None, "--from-stack", help="Read the tables of this CloudFormation stack."),
    write: bool = typer.Option(False, "--write", help="Merge them into the schema file (comments and order kept)."),
) -> None:
    """Print live tables as definitions in the schema language, ready to paste under `tables:`.

    Options are written only where the table differs from the environment's defaults; what the
    schema language cannot express is a comment. --write merges them into the schema file and
    refuses a table key the schema already has.

    Example: jobwork-infra import --env dev --local users tenant
    """
    from ..deploy.aws import aws_errors
    from ..deploy.factory import open_sources, read_for_import
    from ..fsio import atomic_write
    from ..importer import acknowledge_imported, build_entries, check_imported, merge_tables, render_tables

    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    project = check_project(schema)
    head = project.resolve(env)
    sources = open_sources(local=local, endpoint_url=endpoint_url, profile=profile, region=region, env=env,
                           env_region=head.region)
    with aws_errors(f"reading the tables at {sources.label}"):
        items = read_for_import(sources, list(tables or []), head, from_stack)
    entries = build_entries(items, project.schema, env)
    acknowledged = acknowledge_imported(project, entries)
    check_imported(project, entries)
    if not write:
        typer.echo(render_tables(entries), nl=False)
        return
    file = project.document.file
    merged = merge_tables(project.document.text, entries, file)
    check_project(file, text=merged).require_valid()
    atomic_write(file, merged)  # replaced whole or left as it was (a full disk, `ulimit -f`)
    stdout.print(f"Wrote {len(entries)} table(s) to {file}: {', '.join(entries)}")
    if acknowledged:
        stderr.print(f"acknowledged as they are live (`validate` shows each as a note with its reason): "
                     f"{', '.join(acknowledged)}")
    stderr.print("next: review them (non-key attributes and access patterns are yours to add), "
                 f"then `jobwork-infra diff` and `jobwork-infra deploy --env {env} --dry-run`")
