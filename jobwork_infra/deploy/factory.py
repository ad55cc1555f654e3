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
from ..model import Encryption, ResolvedSchema
from ..project import Project
from . import DeployRequest
from .aws import aws_session
from .cloudformation.read import read_stack_environment
from .cloudformation.source_stack import imported_from_stack, unkept_note
from .cloudformation.target import environment_targets
from .dynamodb import EnvironmentState, Sources, list_table_names, read_live_table, unexpressed
from .events import Emit
from .live_settings import key_is_customers, read_live_settings
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
                   endpoint_url or f"AWS ({session.region_name})", False,
                   kms=session.client("kms", endpoint_url=endpoint_url))


def list_tables_command(sources: Sources) -> str:
    """`aws dynamodb list-tables` reaching the same tables: the local engine's endpoint, region and
    dummy credentials, or the run's endpoint, profile and region (issue 23: without them it lists the
    real account)."""
    from ..followup import Invocation, aws_command
    from .aws import LOCAL_CREDENTIALS, LOCAL_REGION

    invocation = sources.rerun or Invocation(local=sources.local)
    return aws_command(invocation, "dynamodb", "list-tables", local_endpoint=sources.dynamodb.meta.endpoint_url,
                       local_region=LOCAL_REGION, local_credentials=LOCAL_CREDENTIALS)


def read_for_import(sources: Sources, names: list[str], head: ResolvedSchema, from_stack: str | None) -> list:
    """The tables to import, as `importer.Imported`, in the order asked (a stack's: by logical id)."""
    if from_stack is not None:
        if sources.cloudformation is None:
            raise JobworkError("--from-stack reads a CloudFormation stack; the local engine has none",
                               "drop --local (use --endpoint-url for an emulator), or import the tables by name")
        # The live tables for their shape; the stack's template (any format, intrinsics resolved) for
        # logical ids, policies, references and the properties the schema cannot keep (refused).
        return imported_from_stack(sources.dynamodb, sources.cloudformation, from_stack, names,
                                   head.tenancy_attribute)
    if not names:
        raise JobworkError("name the tables to import", "e.g. jobwork-infra import --env dev --local users tenant")
    out = []
    for name in names:
        live = read_live_table(sources.dynamodb, name, aws=not sources.local)
        if live is None:
            hint = did_you_mean(name, list_table_names(sources.dynamodb))
            raise JobworkError(f"no table named {name!r} at {sources.label}",
                               hint or f"list them with `{list_tables_command(sources)}`")
        table = table_from_live(live, key=name, tenancy_attribute=head.tenancy_attribute)
        settings = read_live_settings(sources.dynamodb, live.description)
        notes = [*unexpressed(live, table),
                 *(unkept_note(r.path, r.property.reason, r.property.way_forward) for r in settings.refusals)]
        key = (live.description.get("SSEDescription") or {}).get("KMSMasterKeyArn")
        if key and sources.kms is not None and key_is_customers(sources.kms, key):
            # DescribeTable does not say whose key it is; KMS does (KeyManager CUSTOMER).
            table = table.model_copy(update={"encryption": Encryption(type="customer_managed", kms_key_arn=key)})
            notes = [n for n in notes if not n.startswith("encrypted with the KMS key")]
        out.append(Imported(table, f"live table {name}", tuple(notes)))
    return out


