"""`import`: live tables (or a CloudFormation stack's) written out in the schema language."""

from __future__ import annotations

from typing import Annotated

import typer

from ..project import check_project
from . import SCHEMA_DEFAULT, EnvOption, SchemaOption, app, stderr, stdout


@app.command("import")
def import_command(
    tables: Annotated[list[str] | None, typer.Argument(
        help="Tables: keys of the schema (users) or physical names (jobwork-dev-users); with --from-stack "
             "also logical ids (none: every table of the stack).",
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

    A table is named by its key in the schema (its physical name in the environment is read) or
    by its physical name. Options are written only where the table differs from the environment's defaults; what the
    schema language cannot express is a comment. --write merges them into the schema file and
    refuses a table key the schema already has.

    Example: jobwork-infra import --env dev --local users tenant
    """
    from ..deploy.aws import aws_errors
    from ..deploy.factory import open_sources, read_for_import
    from ..followup import Invocation, command, schema_command
    from ..fsio import atomic_write
    from ..importer import acknowledge_imported, build_entries, check_imported, merge_tables, render_tables

    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    project = check_project(schema)
    head = project.resolve(env)
    invocation = Invocation(env=env, local=local, endpoint_url=endpoint_url, profile=profile, region=region,
                            schema=schema)
    if not local:  # who the credentials belong to, before anything is read (issue 23); stdout is YAML
        from ._guard import guard_account

        guard_account(head, profile=profile, region=region, endpoint_url=endpoint_url, console=stderr)
    sources = open_sources(local=local, endpoint_url=endpoint_url, profile=profile, region=region, env=env,
                           env_region=head.region)
    sources.rerun = invocation
    with aws_errors(f"reading the tables at {sources.label}"):
        names = list(tables or [])
        if not from_stack and set(names) & set(head.tables):
            from ..deploy.dynamodb import list_table_names

            names = physical_names(names, head, set(list_table_names(sources.dynamodb)))
        items = read_for_import(sources, names, head, from_stack)
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
                 f"then `{schema_command(invocation, 'diff')}` and `{command(invocation, 'deploy', '--dry-run')}`",
                 markup=False)


def physical_names(names: list[str], head, live: set[str]) -> list[str]:
    """Each name as the live table is called: a table of that very name first (the seed's `users`), else a
    key of the schema becomes its physical name in the environment (`users` → `jobwork-dev-users`)."""
    return [head.tables[name].physical_name if name not in live and name in head.tables else name
            for name in names]
