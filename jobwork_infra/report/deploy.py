"""Deploy and destroy progress for people: each event of deploy/events.py as rich text."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from ..deploy import events as ev
from ..migrate import events as migration_events
from .changes import render_plan_text
from .migrate import MigrateReport


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class DeployReport:
    """Renders events as they come; `lines` keeps what was said (tests and the CLI summary read it)."""

    def __init__(self, console: Console):
        self.console = console

    def __call__(self, event: ev.Event) -> None:
        c = self.console
        if isinstance(event, migration_events.Event):  # the migrate step of a plan (docs/migrate.md)
            MigrateReport(c)(event)
            return
        match event:
            case ev.Planned(plan, where):
                c.print(f"{escape(where)}: {_n(len(plan.steps), 'step')}")
                render_plan_text(plan, c)
            case ev.AtRisk(tables):
                for name, what, items, exactness in tables:
                    if items is None:
                        held = "its item count is unknown"
                    else:
                        held = f"it holds {exactness + ' ' if exactness else ''}{_n(items, 'item')}"
                    c.print(f"[bold red]data at risk:[/] table {escape(name)} is {what}: {held}, lost with it"
                            + (" (ItemCount: DynamoDB updates it about every six hours)"
                               if exactness == "approximately" else ""))
            case ev.NoChanges(where, _, True):
                c.print(f"Nothing to destroy: {escape(where)} has nothing deployed.")
            case ev.NoChanges(where, detail):
                c.print(f"No changes: {escape(where)} matches the schema" + (f" ({escape(detail)})" if detail else "")
                        + ".")
            case ev.DryRun(where, steps):
                c.print(f"Dry run: {_n(steps, 'step')} would be applied to {escape(where)}; nothing was changed.")
            case ev.Adopting(table, key, items, destroy, env, stack):
                count = f" ({_n(items, 'item')} as last counted)" if items is not None else ""
                source = f" out of stack {stack}" if stack else ""
                c.print(f"Adopting table {escape(table)}{count}{escape(source)} as {escape(key)}: keys and local "
                        "indexes match the schema.")
                if destroy:
                    c.print(f"  [yellow]note:[/] removal_policy is destroy for {escape(key)}: `destroy --env "
                            f"{escape(env)}` would delete it with its data; set removal_policy: retain to keep it")
            case ev.Cancelled():
                c.print("Cancelled; nothing was changed.")
            case ev.StepStarted(number, total, summary):
                c.print(f"[bold]Step {number}/{total}:[/] {escape(summary)}")
            case ev.Applied(text):
                c.print(f"  [green]✓[/] {escape(text)}")
            case ev.Note(text, warning):
                c.print(f"  [yellow]{'warning' if warning else 'note'}:[/] {escape(text)}")
            case ev.StackEvent(status, logical_id, resource_type, reason, elapsed):
                style = ("red" if "FAILED" in status or "ROLLBACK" in status
                         else "green" if status.endswith("COMPLETE") else "yellow")
                line = Text.assemble((f"{elapsed:5.0f}s  ", "dim"), (f"{status:<28}", style), "  ", logical_id,
                                     (f"  {resource_type}", "dim"))
                if reason:
                    line.append(f"  {reason}")
                c.print(line)
            case ev.Waiting(pending, elapsed):
                c.print(f"  [dim]{elapsed:5.0f}s[/]  waiting for {escape(', '.join(pending))}")
            case ev.Deferred(number, total, at, tables, wait):
                # Rounded up to the minute: "after 15:42" must not be a few seconds too early.
                when = (at + timedelta(seconds=59)).strftime("%H:%M UTC")
                why = (f"AWS allows one TTL change per table per hour ({', '.join(tables)})")
                if wait:
                    c.print(f"Step {number} of {total} can run after {when}: {why}; waiting (--wait).")
                else:
                    c.print(f"[bold]Step {number} of {total} can run after {when}; run deploy again then.[/] "
                            f"{escape(why)}.")
            case ev.Failed(lines):
                c.print(Text("Failed:", style="bold red"))
                for line in lines:
                    c.print(Text(f"  {line}"))
            case ev.Verified(checks):
                c.print(f"Verified on the live tables: {_n(checks, 'check')} of what the plan promised passed.")
            case ev.Deployed(where, steps, seconds, changed):
                if changed:
                    c.print(Text(f"Deployed {where}: {_n(steps, 'step')} in {seconds:.1f} s.", style="green"))
                else:
                    c.print(f"No changes: {escape(where)} is up to date.")
            case ev.StacksDone(env, outcomes, seconds, failed):
                changed = [name for name, outcome in outcomes if isinstance(outcome, int)]
                if not failed and not changed and all(o is None for _, o in outcomes):
                    c.print(f"No changes: the {_n(len(outcomes), 'stack')} of {escape(env)} match the schema.")
                    return
                head = (f"Stopped: {len(changed)} of {_n(len(outcomes), 'stack')} of {env} deployed" if failed
                        else f"Deployed {len(changed)} of {_n(len(outcomes), 'stack')} of {env} in {seconds:.1f} s")
                c.print(Text(head + ":", style="red" if failed else "green"))
                for name, outcome in outcomes:
                    what = ("no changes" if outcome is None else _n(outcome, "step") if isinstance(outcome, int)
                            else outcome)
                    c.print(f"  {escape(name)}: {escape(what)}")
            case ev.Outputs(values):
                table = RichTable(title="Outputs", title_justify="left", show_edge=False)
                table.add_column("Output", no_wrap=True)
                table.add_column("Value", overflow="fold")
                for key, value in values:
                    table.add_row(key, value)
                c.print(table)
            case ev.DestroyPlanned(where, deleted, kept, protected, others, termination_protection):
                c.print(f"{escape(where)}:")
                if termination_protection:
                    c.print(f"  [yellow]termination protection is on:[/] it is turned off to delete "
                            f"{escape(where)} (the tables it retains stay)")
                for name in deleted:
                    mark = " (deletion protection on: turned off first)" if name in protected else ""
                    c.print(f"  delete  {escape(name)}  (its data is lost){mark}")
                for name in others:
                    c.print(f"  delete  {escape(name)}")
                for name in kept:
                    c.print(f"  keep    {escape(name)}  (removal_policy: retain)")
            case ev.Destroyed(where, kept):
                c.print(Text(f"Destroyed {where}.", style="green"))
                if kept:
                    c.print("These tables stay, with their data (retained):")
                    for name in kept:
                        c.print(f"  {escape(name)}")

