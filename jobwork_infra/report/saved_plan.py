"""`deploy --show-plan FILE`: a saved plan printed as the dry run that wrote it printed it.

A plan file (deploy/saved_plan.py writes it) is JSON for machines, 10 KB for a small change; the
reviewer of `deploy --plan FILE` wants to read what it will do. Reading it needs neither boto3 nor
an engine: the file carries its changes per step, the target state and where it applies.
"""

from __future__ import annotations

from rich.console import Console

from ..changes import Change, Plan, Severity, Step
from ..diff import KINDS
from ..model import ResolvedSchema
from .changes import render_plan_text

_KIND_OF_CODE = {kind.code: kind.kind for kind in KINDS.values()}


def plan_from_document(record: dict) -> tuple[Plan, str]:
    """One stack's saved plan (a record of the file's `stacks`) as a Plan, its changes rebuilt from
    their records, and where it applies.

    Changes that several steps carry (a TTL rename, a rebuilt index) are listed once."""
    head = ResolvedSchema.model_validate(record["target_state"])
    changes: dict[tuple, Change] = {}
    steps = []
    for step in record["steps"]:
        mine = []
        for change_record in step["changes"]:
            change = _change(change_record)
            key = (change.code, change.table, change.subject, change.statement)
            mine.append(changes.setdefault(key, change))
        steps.append(Step(int(step["number"]), str(step["summary"]), tuple(mine), head))
    return Plan(None, head, tuple(changes.values()), tuple(steps)), str(record["where"])


def _change(record: dict) -> Change:
    code = str(record["code"])
    return Change(code=code, kind=str(record.get("kind") or _KIND_OF_CODE.get(code, "")),
                  severity=Severity.parse(str(record["severity"])), table=str(record["table"]),
                  subject=str(record.get("subject") or ""), statement=str(record["statement"]),
                  advice=record.get("advice"), after=record.get("after"), index=record.get("index"))


def render_saved_plan(document: dict, path: str, console: Console) -> None:
    """The header that says what the file is, then the plan as `deploy --dry-run` printed it."""
    console.print(f"Saved plan {path}: environment {document['env']} of app {document['app']} "
                  f"({document['target']}), schema {str(document['schema_hash'])[:12]}, written by jobwork-infra "
                  f"{document.get('tool_version', '?')}"
                  + ("; written with --allow-destructive (deploy --plan still needs it)"
                     if document.get("allow_destructive") else ""), markup=False, highlight=False)
    for record in document["stacks"]:  # one plan per stack (format 2), applied in this order
        plan, where = plan_from_document(record)
        if not plan.steps:
            console.print(f"No changes: {where} matched the schema when the plan was written.", markup=False)
            continue
        count = len(plan.steps)
        console.print(f"{where}: {count} step{'' if count == 1 else 's'}", markup=False)
        render_plan_text(plan, console)
