"""Changes and plans for people (text with rich), for programs (JSON), and for pull requests (Markdown)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from ..changes import Change, Plan, Severity
from ..outline import outline_lines
from .markdown import escape_text

STYLES = {
    Severity.DESTRUCTIVE: "bold red",
    Severity.MULTI_STEP: "bold magenta",
    Severity.ONLINE: "yellow",
    Severity.SAFE: "green",
}
_WIDTH = max(len(s.label) for s in Severity)


def summary(changes: Sequence[Change]) -> str:
    """`3 changes: 1 destructive, 1 multi-step, 1 safe`, worst first; `No changes.` when empty."""
    if not changes:
        return "No changes."
    counts = [(s, sum(1 for c in changes if c.severity is s)) for s in sorted(Severity, reverse=True)]
    parts = ", ".join(f"{n} {s.label}" for s, n in counts if n)
    return f"{len(changes)} change{'' if len(changes) == 1 else 's'}: {parts}"


def _groups(changes: Sequence[Change]) -> dict[str, list[Change]]:
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.table, []).append(change)
    return groups


def subject_adds(change: Change) -> bool:
    """False when the statement already names the subject ("index by_email is created"): printing
    "index by_email: index by_email is created" says it twice."""
    return bool(change.subject) and not change.statement.startswith(change.subject)


def details(change: Change) -> list[str]:
    """Lines a change shows below its statement: a new table's keys, indexes, TTL and protections."""
    if change.kind == "table_added" and isinstance(change.after, dict):
        return outline_lines(change.after)
    return []


def render_changes_text(changes: Sequence[Change], console: Console, main_stack: str | None = None) -> None:
    """Grouped by table, one line per change (severity, code, subject: statement), then the summary.

    With `main_stack`, a table whose changes land in another stack says which (`orders  (stack shop-dev-orders)`).
    """
    for table, group in _groups(changes).items():
        stack = group[0].stack
        where = f"  (stack {escape(stack)})" if main_stack and stack and stack != main_stack else ""
        console.print(f"[bold]{escape(table) if table else '(environment)'}[/]{where}")
        for c in group:
            label = f"[{STYLES[c.severity]}]{c.severity.label:<{_WIDTH}}[/]"
            subject = f"{escape(c.subject)}: " if subject_adds(c) else ""
            console.print(f"  {label}  {c.code}  {subject}{escape(c.statement)}")
            if c.advice:
                console.print(f"{'':<{_WIDTH + 4}}[dim]advice:[/] {escape(c.advice)}")
            for line in details(c):
                console.print(f"{'':<{_WIDTH + 4}}[dim]{escape(line)}[/]")
        console.print()
    console.print(summary(changes))


def render_plan_text(plan: Plan, console: Console) -> None:
    """The changes, then the numbered steps a deploy runs (each one legal update)."""
    render_changes_text(plan.changes, console)
    if not plan.steps:
        return
    console.print()
    steps = len(plan.steps)
    console.print(f"[bold]Plan for {escape(plan.head.stack_name)}: {steps} step{'' if steps == 1 else 's'}[/]")
    for step in plan.steps:
        console.print(f"  {step.number}. {escape(step.summary)}")


def render_plans_text(plans: Sequence[Plan], base: str, console: Console, refusals: dict | None = None) -> None:
    """`diff --plan`: each environment's steps if `base` were deployed, refused steps marked.

    `refusals`: environment → review.Refusal list (the deploy gate's, on the plan alone)."""
    from ..review import refused_steps

    for staged in plans:
        mine = (refusals or {}).get(staged.head.env, [])
        marked = refused_steps(staged, mine)
        console.print(f"\nPlan for {staged.head.stack_name} if {base} is deployed:", markup=False)
        for step in staged.steps:
            mark = "  [refused by deploy]" if step.number in marked else ""
            console.print(f"  {step.number}. {step.summary}{mark}", markup=False)
        for refusal in mine:
            console.print(f"  {refusal.text}", markup=False)
            if refusal.hint:
                console.print(f"    hint: {refusal.hint}", markup=False)


def change_record(change: Change) -> dict:
    return {
        "code": change.code,
        "kind": change.kind,
        "severity": change.severity.label,
        "table": change.table,
        "index": change.index,
        "subject": change.subject,
        "statement": change.statement,
        "advice": change.advice,
        "env": change.env,
        "stack": change.stack,
        "before": change.before,
        "after": change.after,
    }


def changes_json(changes: Sequence[Change]) -> str:
    worst = max((c.severity for c in changes), default=None)
    counts = {s.label: sum(1 for c in changes if c.severity is s) for s in sorted(Severity, reverse=True)}
    document = {
        "severity": worst.label if worst is not None else None,
        "summary": {"total": len(changes), **counts},
        "changes": [change_record(c) for c in changes],
    }
    # default=str: before/after are plain already; this only guards against a stray non-JSON value.
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


MARKS = {Severity.DESTRUCTIVE: "🔴", Severity.MULTI_STEP: "🟣", Severity.ONLINE: "🟡", Severity.SAFE: "🟢"}


def markdown_cell(text: str) -> str:
    """Table cells: a pipe would end the cell and a newline the row; HTML and @mentions are escaped."""
    return escape_text(text).replace("|", "\\|").replace("\n", " ")


def changes_markdown(changes: Sequence[Change], title: str = "Schema diff") -> str:
    """A pull-request comment: the summary, then a table of severity, table, change, what happens."""
    lines = [f"### {title}", "", f"**{summary(changes)}**"]
    if changes:
        lines += ["", "| severity | table | change | what happens |", "| --- | --- | --- | --- |"]
        for c in changes:
            severity = f"{MARKS[c.severity]} {c.severity.label}"
            if c.severity is Severity.DESTRUCTIVE:
                severity = f"**{severity}**"
            change = f"`{c.code}` {c.subject or c.kind.replace('_', ' ')}"
            happens = markdown_cell(c.statement) + (f"<br>**Advice:** {markdown_cell(c.advice)}" if c.advice else "")
            happens += "".join(f"<br>{markdown_cell(line)}" for line in details(c))
            lines.append(f"| {severity} | {markdown_cell(c.table) or '—'} | {markdown_cell(change)} | {happens} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# docs/diff.md, generated from the change registry so the docs and the verdicts cannot disagree.

_MEANING = {
    Severity.DESTRUCTIVE: "the table is deleted or replaced: its data is gone",
    Severity.MULTI_STEP: "CloudFormation rejects it as one update; deploy stages it",
    Severity.ONLINE: "in place, but with an effect to know",
    Severity.SAFE: "nothing existing is touched, or metadata only",
}


def changes_reference() -> str:
    from ..diff import KINDS

    lines = [
        "# Change codes of `jobwork-infra diff`",
        "",
        "Generated from the change registry (`jobwork_infra/diff.py`, `KINDS`) by",
        "`python -m jobwork_infra.report.changes`; a test fails when this file and the registry disagree.",
        "",
        "Every change `diff` and `deploy` report carries one of these codes and its severity. Severities are",
        "ordered destructive > multi-step > online > safe; `diff --fail-on LEVEL` (default destructive) exits 3",
        "when a change at or above LEVEL exists, and `deploy` refuses destructive changes unless",
        "`--allow-destructive`. Without `--env`, every environment is judged and the worst verdict kept",
        "(a table removed under `destroy` in dev and `retain` in prod is D101).",
        "",
        "In the statements, `{…}` is filled in with the table, index or values concerned.",
    ]
    for severity in sorted(Severity, reverse=True):
        lines += ["", f"## {severity.label}: {_MEANING[severity]}", "",
                  "| code | change | what happens to the live table | advice |", "| --- | --- | --- | --- |"]
        for kind in KINDS.values():
            if kind.severity is severity:
                lines.append(f"| {kind.code} | {markdown_cell(kind.title)} (`{kind.kind}`) | {markdown_cell(kind.statement)} "
                             f"| {markdown_cell(kind.advice or '')} |")
    lines += [
        "",
        "## Plans",
        "",
        "`deploy` (and `deploy --dry-run`) turns the changes into numbered steps, each one update that",
        "CloudFormation and DynamoDB accept: per table at most one global index created or deleted per step",
        "(deletions first; a key or projection change is a deletion, then a creation), and a TTL rename",
        "split into disable, then enable at least 1 h later. Every other change rides in step 1. A table that",
        "is replaced anyway is created whole, in step 1.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # regenerate docs/diff.md (or the file named on the command line)
    import sys
    from pathlib import Path

    from jobwork_infra.fsio import atomic_write

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "docs" / "diff.md"
    atomic_write(target, changes_reference())
    print(f"wrote {target}")
