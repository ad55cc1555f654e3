"""`deploy` and `destroy`: to AWS through CloudFormation, or to the local engine with --local."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import typer

from ..deploy import DeployRequest
from ..project import check_project
from . import SCHEMA_DEFAULT, EnvOption, SchemaOption, app, stdout

EndpointOption = typer.Option(None, "--endpoint-url", help="A CloudFormation-compatible endpoint.")
ProfileOption = typer.Option(None, "--profile", help="AWS profile.")
RegionOption = typer.Option(None, "--region", help="AWS region (default: the environment's region).")
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise typer.BadParameter("no terminal to confirm on: pass --yes to deploy non-interactively",
                                 param_hint="--yes")
    return typer.confirm(question, default=False)


def _request(env, dry_run, yes, allow_destructive, endpoint_url, profile, region, template_bucket, local,
             adopt=False):
    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    if adopt and not local:
        raise typer.BadParameter("--adopt works on the local engine so far; on AWS it takes a CloudFormation "
                                 "IMPORT change set, which is coming (docs/adopt.md)", param_hint="--adopt")
    return DeployRequest(env=env, dry_run=dry_run, yes=yes, allow_destructive=allow_destructive,
                         endpoint_url=endpoint_url, profile=profile, region=region,
                         template_bucket=template_bucket, adopt=adopt)


def _run(schema: str, request: DeployRequest, target: Callable[..., int]) -> NoReturn:
    project = check_project(schema)
    project.resolve(request.env)  # a clear error for an invalid schema or an unknown environment
    raise typer.Exit(target(project, request, console=stdout, confirm=_confirm))


@app.command()
def deploy(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = typer.Option(False, "--local", help="Deploy to the local engine (started when none runs)."),
    endpoint_url: str = EndpointOption,
    profile: str = ProfileOption,
    region: str = RegionOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and exit as the deploy would."),
    yes: bool = YesOption,
    allow_destructive: bool = typer.Option(False, "--allow-destructive",
                                           help="Allow changes that delete or replace a table."),
    template_bucket: str = typer.Option(None, "--template-bucket",
                                        help="S3 bucket for templates over 51,200 bytes."),
    adopt: bool = typer.Option(False, "--adopt", help="Adopt tables that exist under the schema's names but are "
                                                      "not managed (local engine; keys and local indexes must match)."),
) -> None:
    """Deploy the schema of one environment, with the same plan and safety gate as `diff`.

    Destructive changes are refused (exit 3) unless --allow-destructive. Multi-step changes are
    staged, one legal update at a time. Tables that already exist under the schema's names but are
    not managed are refused (exit 3) unless --adopt.

    Example: jobwork-infra deploy --env dev --local
    """
    request = _request(env, dry_run, yes, allow_destructive, endpoint_url, profile, region, template_bucket, local,
                       adopt)
    from ..deploy.cloudformation import deploy_stack
    from ..deploy.local import deploy_local

    _run(schema, request, deploy_local if local else deploy_stack)


@app.command()
def destroy(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = typer.Option(False, "--local", help="Delete the environment's tables from the local engine."),
    endpoint_url: str = EndpointOption,
    profile: str = ProfileOption,
    region: str = RegionOption,
    yes: bool = YesOption,
) -> None:
    """Delete an environment's stack; retained tables stay and are listed.

    Example: jobwork-infra destroy --env dev --yes
    """
    request = _request(env, False, yes, False, endpoint_url, profile, region, None, local)
    from ..deploy.cloudformation import destroy_stack
    from ..deploy.local import destroy_local

    _run(schema, request, destroy_local if local else destroy_stack)
