"""The one deploy flow, over a target: CloudFormation (cloudformation.py) or the local engine (local.py).

    resolve → read what is deployed → settle → plan → render → gate → dry-run → confirm
            → per step: (TTL cool-down?) → apply → wait until settled → verify

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..changes import Plan, Step
from ..diff import make_change, replaces_table
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
    StacksDone,
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
    # Physical names of the deployed tables that may still be settling (indexes being created or
    # deleted by the last update); None: any of them may be.
    unsettled: list[str] | None = None


class Target(Protocol):
    """What the flow needs of a place to deploy to."""

    #: True when a key/LSI change of a table that keeps its name can be applied (local, destroy only).
    replaces_in_place: bool

    def read(self, head: ResolvedSchema) -> DeployedState: ...

    def wait_settled(self, names: list[str], deadline: float) -> None: ...

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

Targets = Target | Mapping[str, Target]


@dataclass
class StackRun:
    """One stack of the environment on its way through the flow (the local engine: one run, all tables)."""

    head: ResolvedSchema        # the stack's view (ResolvedSchema.stack_view), or the environment
    target: Target
    state: DeployedState
    plan: Plan | None = None    # None: nothing to do


def stack_targets(head: ResolvedSchema, target: Targets) -> list[tuple[ResolvedSchema, Target]]:
    """(what to deploy, where) in deploy order: one target for the whole environment, or per stack.

    Stacks are deployed in the order of `ResolvedSchema.stacks` (the main stack first, the others
    by name) and destroyed in reverse. No stack references another (each has its own tenant
    policies), so the order only makes the output predictable; a failure stops the stacks after it.
    """
    if isinstance(target, Mapping):
        return [(head.stack_view(name), t) for name, t in target.items()]
    return [(head, target)]


def deploy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
           confirm: Callable[[str], bool]) -> int:
    """Deploy `head` to `target` (or to each stack's target, stack name → target); the exit code.

    Every stack is read, planned and gated before anything is applied, with one confirmation for
    all of them; then each stack's plan is applied in order, and one summary ends a deploy of
    several stacks.
    """
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    several = isinstance(target, Mapping) and len(target) > 1
    runs = []
    for view, stack_target in stack_targets(head, target):
        state = stack_target.read(view)
        if state.base is not None:
            # A rerun after --timeout resumes here: what the last run started settles first.
            names = state.unsettled if state.unsettled is not None else _names(state.base)
            stack_target.wait_settled(names, deadline)
        runs.append(StackRun(view, stack_target, state))
    if isinstance(target, Mapping):
        refuse_moves(head, runs)
        refuse_emptied_stacks(runs)
    for run in runs:
        if run.state.up_to_date:
            emit(NoChanges(run.state.where, f"schema {run.head.schema_hash[:12]}"))
            continue
        run.plan = plan_deploy(run.state, run.head)
        if run.plan is None:
            emit(NoChanges(run.state.where))
        else:
            emit(Planned(run.plan, run.state.where))
    pending = [r for r in runs if r.plan is not None]
    if not pending:
        codes = [r.target.finish(False) for r in runs]
        if several:
            emit(StacksDone(head.env, tuple((r.head.stack_name, None) for r in runs), 0.0))
        return max(codes)
    for run in pending:
        gate(run.plan, run.state, run.target, request)
    ready = []
    for run in pending:
        when, tables = cool_down(run.plan.steps[0], run.plan.base, run.state)
        if when is not None and not request.wait:
            # Nothing of this stack may run yet: say when, before asking anything (exit 0: nothing is wrong).
            emit(Deferred(1, len(run.plan.steps), when, tables, False))
        else:
            ready.append(run)
    if not ready:
        return 0
    if request.dry_run:
        emit(DryRun(_where(ready), sum(len(r.plan.steps) for r in ready)))
        return 0
    if not approve_all([r.plan for r in ready], yes=request.yes, confirm=confirm):
        emit(Cancelled())
        return 1
    started, code = time.monotonic(), 0
    # stack → steps applied, or what became of it: None (no changes), "deferred", "not started", "failed"
    outcomes: dict[str, int | str | None] = {
        r.head.stack_name: None if r.plan is None else "not started" if r in ready else "deferred" for r in runs}
    for run in ready:
        try:
            code = max(code, apply_plan(run.plan, run.state, run.target, request, emit, deadline))
        except JobworkError:
            if several:
                outcomes[run.head.stack_name] = "failed"
                emit(StacksDone(head.env, tuple(outcomes.items()), time.monotonic() - started, failed=True))
            raise
        outcomes[run.head.stack_name] = len(run.plan.steps)
    for run in runs:
        if run.plan is None:
            code = max(code, run.target.finish(False))
    if several:
        emit(StacksDone(head.env, tuple(outcomes.items()), time.monotonic() - started))
    return code


def _where(runs: list[StackRun]) -> str:
    if len(runs) == 1:
        return runs[0].state.where
    return "stacks " + ", ".join(r.head.stack_name for r in runs)


def refuse_emptied_stacks(runs: list[StackRun]) -> None:
    """A deployed stack that no table of the schema names any more is left alone (Blocked, exit 3).

    A template without resources is not valid, so the only update that empties a stack is deleting
    it, and that is `destroy`'s decision, not a side effect of a deploy.
    """
    for run in runs:
        if not run.head.tables and run.state.base is not None and run.state.base.tables:
            names = ", ".join(t.physical_name for t in run.state.base.tables.values())
            raise Blocked(
                f"stack {run.head.stack_name} is deployed, but none of its tables ({names}) is in the schema "
                "any more; nothing was changed",
                "put the tables back in the schema, or delete the stack (aws cloudformation delete-stack "
                f"--stack-name {run.head.stack_name}: tables with removal_policy retain are kept)")


def approve_all(plans: list[Plan], *, yes: bool, confirm: Callable[[str], bool]) -> bool:
    """One confirmation for every stack's plan."""
    if len(plans) == 1 or yes:
        return approve(plans[0], yes=yes, confirm=confirm)
    steps = sum(len(p.steps) for p in plans)
    return confirm(f"Apply {steps} step(s) to stacks {', '.join(p.head.stack_name for p in plans)}?")


def refuse_moves(head: ResolvedSchema, runs: list[StackRun]) -> None:
    """A table whose `stack:` changed is refused before anything is planned or applied (Blocked, exit 3).

    Each stack's own plan would see the table removed from one stack and created in the other, and
    CloudFormation would delete (destroy) or orphan (retain) it while the create of the name fails.
    """
    deployed: dict[str, str] = {}  # table key → the stack that holds it now
    for run in runs:
        for key in (run.state.base.tables if run.state.base is not None else {}):
            deployed.setdefault(key, run.head.stack_name)
    moves = [make_change("stack_changed", key, "stack", env=head.env, before=deployed[key],
                         after=head.stack_of(table), name=table.physical_name)
             for key, table in head.tables.items() if key in deployed and deployed[key] != head.stack_of(table)]
    if moves:
        raise Blocked("; ".join(f"[{c.code}] {c.statement}" for c in moves) + "; nothing was changed",
                      "; ".join(dict.fromkeys(c.advice for c in moves if c.advice)))


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

def destroy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
            confirm: Callable[[str], bool]) -> int:
    """Delete the environment from `target` (every stack, in reverse deploy order): the same
    confirmation, messages and protection rules as deploy."""
    runs = [StackRun(view, t, t.read(view)) for view, t in reversed(stack_targets(head, target))]
    present = [r for r in runs if r.state.base is not None or r.state.exists]
    if not present:
        emit(NoChanges(runs[0].state.where if len(runs) == 1 else f"environment {head.env} ({_where(runs)})",
                       destroy=True))
        return 0
    protected: list[str] = []
    deleted_count = 0
    for run in present:
        base = run.state.base or run.head.model_copy(update={"tables": {}})
        tables = list(base.tables.values())
        deleted = tuple(t.physical_name for t in tables if t.removal_policy == "destroy")
        kept = tuple(t.physical_name for t in tables if t.removal_policy != "destroy")
        mine = tuple(t.physical_name for t in tables if t.removal_policy == "destroy" and t.deletion_protection)
        emit(DestroyPlanned(run.state.where, deleted, kept, mine))
        protected += mine
        deleted_count += len(deleted)
    if protected and not request.allow_destructive:
        raise Blocked(
            f"{', '.join(protected)} has deletion protection on: DynamoDB refuses to delete it and the "
            "destroy would fail; nothing was changed",
            "rerun with --allow-destructive to turn deletion protection off first, or set removal_policy: "
            "retain on the table to keep it")
    where = _where(present)
    if request.dry_run:
        emit(DryRun(where, len(present)))
        return 0
    if not request.yes and not confirm(f"Delete {where} and {deleted_count} table(s) with their data?"):
        emit(Cancelled())
        return 1
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    for run in present:
        base = run.state.base or run.head.model_copy(update={"tables": {}})
        names = [t.physical_name for t in base.tables.values() if t.physical_name in protected]
        if names:
            target_schema = base.model_copy(update={"tables": {
                k: t.model_copy(update={"deletion_protection": False}) if t.physical_name in names else t
                for k, t in base.tables.items()}})
            run.target.apply(Step(1, f"turn deletion protection off on {', '.join(names)}", (), target_schema),
                             base, run.state)
            run.target.wait_settled(names, deadline)
        emit(Destroyed(run.state.where, run.target.destroy(run.state)))
    return 0
