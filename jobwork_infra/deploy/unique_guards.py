"""The deploy step that declaring `unique` on a table with data takes (issue 19): guards for stored values.

The generated data layer keeps one guard item per unique value (docs/codegen.md, "Unique values"),
but only for the writes it makes. Items stored before an attribute became unique have none, so a
deploy that adds `unique` first scans the table: values held twice are reported by key and the
deploy is refused (exit 3) before anything is written; otherwise, once the guard table exists, it
writes the missing guards and then a marker item that says the attribute is guarded. The marker
makes the step observable on the live tables (DynamoDB holds no schema of its attributes), so it
runs once, and again only if it was interrupted (each guard write is idempotent: the same owner).

The guard keys are the generated runtime's own (`guard_key`), imported from the template the
generated package copies, so the deploy and the application can never disagree on where a guard is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from ..codegen.templates.runtime import from_storage, guard_key, guard_owner, serialize_item
from ..errors import Blocked
from ..model import GUARD_SORT_KEY, GUARD_TABLE, ResolvedSchema

# A marker's partition: like a global guard's, it starts with `#`, which no tenant id can.
MARKER_PREFIX = "#guarded#"
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class GuardStep:
    """One unique attribute of one table whose stored values may lack guards."""

    table: str            # the YAML key
    physical: str
    attribute: str
    scope: str            # "tenant" | "global"

    def describe(self) -> str:
        return f"{self.table}.{self.attribute} (unique: {self.scope})"


@dataclass(frozen=True)
class Duplicate:
    """A value held by more than one item where the schema says it is unique."""

    step: GuardStep
    value: Any
    tenant: str | None    # for unique: tenant, the tenant the items share
    keys: tuple[dict[str, Any], ...]

    def describe(self) -> str:
        where = f" in tenant {self.tenant}" if self.tenant is not None else ""
        keys = "; ".join(", ".join(f"{k}={v}" for k, v in key.items()) for key in self.keys[:5])
        more = f" and {len(self.keys) - 5} more" if len(self.keys) > 5 else ""
        return f"{self.step.table}.{self.step.attribute} = {self.value!r}{where}: held by {len(self.keys)} items ({keys}{more})"


def _marker_key(resolved: ResolvedSchema, step: GuardStep) -> dict[str, Any]:
    return serialize_item({resolved.tenancy_attribute: f"{MARKER_PREFIX}{step.table}#{step.attribute}#{step.scope}",
                           GUARD_SORT_KEY: "#"})


def guard_steps(resolved: ResolvedSchema) -> list[GuardStep]:
    """Every unique attribute of the environment (the candidates of the step)."""
    return [GuardStep(key, table.physical_name, name, scope) for key, table in resolved.tables.items()
            for name, scope in table.unique_attributes().items()]


def pending(client: Any, resolved: ResolvedSchema) -> list[GuardStep]:
    """The unique attributes whose marker is missing: their stored values may lack guards."""
    steps = guard_steps(resolved)
    if not steps:
        return []
    guards = resolved.tables[GUARD_TABLE].physical_name
    out = []
    for step in steps:
        try:
            found = client.get_item(TableName=guards, Key=_marker_key(resolved, step), ConsistentRead=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return steps   # the guard table is not deployed yet: every attribute is pending
            raise
        if "Item" not in found:
            out.append(step)
    return out


def _items(client: Any, table: str, names: list[str]) -> Iterator[dict[str, Any]]:
    """Every item of `table` (only `names`), strongly consistent; none when the table does not exist yet."""
    aliases = {f"#n{i}": name for i, name in enumerate(names)}
    request = {"TableName": table, "ConsistentRead": True, "ProjectionExpression": ", ".join(aliases),
               "ExpressionAttributeNames": aliases}
    try:
        for page in client.get_paginator("scan").paginate(**request):
            for raw in page["Items"]:
                yield {k: from_storage(_deserializer.deserialize(v)) for k, v in raw.items()}
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise


def _scan(client: Any, resolved: ResolvedSchema, steps: list[GuardStep]) -> dict[GuardStep, dict]:
    """Per step: (tenant or None, guard text) → (value, [item keys])."""
    by_table: dict[str, list[GuardStep]] = defaultdict(list)
    for step in steps:
        by_table[step.table].append(step)
    found: dict[GuardStep, dict] = {step: {} for step in steps}
    tenancy = resolved.tenancy_attribute
    for table_key, table_steps in by_table.items():
        table = resolved.tables[table_key]
        key_names = [table.partition_key.name] + ([table.sort_key.name] if table.sort_key else [])
        for item in _items(client, table.physical_name, [*key_names, *(s.attribute for s in table_steps)]):
            key = {k: item[k] for k in key_names if k in item}
            tenant = str(item.get(tenancy)) if table.tenant_scoped else None
            for step in table_steps:
                value = item.get(step.attribute)
                if value is None:
                    continue
                scope_tenant = tenant if step.scope == "tenant" else None
                guard = guard_key(step.table, step.attribute, value, scope=step.scope, tenant=scope_tenant,
                                  tenancy_attribute=tenancy)
                slot = found[step].setdefault(repr(sorted(guard.items())), (value, scope_tenant, []))
                slot[2].append(key)
    return found


def duplicates(client: Any, resolved: ResolvedSchema, steps: list[GuardStep]) -> list[Duplicate]:
    """Values held twice in the tables of `steps` (read only: nothing is written)."""
    out = []
    for step, values in _scan(client, resolved, steps).items():
        for value, tenant, keys in values.values():
            if len(keys) > 1:
                out.append(Duplicate(step, value, tenant, tuple(keys)))
    return out


def refuse_duplicates(found: list[Duplicate], *, before_changes: bool = True) -> None:
    if found:
        shown = "\n  ".join(d.describe() for d in found[:20])
        more = f"\n  … and {len(found) - 20} more" if len(found) > 20 else ""
        when = "nothing was written" if before_changes else "the tables are deployed, their guards are not"
        raise Blocked(f"values declared unique are held by more than one item; {when}:\n  {shown}{more}",
                      "make each value unique (change or delete the extra items), then deploy again")


def write_guards(client: Any, resolved: ResolvedSchema, steps: list[GuardStep]) -> int:
    """The missing guards of every stored value, then each step's marker; returns the guards written.

    Each guard is written on the condition that it does not exist or already belongs to the same
    item, so the step is resumable; a guard that another item took since the scan is a duplicate.
    """
    guards = resolved.tables[GUARD_TABLE].physical_name
    tenancy = resolved.tenancy_attribute
    written = 0
    clashes: list[Duplicate] = []
    for step, values in _scan(client, resolved, steps).items():
        for value, tenant, keys in values.values():
            if len(keys) > 1:
                clashes.append(Duplicate(step, value, tenant, tuple(keys)))
                continue
            item = {**guard_key(step.table, step.attribute, value, scope=step.scope, tenant=tenant,
                                tenancy_attribute=tenancy),
                    **serialize_item({"owner": guard_owner(keys[0]), "table": step.table, "attribute": step.attribute,
                                      "owner_tenant": str(keys[0].get(tenancy)) if tenancy in keys[0] else None})}
            try:
                client.put_item(TableName=guards, Item=item, ConditionExpression="attribute_not_exists(#t) OR #o = :o",
                                ExpressionAttributeNames={"#t": tenancy, "#o": "owner"},
                                ExpressionAttributeValues={":o": item["owner"]})
                written += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                clashes.append(Duplicate(step, value, tenant, (keys[0], {"guard held by": "another item"})))
    refuse_duplicates(clashes, before_changes=False)
    for step in steps:
        client.put_item(TableName=guards, Item={**_marker_key(resolved, step), **serialize_item(
            {"marker": f"the stored values of {step.describe()} are guarded"})})
    return written


@dataclass(frozen=True)
class GuardPlan:
    """What a deploy does for the unique attributes: the pending steps and how many values they guard."""

    steps: tuple[GuardStep, ...]
    values: int

    def describe(self) -> str:
        what = ", ".join(s.describe() for s in self.steps)
        return (f"unique values: {what} have no guard items for the values stored before; after the "
                f"changes, the deploy writes them ({self.values} stored value{'s' if self.values != 1 else ''}, "
                "one write capacity unit each)")


def plan_guards(client: Any, resolved: ResolvedSchema) -> GuardPlan | None:
    """The guard step of a deploy, read only: None when every unique attribute is guarded; refused
    (Blocked, exit 3) when a value is held twice, before the deploy writes anything."""
    steps = pending(client, resolved)
    if not steps:
        return None
    scanned = _scan(client, resolved, steps)
    refuse_duplicates([Duplicate(step, value, tenant, tuple(keys)) for step, values in scanned.items()
                       for value, tenant, keys in values.values() if len(keys) > 1])
    return GuardPlan(tuple(steps), sum(len(values) for values in scanned.values()))
