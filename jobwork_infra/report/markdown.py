"""Text from the schema made safe for Markdown that GitHub renders (pull-request comments).

Descriptions, access pattern names and other free text come from whoever wrote the YAML: raw HTML
would render (or hide) in a comment, and `@name` would notify people. Both are neutralised; the text
still reads the same.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_text(text: str) -> str:
    """HTML characters as entities; a zero-width space after `@` so no mention or team ping fires."""
    return _MENTION.sub("@&#8203;", text.translate(_HTML))
