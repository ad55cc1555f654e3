"""Shared fixtures. Servers start once per session on 127.0.0.1 and stop at the end.

Further fixtures live in tests/plugins/*.py (one module per engine); every module there is loaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytest_plugins = sorted(
    f"tests.plugins.{p.stem}" for p in (Path(__file__).parent / "plugins").glob("*.py") if p.stem != "__init__"
)

# No test may reach AWS: fake credentials, and a region that the local servers accept.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    # validate's findings cache (jobwork_infra/cache.py): the session's own, never the user's.
    "JOBWORK_CACHE_DIR": tempfile.mkdtemp(prefix="jobwork-infra-cache-"),
    # `.jobwork/` (deploy locks, engine state) of the session's own, never the checkout's or the
    # user's: test sessions running side by side (pytest-xdist workers) would otherwise take each
    # other's deploy lock on the shared working directory.
    "JOBWORK_ROOT": tempfile.mkdtemp(prefix="jobwork-infra-root-"),
})
os.environ.pop("AWS_PROFILE", None)

# DynamoDB Local keeps its tables in SQLite under the engine's root, a tmp_path: on this machine's
# disk every write waits for an fsync (600 items batch-written: 10.8 s), on tmpfs it does not
# (2.2 s). Tests need data to survive an engine restart, not a power cut, so the session's temporary
# directories live in RAM where the machine has room for them (pytest's own variable; an explicit
# --basetemp still wins).
_SHM = Path("/dev/shm")
if ("PYTEST_DEBUG_TEMPROOT" not in os.environ and _SHM.is_dir() and os.access(_SHM, os.W_OK)
        and shutil.disk_usage(_SHM).free > 2 << 30):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_SHM)


def after_caller(output: str) -> str:
    """The output of an AWS command after its first line, which must say who the caller is (the
    account guard's header: `AWS account 123456789012 (arn…), region …`)."""
    first, _, rest = output.partition("\n")
    assert first.startswith("AWS account ") and ", region " in first, output
    return rest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def running_moto_server():
    """A moto server on 127.0.0.1 in this process: yields its endpoint URL, stops when closed."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def moto_server():
    """A moto server on 127.0.0.1 for the whole session; yields its endpoint URL."""
    yield from running_moto_server()


@pytest.fixture
def moto_endpoint(moto_server):
    """The session's moto server, emptied before the test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10)
    return moto_server


@pytest.fixture
def project_schema() -> Path:
    return ROOT / "schema" / "tables.yaml"
