"""The registry: which live tables of the local engine belong to which environment.

Ownership. DynamoDB Local does not support tags (TagResource and ListTagsOfResource fail with
"Tagging is not currently supported"), so the app/env/managed-by tags cannot say which tables are
ours. Instead the engine itself keeps a registry table, `_jobwork-infra.registry`: one item per table
this tool created, with its app, env, YAML key, removal policy and the table's CreationDateTime. A
table belongs to an environment only when its registry item names that app and env *and* its
creation time matches, so a table of another app, another environment or another tool — or one
deleted and re-created by someone else under the same name — is never touched. The registry lives
with the data (same engine, same -dbPath), never in a file beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from ..errors import JobworkError
from ..model import MANAGED_BY, TOOL_TABLE_PREFIX, ResolvedSchema
from .local_client import WAIT_DELAY, RunContext, error_code

REGISTRY = f"{TOOL_TABLE_PREFIX}.registry"

@dataclass(frozen=True)
class Entry:
    table_name: str
    app: str
    env: str
    table_key: str
    created: int          # CreationDateTime in ms; 0 while a create_table is under way
    removal_policy: str


def created_ms(description: dict) -> int:
    return round(description["CreationDateTime"].timestamp() * 1000)


def read_registry(client) -> dict[str, Entry]:
    try:
        pages = client.get_paginator("scan").paginate(TableName=REGISTRY, ConsistentRead=True)
        items = [item for page in pages for item in page["Items"]]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return {}
        raise
    out = {}
    for item in items:
        entry = Entry(item["table_name"]["S"], item["app"]["S"], item["env"]["S"], item["table_key"]["S"],
                      int(item["created"]["N"]), item["removal_policy"]["S"])
        out[entry.table_name] = entry
    return out


def _ensure_registry(ctx: RunContext) -> None:
    if ctx.registry_ready:
        return
    try:
        ctx.client.create_table(
            TableName=REGISTRY, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "table_name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "table_name", "AttributeType": "S"}],
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    ctx.client.get_waiter("table_exists").wait(TableName=REGISTRY, WaiterConfig={"Delay": WAIT_DELAY})
    ctx.registry_ready = True


def register(ctx: RunContext, entry: Entry) -> None:
    _ensure_registry(ctx)
    ctx.client.put_item(TableName=REGISTRY, Item={
        "table_name": {"S": entry.table_name}, "app": {"S": entry.app}, "env": {"S": entry.env},
        "table_key": {"S": entry.table_key}, "created": {"N": str(entry.created)},
        "removal_policy": {"S": entry.removal_policy}, "managed_by": {"S": MANAGED_BY},
    })


def unregister(ctx: RunContext, table_name: str) -> None:
    _ensure_registry(ctx)
    ctx.client.delete_item(TableName=REGISTRY, Key={"table_name": {"S": table_name}})


def describe_or_none(client, name: str) -> dict | None:
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def owned(entry: Entry | None, description: dict, app: str, env: str) -> bool:
    # created == 0: our create_table was interrupted after registering; the table is ours to finish.
    return (entry is not None and entry.app == app and entry.env == env
            and entry.created in (0, created_ms(description)))


def foreign_table_error(name: str, entry: Entry | None, head: ResolvedSchema) -> JobworkError:
    if entry is not None and (entry.app, entry.env) != (head.app, head.env):
        owner = f"environment {entry.env} of app {entry.app}"
    else:
        owner = ("another tool (jobwork-infra did not create it for this environment, "
                 "or left it behind as a retained table)")
    return JobworkError(
        f"table {name} already exists on the local engine and belongs to {owner}: leaving it alone",
        "give this environment's tables other names (naming: or table_name: in the schema), "
        "or delete that table yourself if it is expendable",
    )

