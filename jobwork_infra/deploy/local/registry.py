"""The registry: which live tables of the local engine belong to which environment.

Ownership. DynamoDB Local does not support tags (TagResource and ListTagsOfResource fail with
"Tagging is not currently supported"), so the app/env/managed-by tags cannot say which tables are
ours. Instead the engine itself keeps a registry table, `_jobwork-infra.registry`: one item per table
this tool created, with its app, env, YAML key, removal policy and the table's CreationDateTime. A
table belongs to an environment only when its registry item names that app and env *and* its
creation time matches, so a table of another app, another environment or another tool — or one
deleted and re-created by someone else under the same name — is never touched. The registry lives
with the data (same engine, same -dbPath), never in a file beside it.

Every write of the registry is conditional, so two deploys cannot both own a name: a claim succeeds
only on a free name (or our own unfinished claim), an update only while the item is still ours.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from botocore.exceptions import ClientError

from ...errors import Blocked, JobworkError
from ...model import MANAGED_BY, ResolvedSchema
from ..aws import error_code
from ..dynamodb import REGISTRY_TABLE
from .client import WAIT_DELAY, RunContext

REGISTRY = REGISTRY_TABLE

@dataclass(frozen=True)
class Entry:
    table_name: str
    app: str
    env: str
    table_key: str
    created: int          # CreationDateTime in ms; 0 while a create_table is under way
    removal_policy: str
    # The schema file (absolute path) that deployed it: a later deploy of the same file under another
    # app or environment name is a rename (flow.Predecessor), not a foreign project on the same engine.
    source: str = ""
    # "" for the environment's table of a YAML key; in a migration (docs/migrate.md) "next" for
    # generation N until it verified, then "previous" for generation N-1 until `migrate finish`.
    role: str = ""
    generation: int = 1   # the schema's generation of the table when it was created or adopted


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
        if item["table_name"]["S"].startswith(SERIAL_PREFIX):
            continue
        entry = Entry(item["table_name"]["S"], item["app"]["S"], item["env"]["S"], item["table_key"]["S"],
                      int(item["created"]["N"]), item["removal_policy"]["S"], (item.get("source") or {}).get("S", ""),
                      (item.get("role") or {}).get("S", ""), int((item.get("generation") or {}).get("N", "1")))
        out[entry.table_name] = entry
    return out


# The deploy serial of an environment (issue 18, item 2): one item per app and environment, under a key no
# table can have ('#' is not allowed in a table name), holding a lineage (made once, at random) and a
# number every apply bumps, conditionally on the one it read.
SERIAL_PREFIX = "#serial/"
_SERIAL_NAMES = {"#l": "lineage", "#n": "serial"}


def _serial_key(app: str, env: str) -> dict:
    return {"table_name": {"S": f"{SERIAL_PREFIX}{app}/{env}"}}


def read_serial(client, app: str, env: str) -> str:
    """"LINEAGE:NUMBER" of the environment's last apply, "" when none was recorded."""
    try:
        item = client.get_item(TableName=REGISTRY, Key=_serial_key(app, env), ConsistentRead=True).get("Item")
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return ""
        raise
    if not item:
        return ""
    return f"{item['lineage']['S']}:{item['serial']['N']}"


def bump_serial(ctx: RunContext, app: str, env: str, read: str) -> str:
    """The next serial, written only if the item still holds `read` (what this deploy planned from)."""
    _ensure_registry(ctx)
    lineage, _, number = read.rpartition(":")
    lineage = lineage or uuid.uuid4().hex
    after = int(number or 0) + 1
    item = {**_serial_key(app, env), "app": {"S": app}, "env": {"S": env}, "managed_by": {"S": MANAGED_BY},
            "lineage": {"S": lineage}, "serial": {"N": str(after)}}
    if read:
        condition = {"ConditionExpression": "#l = :lineage AND #n = :serial", "ExpressionAttributeNames": _SERIAL_NAMES,
                     "ExpressionAttributeValues": {":lineage": {"S": lineage}, ":serial": {"N": number}}}
    else:
        condition = {"ConditionExpression": "attribute_not_exists(table_name)"}
    try:
        ctx.client.put_item(TableName=REGISTRY, Item=item, **condition)
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        raise Blocked(f"another deploy of environment {env} of app {app} applied since this one read what is "
                      f"deployed (deploy serial {number or 'none'} then, {read_serial(ctx.client, app, env)} now); "
                      "nothing more was applied",
                      "run deploy again: it plans from what is deployed now") from None
    return f"{lineage}:{after}"


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


def _item(entry: Entry) -> dict:
    return {
        "table_name": {"S": entry.table_name}, "app": {"S": entry.app}, "env": {"S": entry.env},
        "table_key": {"S": entry.table_key}, "created": {"N": str(entry.created)},
        "removal_policy": {"S": entry.removal_policy}, "managed_by": {"S": MANAGED_BY},
        **({"source": {"S": entry.source}} if entry.source else {}),
        **({"role": {"S": entry.role}} if entry.role else {}),
        **({"generation": {"N": str(entry.generation)}} if entry.generation != 1 else {}),
    }


def _holder(ctx: RunContext, table_name: str) -> str:
    entry = read_registry(ctx.client).get(table_name)
    if entry is None:
        return "another deploy"
    return f"environment {entry.env} of app {entry.app}"


# TransactWriteItems takes at most 100 actions, each on a distinct item; all of one transaction commit or
# none does, and a refused one says per action why (CancellationReasons, in request order).
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html
TRANSACTION_ITEMS = 100
_REFUSED = ("ConditionalCheckFailed", "TransactionConflict")


def _conditional_puts(ctx: RunContext, entries: list[Entry], condition: str, values) -> str | None:
    """Put each entry's item under `condition`, at most 100 to an all-or-nothing transaction.

    Returns None when every item was written, else the first table whose condition failed (or whose
    item another transaction was writing); the transactions before the refused one stay committed.
    """
    for start in range(0, len(entries), TRANSACTION_ITEMS):
        chunk = entries[start:start + TRANSACTION_ITEMS]
        try:
            ctx.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": REGISTRY, "Item": _item(e), "ConditionExpression": condition,
                         "ExpressionAttributeValues": values(e)}} for e in chunk])
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            refused = [e for e, r in zip(chunk, reasons) if r.get("Code") in _REFUSED]
            if error_code(exc) != "TransactionCanceledException" or not refused:
                raise
            return refused[0].table_name
    return None


def _ours(entry: Entry, unfinished: bool = False) -> dict:
    values = {":app": {"S": entry.app}, ":env": {"S": entry.env}}
    return {**values, ":unfinished": {"N": "0"}} if unfinished else values


def claim_for_create(ctx: RunContext, entry: Entry) -> None:
    claim_all_for_create(ctx, [entry])


def claim_all_for_create(ctx: RunContext, entries: list[Entry]) -> None:
    """Claim every `entry.table_name` for a create_table about to run; raise if any is no longer free.

    Called right before creating the tables, after any confirmation prompt: the plan may be stale by
    then. Each claim is a conditional write (DynamoDB evaluates the condition and the write as one
    atomic step), so of two deploys racing for one name exactly one wins; the other stops here
    with nothing changed, instead of overwriting the winner's registry item and later deleting its
    table (issue 14, item 1). A table that appeared unregistered since the plan is refused too.
    On refusal every claim this call made is released: no table of the batch is created.
    """
    _ensure_registry(ctx)
    # Free, or already ours from a create_table interrupted before it finished (created = 0).
    refused = _conditional_puts(
        ctx, entries, "attribute_not_exists(table_name) OR (app = :app AND env = :env AND created = :unfinished)",
        lambda e: _ours(e, unfinished=True))
    if refused is not None:
        _release_all(ctx, entries)
        raise JobworkError(
            f"table {refused} was claimed by {_holder(ctx, refused)} after this deploy "
            "planned it: nothing was changed for that table",
            "rerun the deploy: it plans again from the live tables (two environments that share table names "
            "need distinct `naming:` patterns)")
    # One paginated ListTables instead of a DescribeTable per claimed name.
    live = {name for page in ctx.client.get_paginator("list_tables").paginate() for name in page["TableNames"]}
    appeared = [e.table_name for e in entries if e.table_name in live]
    if appeared:
        _release_all(ctx, entries)
        raise JobworkError(
            f"table {appeared[0]} appeared on the local engine after this deploy planned it, and "
            "jobwork-infra did not create it: leaving it alone",
            "rerun the deploy to plan again; rename this environment's table, or delete that table yourself "
            "if it is expendable")


def claim_for_adoption(ctx: RunContext, entry: Entry, previous: Entry | None) -> None:
    """Claim an existing table nobody manages (`deploy --adopt`); raise if the registry moved on.

    The same one conditional write as `claim_for_create`: it succeeds only if the registry still
    holds what the deploy read — no entry, or the stale one a table since re-created left behind —
    so two deploys cannot both adopt a table, and one another environment claimed meanwhile is
    never taken.
    """
    _ensure_registry(ctx)
    if previous is None:
        condition: dict = {"ConditionExpression": "attribute_not_exists(table_name)"}
    else:
        condition = {"ConditionExpression": "created = :created AND app = :app AND env = :env",
                     "ExpressionAttributeValues": {":created": {"N": str(previous.created)},
                                                   ":app": {"S": previous.app}, ":env": {"S": previous.env}}}
    try:
        ctx.client.put_item(TableName=REGISTRY, Item=_item(entry), **condition)
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        raise JobworkError(
            f"table {entry.table_name} was claimed by {_holder(ctx, entry.table_name)} while this deploy ran: "
            "not adopting it; nothing was changed for that table",
            "rerun the deploy: it reads the registry again") from None


def _release_all(ctx: RunContext, entries: list[Entry]) -> None:
    for entry in entries:
        release_claim(ctx, entry)


def release_claim(ctx: RunContext, entry: Entry) -> None:
    """Drop a claim of ours that never became a table (a create_table that failed)."""
    try:
        ctx.client.delete_item(
            TableName=REGISTRY, Key={"table_name": {"S": entry.table_name}},
            ConditionExpression="app = :app AND env = :env AND created = :unfinished",
            ExpressionAttributeValues={":app": {"S": entry.app}, ":env": {"S": entry.env},
                                       ":unfinished": {"N": "0"}})
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise


def register(ctx: RunContext, entry: Entry) -> None:
    """Record a table of ours. `created` 0 is a claim before create_table (see claim_for_create);
    otherwise the item must still name this app and environment."""
    if entry.created == 0:
        claim_for_create(ctx, entry)
    else:
        record_created(ctx, [entry])


def record_created(ctx: RunContext, entries: list[Entry]) -> None:
    """Record tables of ours (their CreationDateTime set), each only while its item still names this
    app and environment; 100 to a transaction."""
    _ensure_registry(ctx)
    refused = _conditional_puts(ctx, entries, "app = :app AND env = :env", _ours)
    if refused is not None:
        entry = next(e for e in entries if e.table_name == refused)
        raise JobworkError(
            f"table {refused} no longer belongs to environment {entry.env} of app {entry.app} in the "
            f"registry (now: {_holder(ctx, refused)}): not recording it",
            "rerun the deploy: it plans again from the live tables")


def unregister(ctx: RunContext, table_name: str) -> None:
    _ensure_registry(ctx)
    ctx.client.delete_item(TableName=REGISTRY, Key={"table_name": {"S": table_name}})


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

