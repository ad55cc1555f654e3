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

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..changes import Change, Plan, Step
from ..diff import diff_schemas, make_change, replaces_table
from ..drift import DriftReport
from ..errors import Blocked, JobworkError
from ..model import ResolvedSchema
from ..plan import plan_changes
from . import DeployRequest
from .events import (
    AtRisk,
    Cancelled,
    Deferred,
    Deployed,
    Destroyed,
    DestroyPlanned,
    DryRun,
    Emit,
    NoChanges,
    Note,
    Planned,
    StacksDone,
    StepStarted,
    Verified,
)
from .gate import approve, refuse_destructive, refuse_replacement_in_place
from .lock import deploy_lock
from .saved_plan import SavedPlan, write_plan

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
    fingerprint: str = ""           # what is deployed, as the target sees it ("": derived from `base`)
    # What else a destroy deletes with the tables (CloudFormation: "IAM managed policy NAME"), and
    # whether the stack's termination protection must be turned off first.
    other_resources: tuple[str, ...] = ()
    termination_protection: bool = False
    # Nothing deployed under this name, but the same tables under an old app or environment name.
    predecessors: tuple[Predecessor, ...] = ()
    adopting: tuple[str, ...] = ()  # tables nothing manages, taken over before step 1 (deploy --adopt)


@dataclass(frozen=True)
class Predecessor:
    """An environment's tables as deployed before its app or environment was renamed."""

    app: str
    env: str
    tables: tuple[tuple[str, str], ...]  # (YAML table key, physical name)


def deployed_fingerprint(state: DeployedState) -> str:
    """A digest of what is deployed: equal before and after a prompt (or between a saved plan and its
    apply) exactly when nothing was deployed in between. The target's own fingerprint when it has
    one (CloudFormation: the deployed template), else the deployed schema as read."""
    if state.fingerprint:
        return state.fingerprint
    base = state.base.model_dump(mode="json") if state.base is not None else None
    canonical = json.dumps({"base": base, "exists": state.exists}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Target(Protocol):
    """What the flow needs of a place to deploy to."""

    #: Which deploy lock it takes (deploy/lock.py): "local" or "cloudformation".
    lock_scope: str

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

    def count_items(self, names: list[str]) -> dict[str, tuple[int, str]]:
        """Items held by these deployed tables: name → (count, "" exact | "at least" | "approximately")."""
        ...

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


def _lock_scope(target: Targets) -> str:
    return next(iter(target.values())).lock_scope if isinstance(target, Mapping) else target.lock_scope


def deploy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
           confirm: Callable[[str], bool], saved: SavedPlan | None = None) -> int:
    """Deploy `head` to `target` (or to each stack's target, stack name → target); the exit code.

    Every stack is read, planned and gated before anything is applied, with one confirmation for
    all of them; then each stack's plan is applied in order, and one summary ends a deploy of
    several stacks. Everything from reading what is deployed to the last step runs under the
    environment's deploy lock (deploy/lock.py), except a dry run, which changes nothing. A saved plan
    (`--plan FILE`, loaded and checked against the schema by the caller: saved_plan.py) replaces the
    prompt: it is applied only while what is deployed is still what it was computed from.
    """
    if request.dry_run:
        return _deploy(head, request, target, emit, confirm, saved)
    with deploy_lock(_lock_scope(target), head.app, head.env) as lock:
        if lock.took_over is not None:
            emit(Note(f"the deploy lock was left by {lock.took_over.describe()}, whose process ended "
                      "without releasing it: taken over"))
        return _deploy(head, request, target, emit, confirm, saved)


def _deploy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
            confirm: Callable[[str], bool], saved: SavedPlan | None) -> int:
    deadline = time.monotonic() + (request.timeout or DEFAULT_TIMEOUT)
    several = isinstance(target, Mapping) and len(target) > 1
    if several and (saved is not None or request.plan_out):
        raise JobworkError(
            f"environment {head.env} has {len(target)} stacks; a saved plan covers an environment of one stack",
            "deploy it without --plan-out/--plan (the dry run shows every stack's plan)")
    runs = []
    refused: Blocked | None = None  # a stack's read refused (e.g. a table to adopt): after the move check
    for view, stack_target in stack_targets(head, target):
        try:
            state = stack_target.read(view)
        except Blocked as exc:
            if not isinstance(target, Mapping):
                raise
            # A table moved to this stack exists outside it; the move says more than "adopt it" does.
            refused = refused or exc
            continue
        if saved is not None:
            saved.check_deployed(deployed_fingerprint(state))
        if state.base is not None:
            # A rerun after --timeout resumes here: what the last run started settles first.
            names = state.unsettled if state.unsettled is not None else _names(state.base)
            stack_target.wait_settled(names, deadline)
            refuse_drift(stack_target.drift(view, state), request)
        runs.append(StackRun(view, stack_target, state))
    if isinstance(target, Mapping):
        refuse_moves(head, runs)
        if refused is not None:
            raise refused
        refuse_emptied_stacks(runs)
    adopt_only_runs = []  # stacks whose only change is taking over tables that already are as the schema says
    for run in runs:
        if run.state.up_to_date and not run.state.adopting:
            emit(NoChanges(run.state.where, f"schema {run.head.schema_hash[:12]}"))
            continue
        run.plan = plan_deploy(run.state, run.head)
        if run.plan is None:
            if run.state.adopting:
                adopt_only_runs.append(run)
            else:
                emit(NoChanges(run.state.where))
            continue
        emit(Planned(run.plan, run.state.where))
        if run.state.adopting:
            run.target.announce(run.head)
        risky = at_risk(run.plan)
        if risky:
            counts = run.target.count_items([name for name, _ in risky])
            emit(AtRisk(tuple((name, what, *counts.get(name, (None, ""))) for name, what in risky)))
    pending = [r for r in runs if r.plan is not None]
    if not pending and adopt_only_runs:
        return max([adopt_only(r.head, r.state, r.target, request, emit, confirm) for r in adopt_only_runs])
    for run in adopt_only_runs:  # adopted along with the other stacks' plans, after the one confirmation
        run.target.announce(run.head)
    if not pending:
        for run in runs:
            _save(request, None, run.head, run.state, run.target, emit)
        codes = [r.target.finish(False) for r in runs]
        if several:
            emit(StacksDone(head.env, tuple((r.head.stack_name, None) for r in runs), 0.0))
        return max(codes)
    # A saved plan carries the --allow-destructive it was reviewed with.
    request = replace(request, allow_destructive=request.allow_destructive
                      or (saved is not None and saved.allow_destructive))
    for run in pending:
        gate(run.plan, run.state, run.target, request)
        if saved is not None:
            saved.check_plan(run.plan)
        _save(request, run.plan, run.head, run.state, run.target, emit)
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
    if saved is None:
        # A saved plan was reviewed when it was written, and is checked against what is deployed now.
        if not approve_all([r.plan for r in ready], yes=request.yes, confirm=confirm):
            emit(Cancelled())
            return 1
        if not request.yes:
            for run in ready:
                run.state, run.plan = recheck(run.state, run.plan, run.head, run.target)
    for run in [*adopt_only_runs, *ready]:
        if run.state.adopting:
            run.target.adopt(run.state)
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


def _save(request: DeployRequest, plan: Plan | None, head: ResolvedSchema, state: DeployedState, target: Target,
          emit: Emit) -> None:
    if request.plan_out:
        write_plan(request.plan_out, plan, head, state.where, deployed_fingerprint(state), target.lock_scope,
                   request.allow_destructive)
        emit(Note(f"plan saved to {request.plan_out}; apply exactly this plan with "
                  f"`jobwork-infra deploy --env {head.env} --plan {request.plan_out}`"))


def recheck(state: DeployedState, plan: Plan, head: ResolvedSchema, target: Target) -> tuple[DeployedState, Plan]:
    """After the prompt: read what is deployed again and recompute the plan; Blocked if either moved.

    The user may have sat at the prompt while another deploy (another environment sharing table
    names, another terminal, the console) changed the tables (issue 14, item 1): the answer was
    given to the plan shown, never to whatever would be planned now.
    """
    hint = "nothing was applied; run deploy again: it plans from what is deployed now, and asks again"
    try:
        fresh = target.read(head)
    except Blocked as exc:  # e.g. a table that appeared meanwhile and is not ours (adopt.py)
        raise Blocked(f"what is deployed changed while the plan waited for confirmation: {exc.message}",
                      exc.hint or hint) from None
    except JobworkError as exc:
        raise Blocked(f"what is deployed changed while the plan waited for confirmation: {exc.message}",
                      exc.hint or hint) from None
    again = plan_deploy(fresh, head)
    if deployed_fingerprint(fresh) != deployed_fingerprint(state) or again is None or plan_key(again) != plan_key(plan):
        raise Blocked("what is deployed changed while the plan waited for confirmation: "
                      f"{describe_drift(state.base, fresh.base)}", hint)
    return fresh, again


def plan_key(plan: Plan) -> tuple:
    """What identifies a plan: where it starts and each step's summary and target."""
    base = plan.base.schema_hash if plan.base is not None else None
    return base, tuple((s.summary, s.target.schema_hash) for s in plan.steps)


def describe_drift(before: ResolvedSchema | None, after: ResolvedSchema | None) -> str:
    """What changed between two readings of what is deployed, one clause per table."""
    old = before.tables if before is not None else {}
    new = after.tables if after is not None else {}
    parts = []
    for key in [*new, *(k for k in old if k not in new)]:
        if key not in old:
            parts.append(f"table {new[key].physical_name} appeared")
        elif key not in new:
            parts.append(f"table {old[key].physical_name} is gone")
        elif old[key] != new[key]:
            changes = diff_schemas(before, after) if before is not None and after is not None else []
            what = "; ".join(c.statement for c in changes if c.table == key)
            parts.append(f"table {new[key].physical_name} changed" + (f" ({what})" if what else ""))
    return ", ".join(parts) or "the deployed stack changed (its template is no longer the one planned from)"


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
    renamed = rename_changes(state.predecessors, head)
    if renamed:
        plan = replace(plan, changes=(*renamed, *plan.changes))
    if not plan.steps:
        if state.template_differs and state.base is not None:
            # Same schema, different template (another jobwork-infra version): one update to the head.
            return replace(plan, steps=(Step(1, "update the stack template (the schema is unchanged)", (), head),))
        return None
    return plan


def rename_changes(predecessors: tuple[Predecessor, ...], head: ResolvedSchema) -> tuple[Change, ...]:
    """D110 per table a rename leaves behind: the diff calls the same edit destructive (D103), and deploy
    must not quietly create empty tables beside the old ones (issue 14, item 8)."""
    out = []
    for old in predecessors:
        renamed = (f"environment {old.env} → {head.env}" if old.app == head.app
                   else f"app {old.app} → {head.app}")
        for key, name in old.tables:
            out.append(make_change("environment_renamed", key, "table name", before=name,
                                   after=head.tables[key].physical_name, renamed=renamed,
                                   old_env=old.env, old_app=old.app))
    return tuple(out)


def refuse_renamed(plan: Plan, allow_destructive: bool) -> None:
    renamed = [c for c in plan.changes if c.kind == "environment_renamed"]
    if renamed and not allow_destructive:
        raise Blocked("; ".join(c.statement for c in renamed) + "; nothing was changed",
                      renamed[0].advice)


def gate(plan: Plan, state: DeployedState, target: Target, request: DeployRequest) -> None:
    """Every refusal, before anything is applied (Blocked, exit 3, with the way forward)."""
    refuse_name_taken(plan)
    refuse_renamed(plan, request.allow_destructive)
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


def at_risk(plan: Plan) -> list[tuple[str, str]]:
    """(physical name, "deleted" | "replaced") of each deployed table the plan deletes with its data."""
    base = plan.base.tables if plan.base is not None else {}
    return [(base[key].physical_name, "deleted" if key not in plan.head.tables else "replaced")
            for key in deleted_tables(plan)]


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
    confirmation, messages and protection rules as deploy, under the same deploy lock."""
    if request.dry_run:
        return _destroy(head, request, target, emit, confirm)
    with deploy_lock(_lock_scope(target), head.app, head.env):
        return _destroy(head, request, target, emit, confirm)


def _destroy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
             confirm: Callable[[str], bool]) -> int:
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
        emit(DestroyPlanned(run.state.where, deleted, kept, mine, run.state.other_resources,
                            run.state.termination_protection))
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
