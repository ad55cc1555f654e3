"""Where the CLI gets its targets and readers: the one place that knows every concrete target.

`deploy`/`destroy` get the local engine or one CloudFormation target per stack (`make_targets`);
`import` and `drift` get the clients to read through (`open_sources`) and what they read
(`read_for_import`, `read_environment`). The flow never imports this module: the arrows run
cli → factory → targets → target.py ← flow.
"""

from __future__ import annotations

from ..errors import JobworkError
from ..importer import Imported
from ..load import did_you_mean
from ..model import ResolvedSchema
from ..project import Project
from . import DeployRequest
from .aws import aws_session
from .cloudformation.read import read_stack_environment, stack_tables, tables_from_template
from .cloudformation.target import environment_targets
from .dynamodb import EnvironmentState, Sources, list_table_names, read_live_table, unexpressed
from .events import Emit
from .local import engine as engines
from .local.client import client_for
from .local.live import read_local_environment
from .local.target import LocalTarget
from .shapes import table_from_live
from .target import Targets


def make_targets(project: Project, request: DeployRequest, emit: Emit, *, local: bool) -> Targets:
    """The local engine, or one CloudFormation target per stack of the environment (stack → target)."""
    if local:
        return LocalTarget(project, request, emit)
    return environment_targets(project, request, emit)


def read_environment(sources: Sources, head: ResolvedSchema, prefix: str | None) -> EnvironmentState:
    """What was deployed and what is live, for `drift`: the registry's tables locally, the stack's on AWS."""
    if sources.local:
        return read_local_environment(sources, head, prefix)
    return read_stack_environment(sources, head, prefix)


def open_sources(*, local: bool, endpoint_url: str | None, profile: str | None, region: str | None,
                 env: str, env_region: str | None) -> Sources:
    """The local engine (it must be running), or AWS (or an endpoint standing in for it)."""
    if local and endpoint_url:
        raise JobworkError("choose one target: --local or --endpoint-url")
    if local:
        state = engines.status()
        if state is None:
            raise JobworkError("no local engine is running, so there are no live tables to read",
                               "start it with `jobwork-infra local start` (or `deploy --env ENV --local`)")
        return Sources(client_for(state.endpoint), None, f"{state.label} ({state.endpoint})", True)
    session = aws_session(profile=profile, region=region or env_region, endpoint_url=endpoint_url, env=env)
    return Sources(session.client("dynamodb", endpoint_url=endpoint_url),
                   session.client("cloudformation", endpoint_url=endpoint_url),
                   endpoint_url or f"AWS ({session.region_name})", False)


def read_for_import(sources: Sources, names: list[str], head: ResolvedSchema, from_stack: str | None) -> list:
    """The tables to import, as `importer.Imported`, in the order asked (a stack's: by logical id)."""
    if from_stack is not None:
        if sources.cloudformation is None:
            raise JobworkError("--from-stack reads a CloudFormation stack; the local engine has none",
                               "drop --local (use --endpoint-url for an emulator), or import the tables by name")
        template, tables = stack_tables(sources.cloudformation, from_stack)
        if not tables:
            raise JobworkError(f"stack {from_stack} has no DynamoDB tables", "check the stack name")
        by_id = {t.logical_id: t for t in tables}
        by_name = {t.physical_name: t for t in tables}
        wanted = []
        for name in names or list(by_id):
            found = by_name.get(name) or by_id.get(name)
            if found is None:
                hint = did_you_mean(name, [*by_name, *by_id])
                raise JobworkError(f"stack {from_stack} has no table {name!r} (its tables: "
                                   f"{', '.join(f'{t.physical_name} ({t.logical_id})' for t in tables)})", hint)
            wanted.append(found)
        empty = head.model_copy(update={"tables": {}})
        models = tables_from_template(template, {t.logical_id: t.physical_name for t in wanted}, empty)
        out = []
        for found in wanted:
            notes = []
            policy = found.resource.get("DeletionPolicy", "Delete")
            if policy == "Delete":
                notes.append(f"stack {from_stack} deletes this table with its data if the table leaves the stack or "
                             "the stack is deleted (DeletionPolicy Delete): adopt it before changing that stack "
                             "(docs/adopt.md)")
            out.append(Imported(models[found.logical_id], f"stack {from_stack}, resource {found.logical_id}",
                                tuple(notes)))
        return out
    if not names:
        raise JobworkError("name the tables to import", "e.g. jobwork-infra import --env dev --local users tenant")
    out = []
    for name in names:
        live = read_live_table(sources.dynamodb, name, aws=not sources.local)
        if live is None:
            hint = did_you_mean(name, list_table_names(sources.dynamodb))
            raise JobworkError(f"no table named {name!r} at {sources.label}",
                               hint or "list them with `aws dynamodb list-tables`")
        table = table_from_live(live, key=name, tenancy_attribute=head.tenancy_attribute)
        out.append(Imported(table, f"live table {name}", tuple(unexpressed(live))))
    return out


