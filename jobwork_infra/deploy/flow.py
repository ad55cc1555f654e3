"""The one deploy flow, over a target: CloudFormation (cloudformation.py) or the local engine (local.py).

    resolve → read what is deployed (and what to adopt) → settle → drift check → plan → render
            → gate → dry-run → confirm → adopt → per step: (TTL cool-down?) → apply → wait → verify

`deploy --adopt`: a target's `read` finds the tables under the schema's names that nothing manages,
gates them (adopt.py) and counts them in the plan's base; `announce` says so with the plan, and
`adopt` takes them over after the confirmation, before step 1 (a registry claim locally; retain,
remove and IMPORT change sets on CloudFormation, cloudformation_adopt.py). The drift check
(`Target.drift`, drift.py) refuses to go over changes made by hand unless --allow-drift.

The flow decides; a target only reads and applies (`Target`); report/ prints the events the flow
and the targets emit. The plan is one object: `--dry-run` shows it and apply executes it, step by
step, so a saved plan (`--plan-out`/`--plan`), a lock per environment or a re-check after the
prompt slot in between `plan_deploy` and `apply_plan` without touching either target.

AWS rules the flow enforces, each with its source:
- one TTL change per table per hour: UpdateTimeToLive "can take up to one hour ... Any additional
  UpdateTimeToLive calls for the same table during this one hour duration result in a
  ValidationException" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html);
  the hour also runs from a table created with TTL. Each change is recorded (`Deployed.ttl_changed`)
  and a step that would change TTL inside the hour is deferred;
- deletion protection blocks DeleteTable ("the table can't be deleted", DeletionProtectionEnabled,
  CreateTable API): turned off in a step of its own, only with --allow-destructive;
- a physical name held by an existing table: CreateTable fails with ResourceInUseException.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..changes import Plan, Step
from ..diff import replaces_table
from ..drift import DriftReport
from ..errors import Blocked, JobworkError
from ..model import ResolvedSchema
from ..plan import plan_changes
from . import DeployRequest
from .events import (
    Cancelled,
    Deferred,
    Deployed,
    Destroyed,
    DestroyPlanned,
    DryRun,
    Emit,
    NoChanges,
    Planned,
    StepStarted,
    Verified,
)
from .gate import approve, refuse_destructive, refuse_replacement_in_place

TTL_COOL_DOWN = timedelta(hours=1)
DEFAULT_TIMEOUT = 24 * 3600  # a GSI backfill on a big table can take hours


def now() -> datetime:
    """The wall clock, aware UTC; tests point it at the strict double's clock."""
    return datetime.now(UTC)


def sleep(seconds: float) -> None:
    """Sleeping through a TTL cool-down (--wait); tests advance the double's clock instead."""
    time.sleep(seconds)


@dataclass
class DeployedState:
    """What a target found deployed for the environment."""

    base: ResolvedSchema | None                                  # None: nothing deployed
    where: str                                                   # "stack shop-dev", "… on DynamoDB Local (url)"
    ttl_changed: dict[str, datetime] = field(default_factory=dict)  # table key → last TTL change
    up_to_date: bool = False        # what is deployed is exactly what the head would deploy
    template_differs: bool = False  # CloudFormation: the deployed template is not the head's, whatever the plan
    ttl_cool_down: bool = True      # the target enforces AWS's hour between TTL changes (local engines do not)
    exists: bool = False            # a stack (or tables) to update rather than create
    adopting: tuple[str, ...] = ()  # tables nothing manages, taken over before step 1 (deploy --adopt)


class Target(Protocol):
    """What the flow needs of a place to deploy to."""

    #: True when a key/LSI change of a table that keeps its name can be applied (local, destroy only).
    replaces_in_place: bool

    def read(self, head: ResolvedSchema) -> DeployedState: ...

    def wait_settled(self, names: list[str], deadline: float) -> None: ...

    def announce(self, head: ResolvedSchema) -> None:
        """Say what `adopt` will take over (with the plan, before the question)."""
        ...

    def adopt(self, state: DeployedState) -> None:
        """Take over `state.adopting` (approved, before step 1); the plan's base already counts them."""
        ...

    def drift(self, head: ResolvedSchema, state: DeployedState) -> DriftReport | None:
        """Changes made to the deployed tables behind the tool's back (drift.py); None: cannot tell."""
        ...

    def check_live(self, state: DeployedState, plan: Plan) -> list[tuple[str, str]]:
        """Live state the plan cannot go over: (problem, what to do) pairs."""
        ...

    def apply(self, step: Step, before: ResolvedSchema | None, state: DeployedState) -> bool:
        """Bring the environment from `before` to `step.target`; False when nothing had to change."""
        ...

    def verify(self, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]: ...

    def finish(self, changed: bool) -> int:
        """After a successful deploy (termination protection, outputs); returns the exit code."""
        ...

    def destroy(self, state: DeployedState) -> tuple[str, ...]:
        """Delete the environment; returns the physical names of the tables kept."""
        ...


# ---------------------------------------------------------------------------------------------
# deploy

def deploy(head: ResolvedSchema, request: DeployRequest, target: Target, emit: Emit,
           confirm: Callable[[str], bool]) -> int:
    """Deploy `head` to `target`; the exit code (Blocked or JobworkError refuse)."""
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    state = target.read(head)
    if state.base is not None:
        # A rerun after --timeout resumes here: what the last run started settles first.
        target.wait_settled([t.physical_name for t in state.base.tables.values()], deadline)
        refuse_drift(target.drift(head, state), request)
    if state.up_to_date and not state.adopting:
        emit(NoChanges(state.where, f"schema {head.schema_hash[:12]}"))
        return target.finish(False)
    plan = plan_deploy(state, head)
    if plan is None:
        if state.adopting:
            return adopt_only(head, state, target, request, emit, confirm)
        emit(NoChanges(state.where))
        return target.finish(False)
    emit(Planned(plan, state.where))
    if state.adopting:
        target.announce(head)
    gate(plan, state, target, request)
    ready, tables = cool_down(plan.steps[0], plan.base, state)
    if ready is not None and not request.wait:
        # Nothing may run yet: say when, before asking anything (exit 0: nothing is wrong).
        emit(Deferred(1, len(plan.steps), ready, tables, False))
        return 0
    if request.dry_run:
        emit(DryRun(state.where, len(plan.steps)))
        return 0
    if not approve(plan, yes=request.yes, confirm=confirm):
        emit(Cancelled())
        return 1
    if state.adopting:
        target.adopt(state)
    return apply_plan(plan, state, target, request, emit, deadline)


def adopt_only(head: ResolvedSchema, state: DeployedState, target: Target, request: DeployRequest, emit: Emit,
               confirm: Callable[[str], bool]) -> int:
    """The adopted tables already are what the schema asks: take them over, nothing else to apply."""
    target.announce(head)
    if request.dry_run:
        emit(DryRun(state.where, 0))
        return 0
    if not request.yes and not confirm(f"Adopt {', '.join(state.adopting)} into {state.where}?"):
        emit(Cancelled())
        return 1
    target.adopt(state)
    emit(NoChanges(state.where, f"{len(state.adopting)} table(s) adopted"))
    return target.finish(True)


def refuse_drift(report: DriftReport | None, request: DeployRequest) -> None:
    """Drift is never undone (or tripped over) silently: exit 3 listing it, unless --allow-drift."""
    if report is None or not report.items or request.allow_drift:
        return
    found = "; ".join(f"{i.change.table}: {i.drift} (deploy: {i.next_deploy})" for i in report.items)
    raise Blocked(
        f"{len(report.items)} change(s) made to {report.where} outside jobwork-infra: {found}; nothing was changed",
        f"undo them by hand, or write them into the schema, then deploy; `jobwork-infra drift --env {report.env}` "
        "lists them; --allow-drift deploys anyway, doing what each says")


def plan_deploy(state: DeployedState, head: ResolvedSchema) -> Plan | None:
    """The plan from what is deployed to `head`; None when there is nothing to do."""
    plan = plan_changes(state.base, head)
    if not plan.steps:
        if state.template_differs and state.base is not None:
            # Same schema, different template (another jobwork-infra version): one update to the head.
            return replace(plan, steps=(Step(1, "update the stack template (the schema is unchanged)", (), head),))
        return None
    return plan


def gate(plan: Plan, state: DeployedState, target: Target, request: DeployRequest) -> None:
    """Every refusal, before anything is applied (Blocked, exit 3, with the way forward)."""
    refuse_name_taken(plan)
    problems = target.check_live(state, plan)
    if problems:
        raise Blocked("; ".join(p for p, _ in problems) + "; nothing was changed",
                      "; ".join(dict.fromkeys(fix for _, fix in problems)))
    refuse_protected(plan, request.allow_destructive)
    refuse_destructive(plan, request.allow_destructive)
    refuse_replacement_in_place(plan, retained_only=target.replaces_in_place)


def refuse_name_taken(plan: Plan) -> None:
    taken = [c for c in plan.changes if c.kind == "table_name_taken"]
    if taken:
        raise Blocked("; ".join(c.statement for c in taken) + "; nothing was changed",
                      "; ".join(c.advice for c in taken if c.advice))


def deleted_tables(plan: Plan) -> list[str]:
    """Keys of the deployed tables the plan deletes (removed under destroy, or replaced)."""
    if plan.base is None:
        return []
    out = []
    for key, old in plan.base.tables.items():
        new = plan.head.tables.get(key)
        if new is None and old.removal_policy == "destroy" or new is not None and replaces_table(old, new) and old.removal_policy == "destroy":
            out.append(key)
    return out


def protected_tables(plan: Plan) -> list[str]:
    return [k for k in deleted_tables(plan) if plan.base is not None and plan.base.tables[k].deletion_protection]


def refuse_protected(plan: Plan, allow_destructive: bool) -> None:
    protected = protected_tables(plan)
    if protected and not allow_destructive:
        names = ", ".join(plan.base.tables[k].physical_name for k in protected)
        raise Blocked(
            f"the plan deletes {names}, which has deletion protection on: DynamoDB refuses to delete it, "
            "and the whole update would fail; nothing was changed",
            "keep the table (removal_policy: retain keeps its data when it leaves the schema), or rerun with "
            "--allow-destructive: deletion protection is then turned off in a step of its own first")


def unprotect_step(plan: Plan) -> Plan:
    """With --allow-destructive: a first step turning deletion protection off on the tables it deletes."""
    protected = protected_tables(plan)
    if not protected or plan.base is None:
        return plan
    base = plan.base
    target = base.model_copy(update={"tables": {
        k: t.model_copy(update={"deletion_protection": False}) if k in protected else t
        for k, t in base.tables.items()}})
    names = ", ".join(base.tables[k].physical_name for k in protected)
    first = Step(1, f"turn deletion protection off on {names}", (), target)
    return replace(plan, base=base, steps=(first, *(replace(s, number=s.number + 1) for s in plan.steps)))


def ttl_changes(before: ResolvedSchema | None, after: ResolvedSchema) -> list[str]:
    """Keys of the tables whose TTL a step changes (a table created with TTL counts: the hour runs from it)."""
    old = before.tables if before is not None else {}
    return [k for k, t in after.tables.items()
            if (old[k].ttl if k in old else None) != t.ttl and (t.ttl is not None or k in old)]


def cool_down(step: Step, before: ResolvedSchema | None, state: DeployedState) -> tuple[datetime | None, tuple]:
    """When `step` may run, if not now: the end of AWS's TTL hour for the tables whose TTL it changes."""
    tables = ttl_changes(before, step.target)
    if not state.ttl_cool_down:
        return None, tuple(tables)
    ready = max((state.ttl_changed[k] + TTL_COOL_DOWN for k in tables if k in state.ttl_changed), default=None)
    return (ready, tuple(tables)) if ready is not None and now() < ready else (None, tuple(tables))


def apply_plan(plan: Plan, state: DeployedState, target: Target, request: DeployRequest, emit: Emit,
               deadline: float) -> int:
    started = time.monotonic()
    plan = unprotect_step(plan)
    before, changed, total = plan.base, False, len(plan.steps)
    for step in plan.steps:
        ttl_tables = ttl_changes(before, step.target)
        ready, _ = cool_down(step, before, state)
        if ready is not None:
            emit(Deferred(step.number, total, ready, tuple(ttl_tables), request.wait))
            if not request.wait:
                return _settle_and_verify(plan, before, target, emit, deadline, started, changed, state,
                                          partial=True)
            sleep((ready - now()).total_seconds())
        emit(StepStarted(step.number, total, step.summary))
        if before is not None:
            target.wait_settled(_names(before), deadline)
        # The record sent with the step says when it started; AWS counts from when the table's update
        # ran, a little later. Within this run the end of the step is used, which is never too early.
        stamp = now()
        for key in ttl_tables:
            state.ttl_changed[key] = stamp
        changed = target.apply(step, before, state) or changed
        finished = now()
        for key in ttl_tables:
            state.ttl_changed[key] = finished
        target.wait_settled([t for t in _touched(before, step.target)], deadline)
        before = step.target
    return _settle_and_verify(plan, before, target, emit, deadline, started, changed, state, partial=False)


def _names(schema: ResolvedSchema) -> list[str]:
    return [t.physical_name for t in schema.tables.values()]


def _touched(before: ResolvedSchema | None, after: ResolvedSchema) -> list[str]:
    from .settle import touched_tables

    return touched_tables(before, after)


def _settle_and_verify(plan: Plan, applied: ResolvedSchema | None, target: Target, emit: Emit, deadline: float,
                       started: float, changed: bool, state: DeployedState, *, partial: bool) -> int:
    if applied is None or not changed:
        if not partial:
            emit(Deployed(state.where, len(plan.steps), time.monotonic() - started, changed=False))
        return target.finish(False) if not partial else 0
    target.wait_settled(_names(applied), deadline)
    checks, problems = target.verify(plan, applied)
    if problems:
        raise JobworkError(
            "after applying, the live tables differ from what the plan promised: " + "; ".join(problems),
            "look at the tables (aws dynamodb describe-table), fix what differs, and deploy again")
    emit(Verified(checks))
    if partial:
        return 0
    emit(Deployed(state.where, len(plan.steps), time.monotonic() - started))
    return target.finish(True)


# ---------------------------------------------------------------------------------------------
# destroy

def destroy(head: ResolvedSchema, request: DeployRequest, target: Target, emit: Emit,
            confirm: Callable[[str], bool]) -> int:
    """Delete the environment from `target`: the same confirmation, messages and protection rules as deploy."""
    state = target.read(head)
    if state.base is None and not state.exists:
        emit(NoChanges(state.where, destroy=True))
        return 0
    base = state.base or head.model_copy(update={"tables": {}})
    tables = list(base.tables.values())
    deleted = tuple(t.physical_name for t in tables if t.removal_policy == "destroy")
    kept = tuple(t.physical_name for t in tables if t.removal_policy != "destroy")
    protected = tuple(t.physical_name for t in tables if t.removal_policy == "destroy" and t.deletion_protection)
    emit(DestroyPlanned(state.where, deleted, kept, protected))
    if protected and not request.allow_destructive:
        raise Blocked(
            f"{', '.join(protected)} has deletion protection on: DynamoDB refuses to delete it and the "
            "destroy would fail; nothing was changed",
            "rerun with --allow-destructive to turn deletion protection off first, or set removal_policy: "
            "retain on the table to keep it")
    if request.dry_run:
        emit(DryRun(state.where, 1))
        return 0
    if not request.yes and not confirm(f"Delete {state.where} and {len(deleted)} table(s) with their data?"):
        emit(Cancelled())
        return 1
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    if protected:
        names = set(protected)
        target_schema = base.model_copy(update={"tables": {
            k: t.model_copy(update={"deletion_protection": False}) if t.physical_name in names else t
            for k, t in base.tables.items()}})
        target.apply(Step(1, f"turn deletion protection off on {', '.join(protected)}", (), target_schema),
                     base, state)
        target.wait_settled(list(protected), deadline)
    emit(Destroyed(state.where, target.destroy(state)))
    return 0
