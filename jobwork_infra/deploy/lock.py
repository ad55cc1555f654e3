"""One deploy per environment at a time: a lock file per (target, app, environment) under `.jobwork/locks/`.

    with deploy_lock("local", head.app, head.env) as lock:
        plan = ...            # plan, prompt, re-check, apply: all inside
        if lock.took_over is not None: ...   # a previous holder died holding it (reported, harmless)

The lock is an flock(2) on the file, so the kernel releases it when its holder exits, however it
exits (kill -9 included): a lock can never outlive its process, and a lock file left behind is
stale by construction. The file's content says who holds it (user@host, pid, start time, command),
for the message the next deploy prints; it is informative only, never what decides.

Scope: one machine and one checkout (the `.jobwork/` of the project root). Local deploys are
therefore fully serialized. CloudFormation deploys from other machines are kept apart by the stack
itself, not by this file: CloudFormation runs one operation at a time, executing a change set deletes
the others, and the deploy serial is compared right before execute (docs/deploy.md, "Two deploys of
one stack"; flow.replan waits for the other deploy and plans again).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import JobworkError
from .local import engine as engines

LOCK_DIR = "locks"
_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a deploy lock."""

    owner: str          # user@host
    pid: int
    started_at: float   # time.time()
    command: str

    def age(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.started_at)

    def describe(self) -> str:
        return f"{self.owner} (pid {self.pid}, for {_duration(self.age())}: {self.command})"


@dataclass(frozen=True)
class DeployLock:
    path: Path
    holder: Holder
    took_over: Holder | None  # the previous holder, when its process died holding the lock


class DeployLocked(JobworkError):
    """Another deploy of the same environment runs now."""

    def __init__(self, message: str, hint: str, holder: Holder | None):
        super().__init__(message, hint)
        self.holder = holder


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def lock_path(target: str, app: str, env: str, root: str | Path | None = None) -> Path:
    """`.jobwork/locks/<target>-<app>-<env>.lock`; names that are not plain get a digest instead."""
    parts = [target, app, env]
    if not all(_SAFE.fullmatch(part) for part in parts):
        parts = [re.sub(r"[^A-Za-z0-9_.-]", "", target)[:16] or "target",
                 hashlib.sha256(f"{target}\0{app}\0{env}".encode()).hexdigest()[:20]]
    return engines.state_dir(root) / LOCK_DIR / ("-".join(parts) + ".lock")


def _read_holder(text: str) -> Holder | None:
    try:
        raw = json.loads(text)
        return Holder(str(raw["owner"]), int(raw["pid"]), float(raw["started_at"]), str(raw["command"]))
    except (ValueError, KeyError, TypeError):
        return None


def _me() -> Holder:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    command = " ".join(["jobwork-infra", *sys.argv[1:]])[:300]
    return Holder(f"{user}@{socket.gethostname()}", os.getpid(), time.time(), command)


@contextlib.contextmanager
def deploy_lock(target: str, app: str, env: str, root: str | Path | None = None) -> Iterator[DeployLock]:
    """Hold the deploy lock of one environment for the `with` block; DeployLocked if another deploy has it.

    Not re-entrant: a second deploy_lock for the same environment in the same process is refused
    as well (flock locks belong to the open file, not the process).
    """
    path = lock_path(target, app, env, root)
    engines.prepare_state_dir(root)
    try:
        path.parent.mkdir(exist_ok=True)
        file = open(path, "a+")  # noqa: SIM115 - held open for the whole `with` block below
    except OSError as exc:
        raise JobworkError(f"cannot create the deploy lock {path}: {exc.strerror}",
                           f"make {path.parent} writable, or set $JOBWORK_ROOT to a writable directory") from None
    with file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = _read_holder(file.read(4096))
            who = holder.describe() if holder else "another process (it has not written its name yet)"
            raise DeployLocked(
                f"environment {env} of app {app} ({target}) is being deployed by {who}",
                "wait for that deploy to finish and rerun; if it hangs at a prompt, answer or stop it "
                "(the lock is released as soon as its process exits)", holder) from None
        file.seek(0)
        previous = _read_holder(file.read(4096))  # left by a holder that died without releasing: stale
        me = _me()
        file.seek(0)
        file.truncate()
        file.write(json.dumps(asdict(me)) + "\n")
        file.flush()
        try:
            yield DeployLock(path, me, previous)
        finally:
            file.seek(0)
            file.truncate()  # an empty file: nobody holds it; the flock goes with the close
            file.flush()
