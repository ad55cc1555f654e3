"""`drift`: the live tables against what was deployed, with what the next deploy does about each difference."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from ..changes import Severity
from ..errors import Blocked
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
    stdout,
)
from .diff import FailOn


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"


@app.command("drift")
def drift_command(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: ReadLocalOption = False,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 3 when a difference at or above this severity exists.")] = FailOn.safe,
) -> None:
    """Compare the live tables with what was deployed: changes made behind the tool's back.

    Each difference is a change with diff's code and severity, and what the next deploy would do
    about it. On AWS the reference is the stack's deployed template; on the local engine, the
    schema. Exits 0 when nothing drifted, 3 when a difference at or above --fail-on exists
    (default: any).

    Example: jobwork-infra drift --env prod --format markdown
    """
    from ..deploy.aws import aws_errors
    from ..deploy.factory import open_sources, read_environment
    from ..drift import find_drift
    from ..followup import Invocation
    from ..model import Table, physical_name
    from ..report.drift import drift_github, drift_json, drift_markdown, render_drift_text

    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    project = check_project(schema)
    head = project.resolve(env)
    if not local:  # who the credentials belong to, before anything is read (issue 23)
        from . import stderr
        from ._guard import guard_account

        guard_account(head, profile=profile, region=region, endpoint_url=endpoint_url,
                      console=stdout if output is Format.text else stderr)
    sources = open_sources(local=local, endpoint_url=endpoint_url, profile=profile, region=region, env=env,
                           env_region=head.region)
    invocation = Invocation(env=env, local=local, endpoint_url=endpoint_url, profile=profile, region=region,
                            schema=schema)
    sources.rerun = invocation
    # The environment's name prefix: the naming pattern up to {table} (none when it starts there).
    prefix = physical_name(project.schema, env, "\0", Table()).partition("\0")[0] or None
    with aws_errors(f"reading environment {env} at {sources.label}"):
        state = read_environment(sources, head, prefix)
    report = find_drift(head, state.reference, state.live, target="local" if sources.local else "cloudformation",
                        reference_label=state.reference_label, where=state.where, unmanaged=state.unmanaged,
                        unadopted=state.unadopted, not_reported=state.not_reported)
    if output is Format.json:
        typer.echo(drift_json(report))
    elif output is Format.markdown:
        typer.echo(drift_markdown(report, invocation), nl=False)
    elif output is Format.github:
        typer.echo(drift_github(report))
    else:
        render_drift_text(report, stdout, invocation)
    if fail_on is not FailOn.never:
        level = Severity.parse(fail_on.value)
        reached = [i for i in report.items if i.severity >= level]
        if reached:
            raise Blocked(f"{len(reached)} difference{'' if len(reached) == 1 else 's'} at or above {level.label} "
                          f"(--fail-on {level.label})",
                          "undo them by hand, or write them into the schema and deploy; "
                          "--fail-on never reports without failing")
