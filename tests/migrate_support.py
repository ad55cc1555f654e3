"""Helpers for the migration tests: two generations of a `users` table on a local engine.

Generation 1 is keyed (tenant_id, user_id), generation 2 (tenant_id, email): the user's story of
issue 17. Also runnable as a script (`python -m tests.migrate_support ENDPOINT ROOT JOB_JSON`), so a
test can kill a copy in the middle with SIGKILL and resume it in-process.
"""

from __future__ import annotations

import json
import random
import sys
import threading
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


class Writer(threading.Thread):
    """The application: puts, updates (some moving an item's email) and deletes on generation 1."""

    def __init__(self, client, table: str, existing: int):
        super().__init__(daemon=True)
        self.client, self.table = client, table
        self.alive = list(range(existing))
        self.next = existing
        self.deleted: set[tuple[str, str]] = set()   # (tenant_id, email) deleted and not re-created
        self.writes = 0
        self.writes_during_copy = 0
        self.stop = threading.Event()
        self.random = random.Random(17)

    def run(self) -> None:
        while not self.stop.is_set():
            choice = self.random.random()
            if choice < 0.3 or not self.alive:
                n = self.next
                self.next += 1
                self.client.put_item(TableName=self.table, Item=user(n))
                self.alive.append(n)
            elif choice < 0.55:
                n = self.random.choice(self.alive)
                self.client.update_item(TableName=self.table, Key={"tenant_id": user(n)["tenant_id"],
                                                                   "user_id": user(n)["user_id"]},
                                        UpdateExpression="SET logins = logins + :one, #n = :name",
                                        ExpressionAttributeNames={"#n": "name"},
                                        ExpressionAttributeValues={":one": {"N": "1"}, ":name": {"S": f"v{self.writes}"}})
            elif choice < 0.7:
                # The new-key attribute changes: the copy under the old email must disappear.
                n = self.random.choice(self.alive)
                key = {"tenant_id": user(n)["tenant_id"], "user_id": user(n)["user_id"]}
                moved = f"moved{self.writes}@example.com"
                old = self.client.update_item(TableName=self.table, Key=key, UpdateExpression="SET email = :e",
                                              ExpressionAttributeValues={":e": {"S": moved}},
                                              ReturnValues="ALL_OLD").get("Attributes")
                self.deleted.add((old["tenant_id"]["S"], old["email"]["S"]))
            else:
                n = self.alive.pop(self.random.randrange(len(self.alive)))
                old = self.client.delete_item(TableName=self.table, Key={"tenant_id": user(n)["tenant_id"],
                                                                         "user_id": user(n)["user_id"]},
                                              ReturnValues="ALL_OLD").get("Attributes")
                if old is not None:
                    self.deleted.add((old["tenant_id"]["S"], old["email"]["S"]))
            self.writes += 1


def main() -> None:
    from jobwork_infra.migrate.aws import local_clients
    from jobwork_infra.migrate.run import migrate_table

    endpoint, root, app, options = sys.argv[1], Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
    client, streams = local_clients(endpoint)
    migrate_table(client, streams, job(app, **options), root)


if __name__ == "__main__":
    main()
