"""Drift reports for people (text), programs (JSON), pull requests (Markdown) and GitHub Actions."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from ..changes import Severity
from ..drift import DriftReport
from ..followup import Invocation, command
from .changes import MARKS, STYLES, change_record, markdown_cell, summary
from .github import escape_data, escape_property

_WIDTH = max(len(s.label) for s in Severity)


def _summary(report: DriftReport) -> str:
    if not report.items:
        return f"No drift: the live tables match {report.reference_label}."
    return summary([i.change for i in report.items]).replace("change", "difference", 1)


def render_drift_text(report: DriftReport, console: Console, invocation: Invocation | None = None) -> None:
    console.print(f"[bold]Drift of {escape(report.where)}[/]: the live tables against {report.reference_label}",
                  markup=True)
    table = None
    for item in report.items:
        if item.change.table != table:
            table = item.change.table
            console.print(f"[bold]{escape(table)}[/]", markup=True)
        label = f"[{STYLES[item.severity]}]{item.severity.label:<{_WIDTH}}[/]"
        console.print(f"  {label}  {item.change.code}  {escape(item.drift)}", markup=True)
        console.print(f"{'':<{_WIDTH + 10}}[dim]next deploy:[/] {escape(item.next_deploy)}", markup=True)
    for line in _lists(report, invocation):
        console.print(escape(line))
    console.print(_summary(report))


def _lists(report: DriftReport, invocation: Invocation | None = None) -> list[str]:
    lines = []
    if report.pending:
        n = len(report.pending)
        dry_run = command(invocation or Invocation(env=report.env), "deploy", "--dry-run")
        lines.append(f"Not drift, not deployed yet: {n} change{'' if n == 1 else 's'} between {report.reference_label} "
                     f"and the schema (`{dry_run}` shows {'it' if n == 1 else 'them'})")
    if report.unadopted:
        lines.append(f"Under the schema's names but not managed by environment {report.env}: "
                     f"{', '.join(report.unadopted)} (a deploy refuses them; adopt them: docs/adopt.md)")
    if report.unmanaged:
        lines.append(f"With the environment's name prefix but in no schema: {', '.join(report.unmanaged)}")
    lines.append(not_checked_line(report))
    return lines


def not_checked_line(report: DriftReport) -> str:
    """One line: what drift leaves out, by name (the reasons are in docs/deploy.md and the JSON)."""
    always = [reason.partition(":")[0] for reason in report.not_checked if "not reported by this engine" not in reason]
    engine = [reason.partition(":")[0] for reason in report.not_checked if "not reported by this engine" in reason]
    line = f"Not checked: {', '.join(always)} (AWS changes them on its own, or DynamoDB does not store them)"
    if engine:
        line += f"; {', '.join(engine)} (not reported by this engine)"
    return line


def drift_json(report: DriftReport) -> str:
    changes = [i.change for i in report.items]
    counts = {s.label: sum(1 for c in changes if c.severity is s) for s in sorted(Severity, reverse=True)}
    return json.dumps({
        "env": report.env,
        "where": report.where,
        "reference": report.reference_label,
        "drifted": bool(report.items),
        "severity": report.severity.label if report.severity is not None else None,
        "summary": {"total": len(changes), **counts},
        "drift": [{**change_record(i.change), "drift": i.drift, "next_deploy": i.next_deploy} for i in report.items],
        "pending": [change_record(c) for c in report.pending],
        "unadopted": list(report.unadopted),
        "unmanaged": list(report.unmanaged),
        "not_checked": list(report.not_checked),
    }, indent=2, ensure_ascii=False, default=str)


def drift_markdown(report: DriftReport, invocation: Invocation | None = None) -> str:
    lines = [f"### Drift of {report.where}", "", f"**{_summary(report)}**"]
    if report.items:
        lines += ["", "| severity | table | what differs | next deploy |", "| --- | --- | --- | --- |"]
        for i in report.items:
            lines.append(f"| {MARKS[i.severity]} {i.severity.label} | {markdown_cell(i.change.table)} | "
                         f"`{i.change.code}` {markdown_cell(i.drift)} | {markdown_cell(i.next_deploy)} |")
    lines += ["", *(f"{line}" if not line.startswith("  ") else line.replace("  - ", "- ", 1)
                    for line in _lists(report, invocation))]
    return "\n".join(lines) + "\n"


def drift_github(report: DriftReport) -> str:
    """Workflow commands: one annotation per difference (no file: the drift is in AWS, not the YAML)."""
    level = {Severity.DESTRUCTIVE: "error", Severity.MULTI_STEP: "error", Severity.ONLINE: "warning",
             Severity.SAFE: "notice"}
    lines = [f"::{level[i.severity]} title={escape_property(f'drift {i.change.code} ({i.change.table})')}::"
             f"{escape_data(i.drift + chr(10) + 'next deploy: ' + i.next_deploy)}" for i in report.items]
    lines.append(_summary(report))
    return "\n".join(lines)
