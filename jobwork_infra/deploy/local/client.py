"""A run against the local engine: its DynamoDB client, the run's context and the error mapping.

Shared by every stage of the local deploy: registry.py and live.py read through it, local.py
applies through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    WaiterError,
)
from botocore.waiter import WaiterModel, create_waiter_with_client

from ...errors import JobworkError
from ..aws import LOCAL_CREDENTIALS, LOCAL_REGION
from ..events import Emit, Note
from . import engine as engines

# Local engines ignore credentials and (with -sharedDb) regions; fixed values keep real AWS
# credentials out of the picture and give moto (which is per region) one predictable region.
WAIT_DELAY = 0.2
WAIT_ATTEMPTS = 1500  # 5 minutes

_LOST = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)

# A table and every global index ACTIVE: boto3 has `table_exists` for the table, none for indexes.
_WAITERS = WaiterModel({"version": 2, "waiters": {"IndexesActive": {
    "operation": "DescribeTable", "delay": 1, "maxAttempts": WAIT_ATTEMPTS,
    "acceptors": [
        {"state": "success", "matcher": "path", "expected": True,
         "argument": "Table.TableStatus == 'ACTIVE' && "
                     "length(Table.GlobalSecondaryIndexes[?IndexStatus != 'ACTIVE'] || `[]`) == `0`"},
        {"state": "failure", "matcher": "error", "expected": "ResourceNotFoundException"},
    ],
}}})


# ---------------------------------------------------------------------------------------------
# Client and engine

def client_for(endpoint: str):
    """A DynamoDB client for a local endpoint: short timeouts so a dead engine fails fast."""
    return boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name=LOCAL_REGION, **LOCAL_CREDENTIALS,
        config=Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"}),
    )


@dataclass
class RunContext:
    client: Any
    engine: engines.EngineState
    emit: Emit
    notes: set[str] = field(default_factory=set)
    registry_ready: bool = False
    source: str = ""  # the schema file deployed (absolute path), recorded with each table (registry.Entry)

    def note(self, feature: str) -> None:
        if feature not in self.notes:
            self.notes.add(feature)
            self.emit(Note(f"{self.engine.label} does not support {feature}: not applied locally (AWS applies it)"))

    def wait_active(self, name: str) -> None:
        create_waiter_with_client("IndexesActive", _WAITERS, self.client).wait(
            TableName=name, WaiterConfig={"Delay": WAIT_DELAY, "MaxAttempts": WAIT_ATTEMPTS})

    def wait_gone(self, name: str) -> None:
        self.client.get_waiter("table_not_exists").wait(
            TableName=name, WaiterConfig={"Delay": WAIT_DELAY, "MaxAttempts": WAIT_ATTEMPTS})


@contextmanager
def engine_errors(state: engines.EngineState, doing: Callable[[], str]) -> Iterator[None]:
    """botocore failures → a JobworkError that says what to do (no traceback)."""
    try:
        yield
    except _LOST as exc:
        raise JobworkError(
            f"lost the local engine at {state.endpoint} while {doing()}: {exc}",
            "start it again (`jobwork-infra local start`, or just rerun the deploy, which starts it) "
            "and rerun the same deploy: it plans from the live tables and finishes the remaining steps",
        ) from exc
    except WaiterError as exc:
        raise JobworkError(f"the local engine did not settle while {doing()}: {exc}",
                           "check the engine's log (`jobwork-infra local status`), then rerun the deploy") from exc
    except ClientError as exc:
        raise JobworkError(f"the local engine refused a request while {doing()}: {exc}",
                           "rerun with --debug for details; the deploy can be rerun once fixed") from exc
