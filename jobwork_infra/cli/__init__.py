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
from pathlib import Path
from typing import Annotated

# Before typer, rich and pydantic: for `synth` it starts Node.js, which then runs alongside them.
from . import _node_start  # noqa: F401

# isort: split
import typer
from rich.console import Console
from typer.core import TyperGroup

from .. import DEFAULT_SCHEMA, __version__
from ..errors import Blocked, JobworkError, SchemaInvalid, explain

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def find_schema(start: Path | None = None, relative: str = DEFAULT_SCHEMA) -> str:
    """`schema/tables.yaml` in the working directory or the nearest parent that has one, as git finds
    `.git`: so every command works from any subdirectory of the repository. The search stops at the
    repository's root (a directory holding `.git`); the path is returned relative to the working
    directory, as git prints paths. Not found: the default, and the loader says Y001 with the fix."""
    cwd = Path.cwd() if start is None else start
    for directory in (cwd, *cwd.parents):
        candidate = directory / relative
        if candidate.is_file():
            return os.path.relpath(candidate, cwd)
        if (directory / ".git").exists():
            break
    return relative


def _schema_default(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    # Only the default walks up; a --schema or $JOBWORK_SCHEMA the user gave is taken as it is.
    source = ctx.get_parameter_source(param.name)
    if source is not None and source.name == "DEFAULT" and value == DEFAULT_SCHEMA:
        return find_schema()
    return value


# Shared options, so every command spells them the same way.
SchemaOption = Annotated[str, typer.Option(
    "--schema", "-s", envvar="JOBWORK_SCHEMA", show_envvar=True, callback=_schema_default,
    help="The schema file; by default schema/tables.yaml here or in the nearest parent directory.")]
EnvOption = Annotated[str, typer.Option("--env", "-e", help="The environment, as named in the schema.")]
# The target and credentials of the commands that read live tables (drift, status).
ReadLocalOption = Annotated[bool, typer.Option("--local", help="Read the local engine (it must be running).")]
EndpointOption = Annotated[str, typer.Option("--endpoint-url", help="A DynamoDB/CloudFormation-compatible endpoint.")]
ProfileOption = Annotated[str, typer.Option("--profile", help="AWS profile.")]
RegionOption = Annotated[str, typer.Option("--region", help="AWS region (default: the environment's region).")]
SCHEMA_DEFAULT = DEFAULT_SCHEMA


def refuse_output_over(out: str, schema: str | None, option: str) -> None:
    """An output file (`--out`, `--plan-out`) that is the schema itself or a symbolic link is a usage error
    before any work: one typo must not replace tables.yaml with JSON, a link must not lead the write out."""
    path = Path(out)
    if path.is_symlink():
        raise typer.BadParameter(f"{out} is a symbolic link; the tool does not write through links "
                                 "(name the real file or another path)", param_hint=option)
    if schema is not None and Path(schema).exists() and path.exists() and path.samefile(schema):
        raise typer.BadParameter(f"{out} is the schema file; choose another path for the output",
                                 param_hint=option)


def print_error(message: str, hint: str | None = None, refusal=None) -> None:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        stderr.print(f"  [dim]hint:[/] {hint}", markup=True)
    if refusal is not None:  # deploy/gate.py REFUSALS: the code, and the rule behind it
        stderr.print(f"  [dim]refusal:[/] {refusal.code} {refusal.name} ({refusal.source})", markup=True,
                     highlight=False)


def _flags_without_a_value_label(command, ctx: typer.Context) -> None:
    """Typer's rich help labels a flag `<bool>` (`--yes -y <bool>`), as if it took a value;
    an empty metavar leaves the column blank for flags, as click's plain help prints them."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def _debug_first(args: list[str]) -> list[str]:
    """`--debug` is accepted anywhere on the line (before a `--`): moved to where the root reads it."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    rest = [a for a in args[:end] if a != "--debug"]
    return ["--debug", *rest, *args[end:]]


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

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _debug_first(list(args)))

    def get_command(self, ctx: typer.Context, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _flags_without_a_value_label(command, ctx)
        return command

    def format_help(self, ctx: typer.Context, formatter) -> None:
        _flags_without_a_value_label(self, ctx)
        super().format_help(ctx, formatter)

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
            print_error(exc.message, exc.hint, getattr(exc, "refusal", None))
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
    add_completion=True,  # --install-completion / --show-completion (README: shell completion)
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"jobwork-infra {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for failures (anywhere on the line)."),
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Schema compiler for the DynamoDB tables of JobWork Planner."""


# Every module of this package defines commands on `app`; importing them registers them. A run of the
# `jobwork-infra` script (or cli.py) for one command imports only its module (each pulls in a
# different part of the pipeline: `validate` need not load the deploy flow); help, completion,
# anything unrecognised, and any other importer (tests, `import jobwork_infra.cli`) import them all.
_MODULE_OF = {"json-schema": "validate", "docs": "validate", "destroy": "deploy"}
_SCRIPTS = ("jobwork-infra", "cli.py")


def _modules_to_import(argv: list[str]) -> list[str]:
    modules = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    if not argv or Path(argv[0]).name not in _SCRIPTS:
        return modules
    argv = argv[1:]
    command = next((arg for arg in argv if not arg.startswith("-")), "")
    module = _MODULE_OF.get(command, command.replace("-", "_"))
    completing = any(name.endswith("_COMPLETE") for name in os.environ)
    if module in modules and not completing and not {"-h", "--help"} & set(argv[: argv.index(command)]):
        return [module]
    return modules


for _module in _modules_to_import(sys.argv):
    importlib.import_module(f"{__name__}.{_module}")


def main() -> None:
    sys.exit(app(prog_name="jobwork-infra"))
