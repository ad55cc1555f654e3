"""`local start|stop|status`: the local DynamoDB engine that `deploy --local` targets."""

from __future__ import annotations

from enum import Enum

import typer

from . import EXIT_FAILED, app, stdout


class Engine(str, Enum):
    dynamodb_local = "dynamodb-local"
    moto = "moto"

local_app = typer.Typer(
    name="local",
    help="Start, stop or show the local DynamoDB engine (DynamoDB Local, or moto's server).\n\n"
         "Example: jobwork-infra local start --engine moto",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(local_app, name="local")

EngineOption = typer.Option(
    None, "--engine", show_default=False,
    help="dynamodb-local (Amazon's DynamoDB Local, Java 17+ with javac, data kept under .jobwork/local/) "
         "or moto (pure Python, in memory). Both listen on 127.0.0.1 only. "
         "Default: dynamodb-local, or moto where no javac can build DynamoDB Local's loopback launcher.",
)
PortOption = typer.Option(None, "--port", min=1, max=65535, help="TCP port (default: a free one).")


def _describe(state) -> str:
    where = f"data in {state.data_dir}" if state.data_dir else "in memory"
    return f"{state.label} at {state.endpoint} (pid {state.pid}, {where})"


@local_app.command()
def start(engine: Engine | None = EngineOption, port: int = PortOption) -> None:
    """Start the local engine and wait until it answers; reuse it when it already runs.

    The engine listens on 127.0.0.1 only (DynamoDB Local through a small launcher built with javac
    on first use). One engine per project: a second start reuses it. State is kept in
    .jobwork/engine.json.

    Example: jobwork-infra local start --engine moto
    """
    from ..deploy.local import engine as engines

    state, started = engines.start_or_reuse(engine.value if engine else None, port)
    verb = "Started" if started else "Already running"
    stdout.print(f"{verb}: {_describe(state)}")
    stdout.print(state.endpoint)


@local_app.command()
def stop() -> None:
    """Stop the local engine this project started (by its pid) and forget it.

    Example: jobwork-infra local stop
    """
    from ..deploy.local import engine as engines

    state = engines.stop()
    if state is None:
        stdout.print("No local engine runs.")
    else:
        stdout.print(f"Stopped {state.label} (pid {state.pid}).")


@local_app.command()
def status() -> None:
    """Print the running local engine and its endpoint; exit 1 when none runs.

    Example: jobwork-infra local status
    """
    from ..deploy.local import engine as engines

    state = engines.status()
    if state is None:
        stdout.print("No local engine runs; start one with `jobwork-infra local start`.")
        raise typer.Exit(EXIT_FAILED)
    stdout.print(f"Running: {_describe(state)}")
    stdout.print(state.endpoint)
