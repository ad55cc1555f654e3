"""Local engines for the deploy tests, started once per session through jobwork_infra.deploy.local.engine.

Each engine runs in its own temporary project root (its `.jobwork/` holds the state and the data);
tests point the CLI at it with `$JOBWORK_ROOT` and keep apart by using a unique app name, so the
engine is never restarted between tests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class LocalEngine:
    name: str
    root: Path

    @property
    def endpoint(self) -> str:
        from jobwork_infra.deploy.local import engine

        state = engine.status(self.root)
        assert state is not None, f"the {self.name} engine of this session is not running"
        return state.endpoint

    def client(self):
        from jobwork_infra.deploy.local.client import client_for

        return client_for(self.endpoint)


def _session_engine(name: str, tmp_path_factory, **options) -> LocalEngine:
    from jobwork_infra.deploy.local import engine

    root = tmp_path_factory.mktemp(f"engine-{name}")
    engine.start(name, None, root, **options)
    return LocalEngine(name, root)


def running_dynamodb_local(tmp_path_factory):
    """A DynamoDB Local (with -disableTelemetry) of its own, stopped when the generator is closed."""
    from jobwork_infra.deploy.local import engine

    local = _session_engine("dynamodb-local", tmp_path_factory)
    yield local
    engine.stop(local.root)


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory):
    """DynamoDB Local (with -disableTelemetry) for the whole session, stopped at the end.

    A module may override this fixture with one of module scope (`yield from
    running_dynamodb_local(...)`): late in a long session, after the codegen and deploy suites,
    DynamoDB Local (2026-05-28, with or without our loopback launcher) was seen to leave a GSI added
    by UpdateTable in CREATING for good, so the modules that add indexes by hand get an engine of
    their own.
    """
    yield from running_dynamodb_local(tmp_path_factory)


@pytest.fixture(scope="session")
def dynamodb_local_delayed(tmp_path_factory):
    """DynamoDB Local with -delayTransientStatuses: tables and indexes pass through CREATING,
    UPDATING and DELETING as on AWS, so the deploy's waits are exercised locally too."""
    from jobwork_infra.deploy.local import engine

    local = _session_engine("dynamodb-local", tmp_path_factory, delay_transient_statuses=True)
    yield local
    engine.stop(local.root)


@pytest.fixture(scope="session")
def moto_local(tmp_path_factory):
    """moto's server, started as `local start --engine moto` does, for the whole session."""
    from jobwork_infra.deploy.local import engine

    local = _session_engine("moto", tmp_path_factory)
    yield local
    engine.stop(local.root)


@pytest.fixture
def local_engine(request, monkeypatch) -> LocalEngine:
    """The session engine named by the test's parameter (default DynamoDB Local; also `moto` and
    `dynamodb-local-delayed`), as $JOBWORK_ROOT."""
    name = getattr(request, "param", "dynamodb-local")
    fixture = {"moto": "moto_local", "dynamodb-local-delayed": "dynamodb_local_delayed"}.get(name, "dynamodb_local")
    local = request.getfixturevalue(fixture)
    monkeypatch.setenv("JOBWORK_ROOT", str(local.root))
    return local


@pytest.fixture
def app_name() -> str:
    """A unique app name: table names of one test never meet another test's on the shared engine."""
    return f"t{uuid.uuid4().hex[:10]}"
