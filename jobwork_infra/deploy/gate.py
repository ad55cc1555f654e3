"""Every refusal of deploy and destroy, as data: a code, what it guards, the AWS rule behind it and
the way forward (Blocked, exit 3). docs/refusals.md is generated from `REFUSALS` (`refusals_markdown`).

The gate is policy only: it reads plans, states and what a target declared (`Capabilities`), and
never calls AWS. Shaped after cfn-lint's rules (an id, a short description, a source URL each).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..changes import Plan, Severity
from ..diff import generation_decreases, is_migration, make_change, replaces_table
from ..drift import DriftReport
from ..errors import Blocked
from ..followup import Invocation, aws_command, command
from ..model import ResolvedSchema
from ..table_options import REFUSED_KINDS
from .target import Capabilities, StackRun

_DDB = "https://docs.aws.amazon.com/amazondynamodb/latest"
_CFN = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide"


@dataclass(frozen=True)
class Refusal:
    code: str
    name: str
    guards: str      # what the refusal keeps from happening, one line
    source: str      # the AWS rule (a URL) or the jobwork-infra issue behind it


REFUSALS: dict[str, Refusal] = {r.code: r for r in (
    Refusal("R001", "name-taken", "creating a table under a physical name another table holds",
            f"{_DDB}/APIReference/API_CreateTable.html (ResourceInUseException)"),
    Refusal("R002", "environment-renamed", "empty tables created beside the ones of the old app or environment name",
            "jobwork-infra issue 14, item 8 (docs/deploy.md)"),
    Refusal("R003", "live-state", "a plan that live tables contradict (a table gone, a stray index, a name held "
            "outside the stack)", f"{_CFN}/aws-resource-dynamodb-table.html"),
    Refusal("R004", "deletion-protected", "an update that fails half-way on a table with deletion protection",
            f"{_DDB}/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection"),
    Refusal("R005", "destructive", "deleting or replacing a table, and its data, without --allow-destructive",
            f"{_DDB}/APIReference/API_DeleteTable.html"),
    Refusal("R006", "replacement-in-place", "replacing a table under the same name (key or local index change)",
            f"{_CFN}/aws-resource-dynamodb-table.html#cfn-dynamodb-table-tablename"),
    Refusal("R007", "stack-emptied", "emptying a deployed stack (a template needs a resource; only destroy "
            "deletes a stack)", f"{_CFN}/resources-section-structure.html"),
    Refusal("R008", "table-moved", "a table whose `stack:` changed being deleted or orphaned by one stack while "
            "the other creates it", f"{_CFN}/resource-import-existing-stack.html"),
    Refusal("R009", "drift", "deploying over changes made outside jobwork-infra without --allow-drift",
            f"{_CFN}/using-cfn-stack-drift.html"),
    Refusal("R010", "changed-at-prompt", "applying a plan other than the one confirmed (what is deployed changed "
            "while the prompt waited)", "jobwork-infra issue 14, item 1"),
    Refusal("R011", "destroy-protected", "a destroy that fails on a table with deletion protection",
            f"{_DDB}/APIReference/API_DeleteTable.html"),
    Refusal("R012", "adopt-needed", "taking over tables nothing manages without --adopt",
            f"{_DDB}/APIReference/API_CreateTable.html (ResourceInUseException)"),
    Refusal("R013", "adopt-fixed-parts", "adopting a table whose keys or local indexes differ from the schema",
            f"{_DDB}/APIReference/API_UpdateTable.html (the key schema cannot change)"),
    Refusal("R014", "unexpected-replacement", "a change set that replaces or removes a table the plan keeps",
            f"{_CFN}/using-cfn-updating-stacks-changesets.html"),
    Refusal("R015", "adopt-referenced", "taking a table out of a stack whose other resources refer to it",
            f"{_CFN}/resource-import-existing-stack.html"),
    Refusal("R016", "adopt-other-stack", "importing a table another stack holds",
            f"{_CFN}/resource-import-existing-stack.html"),
    Refusal("R017", "plan-other-environment", "applying a saved plan to another environment, app or target",
            "jobwork-infra saved plans (docs/deploy.md)"),
    Refusal("R018", "plan-schema-changed", "applying a saved plan to a schema edited since", "jobwork-infra saved plans"),
    Refusal("R019", "plan-deployed-changed", "applying a saved plan after what is deployed changed",
            "jobwork-infra saved plans"),
    Refusal("R020", "plan-differs", "applying a saved plan this version would plan differently",
            "jobwork-infra saved plans"),
    Refusal("R021", "migration-unsupported", "a generation bump on a target that cannot copy the items: "
            "CloudFormation alone would replace the table (a new TableName requires replacement)",
            f"{_CFN}/aws-resource-dynamodb-table.html#cfn-dynamodb-table-tablename"),
    Refusal("R022", "migration-stream-view", "replacing the stream of a migration's source under its consumers "
            "(the catch-up needs NEW_AND_OLD_IMAGES; another view type means a new stream ARN)",
            f"{_DDB}/APIReference/API_StreamSpecification.html"),
    Refusal("R023", "adopt-unkept-property", "adopting a table with a property or setting the schema cannot keep "
            "yet (a stream's resource policy or tags, a recovery period other than 35 days, vector indexes, two "
            "Kinesis destinations…): it would go unmanaged, or the next update would turn it off",
            f"{_CFN}/aws-resource-dynamodb-table.html"),
    Refusal("R024", "wrong-account", "reading or changing an environment with credentials of another account "
            "than its `account:`", "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html"),
    Refusal("R025", "ttl-backfill-incomplete", "moving TTL under --backfill-ttl while items still carry only the "
            "old attribute (they would never expire)", f"{_DDB}/developerguide/TTL.html"),
    Refusal("R026", "wrong-region", "reading or changing an environment in another region than its `region:` (a "
            "stack lives in one account and Region: the same name elsewhere is another stack)",
            f"{_CFN}/stacksets-concepts.html (a stack instance is a stack in a specific account and Region)"),
    Refusal("R027", "migration-too-large", "a migration's copy of a table over 50 GB or 50 million items run from "
            "the CLI without --allow-large-copy: hours of writes that must end within the stream's 24 h",
            f"{_DDB}/developerguide/Streams.html"),
    Refusal("R028", "generation-down", "a table's generation set below the deployed one (rule G101): the lower "
            "generation was retired by `migrate finish` or is still a migration's source",
            "docs/migrate.md"),
    Refusal("R029", "stack-rollback-failed", "deploying to a stack CloudFormation could not roll back "
            "(UPDATE_ROLLBACK_FAILED): it takes no update until the rollback is continued",
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html"),
    Refusal("R030", "overtaken-would-undo", "a deploy that another deploy overtook applying a new plan that "
            "changes again the tables the other deploy just changed (its change would be lost)",
            "jobwork-infra issue 18, item 7 (docs/deploy.md, \"Two deploys of one stack\")"),
    Refusal("R031", "option-not-lowerable", "asking AWS for a change it refuses outright, which would fail "
            "half-way through an update (lowering a table's warm throughput: once increased it cannot be decreased)",
            f"{_DDB}/developerguide/warm-throughput.html"),
)}


class Refused(Blocked):
    """A refusal with its registry entry (`REFUSALS`); the CLI shows the code with the hint."""

    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.refusal = REFUSALS[code]

    @property
    def code(self) -> str:
        return self.refusal.code


class Overtaken(Refused):
    """Another deploy (another machine) updated the stack after this one read it: nothing of this step was applied.

    `step` is the number of the step that was stopped; the flow may wait for the other deploy and plan again
    (flow.py, `replan`) when nothing of this deploy was applied yet."""

    def __init__(self, message: str, hint: str, step: int | None = None):
        super().__init__("R010", message, hint)
        self.step = step
        self.replannable = False  # set by the flow when nothing of the deploy was applied yet


def refusals_markdown() -> str:
    """docs/refusals.md: the registry as a table."""
    lines = ["# Refusals", "",
             "Every way `deploy` and `destroy` refuse (exit 3, nothing changed), from `jobwork_infra/deploy/gate.py`.",
             "Generated: do not edit by hand (`python -m jobwork_infra.deploy.gate > docs/refusals.md`).", "",
             "| code | name | keeps from happening | source |", "|---|---|---|---|"]
    lines += [f"| {r.code} | {r.name} | {r.guards} | {r.source} |" for r in REFUSALS.values()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The plan of one stack

def gate_plan(plan: Plan, capabilities: Capabilities, allow_destructive: bool,
              live_problems: Callable[[], list[tuple[str, str]]], rerun: Invocation | None = None) -> None:
    """Every refusal of a plan, before anything is applied, in this order; `live_problems` asks the target."""
    refuse_name_taken(plan)
    refuse_not_lowerable(plan)
    refuse_renamed(plan, allow_destructive)
    problems = live_problems()
    if problems:
        raise Refused("R003", "; ".join(p for p, _ in problems) + "; nothing was changed",
                      "; ".join(dict.fromkeys(fix for _, fix in problems)))
    refuse_protected(plan, allow_destructive)
    refuse_destructive(plan, allow_destructive, rerun)
    refuse_replacement_in_place(plan, retained_only=capabilities.replaces_in_place, rerun=rerun)
    refuse_migration(plan, migrates=capabilities.migrates)


def refuse_not_lowerable(plan: Plan) -> None:
    """R031: a change AWS refuses outright (table_options.py marks it), whatever the flags."""
    impossible = [c for c in plan.changes if c.kind in REFUSED_KINDS]
    if impossible:
        raise Refused("R031", "; ".join(f"{c.table}{' (' + c.subject + ')' if c.index else ''}: {c.statement}"
                                        for c in impossible) + "; nothing was changed",
                      "set the value back to at least what is deployed, or remove it from the schema to leave the "
                      "table's own value in place")


def refuse_name_taken(plan: Plan) -> None:
    taken = [c for c in plan.changes if c.kind == "table_name_taken"]
    if taken:
        raise Refused("R001", "; ".join(c.statement for c in taken) + "; nothing was changed",
                      "; ".join(c.advice for c in taken if c.advice))


def refuse_renamed(plan: Plan, allow_destructive: bool) -> None:
    renamed = [c for c in plan.changes if c.kind == "environment_renamed"]
    if renamed and not allow_destructive:
        raise Refused("R002", "; ".join(c.statement for c in renamed) + "; nothing was changed", renamed[0].advice)


def deleted_tables(plan: Plan) -> list[str]:
    """Keys of the deployed tables the plan deletes (removed under destroy, or replaced)."""
    if plan.base is None:
        return []
    out = []
    for key, old in plan.base.tables.items():
        new = plan.head.tables.get(key)
        # A migration replaces nothing: generation N is created beside N-1, which stays (docs/migrate.md).
        replaced = new is not None and replaces_table(old, new) and not is_migration(old, new)
        if old.removal_policy == "destroy" and (new is None or replaced):
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
        raise Refused(
            "R004",
            f"the plan deletes {names}, which has deletion protection on: DynamoDB refuses to delete it, "
            "and the whole update would fail; nothing was changed",
            "keep the table (removal_policy: retain keeps its data when it leaves the schema), or rerun with "
            "--allow-destructive: deletion protection is then turned off in a step of its own first")


def refuse_destructive(plan: Plan, allow_destructive: bool, rerun: Invocation | None = None) -> None:
    """Raise Blocked (exit 3) when the plan would delete or replace a table and that was not allowed.

    Even a table that is empty now: it is counted before the prompt ("data at risk"), but an item
    written between the count and the delete would be lost without anyone having allowed it."""
    destructive = [c for c in plan.changes if c.severity is Severity.DESTRUCTIVE]
    if destructive and not allow_destructive:
        tables = sorted({c.table for c in destructive})
        allowed = f"`{command(rerun, 'deploy', '--allow-destructive')}`" if rerun else "--allow-destructive"
        # A removed table has no keys or name to keep (issue 23): its way forward is to keep it or retain it.
        removed = all(c.kind == "table_removed" for c in destructive)
        keep = ("keep the table in the schema, or set removal_policy: retain on it and deploy that first (then "
                "removing it keeps the data)" if removed
                else "change the schema so the table keeps its keys and name")
        raise Refused(
            "R005",
            f"refusing {len(destructive)} destructive change(s) to {', '.join(tables)}: "
            "the data in these tables would be lost",
            f"{keep}; or rerun with {allowed} once the data is backed up or expendable (an empty table too: "
            "nothing else allows a delete)",
        )


def refuse_replacement_in_place(plan: Plan, *, retained_only: bool, rerun: Invocation | None = None) -> None:
    """Raise Blocked (exit 3) for a key or local-index change to a table that keeps its name.

    The new table needs the old one's name, so the old one must go first. CloudFormation never
    does that for a named table (`retained_only=False`: the update would fail and roll back); the
    local engine can, unless the old table is retained (`retained_only=True`). Refused before
    anything is applied, even with --allow-destructive, with the ways that do work.
    """
    if plan.base is None:
        return
    stuck = [(key, new.physical_name) for key, new in plan.head.tables.items()
             if (old := plan.base.tables.get(key)) is not None
             and old.physical_name == new.physical_name and replaces_table(old, new)
             and (not retained_only or old.removal_policy == "retain")]
    if stuck:
        raise Refused("R006", *_replacement_advice(plan, stuck, retained_only, rerun))


def refuse_migration(plan: Plan, *, migrates: bool) -> None:
    """A generation bump the target cannot run (R021), or cannot run without replacing a stream (R022).

    CloudFormation alone would replace the table under its logical id (a new TableName requires
    replacement), deleting generation N-1 under removal_policy: destroy; the copy and the stream
    consumer are not wired on that target yet (docs/migrate.md, "On AWS").
    """
    migrations = [m for step in plan.steps for m in step.migrations]
    if not migrations:
        return
    names = ", ".join(f"{m.table} (generation {m.from_generation} → {m.to_generation})" for m in migrations)
    if not migrates:
        raise Refused("R021", f"this target cannot run a migration yet: {names}; CloudFormation alone would replace "
                      "the table and lose its items; nothing was changed",
                      "run the migration on the local engine (`deploy --local`) to try it; on AWS keep the "
                      "generation for now (docs/migrate.md, \"On AWS\")")
    streams = [(m, plan.base.tables[m.table].stream) for m in migrations if plan.base is not None
               and plan.base.tables[m.table].stream not in (None, "new_and_old_images")]
    if streams:
        shown = ", ".join(f"{m.source} ({stream})" for m, stream in streams)
        raise Refused("R022", f"a migration replays its source's stream with new_and_old_images, and {shown} has "
                      "another view type: changing it replaces the stream (a new ARN) under the consumers that "
                      "read it; nothing was changed",
                      "set stream: new_and_old_images on the table at its current generation, deploy that and move "
                      "the consumers to the new stream ARN, then bump the generation")


def _replacement_advice(plan: Plan, stuck: list[tuple[str, str]], retained_only: bool,
                        rerun: Invocation | None) -> tuple[str, str]:
    names = ", ".join(sorted(name for _, name in stuck))
    key, name = min(stuck)
    env = plan.head.env
    why = ("the old table is retained (removal_policy: retain)" if retained_only
           else "CloudFormation cannot replace a named table in place")
    # Not "destroy, then deploy": destroy keeps retained tables, and the next deploy would then
    # refuse the name they hold (issue 13). Each path below ends in a deploy that succeeds.
    # The follow-up commands repeat the run's target (followup.py); without one (diff --plan): the
    # target the refusal is about.
    rerun = rerun or Invocation(env=env, local=retained_only)
    deploy = command(rerun, "deploy")
    allowed = command(rerun, "deploy", "--allow-destructive")
    fate = ("stays with its data (retained), unmanaged, for you to copy the items from and then delete"
            if plan.base.tables[key].removal_policy == "retain"
            else "is deleted with its data (removal_policy: destroy): copy the items out first if you need them")
    rename = (f"give the new table another name (table_name: {name}-v2 on table {key}) and run "
              f"`{allowed}`: the old table {fate}")
    empty = (f"; to start over empty under the same name: put the old key back, set removal_policy: destroy "
             f"on table {key}, run `{deploy}`, then change the key again and run `{allowed}`" if retained_only else "")
    message = f"cannot replace {names} under the same name: a key or local index change needs a new table, and {why}"
    return message, rename + empty


def refuse_drift(report: DriftReport | None, allow_drift: bool, rerun: Invocation | None = None) -> None:
    """Drift is never undone (or tripped over) silently: exit 3 listing it, unless --allow-drift."""
    if report is None or not report.items or allow_drift:
        return
    # One line per difference (issue 23: all of it on one very long line was unreadable).
    found = "".join(f"\n  - {i.change.table}: {i.drift} (deploy: {i.next_deploy})" for i in report.items)
    raise Refused(
        "R009",
        f"{len(report.items)} change(s) made to {report.where} outside jobwork-infra; nothing was changed:{found}",
        f"undo them by hand, or write them into the schema, then deploy; "
        f"`{command(rerun or Invocation(env=report.env), 'drift')}` lists them; --allow-drift deploys anyway, "
        "doing what each says")


# ---------------------------------------------------------------------------------------------
# The stacks of an environment

def refuse_generation_down(deployed: ResolvedSchema | None, head: ResolvedSchema) -> None:
    """A generation only goes up (G101): checked against what is deployed, before anything is planned."""
    down = generation_decreases(deployed, head)
    if down:
        tables = ", ".join(f"{key} (deployed generation {was}, the schema says {now})" for key, was, now in down)
        raise Refused("R028", f"a generation only goes up: {tables}; nothing was changed",
                      "set each generation back to the deployed one; to change such a table again, bump its "
                      "generation past the deployed one (docs/migrate.md)")


def refuse_emptied_stacks(runs: list[StackRun], main: str | None = None) -> None:
    """A deployed stack that no table of the schema names any more is left alone (Blocked, exit 3).

    A template without resources is not valid, so the only update that empties a stack is deleting
    it, and that is `destroy`'s decision, not a side effect of a deploy. The environment's main stack
    (`main`) is the exception: it is the environment's own (destroy deletes it last), so removing its
    last table is planned there like any removal (destructive, refused without --allow-destructive) and
    the stack keeps a resource that creates nothing (cloudformation/target.py, `synth`).
    """
    for run in runs:
        if run.head.stack_name == main:
            continue
        if not run.head.tables and run.state.base is not None and run.state.base.tables:
            names = ", ".join(t.physical_name for t in run.state.base.tables.values())
            raise Refused(
                "R007",
                f"stack {run.head.stack_name} is deployed, but none of its tables ({names}) is in the schema "
                "any more; nothing was changed",
                "put the tables back in the schema, or delete the stack (aws cloudformation delete-stack "
                f"--stack-name {run.head.stack_name}: tables with removal_policy retain are kept)")


def refuse_moves(head: ResolvedSchema, runs: list[StackRun], moving_from: str | None = None) -> dict[str, str]:
    """A table whose `stack:` changed is refused before anything is planned or applied (Blocked, exit 3),
    unless the deploy moves it: `--adopt --from-stack` naming the stack that holds it (`moving_from`).
    Returns the tables moved that way: key → the stack they leave.

    Each stack's own plan would see the table removed from one stack and created in the other, and
    CloudFormation would delete (destroy) or orphan (retain) it while the create of the name fails.
    The move keeps the physical table: retained in the old stack, removed, imported into the new one
    (cloudformation/adopt.py, move.py); the old stack's plan no longer counts it (flow.read_all).
    """
    deployed: dict[str, str] = {}  # table key → the stack that holds it now
    for run in runs:
        adopting = set(run.state.adopting or ())  # counted in the base, but held elsewhere until imported
        for key, table in (run.state.base.tables if run.state.base is not None else {}).items():
            if table.physical_name not in adopting:
                deployed.setdefault(key, run.head.stack_name)
    moves = [make_change("stack_changed", key, "stack", env=head.env, before=deployed[key],
                         after=head.stack_of(table), name=table.physical_name)
             for key, table in head.tables.items() if key in deployed and deployed[key] != head.stack_of(table)]
    moved = {c.table: c.before for c in moves if moving_from is not None and c.before == moving_from}
    moves = [c for c in moves if c.table not in moved]
    if moves:
        raise Refused("R008", "; ".join(f"[{c.code}] {c.statement}" for c in moves) + "; nothing was changed",
                      "; ".join(dict.fromkeys(c.advice for c in moves if c.advice)))
    return moved


def changed_at_prompt(what: str, hint: str | None = None) -> Refused:
    """What is deployed moved while the user sat at the prompt (flow.recheck)."""
    return Refused("R010", f"what is deployed changed while the plan waited for confirmation: {what}",
                   hint or "nothing was applied; run deploy again: it plans from what is deployed now, and asks again")


def refuse_rollback_failed(stack: str, reason: str, stuck: list[tuple[str, str]], rerun: Invocation) -> None:
    """A stack in UPDATE_ROLLBACK_FAILED takes no update ("A stack goes into the UPDATE_ROLLBACK_FAILED state when
    CloudFormation can't roll back all changes after a failed stack update"); the way out is ContinueUpdateRollback,
    skipping the resources that cannot be rolled back ("You can specify only resources that are in the UPDATE_FAILED
    state because a rollback failed", API_ContinueUpdateRollback.html)."""
    named = "; ".join(f"{lid}: {why}" if why else lid for lid, why in stuck)
    skip = ("--resources-to-skip", *(lid for lid, _ in stuck)) if stuck else ()
    continue_ = aws_command(rerun, "cloudformation", "continue-update-rollback", "--stack-name", stack)
    skipping = aws_command(rerun, "cloudformation", "continue-update-rollback", "--stack-name", stack, *skip)
    raise Refused(
        "R029",
        f"stack {stack} is UPDATE_ROLLBACK_FAILED{f' ({reason})' if reason else ''}: a failed update could not be "
        "rolled back, and CloudFormation takes no update until the rollback is continued"
        + (f". The rollback failed on {named}" if stuck else "") + "; nothing was changed",
        f"fix the cause (each resource back as the stack's template has it) and run `{continue_}`; a resource that "
        f"cannot be fixed can be skipped: `{skipping}` (a skipped resource is left as it is, out of step with the "
        f"template: check it with `jobwork-infra drift --env {rerun.env}` before deploying). Then deploy again")


def refuse_undoing_other_deploy(previous: dict[str, ResolvedSchema | None], runs: list[StackRun]) -> None:
    """After waiting for the deploy that overtook this one: the new plan must leave what that deploy changed alone.

    Two CI runs of successive commits: the later schema has the earlier change, the new plan only adds its own,
    and it goes ahead. Two different schemas: the new plan would change those tables back; refused, so a human
    sees the new plan (the other deploy's change is never undone unseen)."""
    clashes = []
    for run in runs:
        if run.head.stack_name not in previous or run.plan is None:
            continue
        before, now = previous[run.head.stack_name], run.state.base
        old = before.tables if before is not None else {}
        new = now.tables if now is not None else {}
        changed = {k for k in [*old, *new] if old.get(k) != new.get(k)}
        touched = sorted({c.table for c in run.plan.changes if c.table in changed})
        clashes += [f"table {(new.get(k) or old[k]).physical_name} of stack {run.head.stack_name}" for k in touched]
    if clashes:
        raise Refused(
            "R030",
            "another deploy updated " + ", ".join(clashes) + " while this deploy waited, and this schema would change "
            "it again (undoing that deploy's change); nothing was applied",
            "the schema of the other deploy is live now: bring its change into this schema (merge or rebase), then "
            "deploy again and review the plan")


def refuse_destroying_protected(protected: list[str], allow_destructive: bool) -> None:
    if protected and not allow_destructive:
        raise Refused(
            "R011",
            f"{', '.join(protected)} has deletion protection on: DynamoDB refuses to delete it and the "
            "destroy would fail; nothing was changed",
            "rerun with --allow-destructive to turn deletion protection off first, or set removal_policy: "
            "retain on the table to keep it")


# ---------------------------------------------------------------------------------------------
# The confirmation

def approve(plan: Plan, *, yes: bool, confirm: Callable[[str], bool]) -> bool:
    """True when the deploy may go ahead: --yes, or the user said so at the prompt."""
    if yes:
        return True
    question = f"Apply {len(plan.steps)} step(s) to {plan.head.stack_name}?"
    return confirm(question)


def approve_all(plans: list[Plan], *, yes: bool, confirm: Callable[[str], bool]) -> bool:
    """One confirmation for every stack's plan."""
    if len(plans) == 1 or yes:
        return approve(plans[0], yes=yes, confirm=confirm)
    steps = sum(len(p.steps) for p in plans)
    return confirm(f"Apply {steps} step(s) to stacks {', '.join(p.head.stack_name for p in plans)}?")


if __name__ == "__main__":
    print(refusals_markdown(), end="")
