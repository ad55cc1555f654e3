"""The one deploy flow, over any target (target.py): it imports the contract, never a concrete target.

    read all → plan all → gate all → (cool-down) → confirm → re-check → adopt → apply all

Every stack is read, planned and gated before anything is applied, with one confirmation for all of
them; then each stack's plan is applied in order (apply.py), and one summary ends a deploy of
several stacks. Each phase is a small function of the `StackRun`s; the policy (every refusal) is in
gate.py, the steps, TTL cool-down and verification in apply.py, destroy in destroy.py.

`deploy --adopt`: a target's `read` finds the tables under the schema's names that nothing manages,
gates them (adopt.py) and counts them in the plan's base; `announce` says so with the plan, and
`adopt` takes them over after the confirmation, before step 1. The drift check (`Target.drift`,
drift.py) refuses to go over changes made by hand unless --allow-drift.

The plan is one object: `--dry-run` shows it and apply executes it, step by step, so a saved plan
(`--plan-out`/`--plan`), a lock per environment or a re-check after the prompt slot in between
`plan_deploy` and `apply_plan` without touching either target. A physical name held by an existing
table is refused (CreateTable fails with ResourceInUseException).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..changes import Change, Plan, Step
from ..diff import diff_schemas, make_change
from ..errors import Blocked, JobworkError
from ..followup import Invocation, command
from ..model import GUARD_TABLE, ResolvedSchema
from ..plan import plan_changes, with_item_counts
from . import DeployRequest, unique_guards
from .apply import apply_plan, cool_down, names_of
from .destroy import DEFAULT_TIMEOUT, where_of
from .events import AtRisk, Cancelled, Deferred, DryRun, Emit, NoChanges, Note, Planned, StacksDone
from .gate import (
    Overtaken,
    approve_all,
    at_risk,
    changed_at_prompt,
    gate_plan,
    refuse_drift,
    refuse_emptied_stacks,
    refuse_generation_down,
    refuse_moves,
    refuse_undoing_other_deploy,
)
from .lock import deploy_lock
from .saved_plan import PlanFile, SavedPlan
from .target import (
    DeployedState,
    Predecessor,
    StackRun,
    Target,
    Targets,
    deployed_fingerprint,
    lock_scope,
    per_stack,
    stack_targets,
)
from .ttl_rename import count_stale, run_backfill, stop_expiring_note, ttl_renames


@dataclass
class Deploy:
    """One deploy of an environment: what was asked, and its stacks as they go through the phases."""

    head: ResolvedSchema
    request: DeployRequest
    target: Targets
    emit: Emit
    confirm: Callable[[str], bool]
    saved: SavedPlan | None
    deadline: float = 0.0       # time.monotonic() past which waiting for tables gives up (--timeout)
    runs: list[StackRun] = field(default_factory=list)
    adopt_only: list[StackRun] = field(default_factory=list)  # the only change: taking over tables as they are
    plan_file: PlanFile | None = None  # --plan-out: every stack's plan, written once all are gated
    # After another deploy overtook this one: each stack's deployed schema this deploy had planned from
    previous: dict[str, ResolvedSchema | None] | None = None

    @property
    def several(self) -> bool:
        return per_stack(self.target) and len(self.target) > 1

    @property
    def pending(self) -> list[StackRun]:
        return [r for r in self.runs if r.plan is not None]


def deploy(head: ResolvedSchema, request: DeployRequest, target: Targets, emit: Emit,
           confirm: Callable[[str], bool], saved: SavedPlan | None = None) -> int:
    """Deploy `head` to `target` (or to each stack's target, stack name → target); the exit code.

    Everything from reading what is deployed to the last step runs under the environment's deploy
    lock (deploy/lock.py), except a dry run, which changes nothing. A saved plan (`--plan FILE`,
    loaded and checked against the schema by the caller: saved_plan.py) replaces the prompt: it is
    applied only while what is deployed is still what it was computed from.
    """
    run = Deploy(head, request, target, emit, confirm, saved)
    if request.dry_run:
        return _deploy(run)
    with deploy_lock(lock_scope(target), head.app, head.env) as lock:
        if lock.took_over is not None:
            emit(Note(f"the deploy lock was left by {lock.took_over.describe()}, whose process ended "
                      "without releasing it: taken over"))
        return replan(run)


# How many times a deploy that others keep overtaking plans again before it gives up (exit 3).
MAX_REPLANS = 3


def replan(d: Deploy) -> int:
    """Deploy; when another deploy (another machine) overtook this one before anything of it was applied, wait for
    that deploy to end and plan again from what it left (docs/deploy.md, "Two deploys of one stack").

    The new plan goes through everything the first went through (gate, prompt without --yes) and is applied only
    if it leaves the tables the other deploy changed as that deploy left them (gate.refuse_undoing_other_deploy).
    """
    for _ in range(MAX_REPLANS):
        try:
            return _deploy(d)
        except Overtaken as exc:
            if not exc.replannable:
                raise
            d.emit(Note(f"{exc.message}; waiting for the other deploy to end, then planning again from what it left",
                        warning=True))
            d = Deploy(d.head, d.request, d.target, d.emit, d.confirm, d.saved,
                       previous={r.head.stack_name: r.state.base for r in d.runs})
    return _deploy(d)


def _deploy(d: Deploy) -> int:
    d.deadline = time.monotonic() + (d.request.timeout or DEFAULT_TIMEOUT)
    if d.request.plan_out:
        d.plan_file = PlanFile(d.request.plan_out, lock_scope(d.target), d.head, d.request.allow_destructive)
    read_all(d)
    plan_all(d)
    if d.previous is not None:
        refuse_undoing_other_deploy(d.previous, d.runs)
    if d.saved is not None:
        # Every stack of the saved plan, and only those, matches what is planned now, before anything runs.
        # The plan records --allow-destructive for its reviewer; the applying command must carry it itself.
        d.saved.check_stacks([r.head.stack_name for r in d.runs])
        for run in d.runs:
            d.saved.check_plan(run.head.stack_name, run.plan, run.head)
    guards = plan_unique_guards(d)   # values held twice where unique: refused (exit 3) before any write
    if not d.pending:
        return write_unique_guards(d, guards, _nothing_to_apply(d))
    gate_all(d)
    ready = not_deferred(d)
    if not ready:
        return 0
    if d.request.dry_run:
        d.emit(DryRun(where_of(ready), sum(len(r.plan.steps) for r in ready)))
        return 0
    if not confirm_all(d, ready):
        d.emit(Cancelled())
        return 1
    for run in [*d.adopt_only, *ready]:
        if run.state.adopting:
            run.target.adopt(run.state)
    backfill_ttl(d, ready)
    return write_unique_guards(d, guards, apply_all(d, ready))


# ---------------------------------------------------------------------------------------------
# The phases

def read_all(d: Deploy) -> None:
    """Read every stack; wait for what the last run left settling; refuse drift, moves and emptied stacks."""
    refused: Blocked | None = None  # a stack's read refused (e.g. a table to adopt): after the move check
    for view, stack_target in stack_targets(d.head, d.target):
        try:
            state = stack_target.read(view)
        except Blocked as exc:
            if not per_stack(d.target):
                raise
            # A table moved to this stack exists outside it; the move says more than "adopt it" does.
            refused = refused or exc
            continue
        if d.saved is not None:
            d.saved.check_deployed(view.stack_name, state)
        if state.base is not None:
            # A rerun after --timeout resumes here: what the last run started settles first.
            names = state.unsettled if state.unsettled is not None else names_of(state.base)
            stack_target.wait_settled(names, d.deadline)
            refuse_drift(stack_target.drift(view, state), d.request.allow_drift, Invocation.of(d.request))
            refuse_generation_down(state.base, view)
        d.runs.append(StackRun(view, stack_target, state))
    if per_stack(d.target):
        moved = refuse_moves(d.head, d.runs, d.request.from_stack if d.request.adopt else None)
        _leave_moved(d.runs, moved)
        if refused is not None:
            raise refused
        refuse_emptied_stacks(d.runs, d.head.stack_name)


def _leave_moved(runs: list[StackRun], moved: dict[str, str]) -> None:
    """The stacks a table moves out of plan without it: the adoption retains and removes it there
    before any step (cloudformation/adopt.py), so their plans must neither delete nor orphan it."""
    for run in runs:
        base = run.state.base
        leaving = [key for key, stack in moved.items() if stack == run.head.stack_name]
        if base is not None and leaving:
            run.state.base = base.model_copy(update={"tables": {k: t for k, t in base.tables.items()
                                                                if k not in leaving}})


def plan_all(d: Deploy) -> None:
    """Plan every stack and show each plan (with what it adopts and the data it puts at risk)."""
    for run in d.runs:
        if run.state.up_to_date and not run.state.adopting:
            d.emit(NoChanges(run.state.where, f"schema {run.head.schema_hash[:12]}"))
            continue
        if per_stack(d.target) and not run.head.tables and run.state.base is not None and not run.state.base.tables:
            # Its tables moved to other stacks (D206): a template needs a resource, so no update empties
            # it; deleting a stack is destroy's decision (or the user's).
            d.emit(Note(f"stack {run.head.stack_name} holds none of the schema's tables any more: it is left as "
                        "it is (its tenant policies name the tables it held by ARN); delete it once nothing uses "
                        f"them (aws cloudformation delete-stack --stack-name {run.head.stack_name})"))
            d.emit(NoChanges(run.state.where))
            continue
        run.plan = plan_deploy(run.state, run.head)
        migrating = [m.source for step in (run.plan.steps if run.plan else ()) for m in step.migrations]
        if migrating and run.target.capabilities.migrates:
            run.plan = with_item_counts(run.plan, run.target.count_items(migrating))
        if run.plan is None:
            if run.state.adopting:
                d.adopt_only.append(run)
            else:
                d.emit(NoChanges(run.state.where))
            continue
        d.emit(Planned(run.plan, run.state.where))
        if migrating and run.target.capabilities.migrates:
            _refuse_large_copies(d, run.target, migrating)
        if run.state.adopting:
            run.target.announce(run.state, run.head)
        _ttl_renames(d, run)
        risky = at_risk(run.plan)
        if risky:
            counts = run.target.count_items([name for name, _ in risky])
            d.emit(AtRisk(tuple((name, what, *counts.get(name, (None, ""))) for name, what in risky)))


def _refuse_large_copies(d: Deploy, target: Target, sources: list[str]) -> None:
    """A migration whose source is over the CLI copy's limit: refused (R027) before anything changes."""
    from ..migrate.scale import read_sizes, refuse_large_copies
    from .aws import aws_errors

    with aws_errors("reading the size of the tables to copy"):
        sizes = read_sizes(target.item_client(), sources)
    refuse_large_copies(sizes, allow=d.request.allow_large_copy,
                        retry=command(Invocation.of(d.request), "deploy", "--allow-large-copy"))


def _ttl_renames(d: Deploy, run: StackRun) -> None:
    """A TTL rename: how many items carry only the old attribute (counted where readable), and what
    becomes of them (--backfill-ttl writes the new one on them before the rename's first step)."""
    renames = ttl_renames(run.plan)
    if not renames:
        return
    client = run.target.item_client()
    backfill = None if d.request.backfill_ttl else command(Invocation.of(d.request), "deploy", "--backfill-ttl")
    for rename in renames:
        count, why = count_stale(client, rename)
        d.emit(Note(stop_expiring_note(rename, count, why, backfill, dry_run=d.request.dry_run),
                    warning=backfill is not None))


def backfill_ttl(d: Deploy, ready: list[StackRun]) -> None:
    """--backfill-ttl: after the confirmation, before any step of the stacks it concerns (resumable: a rerun
    finds the rename still planned, nothing of TTL having moved, and resumes from the checkpoint)."""
    if not d.request.backfill_ttl:
        return
    for run in ready:
        for rename in ttl_renames(run.plan):
            run_backfill(run.target.item_client(), rename, d.head.env, d.emit)


def _guard_target(d: Deploy) -> Target | None:
    """The target of the stack that holds the guard table of unique values (none without one)."""
    return next((r.target for r in d.runs if GUARD_TABLE in r.head.tables), None)


def plan_unique_guards(d: Deploy) -> unique_guards.GuardPlan | None:
    """Stored values of unique attributes that have no guard yet (unique added to a table with data)."""
    target = _guard_target(d)
    if target is None:
        return None
    guards = unique_guards.plan_guards(target.item_client(), d.head)
    if guards is not None and guards.values:
        d.emit(Note(guards.describe()))
    return guards


def write_unique_guards(d: Deploy, guards: unique_guards.GuardPlan | None, code: int) -> int:
    """After a deploy that went through: the guards `plan_unique_guards` announced (not on a dry run)."""
    target = _guard_target(d)
    if guards is None or code != 0 or d.request.dry_run or target is None:
        return code
    written = unique_guards.write_guards(target.item_client(), d.head, list(guards.steps))
    if written:
        d.emit(Note(f"wrote {written} guard item{'s' if written != 1 else ''} for the stored values of "
                    + ", ".join(s.describe() for s in guards.steps)))
    return code


def _nothing_to_apply(d: Deploy) -> int:
    if d.adopt_only:
        return max([adopt_only(r.head, r.state, r.target, d.request, d.emit, d.confirm) for r in d.adopt_only])
    _save(d)
    codes = [r.target.finish(r.state, False) for r in d.runs]
    if d.several:
        d.emit(StacksDone(d.head.env, tuple((r.head.stack_name, None) for r in d.runs), 0.0))
    return max(codes)


def gate_all(d: Deploy) -> None:
    """Every refusal of every stack's plan before anything is applied; then the saved plan, if asked."""
    for run in d.adopt_only:  # adopted along with the other stacks' plans, after the one confirmation
        run.target.announce(run.state, run.head)
    for run in d.pending:
        gate_plan(run.plan, run.target.capabilities, d.request.allow_destructive,
                  lambda run=run: run.target.check_live(run.state, run.plan), Invocation.of(d.request))
    _save(d)


def not_deferred(d: Deploy) -> list[StackRun]:
    """The stacks whose first step may run now; the others say when, before anything is asked (exit 0)."""
    ready = []
    for run in d.pending:
        when, tables = cool_down(run.plan.steps[0], run.plan.base, run.state, run.target.capabilities.ttl_cool_down)
        if when is not None and not d.request.wait:
            d.emit(Deferred(1, len(run.plan.steps), when, tables, False))
        else:
            ready.append(run)
    return ready


def confirm_all(d: Deploy, ready: list[StackRun]) -> bool:
    """One confirmation for all stacks, then a re-read: the answer was given to the plans shown.

    A saved plan was reviewed when it was written, and is checked against what is deployed now."""
    if d.saved is not None:
        return True
    if not approve_all([r.plan for r in ready], yes=d.request.yes, confirm=d.confirm):
        return False
    if not d.request.yes:
        for run in ready:
            run.state, run.plan = recheck(run.state, run.plan, run.head, run.target)
    return True


def apply_all(d: Deploy, ready: list[StackRun]) -> int:
    started, code = time.monotonic(), 0
    # stack → steps applied, or what became of it: None (no changes), "deferred", "not started", "failed"
    outcomes: dict[str, int | str | None] = {
        r.head.stack_name: None if r.plan is None else "not started" if r in ready else "deferred" for r in d.runs}
    for run in ready:
        try:
            code = max(code, apply_plan(run.plan, run.state, run.target, d.request, d.emit, d.deadline))
        except JobworkError as exc:
            if isinstance(exc, Overtaken) and _nothing_applied(d, ready, run, exc):
                exc.replannable = True  # replan() waits for the other deploy and plans again
                raise
            if d.several:
                outcomes[run.head.stack_name] = "failed"
                d.emit(StacksDone(d.head.env, tuple(outcomes.items()), time.monotonic() - started, failed=True))
            raise
        outcomes[run.head.stack_name] = len(run.plan.steps)
    for run in d.runs:
        if run.plan is None:
            code = max(code, run.target.finish(run.state, False))
    if d.several:
        d.emit(StacksDone(d.head.env, tuple(outcomes.items()), time.monotonic() - started))
    return code


def _nothing_applied(d: Deploy, ready: list[StackRun], run: StackRun, exc: Overtaken) -> bool:
    """Overtaken at the first step of the first stack, with no adoption before it and no saved plan (a saved plan
    is applied as reviewed or not at all): nothing of this deploy has changed anything yet."""
    adopted = any(r.state.adopting for r in [*d.adopt_only, *ready])
    return d.saved is None and not adopted and run is ready[0] and exc.step == 1


# ---------------------------------------------------------------------------------------------
# Planning, saving, re-checking

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


def _save(d: Deploy) -> None:
    """--plan-out: every stack's plan in one file (issue 18, item 8), once every stack passed its gate."""
    if d.plan_file is None:
        return
    for run in d.runs:
        d.plan_file.add(run.head, run.plan, run.state)
    d.plan_file.write()
    destructive = ("--allow-destructive",) if d.request.allow_destructive else ()
    apply = command(Invocation.of(d.request), "deploy", "--plan", d.request.plan_out, *destructive)
    d.emit(Note(f"plan saved to {d.request.plan_out}; apply exactly this plan with `{apply}`"))


def recheck(state: DeployedState, plan: Plan, head: ResolvedSchema, target: Target) -> tuple[DeployedState, Plan]:
    """After the prompt: read what is deployed again and recompute the plan; Blocked if either moved.

    The user may have sat at the prompt while another deploy (another environment sharing table
    names, another terminal, the console) changed the tables (issue 14, item 1): the answer was
    given to the plan shown, never to whatever would be planned now. The fresh reading replaces
    the old one whole, the target's private part included.
    """
    try:
        fresh = target.read(head)
    except JobworkError as exc:  # e.g. a table that appeared meanwhile and is not ours (adopt.py)
        raise changed_at_prompt(exc.message, exc.hint) from None
    again = plan_deploy(fresh, head)
    if deployed_fingerprint(fresh) != deployed_fingerprint(state) or again is None or plan_key(again) != plan_key(plan):
        raise changed_at_prompt(describe_drift(state.base, fresh.base))
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
    target.announce(state, head)
    if request.dry_run:
        emit(DryRun(state.where, 0))
        return 0
    if not request.yes and not confirm(f"Adopt {', '.join(state.adopting)} into {state.where}?"):
        emit(Cancelled())
        return 1
    target.adopt(state)
    emit(NoChanges(state.where, f"{len(state.adopting)} table(s) adopted"))
    return target.finish(state, True)

