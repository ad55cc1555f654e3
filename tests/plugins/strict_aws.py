"""The strict AWS double: moto's server on 127.0.0.1 with AWS's rules, for every CloudFormation test.

Contract (other test modules code against it; keep it stable):

- `strict_aws_server` (session): starts moto's ThreadedMotoServer in this process on 127.0.0.1 and
  installs the double's patches on moto's models once (tests/double/install.py). Yields the
  endpoint URL. The patches act only while a test holds `strict_aws`: the lenient `moto_endpoint`
  fixture (tests/conftest.py) shares moto's models and keeps moto's own behaviour.
- `strict_aws` (function): resets moto and the double before the test and returns a `StrictAws`:
    - `endpoint: str` — http://127.0.0.1:PORT; one endpoint for cloudformation, dynamodb, s3, iam
      and sts (`jobwork-infra deploy --env dev --endpoint-url URL`);
    - `clock` — `.now() -> datetime` (aware, UTC) and `.advance(seconds)`; wall time plus an
      offset. The TTL cool-down and index backfills run on it; tests of the tool monkeypatch the
      tool's clock to `strict_aws.clock.now`;
    - `backfill_seconds: float` — how long a GSI created (or deleted) on a live table stays
      CREATING (DELETING); 1 s by default, settable per test; `advance()` also ends it;
    - `backfill_seconds_per_item: float` — added to `backfill_seconds` for each item of the table
      (0 by default): a bigger table backfills longer;
    - `creating_with_indexes_limit: int` — how many tables with secondary indexes one stack
      operation may create in parallel (those not ordered by DependsOn or references); 25 by
      default, settable per test;
    - `fail_next(logical_id, message)` — the next stack execution (create, update or delete) that
      touches that resource fails there with that message, rolls back, and applies nothing;
    - `fail_rollback(logical_id, message)` — rolling that resource back fails: a failed update that
      touches it ends UPDATE_ROLLBACK_FAILED, until ContinueUpdateRollback skips it (or the test
      fixes the cause: `del strict_aws.rollback_failures[logical_id]`);
    - `stack_operation_seconds: float` — how long a stack operation stays `*_IN_PROGRESS` after the
      call that started it returned (0 by default: over when the call returns);
      an update then stays UPDATE_COMPLETE_CLEANUP_IN_PROGRESS as long, and deletes what left the
      template at its end; `finish_operations(phases=None)` ends the operations under way now (every
      phase, or the next `phases`);
    - `client(service)` — a boto3 client on the endpoint (no retries);
    - `stack_events(stack)` — the stack's events, oldest first, as dicts;
    - `resource_failures(stack)` — (logical id, status, reason) of the FAILED resource events;
    - `wait_indexes_active(table)` — poll until every index of a table is ACTIVE and no index is
      DELETING (what a deploy must do between steps).

What the double enforces and where it is still lenient: docs/deploy.md, "The strict AWS double".
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest

from tests.double.state import DEFAULT_BACKFILL_SECONDS, DOUBLE, Clock

REGION = "us-east-1"


class StrictAws:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    @property
    def clock(self) -> Clock:
        return DOUBLE.clock

    @property
    def backfill_seconds(self) -> float:
        return DOUBLE.backfill_seconds

    @backfill_seconds.setter
    def backfill_seconds(self, seconds: float) -> None:
        DOUBLE.backfill_seconds = seconds

    @property
    def backfill_seconds_per_item(self) -> float:
        return DOUBLE.backfill_seconds_per_item

    @backfill_seconds_per_item.setter
    def backfill_seconds_per_item(self, seconds: float) -> None:
        DOUBLE.backfill_seconds_per_item = seconds

    @property
    def creating_with_indexes_limit(self) -> int:
        return DOUBLE.creating_with_indexes_limit

    @creating_with_indexes_limit.setter
    def creating_with_indexes_limit(self, limit: int) -> None:
        DOUBLE.creating_with_indexes_limit = limit

    @property
    def stack_operation_seconds(self) -> float:
        return DOUBLE.stack_operation_seconds

    @stack_operation_seconds.setter
    def stack_operation_seconds(self, seconds: float) -> None:
        DOUBLE.stack_operation_seconds = seconds

    def finish_operations(self, phases: int | None = None) -> None:
        DOUBLE.finish_operations(phases)

    def fail_next(self, logical_id: str, message: str) -> None:
        DOUBLE.failures[logical_id] = message

    def fail_rollback(self, logical_id: str, message: str) -> None:
        DOUBLE.rollback_failures[logical_id] = message

    @property
    def rollback_failures(self) -> dict[str, str]:
        return DOUBLE.rollback_failures

    def wait_stack_settled(self, stack: str, timeout: float = 30) -> str:
        """Poll until the stack is no longer *_IN_PROGRESS; its status."""
        cfn = self.client("cloudformation")
        deadline = time.monotonic() + timeout
        while True:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"stack {stack} still {status} after {timeout} s")
            time.sleep(0.02)

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        # No retries: a LimitExceededException must reach the test at once, not after backoff.
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def stack_events(self, stack: str) -> list[dict]:
        pages = self.client("cloudformation").get_paginator("describe_stack_events").paginate(StackName=stack)
        return [e for page in pages for e in page["StackEvents"]][::-1]

    def resource_failures(self, stack: str) -> list[tuple[str, str, str]]:
        return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
                for e in self.stack_events(stack)
                if e["ResourceStatus"].endswith("_FAILED") and e["ResourceType"] != "AWS::CloudFormation::Stack"]

    def wait_indexes_active(self, table: str, timeout: float = 30) -> dict:
        dynamodb = self.client("dynamodb")
        deadline = time.monotonic() + timeout
        while True:
            described = dynamodb.describe_table(TableName=table)["Table"]
            if all(i["IndexStatus"] == "ACTIVE" for i in described.get("GlobalSecondaryIndexes", [])):
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"indexes of {table} not ACTIVE after {timeout} s")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def strict_aws_server():
    from tests.conftest import running_moto_server
    from tests.double.install import install

    install()
    yield from running_moto_server()


@pytest.fixture
def strict_aws(strict_aws_server):
    urllib.request.urlopen(urllib.request.Request(f"{strict_aws_server}/moto-api/reset", method="POST"),
                           timeout=10)
    DOUBLE.reset()
    DOUBLE.backfill_seconds = DEFAULT_BACKFILL_SECONDS
    DOUBLE.active = True
    yield StrictAws(strict_aws_server)
    DOUBLE.cancel_operations()
    DOUBLE.active = False
