"""Applying a plan that passed the gate: step by step, each after AWS's TTL cool-down, each waited
for until its tables settle; then the live tables are verified (verify.py).

AWS rules, each with its source:
- one TTL change per table per hour: UpdateTimeToLive "can take up to one hour ... Any additional
  UpdateTimeToLive calls for the same table during this one hour duration result in a
  ValidationException" (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html);
  the hour also runs from a table created with TTL. Each change is recorded (`DeployedState.ttl_changed`)
  and a step that would change TTL inside the hour is deferred;
- deletion protection blocks DeleteTable ("the table can't be deleted", DeletionProtectionEnabled,
  CreateTable API): turned off in a step of its own (`protection_off_step`), only with
  --allow-destructive, by deploy and destroy alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..changes import Plan, Step
from ..errors import JobworkError
from ..model import ResolvedSchema
from . import DeployRequest
from .events import Deferred, Deployed, Emit, Note, StepStarted, Verified
from .gate import protected_tables
from .settle import touched_tables
from .target import DeployedState, Target
from .timing import TIMING

TTL_COOL_DOWN = timedelta(hours=1)


def protection_off_step(base: ResolvedSchema, keys: list[str], number: int = 1) -> Step:
    """A step turning deletion protection off on the tables `keys` of `base`, nothing else."""
    target = base.model_copy(update={"tables": {
        k: t.model_copy(update={"deletion_protection": False}) if k in keys else t
        for k, t in base.tables.items()}})
    names = ", ".join(base.tables[k].physical_name for k in keys)
    return Step(number, f"turn deletion protection off on {names}", (), target)


def unprotect_step(plan: Plan) -> Plan:
    """With --allow-destructive: a first step turning deletion protection off on the tables it deletes."""
    protected = protected_tables(plan)
    if not protected or plan.base is None:
        return plan
    first = protection_off_step(plan.base, protected)
    return replace(plan, steps=(first, *(replace(s, number=s.number + 1) for s in plan.steps)))


def ttl_changes(before: ResolvedSchema | None, after: ResolvedSchema) -> list[str]:
    """Keys of the tables whose TTL a step changes (a table created with TTL counts: the hour runs from it)."""
    old = before.tables if before is not None else {}
    return [k for k, t in after.tables.items()
            if (old[k].ttl if k in old else None) != t.ttl and (t.ttl is not None or k in old)]


def cool_down(step: Step, before: ResolvedSchema | None, state: DeployedState,
              enforced: bool = True) -> tuple[datetime | None, tuple]:
    """When `step` may run, if not now: the end of AWS's TTL hour for the tables whose TTL it changes."""
    tables = ttl_changes(before, step.target)
    if not enforced:
        return None, tuple(tables)
    ready = max((state.ttl_changed[k] + TTL_COOL_DOWN for k in tables if k in state.ttl_changed), default=None)
    return (ready, tuple(tables)) if ready is not None and TIMING.now() < ready else (None, tuple(tables))


def names_of(schema: ResolvedSchema) -> list[str]:
    return [t.physical_name for t in schema.tables.values()]


@dataclass
class _Progress:
    """How far an apply got: the schema deployed so far and whether anything changed."""

    applied: ResolvedSchema | None
    changed: bool = False


def apply_plan(plan: Plan, state: DeployedState, target: Target, request: DeployRequest, emit: Emit,
               deadline: float) -> int:
    """Apply every step that may run now; verify what was applied; the exit code."""
    started = time.monotonic()
    plan = unprotect_step(plan)
    progress = _Progress(plan.base)
    for step in plan.steps:
        if not _ready(step, plan, progress, state, target, request, emit):
            return _settle_and_verify(plan, progress, target, emit, deadline, started, state, partial=True)
        _apply_step(step, len(plan.steps), progress, state, target, emit, deadline)
    return _settle_and_verify(plan, progress, target, emit, deadline, started, state, partial=False)


def _ready(step: Step, plan: Plan, progress: _Progress, state: DeployedState, target: Target,
           request: DeployRequest, emit: Emit) -> bool:
    """Whether `step` runs now: after sleeping through the TTL hour with --wait; False: stop here."""
    ready, tables = cool_down(step, progress.applied, state, target.capabilities.ttl_cool_down)
    if ready is None:
        if tables and step.number > 1 and not target.capabilities.ttl_cool_down:
            # The plan's step says "wait before this step": on AWS. Said, so a local run does not teach
            # that a TTL rename is immediate (issue 23).
            emit(Note(f"{', '.join(tables)}: the local engine has no TTL hour: step {step.number} runs now; on AWS "
                      "it waits until 1 h after the previous TTL change"))
        return True
    emit(Deferred(step.number, len(plan.steps), ready, tables, request.wait))
    if not request.wait:
        return False
    TIMING.sleep((ready - TIMING.now()).total_seconds())
    return True


def _apply_step(step: Step, total: int, progress: _Progress, state: DeployedState, target: Target, emit: Emit,
                deadline: float) -> None:
    before = progress.applied
    ttl_tables = ttl_changes(before, step.target)
    emit(StepStarted(step.number, total, step.summary))
    if before is not None:
        target.wait_settled(names_of(before), deadline)
    # The record sent with the step says when it started; AWS counts from when the table's update
    # ran, a little later. Within this run the end of the step is used, which is never too early.
    stamp = TIMING.now()
    for key in ttl_tables:
        state.ttl_changed[key] = stamp
    progress.changed = target.apply(step, before, state) or progress.changed
    finished = TIMING.now()
    for key in ttl_tables:
        state.ttl_changed[key] = finished
    if not target.capabilities.settled_by_apply:
        target.wait_settled(touched_tables(before, step.target), deadline)
    progress.applied = step.target


def _settle_and_verify(plan: Plan, progress: _Progress, target: Target, emit: Emit, deadline: float,
                       started: float, state: DeployedState, *, partial: bool) -> int:
    applied = progress.applied
    if applied is None or not progress.changed:
        if not partial:
            emit(Deployed(state.where, len(plan.steps), time.monotonic() - started, changed=False))
        return target.finish(state, False) if not partial else 0
    if not target.capabilities.settled_by_apply:
        # Settled by now: the tables no step touched were waited for before the first step (_apply_step),
        # the touched ones by the step that touched them.
        target.wait_settled(names_of(applied), deadline)
    checks, problems = target.verify(plan, applied)
    if problems:
        raise JobworkError(
            "after applying, the live tables differ from what the plan promised: " + "; ".join(problems),
            "look at the tables (aws dynamodb describe-table), fix what differs, and deploy again")
    emit(Verified(checks))
    if partial:
        return 0
    emit(Deployed(state.where, len(plan.steps), time.monotonic() - started))
    return target.finish(state, True)
