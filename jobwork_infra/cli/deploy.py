"""`deploy` and `destroy`: to AWS through CloudFormation, or to the local engine with --local."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from typer._click.exceptions import UsageError  # typer (>= 0.29) vendors click

from ..deploy import DeployRequest
from ..project import check_project
from . import SCHEMA_DEFAULT, EnvOption, SchemaOption, app, refuse_output_over, stdout

EndpointOption = typer.Option(None, "--endpoint-url", help="A CloudFormation-compatible endpoint.")
ProfileOption = typer.Option(None, "--profile", help="AWS profile.")
RegionOption = typer.Option(None, "--region", help="AWS region (default: the environment's region).")
YesOption = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


def _confirm(question: str, action: str = "deploy") -> bool:
    if not sys.stdin.isatty():
        # A usage error (exit 2), but not "Invalid value for --yes": --yes was not given (issue 23).
        raise UsageError(f"no terminal to confirm on: pass --yes to {action} non-interactively")
    return typer.confirm(question, default=False)


def _request(env, dry_run, yes, allow_destructive, endpoint_url, profile, region, template_bucket, local,
             timeout=None, wait=False, plan_out=None, plan_file=None, adopt=False, from_stack=None,
             allow_drift=False, skip_unkeyed=False, schema=None, backfill_ttl=False, allow_large_copy=False):
    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    if timeout is not None and timeout <= 0:
        raise typer.BadParameter("give a number of seconds above 0", param_hint="--timeout")
    if plan_out and not dry_run:
        raise typer.BadParameter("a plan is saved by a dry run: add --dry-run", param_hint="--plan-out")
    if plan_file and (dry_run or plan_out):
        raise typer.BadParameter("--plan applies a saved plan: leave out --dry-run and --plan-out",
                                 param_hint="--plan")
    if from_stack and not adopt:
        raise typer.BadParameter("--from-stack names where the tables to adopt are: add --adopt",
                                 param_hint="--from-stack")
    if from_stack and local:
        raise typer.BadParameter("--from-stack takes tables out of a CloudFormation stack; the local engine has "
                                 "none", param_hint="--from-stack")
    return DeployRequest(env=env, dry_run=dry_run, yes=yes, allow_destructive=allow_destructive,
                         endpoint_url=endpoint_url, profile=profile, region=region,
                         template_bucket=template_bucket, timeout=timeout, wait=wait, plan_out=plan_out,
                         plan_file=plan_file, adopt=adopt, from_stack=from_stack, allow_drift=allow_drift,
                         skip_unkeyed=skip_unkeyed, local=local, schema=schema, backfill_ttl=backfill_ttl,
                         allow_large_copy=allow_large_copy)


def _run(schema: str, request: DeployRequest, local: bool, action: str) -> NoReturn:
    from ..deploy import destroy as destroying
    from ..deploy import flow
    from ..deploy.factory import make_targets
    from ..report.deploy import DeployReport

    project = check_project(schema)
    head = project.resolve(request.env)  # a clear error for an invalid schema or an unknown environment
    emit = DeployReport(stdout)
    saved = None
    if request.plan_file:
        from dataclasses import replace

        from ..deploy.saved_plan import load_plan
        from ..followup import Invocation

        saved = replace(load_plan(request.plan_file), rerun=Invocation.of(request))  # before any engine or AWS
        saved.check_schema(head, "local" if local else "cloudformation")
    if not local:  # who the credentials belong to, before any stack or table is read (issue 23)
        from ._guard import guard_account

        guard_account(head, profile=request.profile, region=request.region, endpoint_url=request.endpoint_url,
                      console=stdout)
    target = make_targets(project, request, emit, local=local)  # CloudFormation: one per stack
    if action == "deploy":
        raise typer.Exit(flow.deploy(head, request, target, emit, _confirm, saved))
    raise typer.Exit(destroying.destroy(head, request, target, emit, lambda question: _confirm(question, action)))


def _show_plan(path: str, env: str) -> None:
    """`--show-plan FILE`: the saved plan, checked as `--plan` checks it, printed; no engine, no AWS."""
    import json
    from pathlib import Path

    from ..deploy.saved_plan import load_plan
    from ..errors import JobworkError
    from ..report.saved_plan import render_saved_plan

    saved = load_plan(path)  # a clear error for a missing, damaged or foreign file
    if saved.env != env:
        raise JobworkError(f"{path} is a plan for environment {saved.env}, not {env}",
                           f"show it with --env {saved.env}")
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        render_saved_plan(document, path, stdout)
    except (KeyError, TypeError, ValueError) as exc:
        raise JobworkError(f"{path}: a damaged jobwork-infra plan ({type(exc).__name__}: {exc})",
                           "write a new plan with `deploy --dry-run --plan-out FILE`") from None


TimeoutOption = typer.Option(None, "--timeout", help="Seconds to wait for tables and the stack to settle "
                                                     "(default: a day); running deploy again resumes.")


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
                                           help="Allow changes that delete or replace a table (and turn "
                                                "deletion protection off on the tables deleted)."),
    template_bucket: str = typer.Option(None, "--template-bucket",
                                        help="S3 bucket for templates over 51,200 bytes."),
    timeout: float = TimeoutOption,
    wait: bool = typer.Option(False, "--wait", help="Sleep through AWS's one-hour TTL cool-down instead of "
                                                    "stopping after the steps that may run now."),
    plan_out: str = typer.Option(None, "--plan-out", metavar="FILE",
                                 help="With --dry-run: save the plan, with the schema and the deployed state it "
                                      "was computed from, for `deploy --plan FILE`."),
    plan_file: str = typer.Option(None, "--plan", metavar="FILE",
                                  help="Apply exactly this saved plan, without asking; refused (exit 3) when the "
                                       "schema or what is deployed changed since it was saved."),
    adopt: bool = typer.Option(False, "--adopt", help="Adopt tables that exist under the schema's names but are "
                                                      "not managed (keys and local indexes must match)."),
    from_stack: str = typer.Option(None, "--from-stack", metavar="NAME",
                                   help="With --adopt: take the tables out of this CloudFormation stack "
                                        "(retained first, then removed from it, then imported)."),
    allow_drift: bool = typer.Option(False, "--allow-drift", help="Deploy even if live tables drifted from what "
                                                                   "was deployed (the deploy may undo it)."),
    skip_unkeyed: bool = typer.Option(False, "--skip-unkeyed", help="A migration (a generation bump) leaves items "
                                      "without the new key in the old generation, listed in a JSON Lines file, "
                                      "instead of refusing (exit 3)."),
    allow_large_copy: bool = typer.Option(False, "--allow-large-copy",
                                          help="A migration copies a table over 50 GB or 50 million items from "
                                               "this machine anyway, instead of refusing (exit 3, R027)."),
    backfill_ttl: bool = typer.Option(False, "--backfill-ttl",
                                      help="With a TTL rename: first write the new TTL attribute on the items that "
                                           "carry only the old one (resumable; concurrent writes win; verified)."),
    show_plan: str = typer.Option(None, "--show-plan", metavar="FILE",
                                  help="Print a plan saved by --plan-out as the dry run printed it, and exit; "
                                       "reads nothing but the file."),
) -> None:
    """Deploy the schema of one environment, with the same plan and safety gate as `diff`.

    Destructive changes are refused (exit 3) unless --allow-destructive. Multi-step changes are
    staged, one legal update at a time, each waited for until every index is ACTIVE. A TTL rename
    stops after its first step (exit 0) and says when to run deploy again, unless --wait.
    One deploy per environment at a time (a lock in .jobwork/locks/); after the prompt, what is
    deployed is read again and the deploy stops (exit 3) if the plan changed meanwhile.
    Tables that already exist under the schema's names but are not managed are refused (exit 3)
    unless --adopt; drift made by hand is refused (exit 3) unless --allow-drift.
    A generation bump is copied into the new table, caught up and verified (docs/migrate.md).

    Example: jobwork-infra deploy --env dev --local
    """
    if show_plan:
        _show_plan(show_plan, env)
        return
    request = _request(env, dry_run, yes, allow_destructive, endpoint_url, profile, region, template_bucket, local,
                       timeout, wait, plan_out, plan_file, adopt, from_stack, allow_drift, skip_unkeyed, schema,
                       backfill_ttl, allow_large_copy)
    if plan_out:
        refuse_output_over(plan_out, schema, "--plan-out")
    _run(schema, request, local, "deploy")


@app.command()
def destroy(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = typer.Option(False, "--local", help="Delete the environment's tables from the local engine."),
    endpoint_url: str = EndpointOption,
    profile: str = ProfileOption,
    region: str = RegionOption,
    yes: bool = YesOption,
    allow_destructive: bool = typer.Option(False, "--allow-destructive",
                                           help="Turn deletion protection off on the tables deleted."),
    timeout: float = TimeoutOption,
) -> None:
    """Delete an environment's stack; retained tables stay and are listed.

    Example: jobwork-infra destroy --env dev --yes
    """
    request = _request(env, False, yes, allow_destructive, endpoint_url, profile, region, None, local, timeout,
                       schema=schema)
    _run(schema, request, local, "destroy")
