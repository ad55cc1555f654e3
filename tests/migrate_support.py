"""Helpers for the migration tests: two generations of a `users` table on a local engine.

Generation 1 is keyed (tenant_id, user_id), generation 2 (tenant_id, email): the user's story of
issue 17. Also runnable as a script (`python -m tests.migrate_support ENDPOINT ROOT JOB_JSON`), so a
test can kill a copy in the middle with SIGKILL and resume it in-process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jobwork_infra.migrate.keys import KeyAttr, KeySchema
from jobwork_infra.migrate.run import Job

NEW_KEY = KeySchema(KeyAttr("tenant_id", "S"), KeyAttr("email", "S"))


def create_table(client: Any, name: str, sort_key: str) -> None:
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                              {"AttributeName": sort_key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"},
                   {"AttributeName": sort_key, "KeyType": "RANGE"}])
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})


def user(n: int, **extra: Any) -> dict:
    item = {"tenant_id": {"S": f"t{n % 7}"}, "user_id": {"S": f"u{n:06d}"}, "email": {"S": f"user{n}@example.com"},
            "name": {"S": f"User {n}"}, "logins": {"N": str(n % 13)}, "roles": {"SS": ["admin", "planner"]},
            "profile": {"M": {"shift": {"S": "night"}, "lines": {"L": [{"N": "1"}, {"N": "2.50"}]}}}}
    item.update(extra)
    return item


def seed(client: Any, table: str, count: int, start: int = 0) -> None:
    requests = [{"PutRequest": {"Item": user(n)}} for n in range(start, start + count)]
    for i in range(0, len(requests), 25):
        pending = {table: requests[i:i + 25]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def scan_all(client: Any, table: str) -> list[dict]:
    items, start = [], None
    while True:
        page = client.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def job(app: str, **options: Any) -> Job:
    return Job(table="users", env="dev", source=f"{app}-dev-users", target=f"{app}-dev-users-g2",
               from_generation=1, to_generation=2, key=NEW_KEY, **options)


def main() -> None:
    from jobwork_infra.migrate.aws import local_clients
    from jobwork_infra.migrate.run import migrate_table

    endpoint, root, app, options = sys.argv[1], Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
    client, streams = local_clients(endpoint)
    migrate_table(client, streams, job(app, **options), root)


if __name__ == "__main__":
    main()
