"""`migrate status|sync|finish`: the migrations a generation bump started (docs/migrate.md)."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import JobworkError
from . import SCHEMA_DEFAULT, EnvOption, SchemaOption, app, stdout


class _Commands(TyperGroup):
    """As the root's commands: a flag's help shows no `<bool>` value label (cli/__init__.py)."""

    def get_command(self, ctx: typer.Context, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        for param in command.get_params(ctx) if command is not None else ():
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return command


migrate_app = typer.Typer(
    name="migrate",
    cls=_Commands,
    help="The migrations of tables whose generation was bumped: status, sync (replay the old generation's "
         "writes), finish (retire the old generation).\n\nExample: jobwork-infra migrate status --env dev --local",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(migrate_app, name="migrate")

LocalOption = typer.Option(False, "--local", help="The local engine (`jobwork-infra local start`).")
EndpointOption = typer.Option(None, "--endpoint-url", help="A DynamoDB-compatible endpoint.")
ProfileOption = typer.Option(None, "--profile", help="AWS profile.")
RegionOption = typer.Option(None, "--region", help="AWS region (default: the caller's).")


class Format(str, Enum):
    text = "text"
    json = "json"


def _root() -> Path:
    from ..deploy.local.engine import project_root

    return project_root()


def _clients(local: bool, endpoint_url: str | None, profile: str | None, region: str | None) -> tuple[Any, Any]:
    if local and endpoint_url:
        raise typer.BadParameter("choose one target: --local or --endpoint-url", param_hint="--local")
    from ..migrate.aws import local_clients

    if local:
        from ..deploy.local import engine as engines

        state = engines.status()
        if state is None:
            raise JobworkError("no local engine runs", "start it with `jobwork-infra local start` (or `deploy --local`)")
        return local_clients(state.endpoint)
    if endpoint_url:
        return local_clients(endpoint_url)
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    return session.client("dynamodb"), session.client("dynamodbstreams")


def _ours(schema: str, env: str) -> list[tuple[Path, Any]]:
    """The migrations of this project's tables in `env` (other projects may share the engine's root)."""
    from ..migrate.checkpoint import migrations
    from ..project import check_project

    head = check_project(schema).resolve(env)
    names = {t.physical_name for t in head.tables.values()}
    return [(path, state) for path, state in migrations(_root(), env)
            if state.table in head.tables and (state.target in names or state.source in names)]


def _migrating_stack(schema: str, env: str, table: str, endpoint_url: str | None, profile: str | None,
                     region: str | None) -> tuple[Any, str] | None:
    """(clients, stack name) when the CloudFormation stack that holds `table` records its migration in
    progress (deploy/cloudformation/migrate.py); None for a table no stack migrates (the local engine)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    from ..deploy import DeployRequest
    from ..deploy.cloudformation.migrate import migrating_record
    from ..deploy.cloudformation.stack import Stack
    from ..deploy.cloudformation.target import make_clients
    from ..project import check_project

    head = check_project(schema).resolve(env)
    if table not in head.tables:
        return None
    clients = make_clients(DeployRequest(env=env, endpoint_url=endpoint_url, profile=profile, region=region),
                           head.region)
    name = head.stack_of(head.tables[table])
    try:
        template = Stack(clients.cloudformation, name).template()
    except (ClientError, BotoCoreError, ResponseParserError):
        # No such stack here, or no CloudFormation at this endpoint (DynamoDB Local): not a stack's migration.
        return None
    return (clients, name) if table in migrating_record(template) else None


def _forget(client: Any, name: str) -> None:
    """The local registry no longer lists the retired generation (deleted, or kept and unmanaged)."""
    from ..deploy.local import engine as engines
    from ..deploy.local.client import RunContext
    from ..deploy.local.registry import read_registry, unregister
    from ..migrate.events import ignore

    entry = read_registry(client).get(name)
    if entry is not None and entry.role == "previous":
        unregister(RunContext(client, engines.status(), ignore), name)


def _target(local: bool, endpoint_url: str | None) -> str:
    return " --local" if local else f" --endpoint-url {endpoint_url}" if endpoint_url else ""


def _ago(moment: float | None) -> str:
    return "never" if moment is None else f"{time.time() - moment:.0f} s ago"


def _status_record(path: Path, state) -> dict:
    return {"table": state.table, "env": state.env, "from_generation": state.from_generation,
            "to_generation": state.to_generation, "source": state.source, "target": state.target,
            "phase": state.phase, "items_copied": state.copied, "records_applied": state.records_applied,
            "lag_seconds": state.lag_seconds, "caught_up_at": state.caught_up_at, "left_behind": state.unkeyed,
            "last_verify": state.verify, "retired": state.retired, "checkpoint": str(path)}


@migrate_app.command("status")
def status_command(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = LocalOption,
    endpoint_url: str = EndpointOption,
    output: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Each table in migration: generations, phase, items copied, replication lag, last verify.

    Read from the migrations' checkpoints (.jobwork/migrations/ENV/); nothing is called. Exit 0.

    Example: jobwork-infra migrate status --env dev --local
    """
    found = _ours(schema, env)
    records = [_status_record(path, state) for path, state in found]
    if output is Format.json:
        typer.echo(json.dumps({"env": env, "migrations": records}, indent=2))
        return
    if not records:
        stdout.print(f"No migrations in {env}.", markup=False)
        return
    for r in records:
        stdout.print(f"{r['table']}: generation {r['from_generation']} → {r['to_generation']} "
                     f"({r['source']} → {r['target']}): {r['phase']}"
                     + (f", {r['source']} {r['retired']}" if r["retired"] else ""), markup=False)
        lag = f"lag {r['lag_seconds']:.1f} s" if r["lag_seconds"] is not None else "lag unknown"
        stdout.print(f"  {r['items_copied']:,} items copied; {r['records_applied']:,} stream records replayed; "
                     f"{lag} (last catch-up {_ago(r['caught_up_at'])})", markup=False)
        if r["last_verify"]:
            v = r["last_verify"]
            stdout.print(f"  last verify: {v['source_items']:,} items, {v['differences']} difference(s)"
                         + "".join(f"; {kind} {key}" for kind, key in v["shown"][:5]), markup=False)
        if r["left_behind"]:
            stdout.print(f"  left behind: {r['left_behind']} item(s) in "
                         f"{Path(r['checkpoint']).with_suffix('.unkeyed.jsonl')}", markup=False)


@migrate_app.command("sync")
def sync_command(
    env: EnvOption,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = LocalOption,
    endpoint_url: str = EndpointOption,
    profile: str = ProfileOption,
    region: str = RegionOption,
) -> None:
    """Replay the old generation's writes into the new one, once, for every migration not finished.

    Locally this is the replication (on AWS a stream consumer does it); run it while the
    application still writes to the old generation. Exit 0.

    Example: jobwork-infra migrate sync --env dev --local
    """
    from ..migrate.catchup import catch_up
    from ..migrate.checkpoint import Checkpoint
    from ..migrate.copy import LeftBehindFile
    from ..migrate.keys import KeySchema
    from ..report.migrate import MigrateReport

    client, streams = _clients(local, endpoint_url, profile, region)
    pending = [(p, s) for p, s in _ours(schema, env) if s.phase != "finished"]
    if not pending:
        stdout.print(f"No migrations to sync in {env}.", markup=False)
        return
    for path, state in pending:
        if not state.at_least("copied"):
            stdout.print(f"{state.table}: the copy is not finished; `jobwork-infra deploy --env {env}"
                         f"{_target(local, endpoint_url)}` resumes it", markup=False)
            continue
        old_key = KeySchema.from_description(client.describe_table(TableName=state.source)["Table"])
        checkpoint = Checkpoint(path, state)
        catch_up(client, streams, checkpoint, LeftBehindFile(path.with_suffix(".unkeyed.jsonl"), old_key),
                 emit=MigrateReport(stdout))


@migrate_app.command("finish")
def finish_command(
    table: str = typer.Argument(..., metavar="TABLE", help="The table (its YAML key) whose old generation is "
                                                           "retired."),
    env: EnvOption = ...,
    schema: SchemaOption = SCHEMA_DEFAULT,
    local: bool = LocalOption,
    endpoint_url: str = EndpointOption,
    profile: str = ProfileOption,
    region: str = RegionOption,
    allow_destructive: bool = typer.Option(False, "--allow-destructive",
                                           help="Delete the old generation, after a backup (locally an export "
                                                "to .jobwork/backups/, on AWS CreateBackup)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Once the application uses the new generation: replay what is left, verify, retire the old one.

    The old generation is deleted only with --allow-destructive, after a backup; otherwise it stays in
    place, no longer replicated, and is listed. Refused (exit 3) while the generations differ.

    Example: jobwork-infra migrate finish users --env dev --local --allow-destructive
    """
    from ..migrate.checkpoint import Checkpoint
    from ..migrate.finish import finish
    from ..report.migrate import MigrateReport

    found = [(p, s) for p, s in _ours(schema, env) if s.table == table]
    if not found:
        raise JobworkError(f"no migration of table {table!r} in {env}",
                           f"`jobwork-infra migrate status --env {env}{_target(local, endpoint_url)}` lists them")
    path, state = found[-1]
    if state.phase == "finished":
        stdout.print(f"{table}: already finished ({state.source} {state.retired}).", markup=False)
        return
    if not state.at_least("copied"):
        raise JobworkError(f"the copy of {state.source} is not finished",
                           f"`jobwork-infra deploy --env {env}{_target(local, endpoint_url)}` resumes it")
    on_stack = None if local else _migrating_stack(schema, env, table, endpoint_url, profile, region)
    if on_stack is not None:
        clients, _ = on_stack
        client, streams = clients.dynamodb, clients.streams
    else:
        client, streams = _clients(local, endpoint_url, profile, region)
    if allow_destructive and not yes:
        items = client.describe_table(TableName=state.source)["Table"].get("ItemCount", 0)
        question = (f"Delete {state.source} (about {items:,} items, as DynamoDB last counted) after a backup, once "
                    f"{state.target} verifies equal?")
        if not sys.stdin.isatty():
            raise typer.BadParameter("no terminal to confirm on: pass --yes", param_hint="--yes")
        if not typer.confirm(question, default=False):
            stdout.print("Cancelled; nothing was changed.", markup=False)
            raise typer.Exit(0)
    if on_stack is not None:
        _finish_on_stack(on_stack, table, Checkpoint(path, state), allow_destructive)
        return
    done = finish(client, streams, Checkpoint(path, state), root=_root(), local=local or bool(endpoint_url),
                  allow_destructive=allow_destructive, emit=MigrateReport(stdout))
    if local:
        _forget(client, state.source)
    if done.deleted:
        stdout.print(f"Retired {done.source}: deleted after a backup ({done.backup}).", markup=False)
    else:
        stdout.print(f"Retired {done.source}: left in place with its {done.items:,} items, no longer replicated "
                     "nor managed; delete it yourself when it is not needed (or rerun with --allow-destructive).",
                     markup=False)


def _finish_on_stack(on_stack: tuple[Any, str], table: str, checkpoint: Any, allow_destructive: bool) -> None:
    """On a CloudFormation stack: the last replay and verify (finish, deleting nothing), then
    CreateBackup when the old generation is to go, then the stack updates that retire it and its
    consumer — the stack deletes it only with --allow-destructive (deploy/cloudformation/migrate.py)."""
    from ..deploy.cloudformation.migrate import retire
    from ..deploy.cloudformation.stack import STACK_WAIT_SECONDS
    from ..migrate.finish import aws_backup, finish
    from ..report.deploy import DeployReport
    from ..report.migrate import MigrateReport

    clients, stack = on_stack
    phase = checkpoint.state.phase
    done = finish(clients.dynamodb, clients.streams, checkpoint, root=_root(), local=False,
                  allow_destructive=False, emit=MigrateReport(stdout))
    backup = None
    if allow_destructive:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup = aws_backup(clients.dynamodb, done.source, f"{done.source}-before-retire-{stamp}"[:255])
    try:
        deleted = retire(clients, stack, table, allow_destructive=allow_destructive, emit=DeployReport(stdout),
                         timeout=STACK_WAIT_SECONDS)
    except BaseException:
        checkpoint.update(phase=phase)  # not finished while the stack still holds the old generation: rerun
        raise
    checkpoint.update(retired="deleted" if deleted else "kept")
    if deleted:
        stdout.print(f"Retired {done.source}: deleted by stack {stack} after a backup ({backup}).", markup=False)
    else:
        stdout.print(f"Retired {done.source}: out of stack {stack}, retained with its {done.items:,} items, no "
                     "longer replicated nor managed; delete it yourself when it is not needed (or rerun with "
                     "--allow-destructive).", markup=False)
