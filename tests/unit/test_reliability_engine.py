"""Reliability of the local engine's lifecycle: lying state files, concurrent starts, a hung engine,
copied `.jobwork/` directories, unusable state paths, and DynamoDB Local kept on loopback (issue 14)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.local import engine as engines

CLI = [sys.executable, "-c", "from jobwork_infra.cli import main; main()"]


def run_cli(*args: str, root: Path, timeout: float = 120, new_session: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOBWORK_ROOT": str(root)}
    return subprocess.run([*CLI, *args], check=False, env=env, capture_output=True, text=True, timeout=timeout,
                          start_new_session=new_session)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def engine_pids(root: Path) -> list[int]:
    """Live processes whose working directory is this root's `.jobwork/` or below (its engines)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(root / ".jobwork")) and alive(int(proc.name)):
            found.append(int(proc.name))
    return sorted(found)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    yield tmp_path
    if (tmp_path / ".jobwork").is_dir() and not (tmp_path / ".jobwork" / "engine.json").is_dir():
        engines.stop(tmp_path)


def write_state(root: Path, **fields) -> Path:
    state = {"engine": "moto", "pid": 12345, "port": 4567, "endpoint": "http://127.0.0.1:4567",
             "data_dir": None, "log": "x", "started_at": 0, **fields}
    path = root / ".jobwork" / "engine.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(state))
    return path


# ---------------------------------------------------------------------------------------------
# Item 3: a state file that lies is never signalled

LIES = {
    "pid 0 (our own process group)": 0,
    "pid -1 (every process)": -1,
    "pid 1 (init)": 1,
    "a string": "123",
    "a float": 1.5,
    "a huge number": 2**70,
    "true": True,
    "null": None,
}


@pytest.mark.parametrize("pid", list(LIES.values()), ids=list(LIES))
def test_local_stop_with_a_lying_pid_signals_nothing(root, pid):
    write_state(root, pid=pid)
    # In a session of its own: had `local stop` signalled group 0, it would have killed itself.
    result = run_cli("local", "stop", root=root, new_session=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "No local engine runs.\n", "")
    assert not (root / ".jobwork" / "engine.json").exists()
    status = run_cli("local", "status", root=root)
    assert status.returncode == 1 and "Traceback" not in status.stderr + status.stdout


def test_a_state_file_naming_the_callers_own_group_is_not_signalled(root):
    state = root / ".jobwork" / "engine.json"
    state.parent.mkdir()
    # $$ of this shell leads the session `local stop` runs in: the state names the caller's own group.
    script = (f"printf '{{\"engine\": \"moto\", \"pid\": %d, \"port\": 4567, \"endpoint\": "
              f"\"http://127.0.0.1:4567\", \"data_dir\": null, \"log\": \"x\", \"started_at\": 0}}' $$ > {state}; "
              f"{' '.join(CLI[:2])} '{CLI[2]}' local stop; echo survived=$?")
    result = subprocess.run(["sh", "-c", script], check=False, env={**os.environ, "JOBWORK_ROOT": str(root)},
                            capture_output=True, text=True, timeout=60, start_new_session=True)
    assert result.stdout == "No local engine runs.\nsurvived=0\n", result.stderr


def test_a_state_file_pointing_at_another_host_is_rejected(root):
    write_state(root, pid=os.getpid(), endpoint="http://203.0.113.9:4567")
    assert engines.status(root) is None
    assert not (root / ".jobwork" / "engine.json").exists()


@pytest.mark.slow
def test_a_jobwork_dir_copied_from_another_checkout_cannot_stop_that_checkouts_engine(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    state = engines.start("moto", None, first)
    try:
        shutil.copytree(first / ".jobwork", second / ".jobwork")
        monkeypatch.setenv("JOBWORK_ROOT", str(second))
        assert run_cli("local", "stop", root=second).stdout == "No local engine runs.\n"
        assert engines.stop(second) is None
        assert alive(state.pid)
        assert engines.status(first) == state
    finally:
        engines.stop(first)
    assert not alive(state.pid)


# ---------------------------------------------------------------------------------------------
# Item 2: one engine per data directory

@pytest.mark.slow
def test_concurrent_starts_share_one_engine(root):
    # Each process imports first, then all start at the same instant: the race, not import order, decides.
    at = time.time() + 4
    at_once = ("import sys, time; from jobwork_infra.cli import app; at = float(sys.argv.pop(1)); "
               "time.sleep(max(0.0, at - time.time())); app(prog_name='jobwork-infra')")
    starts = [subprocess.Popen([sys.executable, "-c", at_once, str(at), "local", "start", "--engine", "moto"],
                               env={**os.environ, "JOBWORK_ROOT": str(root)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], outputs
    endpoints = {out.splitlines()[-1] for out, _ in outputs}
    state = engines.status(root)
    assert endpoints == {state.endpoint}
    assert sorted(out.split(":", 1)[0] for out, _ in outputs) == ["Already running", "Already running", "Started"]
    assert engine_pids(root) == [state.pid]


@pytest.mark.slow
def test_an_engine_whose_state_file_was_lost_is_found_again_not_doubled(root):
    state = engines.start("moto", None, root)
    (root / ".jobwork" / "engine.json").unlink()
    result = CliRunner().invoke(app, ["local", "start", "--engine", "moto"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Already running: moto server at {state.endpoint} (pid {state.pid}")
    assert engine_pids(root) == [state.pid]
    (root / ".jobwork" / "engine.json").unlink()
    assert CliRunner().invoke(app, ["local", "stop"]).output == f"Stopped moto server (pid {state.pid}).\n"
    assert not alive(state.pid)


@pytest.mark.slow
def test_a_foreign_process_holding_the_engine_lock_keeps_a_second_engine_off_the_data(root):
    (root / ".jobwork").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(60)"), str(root / ".jobwork" / "engine.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        result = CliRunner().invoke(app, ["local", "start", "--engine", "moto"])
        assert result.exit_code == 1
        assert f"error: an engine (pid {holder.pid}) still runs on {root / '.jobwork'}" in result.output
        assert f"kill {holder.pid}" in result.output
        assert engine_pids(root) == []
        assert holder.poll() is None  # not ours to stop: `local stop` leaves it alone
        assert CliRunner().invoke(app, ["local", "stop"]).output == "No local engine runs.\n"
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------------------------
# Item 7: a hung engine fails fast with a clear message

@pytest.mark.slow
def test_a_stopped_engine_is_reported_at_once_and_can_still_be_stopped(root, tmp_path):
    state = engines.start("moto", None, root)
    os.kill(state.pid, signal.SIGSTOP)
    # kill() returns before the process has stopped: on a loaded machine it may not have been scheduled
    # yet to take the signal (seen once in `make test`). Wait until the kernel shows it stopped.
    settled = time.monotonic() + 10
    while engines._proc_state(state.pid) not in ("T", "t") and time.monotonic() < settled:
        time.sleep(0.01)
    schema = tmp_path / "tables.yaml"
    schema.write_text("version: 1\napp: hung\nenvironments: {dev: {}}\ntables:\n  notes: {}\n")
    began = time.monotonic()
    result = CliRunner().invoke(app, ["deploy", "--local", "--env", "dev", "--schema", str(schema), "--yes"])
    assert time.monotonic() - began < 10
    assert result.exit_code == 1
    assert result.output == (
        f"error: the moto server (pid {state.pid}) is stopped (suspended by SIGSTOP or Ctrl-Z), so it cannot answer\n"
        f"  hint: resume it with `kill -CONT {state.pid}`, or restart it: `jobwork-infra local stop`, then rerun\n")
    stopped = CliRunner().invoke(app, ["local", "stop"])
    assert stopped.output == f"Stopped moto server (pid {state.pid}).\n"
    assert not alive(state.pid)


@pytest.mark.slow
def test_an_engine_that_does_not_answer_is_reported_within_the_health_timeout(root, monkeypatch):
    state = engines.start("moto", None, root)
    # A process that accepts connections and never answers, in the engine's place.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        monkeypatch.setattr(engines, "HEALTH_TIMEOUT", 1.0)
        hung = engines.EngineState(**{**state.__dict__, "port": port, "endpoint": f"http://127.0.0.1:{port}"})
        began = time.monotonic()
        with pytest.raises(engines.JobworkError) as error:
            engines._check_health(hung)
        assert time.monotonic() - began < 5
    assert error.value.message == f"the moto server (pid {state.pid}) at {hung.endpoint} did not answer within 1 s"


# ---------------------------------------------------------------------------------------------
# Item 7: the state directory in a state the tool cannot use

def test_jobwork_being_a_file_is_a_clear_error(root):
    (root / ".jobwork").write_text("not a directory")
    for args in (["local", "start", "--engine", "moto"], ["local", "status"], ["local", "stop"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, args
        assert result.output == (
            f"error: {root / '.jobwork'} is a file, but jobwork-infra keeps the local engine's state and data in "
            "a directory of that name\n"
            f"  hint: move or delete the file {root / '.jobwork'}, or set $JOBWORK_ROOT to another directory\n"), args


def test_engine_json_being_a_directory_is_a_clear_error(root):
    (root / ".jobwork" / "engine.json").mkdir(parents=True)
    for args in (["local", "start", "--engine", "moto"], ["local", "status"], ["local", "stop"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, args
        path = root / ".jobwork" / "engine.json"
        assert result.output == (f"error: {path} is a directory, but it should be the engine's state file\n"
                                 f"  hint: remove it (`rm -r {path}`); the tool writes it again when it starts "
                                 "an engine\n"), args


def test_a_state_directory_that_cannot_be_written_is_a_clear_error(monkeypatch):
    # /sys is read-only even for root; chmod cannot make a directory read-only for root.
    unwritable = Path("/sys/kernel")
    if os.access(unwritable, os.W_OK) and unwritable.is_dir() and os.geteuid() != 0:
        pytest.skip("no read-only directory to try")
    monkeypatch.setenv("JOBWORK_ROOT", str(unwritable))
    result = CliRunner().invoke(app, ["local", "start", "--engine", "moto"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot write to {unwritable / '.jobwork'}: ")
    assert "hint: make /sys/kernel/.jobwork writable" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


# ---------------------------------------------------------------------------------------------
# Item 9: DynamoDB Local on loopback only

def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # no packet is sent: this only picks the outgoing address
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.slow
@pytest.mark.local
def test_dynamodb_local_listens_on_loopback_only(dynamodb_local):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    state = engines.status(dynamodb_local.root)
    assert state.engine == "dynamodb-local"
    with socket.create_connection(("127.0.0.1", state.port), timeout=3):
        pass
    with pytest.raises(ConnectionRefusedError), socket.create_connection((address, state.port), timeout=3):
        pass
    assert dynamodb_local.client().list_tables()["TableNames"] is not None


def test_without_javac_the_default_engine_is_moto(monkeypatch):
    monkeypatch.setattr(engines, "_javac", lambda java: None)
    assert engines.default_engine() == "moto"
    monkeypatch.undo()
    if shutil.which("javac"):
        assert engines.default_engine() == "dynamodb-local"
