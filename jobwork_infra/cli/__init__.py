"""The `jobwork-infra` command: a thin Typer shell over the pipeline.

Each command lives in its own module of this package; they register on `app` when imported below.
Heavy libraries (aws_cdk, boto3) are imported inside the commands that need them, so `validate` and
`diff` start fast. One error boundary (`_Group.invoke`) turns failures into messages and exit codes:
0 ok, 1 invalid input or failed operation, 2 usage, 3 blocked.
"""

from __future__ import annotations

import importlib
import io
import os
import pkgutil
import sys
from typing import Annotated

# Before typer, rich and pydantic: for `synth` it starts Node.js, which then runs alongside them.
from . import _node_start  # noqa: F401

# isort: split
import typer
from rich.console import Console
from typer.core import TyperGroup

from ..errors import Blocked, JobworkError, SchemaInvalid, explain
from ..project import DEFAULT_SCHEMA

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


# Shared options, so every command spells them the same way.
SchemaOption = Annotated[str, typer.Option(
    "--schema", "-s", envvar="JOBWORK_SCHEMA", show_envvar=True, help="The schema file.")]
EnvOption = Annotated[str, typer.Option("--env", "-e", help="The environment, as named in the schema.")]
SCHEMA_DEFAULT = DEFAULT_SCHEMA


def print_error(message: str, hint: str | None = None) -> None:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        stderr.print(f"  [dim]hint:[/] {hint}", markup=True)


def _discard_stdout() -> None:
    """After a failed write to stdout (a full device, a closed pipe), send what is left to /dev/null, so
    that the interpreter's final flush does not fail again with a traceback-like message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file descriptor (a test runner's capture): nothing to flush at exit


class _Group(TyperGroup):
    """The error boundary: library errors become messages; tracebacks only with --debug."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        # typer (>= 0.29) vendors click: exits, aborts and usage errors are typer's own classes.
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except SchemaInvalid as exc:
            if ctx.params.get("debug"):
                raise
            from ..report.text import render_diagnostics

            render_diagnostics(exc.diagnostics, exc.sources, stderr)
            ctx.exit(EXIT_FAILED)
        except Blocked as exc:
            if ctx.params.get("debug"):
                raise
            print_error(exc.message, exc.hint)
            ctx.exit(EXIT_BLOCKED)
        except JobworkError as exc:
            if ctx.params.get("debug"):
                raise
            print_error(exc.message, exc.hint)
            ctx.exit(EXIT_FAILED)
        except KeyboardInterrupt:
            print_error("interrupted")
            ctx.exit(130)
        except Exception as exc:  # the last line of defence: never a traceback without --debug
            if ctx.params.get("debug"):
                raise
            known = explain(exc)  # a full disk, a bad --region, ...: a cause with a fix, not a bug
            if known is not None:
                if isinstance(exc, OSError):
                    _discard_stdout()
                print_error(known.message, known.hint)
                ctx.exit(EXIT_FAILED)
            print_error(f"internal error: {type(exc).__name__}: {exc}",
                        "rerun with --debug for the traceback and report it")
            ctx.exit(EXIT_FAILED)


app = typer.Typer(
    cls=_Group,
    name="jobwork-infra",
    help="Schema compiler for the DynamoDB tables of JobWork Planner: validate, diff, synth, deploy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for failures.")) -> None:
    """Schema compiler for the DynamoDB tables of JobWork Planner."""


# Every module of this package defines commands on `app`; importing them registers them.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    sys.exit(app(prog_name="jobwork-infra"))
