"""Text from the schema made safe for Markdown that GitHub renders (pull-request comments).

Descriptions, access pattern names and other free text come from whoever wrote the YAML: raw HTML
would render (or hide) in a comment, and `@name` would notify people. Both are neutralised; the text
still reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..changes import Plan

_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_text(text: str) -> str:
    """HTML characters as entities; a zero-width space after `@` so no mention or team ping fires."""
    return _MENTION.sub("@&#8203;", text.translate(_HTML))


def plans_markdown(plans: Sequence[Plan], base: str, refusals: dict | None = None) -> str:
    """The staged steps of each environment's plan, as `diff --plan --format markdown` appends them;
    a step deploy would refuse is marked, with the gate's reason (`refusals`: env → Refusal list)."""
    from ..review import refused_steps

    lines: list[str] = []
    for plan in plans:
        count = len(plan.steps)
        mine = (refusals or {}).get(plan.head.env, [])
        marked = refused_steps(plan, mine)
        lines += ["", (f"#### Plan for `{plan.head.stack_name}`: {count} step{'' if count == 1 else 's'} "
                  f"(if `{escape_text(base)}` is what is deployed)"), ""]
        lines += [f"{step.number}. {escape_text(step.summary)}" + (" — **refused by deploy**" if step.number in marked
                                                                    else "") for step in plan.steps]
        for refusal in mine:
            lines += ["", f"> ⛔ {escape_text(refusal.text)}"
                      + (f"<br>hint: {escape_text(refusal.hint)}" if refusal.hint else "")]
    return "\n".join(lines) + "\n"
