"""`make demo`: the schema on a real DynamoDB on this machine, end to end, as a new user would run it.

Starts the local engine (DynamoDB Local), validates the schema, deploys `dev` to it, shows the
tables and indexes, generates the data layer (`codegen python`) and, through it, writes a sample
tenant with its users and reads them back with the tenant-bound access pattern "list users of a
tenant", finds a user at login through the cross-tenant index, and shows another tenant's view
staying empty. Running it again is harmless: the deploy says "No changes", the generated package is
unchanged, and the sample items are written over with the same ids.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console
from rich.table import Table

from jobwork_infra.deploy.local import engine as engines
from jobwork_infra.deploy.local.client import client_for

# Not a terminal (CI logs, make output captured): wide enough that table names are not cut.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
CLI = str(Path(sys.executable).parent / "jobwork-infra")
SCHEMA = os.environ.get("JOBWORK_SCHEMA", str(ROOT / "schema" / "tables.yaml"))
ENV = "dev"
GENERATED = ROOT / ".jobwork" / "generated"  # the package lands in GENERATED/jobwork_data
OTHER_TENANT = "9a9a9a9a-0000-4000-8000-000000000009"

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


def sample_data(client, data) -> None:
    """Write and read the sample tenant through the generated, tenant-bound layer (no raw boto3)."""
    now = datetime.now(UTC).replace(microsecond=0)
    console.rule("[bold]Sample tenant and users, through the generated data layer")
    tenant = data.TenantData(TENANT_ID, client=client, env=ENV)
    tenant.tenant.put(data.TenantItem(name="DD Demo Works", code="DD-DEMO", created_at=now))
    for user_id, sub, name, email, role in USERS:
        tenant.users.put(data.UsersItem(user_id=user_id, cognito_sub=sub, name=name, email=email, role=role,
                                        created_at=now, updated_at=now))
    console.print(f"wrote tenant DD-DEMO ({TENANT_ID}) and {len(USERS)} users with TenantData({TENANT_ID[:8]}…)")

    # The tenant-bound access pattern "list users of a tenant": one Query on tenant_id per page.
    found, cursor = [], None
    while True:
        page = tenant.users.list_users_of_a_tenant(limit=2, cursor=cursor)
        found += page.items
        if page.cursor is None:
            break
        cursor = page.cursor
    listing = Table(title="TenantData(…).users.list_users_of_a_tenant() — pages of 2, cursor bound to the tenant")
    for column in ("user_id", "name", "email", "role"):
        listing.add_column(column)
    for user in found:
        listing.add_row(str(user.user_id), user.name, user.email, user.role)
    console.print(listing)

    # "find user at login": the cross-tenant index, before the tenant is known.
    # cognito_sub is `unique: global`, so the lookup is exact: the one user, or None.
    login = data.CrossTenantData(client=client, env=ENV).users.find_user_at_login("sub-vikram")
    if login is None:
        console.print("[red]find_user_at_login('sub-vikram') found no user[/]")
        sys.exit(1)
    console.print(f"CrossTenantData(…).users.find_user_at_login('sub-vikram') → tenant {login.tenant_id}, "
                  f"user {login.user_id}")

    # Isolation by construction: another tenant sees none of it, and cannot write into it.
    other = data.TenantData(OTHER_TENANT, client=client, env=ENV)
    seen = other.users.list_users_of_a_tenant().items
    console.print(f"TenantData({OTHER_TENANT[:8]}…).users.list_users_of_a_tenant() → {len(seen)} users")
    try:
        other.users.put(found[0])
        console.print("[red]another tenant's repository accepted a user of DD-DEMO[/]")
        sys.exit(1)
    except data.TenantIsolationError as refused:
        console.print(f"TenantData({OTHER_TENANT[:8]}…).users.put(<a DD-DEMO user>) → refused: {refused}")
    # The login hijack of issue 19: another tenant claims Vikram's cognito_sub. Refused before
    # anything is written (the guard item and the user go in one transaction).
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        other.users.put(data.UsersItem(user_id=uuid.UUID(int=666, version=4), cognito_sub="sub-vikram",
                                       name="Mallory", role="OWNER", created_at=now, updated_at=now))
        console.print("[red]another tenant took the cognito_sub of a DD-DEMO user[/]")
        sys.exit(1)
    except data.UniqueViolation as refused:
        console.print(f"TenantData({OTHER_TENANT[:8]}…).users.put(<cognito_sub='sub-vikram'>) → refused: {refused}")
    if other.users.list_users_of_a_tenant().items:
        console.print("[red]the refused user was written anyway[/]")
        sys.exit(1)
    if len(found) != len(USERS) or seen:
        console.print(f"[red]expected {len(USERS)} users for DD-DEMO and none for the other tenant, "
                      f"read {len(found)} and {len(seen)}[/]")
        sys.exit(1)


def main() -> None:
    started = time.monotonic()
    os.chdir(ROOT)  # the engine's state lives in ROOT/.jobwork (or $JOBWORK_ROOT), as for the CLI
    run("local", "start")
    run("validate", "--schema", SCHEMA)
    run("deploy", "--env", ENV, "--local", "--schema", SCHEMA, "--yes")

    state = engines.status()
    client = client_for(state.endpoint)
    run("codegen", "python", "--out", str(GENERATED / "jobwork_data"), "--schema", SCHEMA)
    sys.path.insert(0, str(GENERATED))
    sample_data(client, importlib.import_module("jobwork_data"))
    run("status", "--env", ENV, "--local", "--schema", SCHEMA)  # what is deployed, with the sample's items

    console.rule()
    console.print(f"Demo finished in {time.monotonic() - started:.1f} s. The engine keeps running at "
                  f"{state.endpoint} (data in {state.data_dir}).")
    console.print("Stop it with: [bold].venv/bin/jobwork-infra local stop[/]")


if __name__ == "__main__":
    main()
