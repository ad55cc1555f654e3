"""`status`: what is deployed, per stack, read from the target."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from ..project import check_project
from . import (
    SCHEMA_DEFAULT,
    EndpointOption,
    EnvOption,
    ProfileOption,
    ReadLocalOption,
    RegionOption,
    SchemaOption,
    app,
    stderr,
    stdout,
)


class Format(str, Enum):
    text = "text"
    json = "json"


@app.command("status")
def status_command(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: ReadLocalOption = False,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Show what is deployed: per stack, each table with its keys, indexes (and their status), TTL,
    billing, protections and item count, as the live tables report them.

    Example: jobwork-infra status --env dev --local
    """
    from ..deploy.aws import aws_errors
    from ..deploy.factory import open_sources
    from ..deploy.read_status import read_status
    from ..followup import Invocation
    from ..report.status import render_status_text, status_json

    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    head = check_project(schema).resolve(env)
    if not local:  # who the credentials belong to, before anything is read
        from ._guard import guard_account

        guard_account(head, profile=profile, region=region, endpoint_url=endpoint_url,
                      console=stdout if output is Format.text else stderr)
    sources = open_sources(local=local, endpoint_url=endpoint_url, profile=profile, region=region, env=env,
                           env_region=head.region)
    sources.rerun = Invocation(env=env, local=local, endpoint_url=endpoint_url, profile=profile, region=region,
                               schema=schema)
    with aws_errors(f"reading environment {env} at {sources.label}"):
        report = read_status(sources, head)
    if output is Format.json:
        typer.echo(status_json(report))
    else:
        render_status_text(report, stdout)
