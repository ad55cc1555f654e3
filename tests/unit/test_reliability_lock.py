"""The per-environment deploy lock (deploy/lock.py): one holder, a message naming it, stale locks taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobwork_infra.deploy.lock import DeployLocked, deploy_lock, lock_path
from jobwork_infra.errors import JobworkError

HOLD = """
import sys, time
from jobwork_infra.deploy.lock import deploy_lock
with deploy_lock("local", "demo", sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(60)
"""


def hold_in_child(root: Path, env: str = "staging") -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLD, env, str(root)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "held\n"
    return child


def test_a_second_deploy_of_the_same_environment_is_refused_naming_the_holder(tmp_path):
    child = hold_in_child(tmp_path)
    try:
        with pytest.raises(DeployLocked) as refused, deploy_lock("local", "demo", "staging", tmp_path):
            pass
        message = refused.value.message
        assert message.startswith("environment staging of app demo (local) is being deployed by ")
        assert f"(pid {child.pid}, for " in message
        assert refused.value.holder.pid == child.pid
        assert "@" in refused.value.holder.owner
        assert "the lock is released as soon as its process exits" in refused.value.hint
        # Another environment, or the other target, is not held up.
        with deploy_lock("local", "demo", "dev", tmp_path), deploy_lock("cloudformation", "demo", "staging", tmp_path):
            pass
    finally:
        child.kill()
        child.wait()


def test_a_lock_whose_holder_was_killed_is_taken_over_and_reported(tmp_path):
    child = hold_in_child(tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with deploy_lock("local", "demo", "staging", tmp_path) as lock:
        assert lock.took_over is not None and lock.took_over.pid == child.pid  # stale: its process is gone
        assert lock.holder.pid == os.getpid()
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert lock.path.read_text() == ""  # released cleanly: nothing to take over next time
    with deploy_lock("local", "demo", "staging", tmp_path) as again:
        assert again.took_over is None


def test_the_lock_is_not_reentrant_within_one_process(tmp_path):
    with deploy_lock("local", "demo", "dev", tmp_path), pytest.raises(DeployLocked), \
            deploy_lock("local", "demo", "dev", tmp_path):
        pass


def test_the_age_is_in_the_message(tmp_path):
    path = lock_path("local", "demo", "dev", tmp_path)
    child = hold_in_child(tmp_path, "dev")
    try:
        time.sleep(0.1)
        with pytest.raises(DeployLocked) as refused, deploy_lock("local", "demo", "dev", tmp_path):
            pass
        assert " s: jobwork-infra " in refused.value.message
        assert path.name == "local-demo-dev.lock"
    finally:
        child.kill()
        child.wait()


def test_odd_environment_names_get_a_safe_file_name(tmp_path):
    path = lock_path("local", "demo", "../../etc/passwd", tmp_path)
    assert path.parent == tmp_path / ".jobwork" / "locks"
    assert "/" not in path.name and ".." not in path.name.removesuffix(".lock")


def test_an_unusable_state_directory_is_a_clear_error(tmp_path):
    (tmp_path / ".jobwork").write_text("a file")
    with pytest.raises(JobworkError) as error, deploy_lock("local", "demo", "dev", tmp_path):
        pass
    assert "is a file" in error.value.message
