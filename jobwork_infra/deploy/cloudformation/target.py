"""The CloudFormation target of the deploy flow (deploy/flow.py): one stack of an environment, through change sets.

Reading: the stack (status and original template) → the deployed schema rebuilt from that template
(read.py), and the record of TTL changes in its Metadata (template.py). Applying one step: synth in
process → TTL disabled explicitly → change set → second guard on CloudFormation's own Replacement
flags → execute → wait, emitting the stack events (stack.py, the one change-set runner). The flow
then waits for the tables (settle.py), since CloudFormation reports UPDATE_COMPLETE before a new
index is ACTIVE.

Why the plan is computed from the deployed *template* and not from the live tables: the template is
what CloudFormation will diff against, so it is the base that predicts what a change set does. The
schema hash in its Metadata names the schema that made it; an identical template means nothing to
do, and no change set is created at all (a no-op redeploy costs two read calls).

boto3 is imported only inside functions: `validate` and `diff` must not pay for it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ... import __version__
from ...changes import Plan, Severity, Step
from ...diff import gsi_operations
from ...drift import DriftReport, find_drift
from ...errors import Blocked, JobworkError
from ...followup import Invocation
from ...model import ResolvedSchema, Table, effective_option
from ...project import Project
from .. import DeployRequest
from ..adopt import Adoption, announce, gate_adoption
from ..aws import TABLE_TYPE, Lazy, aws_errors, aws_session, describe_table_or_none
from ..dynamodb import Sources
from ..events import Emit, Note, Outputs
from ..gate import Overtaken, Refused, refuse_rollback_failed
from ..settle import wait_settled
from ..target import Capabilities, DeployedState
from ..verify import verify_applied
from .adopt import find_stack_adoption, gate_stack_adoption, run_adoption
from .emulator import apply_dropped_pitr, apply_dropped_ttl, pitr_set_by_step, ttl_set_by_step
from .environment import environment_stack_names
from .migrate import (
    carry_over,
    record_template,
    staged_names,
    staged_template,
    unstaged,
    with_generation_ids,
)
from .read import read_stack_environment, schema_from_template
from .stack import (
    STACK_WAIT_SECONDS,
    ChangeSets,
    Progress,
    Stack,
    check_status,
    failure,
    in_progress,
    refuse_in_progress,
    rollback_failures,
    wait_for_other_operation,
    wait_stack,
)
from .template import (
    MAX_INLINE_TEMPLATE,
    MAX_S3_TEMPLATE,
    PLACEHOLDER,
    PLACEHOLDER_RESOURCE,
    SERIAL_RECORD,
    SETTLING_RECORD,
    canonical,
    compact,
    policies,
    prepare_template,
    schema_hash_of,
    serial_of,
    settling_record,
    ttl_record,
)


@dataclass
class Clients:
    cloudformation: Any
    s3: Any
    dynamodb: Any = None
    streams: Any = None   # DynamoDB Streams: only a migration reads them


def make_clients(request: DeployRequest, region: str | None) -> Clients:
    """Clients from one boto3 session (`aws_session`), all pointed at --endpoint-url when given."""
    session = aws_session(profile=request.profile, region=request.region or region,
                          endpoint_url=request.endpoint_url, env=request.env)
    return Clients(
        cloudformation=session.client("cloudformation", endpoint_url=request.endpoint_url),
        # Only a template over the inline limit needs S3; loading its API model costs ~0.2 s.
        s3=Lazy(lambda: session.client("s3", endpoint_url=request.endpoint_url)),
        # Not needed by a redeploy that changes nothing (no table to wait for).
        dynamodb=Lazy(lambda: session.client("dynamodb", endpoint_url=request.endpoint_url)),
        streams=Lazy(lambda: session.client("dynamodbstreams", endpoint_url=request.endpoint_url)),
    )


def synth(resolved: ResolvedSchema) -> dict:
    from ...compile import synth_template  # aws_cdk: loaded only when a template is needed

    template = synth_template(resolved)
    if not template.get("Resources"):
        # A stack of no table (the main stack once every table is in another stack, environment.py) is still
        # updated to remove the tables it held; a template needs a resource ("At least one Resources member
        # must be defined", template.py), and a WaitConditionHandle creates nothing.
        template["Resources"] = {PLACEHOLDER: PLACEHOLDER_RESOURCE}
    return template


def environment_retains(project: Project, env: str) -> bool:
    """Prod-like: tables outlive the stack (retain), so the stack gets termination protection."""
    return effective_option(project.schema, env, Table(), "removal_policy") != "destroy"


def environment_stacks(clients: Clients, head: ResolvedSchema) -> list[str]:
    """The stacks of an environment, in deploy order: the schema's and every deployed one of this
    environment, the main stack included when the schema no longer puts a table in it (environment.py)."""
    return environment_stack_names(clients.cloudformation, head)


def environment_targets(project: Project, request: DeployRequest, emit: Emit, *,
                        clients: Clients | None = None) -> dict[str, CloudFormationTarget]:
    """One target per stack of the environment (`environment_stacks`), sharing one set of clients:
    what the flow deploys or destroys, in this order."""
    head = project.resolve(request.env)
    clients = clients or make_clients(request, head.region)
    return {name: CloudFormationTarget(project, request, emit, clients, stack=name)
            for name in environment_stacks(clients, head)}


@dataclass
class StackReading:
    """What one reading of the stack found, kept with the state (`DeployedState.private`): only this
    target reads it, and a re-read after the prompt makes a new one instead of overwriting."""

    described: dict | None = None    # DescribeStacks, as read
    current: dict | None = None      # the template the stack has now (updated by each applied step)
    exists: bool = False             # a stack to update (not absent, not REVIEW_IN_PROGRESS)
    adoption: Adoption = field(default_factory=Adoption)


class CloudFormationTarget:
    """One stack of an environment, as the deploy flow's target."""

    # CloudFormation never replaces a table that keeps its name. The lock across machines is the stack
    # itself (docs/deploy.md, "Two deploys of one stack"): one operation at a time, a change set that
    # another execute made stale is deleted, and the deploy serial in the template's Metadata is
    # compared right before execute. deploy/lock.py only keeps two deploys of one checkout apart.
    capabilities = Capabilities(lock_scope="cloudformation", replaces_in_place=False, ttl_cool_down=True,
                                migrates=True)

    def __init__(self, project: Project, request: DeployRequest, emit: Emit, clients: Clients | None = None,
                 *, stack: str | None = None):
        self.project, self.request, self.emit = project, request, emit
        self.head = project.resolve(request.env)
        self.clients = clients or make_clients(request, self.head.region)
        self.cfn = self.clients.cloudformation
        # One target per stack of the environment (`stack_targets`); the flow passes each its view.
        self.stack = Stack(self.cfn, stack or self.head.stack_name)
        self.templates: dict[str, dict] = {}  # synthesized templates by schema hash: a cache, not state

    # -- reading --------------------------------------------------------------------------------

    def read(self, head: ResolvedSchema, *, destroying: bool = False) -> DeployedState:
        state = self._read_stack(head, destroying)
        if destroying:
            return state  # tables the stack does not hold are none of its business
        reading: StackReading = state.private
        with aws_errors("reading the live tables"):
            reading.adoption = find_stack_adoption(self.clients.dynamodb, self.cfn, head, state.base,
                                                   self.request.from_stack)
        # A generation a migration's stage A added is the stack's own, not a table to adopt.
        staged = staged_names(reading.current)
        reading.adoption.candidates = [c for c in reading.adoption.candidates if c.live.name not in staged]
        source = f"--endpoint-url {self.request.endpoint_url}" if self.request.endpoint_url else ""
        gate_adoption(reading.adoption, head, adopt=self.request.adopt, source=source)
        with aws_errors("reading the stacks that hold the tables"):
            gate_stack_adoption(reading.adoption, self.stack.name, self.cfn)
        if reading.adoption.candidates:
            state.base = reading.adoption.base(state.base, head)
            state.adopting = tuple(reading.adoption.names)
            state.up_to_date = False
        return state

    def announce(self, state: DeployedState, head: ResolvedSchema) -> None:
        announce(state.private.adoption, head, self.emit)

    def adopt(self, state: DeployedState) -> None:
        """Retain and remove (--from-stack), then import: cloudformation/adopt.py; the steps follow."""
        reading: StackReading = state.private
        reading.current = run_adoption(self.clients, self.stack.name, reading.current if reading.exists else None,
                                       reading.adoption, self.head, synth, self.emit, self._timeout())
        reading.exists = True

    def drift(self, head: ResolvedSchema, state: DeployedState) -> DriftReport | None:
        """The deployed template against the live tables (drift.py), read through this target's clients."""
        if state.base is None or not state.private.exists:
            return None
        sources = Sources(self.clients.dynamodb, self.cfn, self.request.endpoint_url or "AWS", False)
        with aws_errors("reading the live tables for drift"):
            read = read_stack_environment(sources, head, None)
        return find_drift(head, read.reference, read.live, target="cloudformation",
                          reference_label=read.reference_label, where=read.where)

    def _read_stack(self, head: ResolvedSchema, destroying: bool) -> DeployedState:
        where = f"stack {head.stack_name}"
        reading = StackReading()
        with aws_errors(f"reading stack {head.stack_name}"):
            reading.described = self.stack.describe()
        if reading.described is None:
            return DeployedState(None, where, private=reading)
        if destroying:
            refuse_in_progress(reading.described, "destroy")
        else:
            if in_progress(reading.described):  # another deploy or a rollback: wait it out, then plan from what it left
                wait_for_other_operation(self.cfn, reading.described, self.emit, self._timeout())
                with aws_errors(f"reading stack {head.stack_name}"):
                    reading.described = self.stack.describe()
                if reading.described is None:
                    return DeployedState(None, where, private=reading)
            if reading.described["StackStatus"] == "UPDATE_ROLLBACK_FAILED":
                with aws_errors(f"reading the events of stack {head.stack_name}"):
                    stuck = rollback_failures(self.cfn, reading.described["StackId"])
                refuse_rollback_failed(head.stack_name, reading.described.get("StackStatusReason") or "", stuck,
                                       Invocation.of(self.request))
            check_status(reading.described, self.request.env)
        reading.exists = reading.described["StackStatus"] != "REVIEW_IN_PROGRESS"
        if not reading.exists:
            return DeployedState(None, where, exists=True, private=reading)
        with aws_errors(f"reading the template of stack {head.stack_name}"):
            reading.current = current = self.stack.template()
        if schema_hash_of(current) is None:
            self.emit(Note(f"stack {head.stack_name} was not deployed by jobwork-infra (no schema hash in its "
                           "template): its tables are matched by name and tag", warning=True))
        record = ttl_record(current)
        # The deployed template, the stack's id (its lineage: another account, region or a re-created
        # stack is another) and the deploy serial are what a saved plan and the re-check compare.
        serial = f"{reading.described['StackId']}:{serial_of(current)}"
        fingerprint = hashlib.sha256(f"{canonical(current)}|{serial}".encode()).hexdigest()
        read_back = {"where": where, "ttl_changed": record, "exists": True, "fingerprint": fingerprint,
                     "serial": serial,
                     "other_resources": policies(current), "private": reading,
                     "termination_protection": bool(reading.described.get("EnableTerminationProtection"))}
        if _made_from(current, head):
            # Made from exactly `head`: the deployed schema is `head`, no need to rebuild it from the template.
            state = DeployedState(head, up_to_date=True, **read_back)
        else:
            state = DeployedState(schema_from_template(unstaged(current), head), **read_back)
        settling = settling_record(current)
        if settling is not None and state.base is not None:
            state.unsettled = [t.physical_name for k, t in state.base.tables.items() if k in settling]
        if not state.up_to_date:
            state.up_to_date = canonical(current) == canonical(self._template(head, record, current))
            state.template_differs = not state.up_to_date
        return state

    def wait_settled(self, names: list[str], deadline: float) -> None:
        with aws_errors("reading the tables"):
            wait_settled(self.clients.dynamodb, names, deadline=deadline, emit=self.emit, sleep=time.sleep,
                         resume_hint=f"stack {self.stack.name} is consistent (every applied step is complete); "
                                     "run deploy again to resume: it waits for these first")

    def check_live(self, state: DeployedState, plan: Plan) -> list[tuple[str, str]]:
        """Stray indexes and tables gone behind the stack's back; physical names the plan needs, taken."""
        self._check_template_sizes(plan, state)
        with aws_errors("reading the live tables"):
            base = state.base.tables if state.base is not None else {}
            problems = [p for table in base.values() for p in self._live_problems(table)]
            owned = {t.physical_name for t in base.values()} | staged_names(state.private.current
                                                                            if state.private is not None else None)
            for table in plan.head.tables.values():
                if table.physical_name in owned:
                    continue
                if describe_table_or_none(self.clients.dynamodb, table.physical_name) is not None:
                    problems.append((
                        (f"table {table.physical_name} already exists outside stack {self.stack.name} (a table "
                         "retained by an earlier deploy, or made by hand): creating it would fail"),
                        ("give the new table another table_name in the schema, or delete or rename the existing "
                         "table if its data is not needed")))
        return problems

    def _live_problems(self, table) -> list[tuple[str, str]]:
        """A table of the stack gone, or with a global index its template does not have."""
        live = describe_table_or_none(self.clients.dynamodb, table.physical_name)
        if live is None:
            return [((f"table {table.physical_name} of stack {self.stack.name} does not exist "
                      "(deleted outside CloudFormation?)"),
                     ("restore it from a backup under the same name, or remove it from the stack "
                      "(retain it, then delete it from the schema)"))]
        known = {i.name for i in table.global_indexes}
        problems = []
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
        return problems

    def _check_template_sizes(self, plan: Plan, state: DeployedState) -> None:
        """Before any change: a template over the inline limit needs --template-bucket, and the bucket must answer.

        Checked for every step of every stack before the first change set, so a deploy never stops
        half-way over an option it could have asked for at the start.
        """
        current = state.private.current if state.private is not None else None
        sizes = [len(compact(self._template(step.target, state.ttl_changed, current)).encode()) for step in plan.steps]
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

    def _template(self, target: ResolvedSchema, ttl_changed: dict[str, datetime], current: dict | None) -> dict:
        if target.schema_hash not in self.templates:
            self.templates[target.schema_hash] = with_generation_ids(synth(target), target)
        return carry_over(prepare_template(self.templates[target.schema_hash], target, current, ttl_changed), current)

    def apply(self, step: Step, before: ResolvedSchema | None, state: DeployedState) -> bool:
        """One step: change set → second guard → execute → wait (stack.ChangeSets). False: nothing to change."""
        reading: StackReading = state.private
        if step.kind == "migrate":
            return self._migrate(step, before, state)
        body = self._template(step.target, state.ttl_changed, reading.current)
        old = before.tables if before is not None else {}
        meta = body.setdefault("Metadata", {}).setdefault("JobworkInfra", {})
        meta[SETTLING_RECORD] = [k for k, t in step.target.tables.items()
                                 if k in old and gsi_operations(old[k], t)]
        serial = serial_of(reading.current or {})
        meta[SERIAL_RECORD] = serial + 1  # every apply: a saved plan applies once
        try:
            run = self._change_sets().run(
                self.stack.name, body, "UPDATE" if reading.exists else "CREATE", step.summary,
                name=f"jobwork-infra-{step.number}-{step.target.schema_hash[:8]}-{int(time.time())}",
                upload_key=step.target.schema_hash, rejected=self._rejected,
                guard=lambda changes, name: self._guard(changes, name, step, before,
                                                        serial if reading.exists else None))
        except Overtaken as exc:
            exc.step = step.number  # nothing of this step applied: the flow may plan again (flow.replan)
            raise
        if run.outcome == "failed":
            raise run.failure(f"{'update' if reading.exists else 'creation'} of stack {self.stack.name}")
        done = run.outcome == "complete"
        if done:
            with aws_errors("reading point-in-time recovery after the update"):
                apply_dropped_pitr(self.clients.dynamodb, self.request.endpoint_url,
                                   pitr_set_by_step(before, step.target), self.emit)
            with aws_errors("reading time to live after the update"):
                apply_dropped_ttl(self.clients.dynamodb, self.request.endpoint_url,
                                  ttl_set_by_step(before, step.target), self.emit)
        if not done and step.changes:
            self.emit(Note("nothing to change in this step"))
        reading.exists, reading.current = True, body
        return done

    def _migrate(self, step: Step, before: ResolvedSchema | None, state: DeployedState) -> bool:
        """The migrate step in three stages (cloudformation/migrate.py): A add generation N, B copy, catch
        up and verify through the DynamoDB API, C make N the table of record with N-1 replicated into it."""
        from ...migrate.stage import run_migrations
        from ..local.engine import project_root

        reading: StackReading = state.private
        head_template = self._template(step.target, state.ttl_changed, reading.current)
        stamp = f"{step.number}-{step.target.schema_hash[:8]}-{int(time.time())}"
        staged = staged_template(reading.current, head_template, step.migrations, step.target)
        self._run_update(step, before, staged, f"jobwork-infra-{stamp}-create", "create the new generation(s)",
                         reading.current)
        reading.current = staged
        with aws_errors("copying the items into the new generation"):
            endpoint = f" --endpoint-url {self.request.endpoint_url}" if self.request.endpoint_url else ""
            run_migrations(self.clients.dynamodb, self.clients.streams, step, self.request.env, project_root(),
                           skip_unkeyed=self.request.skip_unkeyed,
                           retry=f"jobwork-infra deploy --env {self.request.env}{endpoint}", emit=self.emit)
        record = record_template(head_template, reading.current, step.migrations, step.target)
        self._run_update(step, before, record, f"jobwork-infra-{stamp}-record", "make the new generation(s) the "
                         "table(s) of record, replicated from the old one(s)", reading.current)
        reading.current = record
        return True

    def _run_update(self, step: Step, before: ResolvedSchema | None, body: dict, name: str, summary: str,
                    current: dict) -> None:
        # From the stack itself: an empty change set earlier in this deploy (a rerun) applied no serial.
        with aws_errors(f"reading the template of stack {self.stack.name}"):
            serial = serial_of(self.stack.template())
        body.setdefault("Metadata", {}).setdefault("JobworkInfra", {})[SERIAL_RECORD] = serial + 1
        run = self._change_sets().run(self.stack.name, body, "UPDATE", summary, name=name,
                                      upload_key=hashlib.sha256(canonical(body).encode()).hexdigest(),
                                      rejected=self._rejected,
                                      guard=lambda changes, n: self._guard(changes, n, step, before, serial))
        if run.outcome == "failed":
            raise run.failure(f"update of stack {self.stack.name}")

    def _change_sets(self) -> ChangeSets:
        return ChangeSets(self.cfn, self.emit, self._timeout(), self.clients.s3, self.request.template_bucket)

    def _rejected(self, reason: str) -> JobworkError:
        return JobworkError(f"CloudFormation rejected the change set for stack {self.stack.name}: {reason}",
                            "fix the schema (jobwork-infra validate) and deploy again")

    def _guard(self, changes: list[dict], name: str, step: Step, before: ResolvedSchema | None,
               serial: int | None) -> Blocked | None:
        """The second guard: CloudFormation's own Replacement flags against what the plan keeps; and, right
        before execute, the stack still at the deploy serial this deploy planned from.

        Two deploys from two machines (two CI runners) may both read the stack before either applies: the
        deploy lock is per machine, and this check is the stack's part of the lock across machines
        (docs/deploy.md, "Two deploys of one stack"). The change set of the second is computed against the stack as the first
        left it, so executing it would undo the first's change. Checked after the change set is made: an
        execute of another change set after this check deletes this one ("After you execute a change set,
        CloudFormation removes all change sets associated with the stack", AWS CloudFormation User Guide,
        "Update CloudFormation stacks using change sets"), so its execute fails rather than going stale.
        """
        now = serial_of(self.stack.template()) if serial is not None else None  # None: a stack being created
        if now != serial:
            return Overtaken(
                f"stack {self.stack.name} was updated by another deploy (deploy serial {serial} when this deploy read "
                f"it, {now} now) before step {step.number} ran. Change set {name} was deleted; nothing of step "
                f"{step.number} was applied",
                "run deploy again: it plans from what is deployed now", step.number)
        unexpected = unexpected_replacements(changes, step, before)
        if not unexpected:
            return None
        return Refused(
            "R014",
            "CloudFormation would replace or delete table(s) the plan expected to keep: "
            + "; ".join(unexpected) + f". Change set {name} was deleted; nothing was changed",
            "the deployed stack differs from what jobwork-infra can see in its template: compare it "
            f"with `jobwork-infra synth --env {self.request.env} --print`, and report it if the schema alone causes this")

    def verify(self, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]:
        with aws_errors("verifying the tables"):
            return verify_applied(self.clients.dynamodb, plan, applied)

    def item_client(self) -> Any:
        return self.clients.dynamodb

    def count_items(self, names: list[str]) -> dict[str, tuple[int, str]]:
        """DescribeTable's ItemCount: "DynamoDB updates this value approximately every six hours"
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html),
        so it is reported as approximate; a Scan of a production table to count it would cost reads."""
        counts: dict[str, tuple[int, str]] = {}
        with aws_errors("reading the tables the plan deletes"):
            for name in names:
                table = describe_table_or_none(self.clients.dynamodb, name)
                if table is None:
                    continue  # gone behind the stack's back: check_live says so next
                if table.get("ItemCount") is not None:
                    counts[name] = (int(table["ItemCount"]), "approximately")
        return counts

    def finish(self, state: DeployedState, changed: bool) -> int:
        reading: StackReading = state.private
        if not changed and reading.described is not None and reading.exists:
            final = reading.described  # as read: nothing was applied since
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
        deployed = state.private.described  # read() refused a stack in progress
        if deployed is None:
            return ()
        stack_id = deployed["StackId"]
        progress = Progress(self.cfn, stack_id, self.emit)
        with aws_errors(f"deleting stack {self.stack.name}"):
            if deployed.get("EnableTerminationProtection"):
                # Only now, after the user said yes: a refused destroy leaves the protection on.
                self.cfn.update_termination_protection(StackName=stack_id, EnableTerminationProtection=False)
                self.emit(Note(f"termination protection turned off on stack {self.stack.name}, to delete it"))
            progress.baseline()
            self.cfn.delete_stack(StackName=stack_id)
            ok = wait_stack(self.cfn, "stack_delete_complete", stack_id, progress, self._timeout())
        if not ok:
            raise failure(self.cfn, stack_id, progress, f"deletion of stack {self.stack.name}")
        base = state.base.tables.values() if state.base is not None else ()
        return tuple(t.physical_name for t in base if t.removal_policy != "destroy")

    def _timeout(self) -> float:
        return self.request.timeout or STACK_WAIT_SECONDS


def _made_from(current: dict, head: ResolvedSchema) -> bool:
    """The deployed template was made by this version of the tool from exactly `head`: no synth needed.

    A template is a function of the schema (its hash), the tool's version and what the deploy
    itself records (TTL changes, carried over from the deployed template), so comparing the two
    stamps says what a synth and a comparison would, without the seconds a synth of hundreds of
    tables takes. Any other template (another version, hand-made, or a stamp that does not match)
    is compared in full.
    """
    meta = (current.get("Metadata") or {}).get("JobworkInfra") or {}
    return meta.get("SchemaHash") == head.schema_hash and meta.get("Version") == __version__


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
    if not environment_retains(project, request.env) or stack.get("EnableTerminationProtection"):
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

