"""Destroy: delete an environment from its target(s), every stack in reverse deploy order, with the
same confirmation, messages, protection rules and deploy lock as deploy."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..model import ResolvedSchema
from . import DeployRequest
from .apply import protection_off_step
from .events import Cancelled, Destroyed, DestroyPlanned, DryRun, Emit, NoChanges
from .gate import refuse_destroying_protected
from .lock import deploy_lock
from .target import StackRun, Targets, lock_scope, stack_targets

DEFAULT_TIMEOUT = 24 * 3600  # a GSI backfill on a big table can take hours


def destroy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
            confirm: Callable[[str], bool]) -> int:
    """Delete the environment from `target` (every stack, in reverse deploy order); the exit code."""
    if request.dry_run:
        return _destroy(head, request, target, emit, confirm)
    with deploy_lock(lock_scope(target), head.app, head.env):
        return _destroy(head, request, target, emit, confirm)


def where_of(runs: list[StackRun]) -> str:
    if len(runs) == 1:
        return runs[0].state.where
    return "stacks " + ", ".join(r.head.stack_name for r in runs)


def _base(run: StackRun) -> ResolvedSchema:
    return run.state.base or run.head.model_copy(update={"tables": {}})


def _destroy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
             confirm: Callable[[str], bool]) -> int:
    runs = [StackRun(view, t, t.read(view, destroying=True)) for view, t in reversed(stack_targets(head, target))]
    present = [r for r in runs if r.state.base is not None or r.state.exists]
    if not present:
        emit(NoChanges(runs[0].state.where if len(runs) == 1 else f"environment {head.env} ({where_of(runs)})",
                       destroy=True))
        return 0
    protected, deleted_count = _announce(present, emit)
    refuse_destroying_protected(protected, request.allow_destructive)
    where = where_of(present)
    if request.dry_run:
        emit(DryRun(where, len(present)))
        return 0
    if not request.yes and not confirm(f"Delete {where} and {deleted_count} table(s) with their data?"):
        emit(Cancelled())
        return 1
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    for run in present:
        base = _base(run)
        keys = [k for k, t in base.tables.items() if t.physical_name in protected]
        if keys:
            run.target.apply(protection_off_step(base, keys), base, run.state)
            run.target.wait_settled([base.tables[k].physical_name for k in keys], deadline)
        emit(Destroyed(run.state.where, run.target.destroy(run.state)))
    return 0


def _announce(present: list[StackRun], emit: Emit) -> tuple[list[str], int]:
    """What each stack's destroy deletes and keeps; (the protected tables it deletes, how many it deletes)."""
    protected: list[str] = []
    deleted_count = 0
    for run in present:
        tables = list(_base(run).tables.values())
        deleted = tuple(t.physical_name for t in tables if t.removal_policy == "destroy")
        kept = tuple(t.physical_name for t in tables if t.removal_policy != "destroy")
        mine = tuple(t.physical_name for t in tables if t.removal_policy == "destroy" and t.deletion_protection)
        emit(DestroyPlanned(run.state.where, deleted, kept, mine, run.state.other_resources,
                            run.state.termination_protection))
        protected += mine
        deleted_count += len(deleted)
    return protected, deleted_count
