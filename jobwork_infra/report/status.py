"""`status` for people (text) and programs (JSON)."""

from __future__ import annotations

import json

from rich.console import Console

from ..status import StatusReport, TableStatus


def _items(table: TableStatus) -> str:
    if table.item_count is None:
        return "item count not reported"
    n = table.item_count
    count = f"{n} item{'' if n == 1 else 's'}"
    return count if table.item_count_exact else f"about {count} (DynamoDB's ItemCount, updated about every 6 h)"


def render_status_text(report: StatusReport, console: Console) -> None:
    console.print(f"Status of {report.where}", markup=False)
    for stack in report.stacks:
        when = f"; deployed {stack.deployed_at}" if stack.deployed_at else ""
        when += f"; deploy serial {stack.serial}" if stack.serial is not None else ""
        console.print(f"stack {stack.name} ({stack.status}{when})", markup=False)
        for t in stack.tables:
            label = f"{t.key} → {t.physical_name}" if t.key else f"{t.physical_name} (not in the schema)"
            if t.status == "not deployed":
                console.print(f"  {label}: not deployed", markup=False)
                continue
            console.print(f"  {label}: {t.status}, {_items(t)}", markup=False)
            console.print(f"    keys: {t.keys}", markup=False)
            indexes = "; ".join(f"{i.name} ({i.kind}) {i.keys}: {i.status}" for i in t.indexes) or "none"
            console.print(f"    indexes: {indexes}", markup=False)
            console.print(f"    ttl: {t.ttl or 'none'}; billing: {t.billing}", markup=False)
            console.print(f"    protections: {t.protections}", markup=False)
    if not report.migrations:
        console.print("migrations in progress: none", markup=False)
    for m in report.migrations:
        console.print(f"migration of {m.table}: generation {m.from_generation} → {m.to_generation} "
                      f"({m.source} → {m.target}): {m.phase}, {m.items_copied:,} items copied", markup=False)
        for when, command in m.next:
            console.print(f"  next: {when} `{command}`", markup=False)


def status_json(report: StatusReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
