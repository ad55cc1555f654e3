"""The CloudFormation target of the deploy flow (flow.py): one environment's stack, through change sets.

Reading: the stack (status and original template) → the deployed schema rebuilt from that template,
and the record of TTL changes in its Metadata. Applying one step: synth in process → TTL disabled
explicitly → change set → second guard on CloudFormation's own Replacement flags → execute → wait,
emitting the stack events. The flow then waits for the tables (settle.py), since CloudFormation
reports UPDATE_COMPLETE before a new index is ACTIVE.

Why the plan is computed from the deployed *template* and not from the live tables: the template is
what CloudFormation will diff against, so it is the base that predicts what a change set does. The
schema hash in its Metadata names the schema that made it; an identical template means nothing to
do, and no change set is created at all (a no-op redeploy costs two read calls).

boto3 is imported only inside functions: `validate` and `diff` must not pay for it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..budgets import MAX_TEMPLATE_S3
from ..changes import Plan, Severity, Step
from ..diff import gsi_operations
from ..errors import Blocked, JobworkError
from ..model import (
    Attribute,
    ResolvedSchema,
    ResolvedTable,
    Table,
    effective_option,
)
from ..project import Project
from . import DeployRequest
from .adopt import Adoption, announce, gate_adoption
from .cloudformation_adopt import find_stack_adoption, run_adoption
from .events import Emit, Failed, Note, Outputs, StackEvent
from .flow import DeployedState
from .settle import verify, wait_settled
from .shapes import (
    billing_from,
    capacity_from,
    encryption_from_spec,
    indexes_from,
    keys_from,
    table_class_from,
    tags_from,
    tenant_scoped_from,
)

# CloudFormation's limit for TemplateBody; bigger templates must be passed as an S3 URL.
MAX_INLINE_TEMPLATE = 51_200
MAX_S3_TEMPLATE = MAX_TEMPLATE_S3  # through S3 (TemplateURL); the budgets' reading of "1 MB"
# Seconds between the waiters' polls. The botocore defaults (30 s) would leave the progress view
# silent for half a minute at a time; tests set these to 0.
STACK_POLL_SECONDS = 5
CHANGE_SET_POLL_SECONDS = 2
# A GSI backfill on a large table can take hours; give up waiting after a day.
STACK_WAIT_SECONDS = 24 * 3600
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
LOCAL_REGION = "us-east-1"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
TABLE_TYPE = "AWS::DynamoDB::Table"
# Statuses a stack may be deployed over; REVIEW_IN_PROGRESS is a stack created by a change set that
# was never executed: it has no resources and takes a CREATE change set.
_UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
              "IMPORT_ROLLBACK_COMPLETE"}
_EMPTY_CHANGE_SET = ("didn't contain changes", "No updates are to be performed")
TTL_RECORD = "TtlChangedAt"  # Metadata.JobworkInfra.TtlChangedAt: table key → ISO time of its last TTL change
# Metadata.JobworkInfra.IndexesChanged: the keys of the tables whose global indexes the update that
# sent this template created or deleted. CloudFormation reports the stack complete before such an
# index is ACTIVE (settle.py cites it); everything else it waits for. So a later run needs to wait
# only for these tables before planning, instead of describing every table of the stack.
SETTLING_RECORD = "IndexesChanged"


@dataclass
class Clients:
    cloudformation: Any
    s3: Any
    dynamodb: Any = None


def make_clients(request: DeployRequest, region: str | None) -> Clients:
    """Clients from one boto3 session (`aws_session`), all pointed at --endpoint-url when given."""
    session = aws_session(profile=request.profile, region=request.region or region,
                          endpoint_url=request.endpoint_url, env=request.env)
    return Clients(
        cloudformation=session.client("cloudformation", endpoint_url=request.endpoint_url),
        # Only a template over the inline limit needs S3; loading its API model costs ~0.2 s.
        s3=_Lazy(lambda: session.client("s3", endpoint_url=request.endpoint_url)),
        # Not needed by a redeploy that changes nothing (no table to wait for).
        dynamodb=_Lazy(lambda: session.client("dynamodb", endpoint_url=request.endpoint_url)),
    )


def aws_session(*, profile: str | None, region: str | None, endpoint_url: str | None, env: str) -> Any:
    """A boto3 Session(profile, region), for deploy and destroy and for `import` and `drift`.

    An emulator on this machine (moto) accepts any credentials and region; when none are configured
    fixed ones are used, so `deploy --endpoint-url http://127.0.0.1:PORT` works on a fresh machine.
    """
    import boto3
    from botocore.exceptions import NoRegionError, ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        if _is_loopback(endpoint_url):
            credentials = {} if session.get_credentials() else LOCAL_CREDENTIALS
            session = boto3.Session(profile_name=profile, region_name=session.region_name or LOCAL_REGION,
                                    **credentials)
        if session.region_name is None:
            raise NoRegionError()
        return session
    except ProfileNotFound as exc:
        raise JobworkError(str(exc), "check the name with `aws configure list-profiles`") from None
    except NoRegionError:
        raise JobworkError(f"no AWS region for environment {env!r}",
                           f"pass --region, or set region: under environments.{env} in the schema") from None


class _Lazy:
    """A client made on its first use."""

    def __init__(self, make: Any):
        self._make, self._client = make, None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def _is_loopback(url: str | None) -> bool:
    from urllib.parse import urlparse

    return bool(url) and urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn botocore failures into JobworkError with what to do, never a traceback."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        WaiterError,
    )
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise JobworkError(f"{action} failed: {error.get('Code', 'error')}: {error.get('Message', exc)}") from None
    except NoCredentialsError:
        raise JobworkError(f"{action} failed: no AWS credentials",
                           "pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
    except EndpointConnectionError as exc:
        raise JobworkError(f"{action} failed: cannot reach {exc.kwargs.get('endpoint_url')}",
                           "check --endpoint-url and that the server there is running") from None
    except WaiterError as exc:
        raise JobworkError(f"{action} failed: {exc}") from None
    except BotoCoreError as exc:
        raise JobworkError(f"{action} failed: {exc}") from None
    except ResponseParserError:
        # What an emulator answers for an action it lacks (moto: UpdateTerminationProtection).
        raise JobworkError(f"{action} failed: the endpoint's answer is not an AWS response",
                           "the endpoint may not implement this action; try it against AWS") from None


def _synth(resolved: ResolvedSchema) -> dict:
    from ..compile import synth_template

    return synth_template(resolved)


# ---------------------------------------------------------------------------------------------
# The deployed template → the schema it was made from

_DELETION_POLICY = {"Delete": "destroy", "Retain": "retain", "RetainExceptOnCreate": "retain",
                    "Snapshot": "retain"}
_RETAINED = ("Retain", "RetainExceptOnCreate", "Snapshot")


def deployed_tables(template: dict) -> dict[str, dict]:
    """logical id → resource, for the DynamoDB tables of a template."""
    return {lid: r for lid, r in (template.get("Resources") or {}).items()
            if isinstance(r, dict) and r.get("Type") == TABLE_TYPE}


def schema_from_template(template: dict, head: ResolvedSchema) -> ResolvedSchema:
    """The schema a deployed template stands for, as far as the template can tell.

    Keys, indexes, TTL, stream, billing, capacity, table class, encryption, PITR, deletion
    protection, tags and DeletionPolicy come from the template. What only the YAML knows
    (descriptions, non-key attributes, access patterns, tenant scoping) is taken from the head, so it never shows up as a change.
    """
    by_logical_id = {t.logical_id: t for t in head.tables.values()}
    by_name = {t.physical_name: t for t in head.tables.values()}
    tables: dict[str, ResolvedTable] = {}
    for lid, resource in deployed_tables(template).items():
        props = resource.get("Properties") or {}
        tags = {t.get("Key"): t.get("Value") for t in props.get("Tags") or [] if isinstance(t, dict)}
        # The built-in `table` tag is the YAML key; a stack made elsewhere falls back on ids and names.
        mine = (head.tables.get(tags.get("table", "")) or by_logical_id.get(lid)
                or by_name.get(props.get("TableName")))
        key = tags.get("table") or (mine.key if mine else _key_from_logical_id(lid))
        table = _table_from_resource(key, lid, resource, mine, head)
        tables[key] = table
    # The head's order where it can tell: the dict order is what a plan lists tables in.
    ordered = {k: tables[k] for k in head.tables if k in tables}
    ordered.update({k: t for k, t in tables.items() if k not in ordered})
    return head.model_copy(update={"tables": ordered})


def _key_from_logical_id(logical_id: str) -> str:
    import re

    stem = logical_id.removesuffix("Table") or logical_id
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


def _table_from_resource(key: str, lid: str, resource: dict, mine: ResolvedTable | None,
                         head: ResolvedSchema) -> ResolvedTable:
    props = resource.get("Properties") or {}
    partition_key, sort_key = keys_from(props.get("AttributeDefinitions"), props.get("KeySchema"))
    billing = billing_from(props.get("BillingMode"))
    global_indexes, local_indexes = indexes_from(props, mine, head.tenancy_attribute, billing == "provisioned")
    ttl_spec = props.get("TimeToLiveSpecification") or {}
    stream = (props.get("StreamSpecification") or {}).get("StreamViewType")
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    removal = _DELETION_POLICY.get(resource.get("DeletionPolicy", "Delete"), "destroy")
    attributes = dict(mine.attributes) if mine else {
        a.get("AttributeName"): Attribute(type={"N": "number", "B": "binary"}.get(a.get("AttributeType"), "string"))
        for a in props.get("AttributeDefinitions") or [] if isinstance(a, dict)}
    return ResolvedTable(
        key=key,
        logical_id=lid,
        physical_name=props.get("TableName") if isinstance(props.get("TableName"), str) else lid,
        description=mine.description if mine else None,
        tenant_scoped=tenant_scoped_from(partition_key, mine, head.tenancy_attribute),
        partition_key=partition_key,
        sort_key=sort_key,
        attributes=attributes,
        global_indexes=global_indexes,
        local_indexes=local_indexes,
        ttl=ttl_spec.get("AttributeName") if ttl_spec.get("Enabled") in (True, "true") else None,
        stream=stream.lower() if isinstance(stream, str) else None,
        billing=billing,
        capacity=capacity_from(props.get("ProvisionedThroughput")) if billing == "provisioned" else None,
        table_class=table_class_from(props.get("TableClass")),
        encryption=encryption_from_spec(props.get("SSESpecification"), mine),
        point_in_time_recovery=pitr.get("PointInTimeRecoveryEnabled") in (True, "true"),
        deletion_protection=props.get("DeletionProtectionEnabled") in (True, "true"),
        removal_policy=removal,
        tags=tags_from(props.get("Tags")),
        access_patterns=mine.access_patterns if mine else (),
    )


def environment_stacks(clients: Clients, head: ResolvedSchema) -> list[str]:
    """The stacks of an environment: the schema's (`ResolvedSchema.stacks`, in deploy order), then
    any deployed `{app}-{env}-NAME` stack of this environment that the schema no longer names (its
    tables moved or removed), by name. A deployed stack counts only when its template's Metadata
    says this app's environment: `{app}-dev-x` may be the main stack of an environment `dev-x`.
    """
    names = list(head.stacks)
    prefix = f"{head.stack_name}-"
    with aws_errors("listing the stacks"):
        found = sorted({s["StackName"] for page in clients.cloudformation.get_paginator("list_stacks").paginate()
                        for s in page.get("StackSummaries", [])
                        if s.get("StackStatus") != "DELETE_COMPLETE" and s["StackName"].startswith(prefix)
                        and s["StackName"] not in names})
        for name in found:
            meta = (_Stack(clients.cloudformation, name).template().get("Metadata") or {}).get("JobworkInfra") or {}
            if meta.get("Environment") == head.env and name.startswith(prefix):
                names.append(name)
    return names


def environment_targets(project: Project, request: DeployRequest, emit: Emit, *, action: str = "deploy",
                        clients: Clients | None = None) -> dict[str, CloudFormationTarget]:
    """One target per stack of the environment (`environment_stacks`), sharing one set of clients:
    what the flow deploys or destroys, in this order."""
    head = project.resolve(request.env)
    clients = clients or make_clients(request, head.region)
    return {name: CloudFormationTarget(project, request, emit, clients, action=action, stack=name)
            for name in environment_stacks(clients, head)}


# ---------------------------------------------------------------------------------------------
# The stack, through one client

@dataclass
class _Stack:
    cfn: Any
    name: str

    def describe(self) -> dict | None:
        """The stack, or None when there is none (CloudFormation says so with a ValidationError)."""
        from botocore.exceptions import ClientError

        try:
            return self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise

    def template(self) -> dict:
        body = self.cfn.get_template(StackName=self.name, TemplateStage="Original")["TemplateBody"]
        if isinstance(body, str):  # botocore decodes JSON bodies; a YAML one was not written by this tool
            try:
                body = json.loads(body)
            except ValueError:
                raise JobworkError(f"stack {self.name} has a template that is not JSON: it was not deployed "
                                   "by jobwork-infra", "deploy to a new stack name, or delete this stack") from None
        return json.loads(json.dumps(body))  # plain dicts, numbers as JSON gives them


def _refuse_in_progress(stack: dict, action: str) -> None:
    """A stack another operation is working on is reported, never touched."""
    status, name = stack["StackStatus"], stack["StackName"]
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
        raise JobworkError(
            f"stack {name} is {status}{reason}: another operation is running on it; nothing was changed",
            f"wait for it to finish (aws cloudformation describe-stacks --stack-name {name}), then {action} again")


def _check_status(stack: dict, env: str) -> None:
    status = stack["StackStatus"]
    name = stack["StackName"]
    if status == "REVIEW_IN_PROGRESS" or status in _UPDATABLE:
        return
    _refuse_in_progress(stack, "deploy")
    reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
    if status == "ROLLBACK_COMPLETE":
        raise JobworkError(
            f"stack {name} is ROLLBACK_COMPLETE: its creation failed and was rolled back, and CloudFormation "
            "cannot update a stack in this state",
            f"delete it with `jobwork-infra destroy --env {env}`, then deploy again")
    if status == "UPDATE_ROLLBACK_FAILED":
        raise JobworkError(
            f"stack {name} is UPDATE_ROLLBACK_FAILED{reason}: a rollback could not finish",
            f"fix the cause, then run `aws cloudformation continue-update-rollback --stack-name {name}`, "
            "and deploy again")
    raise JobworkError(f"stack {name} is {status}{reason} and cannot be updated",
                       f"look at its events in the CloudFormation console; `jobwork-infra destroy --env {env}` "
                       "deletes it")


# ---------------------------------------------------------------------------------------------
# Live progress: the waiter polls DescribeStacks; each poll also emits the new stack events.

@dataclass
class _Progress:
    cfn: Any
    stack_id: str
    emit: Emit
    started: float = field(default_factory=time.monotonic)
    seen: set[str] = field(default_factory=set)
    events: list[dict] = field(default_factory=list)

    def baseline(self) -> None:
        """Mark the events already there, so only this operation's events are shown."""
        page = self.cfn.describe_stack_events(StackName=self.stack_id)
        self.seen.update(e["EventId"] for e in page.get("StackEvents", []))

    def poll(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        new: list[dict] = []
        try:
            for page in self.cfn.get_paginator("describe_stack_events").paginate(StackName=self.stack_id):
                fresh = [e for e in page.get("StackEvents", []) if e["EventId"] not in self.seen]
                new += fresh
                if len(fresh) < len(page.get("StackEvents", [])):
                    break  # newest first: a known event means the rest are known too
        except ClientError:
            return  # events are a view; the waiter decides success
        for event in reversed(new):
            self.seen.add(event["EventId"])
            self.events.append(event)
            self.emit(StackEvent(event.get("ResourceStatus", ""), event.get("LogicalResourceId", ""),
                                 event.get("ResourceType", ""), event.get("ResourceStatusReason") or "",
                                 time.monotonic() - self.started))

    def failures(self) -> list[dict]:
        return [e for e in self.events if e.get("ResourceStatus", "").endswith("_FAILED")]


def _wait_stack(cfn: Any, waiter_name: str, stack: str, progress: _Progress, timeout: float) -> bool:
    """Wait with the botocore waiter, emitting events; False when the stack ended in failure."""
    from botocore.exceptions import WaiterError

    event = "after-call.cloudformation.DescribeStacks"
    cfn.meta.events.register(event, progress.poll)
    delay = STACK_POLL_SECONDS
    try:
        cfn.get_waiter(waiter_name).wait(
            StackName=stack,
            WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout // max(delay, 1)))})
        return True
    except WaiterError as exc:
        if "Max attempts exceeded" in str(exc):
            raise JobworkError(f"gave up waiting for stack {stack} after {timeout:.0f} s (--timeout); "
                               "CloudFormation is still working on it",
                               "follow it in the CloudFormation console; once it is complete, run deploy "
                               "again to resume") from None
        progress.poll()
        return False
    finally:
        cfn.meta.events.unregister(event, progress.poll)


def _failure(cfn: Any, stack_id: str, progress: _Progress, what: str) -> JobworkError:
    failed = progress.failures()
    if failed:
        progress.emit(Failed(tuple(
            f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): "
            f"{e.get('ResourceStatusReason') or e.get('ResourceStatus')}" for e in failed)))
    final = "gone"
    try:
        stacks = cfn.describe_stacks(StackName=stack_id)["Stacks"]
        if stacks:
            final = stacks[0]["StackStatus"]
    except Exception:  # noqa: BLE001 — the failure above is what matters; the state is extra
        final = "unknown"
    return JobworkError(f"{what} failed; the stack is now {final}",
                        "fix the cause shown above and deploy again")


# ---------------------------------------------------------------------------------------------
# The template sent: the synthesized one, with what the deploy itself records

def _compact(template: dict) -> str:
    return json.dumps(template, separators=(",", ":"))


def _canonical(template: dict) -> str:
    """The template as compared: the record of the last update's index changes is not part of what it deploys."""
    meta = (template.get("Metadata") or {}).get("JobworkInfra") or {}
    if SETTLING_RECORD in meta:
        template = {**template, "Metadata": {**template["Metadata"], "JobworkInfra": {
            k: v for k, v in meta.items() if k != SETTLING_RECORD}}}
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


def settling_record(template: dict) -> list[str] | None:
    """Keys of the tables whose indexes may still be settling; None when the template has no record."""
    record = ((template.get("Metadata") or {}).get("JobworkInfra") or {}).get(SETTLING_RECORD)
    return [k for k in record if isinstance(k, str)] if isinstance(record, list) else None


def ttl_record(template: dict) -> dict[str, datetime]:
    """Table key → when its TTL last changed, as recorded in the template's Metadata."""
    record = ((template.get("Metadata") or {}).get("JobworkInfra") or {}).get(TTL_RECORD) or {}
    out = {}
    for key, stamp in record.items():
        try:
            out[key] = datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            continue  # a hand-edited record is ignored rather than trusted
    return out


def prepare_template(template: dict, target: ResolvedSchema, current: dict | None,
                     ttl_changed: dict[str, datetime]) -> dict:
    """The synthesized template, plus TTL disabled explicitly and the record of TTL changes.

    A TTL that leaves the schema is sent as `Enabled: false` with the attribute it had: leaving
    TimeToLiveSpecification out leaves TTL on in AWS (https://github.com/aws/aws-cdk/issues/10576)
    or fails the update (https://github.com/aws/aws-cdk/issues/25655). The record of when each
    table's TTL last changed rides in the template's Metadata, so the next deploy knows when AWS's
    one-hour window ends.
    """
    template = json.loads(json.dumps(template))
    current_tables = deployed_tables(current or {})
    by_logical_id = {t.logical_id: t for t in target.tables.values()}
    for lid, resource in deployed_tables(template).items():
        table = by_logical_id.get(lid)
        props = resource.setdefault("Properties", {})
        if table is None or table.ttl is not None or "TimeToLiveSpecification" in props:
            continue
        old = ((current_tables.get(lid) or {}).get("Properties") or {}).get("TimeToLiveSpecification") or {}
        if isinstance(old.get("AttributeName"), str):
            props["TimeToLiveSpecification"] = {"AttributeName": old["AttributeName"], "Enabled": False}
    if ttl_changed:
        keys = [k for k in target.tables if k in ttl_changed]
        meta = template.setdefault("Metadata", {}).setdefault("JobworkInfra", {})
        meta[TTL_RECORD] = {k: ttl_changed[k].astimezone(UTC).isoformat(timespec="seconds") for k in keys}
    return template


def _policies(template: dict) -> tuple[str, ...]:
    """The tenant policies of a deployed template, as a destroy lists them (they go with the stack)."""
    return tuple(f"IAM managed policy {(r.get('Properties') or {}).get('ManagedPolicyName') or lid}"
                 for lid, r in (template.get("Resources") or {}).items() if r.get("Type") == "AWS::IAM::ManagedPolicy")


def _environment_retains(project: Project, env: str) -> bool:
    """Prod-like: tables outlive the stack (retain), so the stack gets termination protection."""
    return effective_option(project.schema, env, Table(), "removal_policy") != "destroy"


# ---------------------------------------------------------------------------------------------
# The target

class CloudFormationTarget:
    """One environment's stack, as the deploy flow's target."""

    replaces_in_place = False  # CloudFormation never replaces a table that keeps its name
    # The deploy lock is per machine (deploy/lock.py); deploys from elsewhere are kept apart by
    # CloudFormation itself, which refuses to update a stack while an update is in progress.
    lock_scope = "cloudformation"

    def __init__(self, project: Project, request: DeployRequest, emit: Emit, clients: Clients | None = None,
                 *, action: str = "deploy", stack: str | None = None):
        self.project, self.request, self.emit, self.action = project, request, emit, action
        self.head = project.resolve(request.env)
        self.clients = clients or make_clients(request, self.head.region)
        self.cfn = self.clients.cloudformation
        # One target per stack of the environment (`stack_targets`); the flow passes each its view.
        self.stack = _Stack(self.cfn, stack or self.head.stack_name)
        self.described: dict | None = None
        self.current: dict | None = None     # the template the stack has now
        self.exists = False
        self.templates: dict[str, dict] = {}
        self.adoption = Adoption()

    # -- reading --------------------------------------------------------------------------------

    def read(self, head: ResolvedSchema) -> DeployedState:
        state = self._read_stack(head)
        if self.action != "deploy":
            return state  # destroy: tables the stack does not hold are none of its business
        with aws_errors("reading the live tables"):
            self.adoption = find_stack_adoption(self.clients.dynamodb, self.cfn, head, state.base,
                                                self.request.from_stack)
        source = f"--endpoint-url {self.request.endpoint_url}" if self.request.endpoint_url else ""
        gate_adoption(self.adoption, head, adopt=self.request.adopt, source=source)
        if self.adoption.candidates:
            state.base = self.adoption.base(state.base, head)
            state.adopting = tuple(self.adoption.names)
            state.up_to_date = False
        return state

    def announce(self, head: ResolvedSchema) -> None:
        announce(self.adoption, head, self.emit)

    def adopt(self, state: DeployedState) -> None:
        """Retain and remove (--from-stack), then import: cloudformation_adopt.py; the steps follow."""
        self.current = run_adoption(self.clients, self.stack.name, self.current if self.exists else None,
                                    self.adoption, self.head, _synth, self.emit, self._timeout())
        self.exists = True

    def drift(self, head: ResolvedSchema, state: DeployedState):
        """The deployed template against the live tables (drift.py), read through this target's clients."""
        from ..drift import find_drift
        from .inspect import Sources, read_stack_environment

        if state.base is None or not self.exists:
            return None
        sources = Sources(self.clients.dynamodb, self.cfn, self.request.endpoint_url or "AWS", False)
        with aws_errors("reading the live tables for drift"):
            read = read_stack_environment(sources, head, None)
        return find_drift(head, read.reference, read.live, target="cloudformation",
                          reference_label=read.reference_label, where=read.where)

    def _read_stack(self, head: ResolvedSchema) -> DeployedState:
        where = f"stack {head.stack_name}"
        with aws_errors(f"reading stack {head.stack_name}"):
            self.described = self.stack.describe()
        if self.described is None:
            return DeployedState(None, where)
        if self.action == "deploy":
            _check_status(self.described, self.request.env)
        else:
            _refuse_in_progress(self.described, self.action)
        self.exists = self.described["StackStatus"] != "REVIEW_IN_PROGRESS"
        if not self.exists:
            return DeployedState(None, where, exists=True)
        with aws_errors(f"reading the template of stack {head.stack_name}"):
            self.current = self.stack.template()
        deployed_hash = ((self.current.get("Metadata") or {}).get("JobworkInfra") or {}).get("SchemaHash")
        if deployed_hash is None:
            self.emit(Note(f"stack {head.stack_name} was not deployed by jobwork-infra (no schema hash in its "
                           "template): its tables are matched by name and tag", warning=True))
        record = ttl_record(self.current)
        # The deployed template is what a saved plan and the re-check after the prompt compare.
        fingerprint = hashlib.sha256(_canonical(self.current).encode()).hexdigest()
        read_back = {"where": where, "ttl_changed": record, "exists": True, "fingerprint": fingerprint,
                         "other_resources": _policies(self.current),
                         "termination_protection": bool(self.described.get("EnableTerminationProtection"))}
        if self._made_from(head):
            # Made from exactly `head`: the deployed schema is `head`, no need to rebuild it from the template.
            state = DeployedState(head, up_to_date=True, **read_back)
        else:
            state = DeployedState(schema_from_template(self.current, head), **read_back)
        settling = settling_record(self.current)
        if settling is not None and state.base is not None:
            state.unsettled = [t.physical_name for k, t in state.base.tables.items() if k in settling]
        if not state.up_to_date:
            state.up_to_date = _canonical(self.current) == _canonical(self._template(head, record))
            state.template_differs = not state.up_to_date
        return state

    def _made_from(self, head: ResolvedSchema) -> bool:
        """The deployed template was made by this version of the tool from exactly `head`: no synth needed.

        A template is a function of the schema (its hash), the tool's version and what the deploy
        itself records (TTL changes, carried over from the deployed template), so comparing the two
        stamps says what a synth and a comparison would, without the seconds a synth of hundreds of
        tables takes. Any other template (another version, hand-made, or a stamp that does not match)
        is compared in full.
        """
        from .. import __version__

        meta = ((self.current or {}).get("Metadata") or {}).get("JobworkInfra") or {}
        return meta.get("SchemaHash") == head.schema_hash and meta.get("Version") == __version__

    def wait_settled(self, names: list[str], deadline: float) -> None:
        with aws_errors("reading the tables"):
            wait_settled(self.clients.dynamodb, names, deadline=deadline, emit=self.emit, sleep=time.sleep,
                         resume_hint=f"stack {self.stack.name} is consistent (every applied step is complete); "
                                     "run deploy again to resume: it waits for these first")

    def check_live(self, state: DeployedState, plan: Plan) -> list[tuple[str, str]]:
        """Stray indexes and tables gone behind the stack's back; physical names the plan needs, taken."""
        from botocore.exceptions import ClientError

        problems = []
        ddb = self.clients.dynamodb

        def describe(name: str) -> dict | None:
            try:
                return ddb.describe_table(TableName=name)["Table"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return None
                raise

        self._check_template_sizes(plan, state)
        with aws_errors("reading the live tables"):
            base = state.base.tables if state.base is not None else {}
            for table in base.values():
                live = describe(table.physical_name)
                if live is None:
                    problems.append(((f"table {table.physical_name} of stack {self.stack.name} does not exist "
                                     "(deleted outside CloudFormation?)"),
                                     ("restore it from a backup under the same name, or remove it from the stack "
                                     "(retain it, then delete it from the schema)")))
                    continue
                known = {i.name for i in table.global_indexes}
                for index in live.get("GlobalSecondaryIndexes") or []:
                    name = index["IndexName"]
                    if name not in known:
                        problems.append((
                            (f"index {name} of table {table.physical_name} exists ({index.get('IndexStatus')}) but "
                            f"the template of stack {self.stack.name} does not have it (left by a rolled-back "
                            "update, or made by hand)"),
                            (f"delete it (aws dynamodb update-table --table-name {table.physical_name} "
                            f"--global-secondary-index-updates '[{{\"Delete\":{{\"IndexName\":\"{name}\"}}}}]'), "
                            "wait until it is gone, then deploy again")))
            owned = {t.physical_name for t in base.values()}
            for table in plan.head.tables.values():
                if table.physical_name in owned:
                    continue
                if describe(table.physical_name) is not None:
                    problems.append((
                        (f"table {table.physical_name} already exists outside stack {self.stack.name} (a table "
                        "retained by an earlier deploy, or made by hand): creating it would fail"),
                        ("give the new table another table_name in the schema, or delete or rename the existing "
                        "table if its data is not needed")))
        return problems

    def _check_template_sizes(self, plan: Plan, state: DeployedState) -> None:
        """Before any change: a template over the inline limit needs --template-bucket, and the bucket must answer.

        Checked for every step of every stack before the first change set, so a deploy never stops
        half-way over an option it could have asked for at the start.
        """
        sizes = [len(_compact(self._template(step.target, state.ttl_changed)).encode()) for step in plan.steps]
        size = max(sizes, default=0)
        if size <= MAX_INLINE_TEMPLATE:
            return
        if size > MAX_S3_TEMPLATE:
            raise JobworkError(
                f"the template of stack {self.stack.name} is {size:,} bytes, over CloudFormation's {MAX_S3_TEMPLATE:,}-byte "
                "limit even through S3; nothing was changed",
                "split its tables over more stacks (`stack: NAME`); `jobwork-infra validate` says where (B003)")
        if not self.request.template_bucket:
            raise JobworkError(
                f"the template of stack {self.stack.name} is {size:,} bytes, over CloudFormation's "
                f"{MAX_INLINE_TEMPLATE:,}-byte limit for templates sent inline; nothing was changed",
                "pass --template-bucket BUCKET (an S3 bucket in the stack's region that you can write to), "
                "or split the tables over more stacks (`stack: NAME`)")
        with aws_errors(f"checking the template bucket {self.request.template_bucket}"):
            self.clients.s3.head_bucket(Bucket=self.request.template_bucket)

    # -- applying -------------------------------------------------------------------------------

    def _template(self, target: ResolvedSchema, ttl_changed: dict[str, datetime]) -> dict:
        if target.schema_hash not in self.templates:
            self.templates[target.schema_hash] = _synth(target)
        return prepare_template(self.templates[target.schema_hash], target, self.current, ttl_changed)

    def apply(self, step: Step, before: ResolvedSchema | None, state: DeployedState) -> bool:
        body = self._template(step.target, state.ttl_changed)
        old = before.tables if before is not None else {}
        meta = body.setdefault("Metadata", {}).setdefault("JobworkInfra", {})
        meta[SETTLING_RECORD] = [k for k, t in step.target.tables.items()
                                 if k in old and gsi_operations(old[k], t)]
        done = _deploy_template(self.clients, self.stack, body, step, before, self.exists, self.request, self.emit)
        if not done and step.changes:
            self.emit(Note("nothing to change in this step"))
        self.exists, self.current = True, body
        return done

    def verify(self, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]:
        with aws_errors("verifying the tables"):
            return verify(self.clients.dynamodb, plan, applied)

    def count_items(self, names: list[str]) -> dict[str, tuple[int, str]]:
        """DescribeTable's ItemCount: "DynamoDB updates this value approximately every six hours"
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html),
        so it is reported as approximate; a Scan of a production table to count it would cost reads."""
        from botocore.exceptions import ClientError

        counts: dict[str, tuple[int, str]] = {}
        with aws_errors("reading the tables the plan deletes"):
            for name in names:
                try:
                    count = self.clients.dynamodb.describe_table(TableName=name)["Table"].get("ItemCount")
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                        continue  # gone behind the stack's back: check_live says so next
                    raise
                if count is not None:
                    counts[name] = (int(count), "approximately")
        return counts

    def finish(self, changed: bool) -> int:
        if not changed and self.described is not None and self.exists:
            final = self.described  # as read: nothing was applied since
        else:
            with aws_errors(f"reading stack {self.stack.name}"):
                final = self.stack.describe()
        if final is None:
            return 0
        code = _protect(self.cfn, final, self.project, self.request, self.emit)
        outputs = sorted(final.get("Outputs") or [], key=lambda o: o.get("OutputKey", ""))
        if outputs:
            self.emit(Outputs(tuple((o.get("OutputKey", ""), o.get("OutputValue", "")) for o in outputs)))
        return code

    def destroy(self, state: DeployedState) -> tuple[str, ...]:
        deployed = self.described  # read() refused a stack in progress
        if deployed is None:
            return ()
        stack_id = deployed["StackId"]
        progress = _Progress(self.cfn, stack_id, self.emit)
        with aws_errors(f"deleting stack {self.stack.name}"):
            if deployed.get("EnableTerminationProtection"):
                # Only now, after the user said yes: a refused destroy leaves the protection on.
                self.cfn.update_termination_protection(StackName=stack_id, EnableTerminationProtection=False)
                self.emit(Note(f"termination protection turned off on stack {self.stack.name}, to delete it"))
            progress.baseline()
            self.cfn.delete_stack(StackName=stack_id)
            ok = _wait_stack(self.cfn, "stack_delete_complete", stack_id, progress, self._timeout())
        if not ok:
            raise _failure(self.cfn, stack_id, progress, f"deletion of stack {self.stack.name}")
        base = state.base.tables.values() if state.base is not None else ()
        return tuple(t.physical_name for t in base if t.removal_policy != "destroy")

    def _timeout(self) -> float:
        return self.request.timeout or STACK_WAIT_SECONDS


def _template_argument(clients: Clients, stack: _Stack, body: str, step: Step, request: DeployRequest) -> dict:
    """TemplateBody, or for templates over CloudFormation's inline limit a TemplateURL in S3."""
    size = len(body.encode())
    if size <= MAX_INLINE_TEMPLATE:
        return {"TemplateBody": body}
    if not request.template_bucket:
        raise JobworkError(
            f"the template of stack {stack.name} is {size:,} bytes, over CloudFormation's "
            f"{MAX_INLINE_TEMPLATE:,}-byte limit for templates sent inline",
            "pass --template-bucket BUCKET: an S3 bucket in the stack's region that you can write to")
    key = f"jobwork-infra/{stack.name}/{step.target.schema_hash}.json"
    with aws_errors(f"uploading the template to s3://{request.template_bucket}/{key}"):
        clients.s3.put_object(Bucket=request.template_bucket, Key=key, Body=body.encode(),
                              ContentType="application/json")
    region = clients.s3.meta.region_name or "us-east-1"
    # Path-style: valid for any bucket name (dots included), and the form CDK itself passes.
    return {"TemplateURL": f"https://s3.{region}.amazonaws.com/{request.template_bucket}/{key}"}


def _deploy_template(clients: Clients, stack: _Stack, template: dict, step: Step, before: ResolvedSchema | None,
                     exists: bool, request: DeployRequest, emit: Emit) -> bool:
    """One step: change set → guard → execute → wait. False when the change set was empty."""
    from botocore.exceptions import WaiterError

    cfn = clients.cloudformation
    body = json.dumps(template, indent=1, sort_keys=False)
    if len(body.encode()) > MAX_INLINE_TEMPLATE:
        body = _compact(template)  # whitespace alone must not force S3
    kind = "UPDATE" if exists else "CREATE"
    name = f"jobwork-infra-{step.number}-{step.target.schema_hash[:8]}-{int(time.time())}"
    with aws_errors(f"creating change set {name}"):
        created = cfn.create_change_set(
            StackName=stack.name, ChangeSetName=name, ChangeSetType=kind, Capabilities=CAPABILITIES,
            Description=step.summary[:1024], **_template_argument(clients, stack, body, step, request))
    change_set, stack_id = created["Id"], created["StackId"]
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set, StackName=stack_id,
            WaiterConfig={"Delay": CHANGE_SET_POLL_SECONDS, "MaxAttempts": 300})
    except WaiterError:
        pass  # FAILED is also how CloudFormation says "empty"; the description tells which
    with aws_errors(f"reading change set {name}"):
        pages = list(cfn.get_paginator("describe_change_set").paginate(ChangeSetName=change_set,
                                                                       StackName=stack_id))
    described = pages[0]
    changes = [c for page in pages for c in page.get("Changes", [])]
    if described.get("Status") == "FAILED":
        reason = described.get("StatusReason", "")
        if any(marker in reason for marker in _EMPTY_CHANGE_SET):
            with aws_errors(f"deleting empty change set {name}"):
                cfn.delete_change_set(ChangeSetName=change_set, StackName=stack_id)
            return False
        with aws_errors(f"deleting change set {name}"):
            cfn.delete_change_set(ChangeSetName=change_set, StackName=stack_id)
        raise JobworkError(f"CloudFormation rejected the change set for stack {stack.name}: {reason}",
                           "fix the schema (jobwork-infra validate) and deploy again")

    unexpected = unexpected_replacements(changes, step, before)
    if unexpected:
        with aws_errors(f"deleting change set {name}"):
            cfn.delete_change_set(ChangeSetName=change_set, StackName=stack_id)
        raise Blocked(
            "CloudFormation would replace or delete table(s) the plan expected to keep: "
            + "; ".join(unexpected) + f". Change set {name} was deleted; nothing was changed",
            "the deployed stack differs from what jobwork-infra can see in its template: compare it "
            f"with `jobwork-infra synth --env {request.env} --print`, and report it if the schema alone causes this")

    progress = _Progress(cfn, stack_id, emit)
    with aws_errors(f"executing change set {name}"):
        progress.baseline()
        cfn.execute_change_set(ChangeSetName=change_set, StackName=stack_id)
        ok = _wait_stack(cfn, "stack_update_complete" if exists else "stack_create_complete", stack_id, progress,
                         request.timeout or STACK_WAIT_SECONDS)
    if not ok:
        raise _failure(cfn, stack_id, progress, f"{'update' if exists else 'creation'} of stack {stack.name}")
    return True


def unexpected_replacements(changes: list[dict], step: Step, before: ResolvedSchema | None) -> list[str]:
    """The table changes in a change set that replace or remove a table the step did not plan to.

    The second guard: the plan is computed from the template, CloudFormation from the live stack;
    `Replacement: True` or `Conditional` on a table the plan keeps means they disagree, and the
    disagreement must not cost data.
    """
    tables = {**(before.tables if before else {}), **step.target.tables}
    key_of = {t.logical_id: k for k, t in tables.items()}
    destructive = {c.table for c in step.changes if c.severity is Severity.DESTRUCTIVE}
    touched = {c.table for c in step.changes}
    found = []
    for change in changes:
        rc = change.get("ResourceChange") or {}
        if rc.get("ResourceType") != TABLE_TYPE:
            continue
        lid = rc.get("LogicalResourceId", "")
        key = key_of.get(lid, lid)
        replacement = rc.get("Replacement")
        if rc.get("Action") == "Modify" and replacement in ("True", "Conditional") and key not in destructive:
            causes = sorted({d.get("Target", {}).get("Name", "?") for d in rc.get("Details") or []
                             if d.get("Target", {}).get("RequiresRecreation") in ("Always", "Conditionally")})
            why = f" because of {', '.join(causes)}" if causes else ""
            found.append(f"{lid} (Replacement: {replacement}{why})")
        elif rc.get("Action") == "Remove" and key not in touched:
            found.append(f"{lid} (Remove)")
    return found



def _protect(cfn: Any, stack: dict, project: Project, request: DeployRequest, emit: Emit) -> int:
    if not _environment_retains(project, request.env) or stack.get("EnableTerminationProtection"):
        return 0
    try:
        with aws_errors("enabling termination protection"):
            cfn.update_termination_protection(StackName=stack["StackName"], EnableTerminationProtection=True)
    except JobworkError as exc:
        emit(Note(f"the stack is deployed, but {exc.message}; enable it with: aws cloudformation "
                  f"update-termination-protection --enable-termination-protection --stack-name {stack['StackName']}",
                  warning=True))
        return 1
    emit(Note(f"termination protection enabled on stack {stack['StackName']} (its tables are retained)"))
    return 0
