"""`make demo`: the schema on a real DynamoDB on this machine, end to end, as a new user would run it.

Starts the local engine (DynamoDB Local), validates the schema, deploys `dev` to it, shows the
tables and indexes, writes a sample tenant with its users and reads them back through the
tenant-scoped access pattern (a Query on tenant_id). Running it again is harmless: the deploy says
"No changes" and the sample items are written over with the same ids.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console
from rich.table import Table

from jobwork_infra.deploy import engine as engines
from jobwork_infra.deploy.local import client_for
from jobwork_infra.project import check_project

# Not a terminal (CI logs, make output captured): wide enough that table names are not cut.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
CLI = str(Path(sys.executable).parent / "jobwork-infra")
SCHEMA = os.environ.get("JOBWORK_SCHEMA", str(ROOT / "schema" / "tables.yaml"))
ENV = "dev"

TENANT_ID = "7f1c2a3e-0d4b-4c5e-9f60-1a2b3c4d5e6f"
USERS = [
    ("0b8e6a52-1c7d-4e3f-8a9b-000000000001", "sub-anita", "Anita Rao", "anita@dd-demo.example", "OWNER"),
    ("0b8e6a52-1c7d-4e3f-8a9b-000000000002", "sub-vikram", "Vikram Shah", "vikram@dd-demo.example", "SUPERVISOR"),
    ("0b8e6a52-1c7d-4e3f-8a9b-000000000003", "sub-meera", "Meera Iyer", "meera@dd-demo.example", "OPERATOR"),
]


def run(*args: str) -> None:
    console.rule(f"[bold]$ jobwork-infra {' '.join(args)}")
    code = subprocess.call([CLI, *args], cwd=ROOT)
    if code != 0:
        console.print(f"[red]demo stopped: `jobwork-infra {' '.join(args)}` exited {code}[/]")
        sys.exit(code)


def show_tables(client, schema) -> None:
    table = Table(title=f"Tables of {schema.stack_name} on the local engine")
    for column in ("table", "key", "global indexes", "local indexes", "TTL", "items"):
        table.add_column(column)
    for resolved in schema.tables.values():
        live = client.describe_table(TableName=resolved.physical_name)["Table"]
        key = " + ".join(k["AttributeName"] for k in live["KeySchema"])
        gsis = ", ".join(f"{i['IndexName']} ({' + '.join(k['AttributeName'] for k in i['KeySchema'])})"
                         for i in live.get("GlobalSecondaryIndexes", [])) or "-"
        lsis = ", ".join(i["IndexName"] for i in live.get("LocalSecondaryIndexes", [])) or "-"
        ttl = client.describe_time_to_live(TableName=resolved.physical_name)["TimeToLiveDescription"]
        count = sum(p["Count"] for p in client.get_paginator("scan").paginate(
            TableName=resolved.physical_name, Select="COUNT"))
        table.add_row(resolved.physical_name, key, gsis, lsis, ttl.get("AttributeName", "-"), str(count))
    console.print(table)


def sample_data(client, schema) -> None:
    tenants = schema.tables["tenant"].physical_name
    users = schema.tables["users"].physical_name
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    console.rule("[bold]Sample tenant and users")
    client.put_item(TableName=tenants, Item={
        "tenant_id": {"S": TENANT_ID}, "name": {"S": "DD Demo Works"}, "code": {"S": "DD-DEMO"},
        "created_at": {"S": now}})
    for user_id, sub, name, email, role in USERS:
        client.put_item(TableName=users, Item={
            "tenant_id": {"S": TENANT_ID}, "user_id": {"S": user_id}, "cognito_sub": {"S": sub},
            "name": {"S": name}, "email": {"S": email}, "role": {"S": role},
            "created_at": {"S": now}, "updated_at": {"S": now}})
    console.print(f"wrote tenant DD-DEMO ({TENANT_ID}) and {len(USERS)} users")

    # The tenant-scoped access pattern "list users of a tenant": a Query on the partition key only.
    pages = client.get_paginator("query").paginate(
        TableName=users, KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": TENANT_ID}})
    found = [item for page in pages for item in page["Items"]]
    listing = Table(title=f"Query {users} where tenant_id = {TENANT_ID}")
    for column in ("user_id", "name", "email", "role"):
        listing.add_column(column)
    for item in found:
        listing.add_row(*(item[c]["S"] for c in ("user_id", "name", "email", "role")))
    console.print(listing)

    # "find user at login": the cross-tenant index, before the tenant is known.
    login = client.query(TableName=users, IndexName="by_cognito_sub",
                         KeyConditionExpression="cognito_sub = :s",
                         ExpressionAttributeValues={":s": {"S": "sub-vikram"}})["Items"]
    console.print(f"login lookup on by_cognito_sub for sub-vikram → tenant {login[0]['tenant_id']['S']}, "
                  f"user {login[0]['user_id']['S']}")
    if len(found) != len(USERS):
        console.print(f"[red]expected {len(USERS)} users, read {len(found)}[/]")
        sys.exit(1)


def main() -> None:
    started = time.monotonic()
    os.chdir(ROOT)  # the engine's state lives in ROOT/.jobwork (or $JOBWORK_ROOT), as for the CLI
    run("local", "start")
    run("validate", "--schema", SCHEMA)
    run("deploy", "--env", ENV, "--local", "--schema", SCHEMA, "--yes")

    state = engines.status()
    client = client_for(state.endpoint)
    schema = check_project(SCHEMA).resolve(ENV)
    console.rule("[bold]What is deployed")
    show_tables(client, schema)
    sample_data(client, schema)

    console.rule()
    console.print(f"Demo finished in {time.monotonic() - started:.1f} s. The engine keeps running at "
                  f"{state.endpoint} (data in {state.data_dir}).")
    console.print("Stop it with: [bold].venv/bin/jobwork-infra local stop[/]")


if __name__ == "__main__":
    main()
