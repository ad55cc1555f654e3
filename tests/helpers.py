"""Set-ups the test modules share: the schema text most tests start from, and the CLI run in process.

`schema_text()` writes the text a user would write (block style, in the order given), so a test that
checks a line and column still reads them off the text it built.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml
from typer.testing import CliRunner

from jobwork_infra.cli import app as cli_app

# The table most tests start from: one tenant-scoped table, a uuid sort key and one more attribute.
USERS = {"users": {"sort_key": "user_id", "attributes": {"user_id": "uuid", "email": "string"}}}
# A table in a stack of its own beside the main stack's tables (`stack: orders`).
ORDERS_STACK = {"orders": {"sort_key": "order_id", "stack": "orders", "attributes": {"order_id": "uuid"}}}
# An environment's settings given as text stand on its line as they are: `{"dev": "{removal_policy: destroy}"}`;
# a template for str.format passes `app="{app}"` and doubles its braces (`"{{removal_policy: destroy}}"`).
DEV_DESTROYS = {"dev": {"removal_policy": "destroy"}}


def _block(mapping: Mapping, indent: str = "  ") -> str:
    text = yaml.safe_dump(dict(mapping), sort_keys=False, default_flow_style=False)
    return "".join(indent + line + "\n" for line in text.splitlines())


def schema_text(*, app: str = "shop", environments: Mapping[str, Mapping | str] | None = None,
                tables: Mapping[str, Mapping] | str | None = None) -> str:
    """A schema/tables.yaml text: version 1, `app`, `environments` (default: dev, removal_policy destroy)
    and `tables` (a mapping in block style, or text already indented under `tables:`; default USERS)."""
    lines = ["version: 1", f"app: {app}", "environments:"]
    for name, settings in (DEV_DESTROYS if environments is None else environments).items():
        if isinstance(settings, str):
            lines.append(f"  {name}: {settings}")
        else:
            lines.extend(_block({name: dict(settings)}).splitlines())
    lines.append("tables:")
    body = USERS if tables is None else tables
    return "\n".join(lines) + "\n" + (body if isinstance(body, str) else _block(body))


def run_cli(*args: str, env: Mapping[str, str] | None = None, catch_exceptions: bool = True):
    """`jobwork-infra ARGS` run in process (Typer's CliRunner): the result has exit_code and output."""
    return CliRunner().invoke(cli_app, list(args), env=env, catch_exceptions=catch_exceptions)
