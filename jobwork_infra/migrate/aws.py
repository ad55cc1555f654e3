"""The DynamoDB calls of a migration, with the retries AWS asks for.

Throttling and transient server errors are retried with capped exponential backoff and full jitter
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.RetryAndBackoff),
and a BatchWriteItem's `UnprocessedItems` are sent again until none is left ("If any requested
operations fail because the table's provisioned throughput is exceeded or an internal processing
failure occurs, the failed operations are returned in the UnprocessedItems response parameter. You
can investigate and optionally resend the requests." — BatchWriteItem API reference).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from ..errors import JobworkError
from .keys import Item

RETRYABLE = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "LimitExceededException",
}
BASE_DELAY = 0.05
MAX_DELAY = 5.0
MAX_ATTEMPTS = 12          # about a minute of backing off before a call is given up
BATCH = 25                 # BatchWriteItem's limit


class MigrationError(JobworkError):
    """A migration stage failed; its checkpoint is kept, so the same command resumes it."""


def local_clients(endpoint: str) -> tuple[Any, Any]:
    """DynamoDB and DynamoDB Streams clients for a local engine (DynamoDB Local serves both on one endpoint)."""
    import boto3
    from botocore.config import Config

    from ..deploy.aws import LOCAL_CREDENTIALS, LOCAL_REGION

    # Enough connections for every copy thread; botocore's pool holds 10 by default.
    config = Config(connect_timeout=3, read_timeout=60, max_pool_connections=32,
                    retries={"max_attempts": 3, "mode": "standard"})
    return (boto3.client("dynamodb", endpoint_url=endpoint, region_name=LOCAL_REGION, config=config,
                         **LOCAL_CREDENTIALS),
            boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=LOCAL_REGION, config=config,
                         **LOCAL_CREDENTIALS))


def backoff(attempt: int) -> float:
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** attempt))


def call(fn: Callable[..., dict], *, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> dict:
    """`fn(**kwargs)`, retried on throttling with backoff; other errors are raised as they are."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return fn(**kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in RETRYABLE or attempt == MAX_ATTEMPTS - 1:
                raise
            sleep(backoff(attempt))
    raise AssertionError("unreachable")


def write_items(client: Any, table: str, requests: list[dict], *,
                sleep: Callable[[float], None] = time.sleep) -> int:
    """BatchWriteItem `requests` (PutRequest/DeleteRequest) in chunks of 25, retrying what comes back
    unprocessed; returns the number of calls that were throttled (for the report)."""
    throttled = 0
    for start in range(0, len(requests), BATCH):
        pending = {table: requests[start:start + BATCH]}
        attempt = 0
        while pending:
            response = call(client.batch_write_item, RequestItems=pending, sleep=sleep)
            pending = response.get("UnprocessedItems") or {}
            if pending:
                if attempt == MAX_ATTEMPTS:
                    raise MigrationError(f"DynamoDB kept returning {len(pending[table])} unprocessed writes to "
                                         f"{table} after {MAX_ATTEMPTS} retries",
                                         "the table is throttled: raise its capacity (or use on-demand), then "
                                         "rerun the same command; it resumes from its checkpoint")
                throttled += 1
                sleep(backoff(attempt))
                attempt += 1
    return throttled


def scan_pages(client: Any, table: str, segment: int, total: int, start: Item | None = None,
               consistent: bool = True, page_size: int | None = None,
               projection: list[str] | None = None) -> Iterator[tuple[list[Item], Item | None]]:
    """One segment of a parallel Scan, page by page: (items, LastEvaluatedKey or None at the end).

    Consistent reads: an item written before the scan began is seen as written, so every write
    the scan misses is one the stream recorded (the convergence argument in docs/migrate.md).
    """
    kwargs: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": total,
                              "ConsistentRead": consistent}
    if page_size:
        kwargs["Limit"] = page_size
    if projection:
        names = {f"#k{n}": name for n, name in enumerate(projection)}
        kwargs["ProjectionExpression"] = ", ".join(names)
        kwargs["ExpressionAttributeNames"] = names
    while True:
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = call(client.scan, **kwargs)
        start = response.get("LastEvaluatedKey")
        yield response.get("Items", []), start
        if not start:
            return


def parallel(work: Callable[[int], Any], segments: list[int], concurrency: int) -> list[Any]:
    """Run `work(segment)` for each segment on at most `concurrency` threads; the first error is raised
    after the others finished (so every checkpoint they reached is written)."""
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(segments) or 1))) as pool:
        futures = [pool.submit(work, s) for s in segments]
    return [f.result() for f in futures]
