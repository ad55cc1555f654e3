"""The generated API as data: which models, repositories and methods a schema yields.

`describe` decides everything the generated code says (names, types, which pattern goes where);
`python.py` only renders it, and `compat.py` compares two descriptions. The description is plain
data, so its canonical JSON is what the stamped hash covers: the code is stale exactly when the
description changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple

from ..model import (
    GUARD_TABLE,
    Attribute,
    KeyAttribute,
    ResolvedGlobalIndex,
    ResolvedLocalIndex,
    ResolvedSchema,
    ResolvedTable,
    SchemaFile,
    guard_table,
    physical_name,
    resolve,
)
from .names import REPOSITORY_METHODS, pascal, python_name, snake

# Python annotations of each attribute type, as the items carry them and the key arguments take them.
PYTHON_TYPES: dict[str, str] = {
    "string": "str", "uuid": "UUID", "date": "date", "datetime": "datetime", "epoch_seconds": "int",
    "number": "int | Decimal", "binary": "bytes", "boolean": "bool",
    "list": "list[Any]", "map": "dict[str, Any]",
    "string_set": "frozenset[str]", "number_set": "frozenset[int | Decimal]", "binary_set": "frozenset[bytes]",
}
# Sort keys stored as S or B take a prefix for begins_with (DynamoDB refuses it on numbers):
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.KeyConditionExpressions.html
PREFIX_TYPES = {"S": "str", "B": "bytes"}


@dataclass(frozen=True)
class ItemField:
    name: str               # the Python name
    stored: str             # the attribute name in DynamoDB (an alias when it differs)
    annotation: str         # without `| None`
    required: bool
    doc: str | None


@dataclass(frozen=True)
class ItemModel:
    name: str               # UsersItem, OrdersByStatusItem
    doc: str
    fields: tuple[ItemField, ...]


@dataclass(frozen=True)
class KeyPart:
    name: str               # Python argument name
    stored: str
    annotation: str
    prefix: str | None      # the begins_with argument's type, None when the key cannot take one


@dataclass(frozen=True)
class Query:
    method: str             # snake_case of the pattern's name
    pattern: str            # the pattern's name as written
    doc: str
    scope: str              # users.list_users_of_a_tenant: what a cursor is bound to
    index: str | None
    model: str              # the item model of the target's projection
    partition: KeyPart      # the tenancy attribute on tenant-bound repositories (not an argument there)
    sort: KeyPart | None    # present when the pattern names a sort key
    # "get": the pattern names the whole primary key (a GetItem, item or None); "one": an index whose
    # partition key is unique across tenants (a Query of at most one item); None: a Page.
    exact: str | None = None


@dataclass(frozen=True)
class Repository:
    attribute: str          # TenantData.users
    cls: str                # UsersRepository
    table: str              # the YAML key
    doc: str
    tenant_bound: bool
    item: str | None        # the table's item model; None on a cross-tenant view of a tenant table
    key: tuple[KeyPart, ...]  # the key without the tenant (get/put/delete), when item is set
    queries: tuple[Query, ...]
    stored_key: tuple[str, ...] = ()              # the table's key attributes as stored (with the tenant)
    unique: tuple[tuple[str, str], ...] = ()      # (stored attribute, "tenant" | "global")
    version: str | None = None                    # the optimistic version attribute (version: true)
    aliases: tuple[tuple[str, str], ...] = ()     # (Python name, stored name) where they differ
    changes: tuple[tuple[str, str], ...] = ()     # (Python name, annotation) of what update may set


@dataclass(frozen=True)
class Api:
    source: str
    tenancy_attribute: str
    tenant_is_uuid: bool
    names: dict[str, dict[str, str]]   # env → table key → physical name
    literals: dict[str, str]            # alias → Literal[...] of every enum attribute
    items: tuple[ItemModel, ...]
    tenant: tuple[Repository, ...]      # TenantData
    cross: tuple[Repository, ...]       # CrossTenantData
    guards: bool = False                # a guard table of unique values (model.GUARD_TABLE) exists

    @cached_property
    def hash(self) -> str:
        """sha256 of what the generated code is made from (the source's file name aside).

        The repr of these frozen dataclasses is canonical (fields in order, dicts in schema order)
        and several times faster than asdict + JSON, which mattered at 1,000 tables.
        """
        return hashlib.sha256(repr(replace(self, source="")).encode()).hexdigest()


def _annotation(attribute: Attribute | None, alias: str = "") -> str:
    """The annotation of an attribute; an enum is named by `alias` (a Literal defined in items.py)."""
    if attribute is None:
        return "str"  # an undeclared key: the tenancy attribute, implied string
    if attribute.enum and attribute.type in ("string", "number") and alias:
        return alias
    return PYTHON_TYPES[attribute.type]


def literal(attribute: Attribute) -> str:
    return "Literal[" + ", ".join(json.dumps(v) for v in attribute.enum or ()) + "]"


def enum_alias(table: ResolvedTable, name: str) -> str:
    """JobsStatus: the Literal type of the enum attribute `status` of `jobs`."""
    attribute = table.attributes.get(name)
    if attribute is None or attribute.enum is None or attribute.type not in ("string", "number"):
        return ""
    return pascal(table.key) + pascal(name)


def _doc(text: str | None, fallback: str) -> str:
    return " ".join((text or fallback).split())


def _fields(table: ResolvedTable, names: list[str], required: set[str], tenancy: str) -> tuple[ItemField, ...]:
    fields = []
    for stored in names:
        attribute = table.attributes.get(stored)
        fields.append(ItemField(
            name=python_name(stored), stored=stored, annotation=_annotation(attribute, enum_alias(table, stored)),
            required=stored in required and stored != tenancy,  # the repository fills the tenant in
            doc=_doc(attribute.description, "") or None if attribute else None))
    return tuple(fields)


def _key_names(table: ResolvedTable) -> list[str]:
    return [table.partition_key.name] + ([table.sort_key.name] if table.sort_key else [])


def _key_part(table: ResolvedTable, name: str, storage: str) -> KeyPart:
    return KeyPart(name=python_name(name), stored=name,
                   annotation=_annotation(table.attributes.get(name), enum_alias(table, name)),
                   prefix=PREFIX_TYPES.get(storage))


class _Target(NamedTuple):
    """What an access pattern queries: the table's key or one index."""

    partition: KeyAttribute
    sort: KeyAttribute | None
    index: ResolvedGlobalIndex | ResolvedLocalIndex | None
    tenant_scoped: bool


def _targets(table: ResolvedTable) -> dict[str | None, _Target]:
    """None (the table itself) and every index by name."""
    targets = {None: _Target(table.partition_key, table.sort_key, None, table.tenant_scoped)}
    for index in table.global_indexes:
        targets[index.name] = _Target(index.partition_key, index.sort_key, index, index.tenant_scoped)
    for local in table.local_indexes:
        targets[local.name] = _Target(table.partition_key, local.sort_key, local, table.tenant_scoped)
    return targets


def _index_model(table: ResolvedTable, item_name: str, index: ResolvedGlobalIndex | ResolvedLocalIndex | None,
                 partition: str, sort: str | None,
                 items: list[ItemModel], made: set[str]) -> str:
    """The model of what the index projects: the full item for `all`, a narrower one otherwise."""
    if index is None or index.projection.type == "all":
        return item_name
    keys = list(dict.fromkeys([*_key_names(table), partition, *([sort] if sort else [])]))
    projected = keys + [a for a in (index.projection.attributes if index.projection.type == "include" else ())
                        if a not in keys]
    declared = [a for a in projected if a in table.attributes or a == partition]
    name = pascal(table.key) + pascal(index.name) + "Item"
    if name in made:  # a second pattern on the same index
        return name
    made.add(name)
    what = "its keys" if index.projection.type == "keys_only" else "its keys and " + ", ".join(
        index.projection.attributes)
    items.append(ItemModel(name=name, doc=f"An item of {table.key!r} as the index {index.name!r} projects it: {what}.",
                           fields=_fields(table, declared, set(keys), "")))
    return name


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken or candidate in REPOSITORY_METHODS:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def describe_schema(schema: SchemaFile, source: str) -> Api:
    """The API of a schema: resolved in its first environment; the others differ by table names only."""
    first, *others = schema.environments
    resolved = resolve(schema, first)
    names = {first: {key: table.physical_name for key, table in resolved.tables.items()}}
    for env in others:
        names[env] = {key: physical_name(schema, env, key, table) for key, table in schema.tables.items()}
        if (guards := guard_table(schema)) is not None:
            names[env][GUARD_TABLE] = physical_name(schema, env, GUARD_TABLE, guards)
    return describe(resolved, names, source)


def describe(first: ResolvedSchema, names: dict[str, dict[str, str]], source: str) -> Api:
    """The API generated for a resolved schema; `names` are the physical table names per environment."""
    tenancy = first.tenancy_attribute
    items: list[ItemModel] = []
    tenant_repos: list[Repository] = []
    cross_repos: list[Repository] = []
    tenant_types = set()
    literals: dict[str, str] = {}
    has_unique = any(t.unique_attributes() for t in first.tables.values())
    for table in first.tables.values():
        if table.key == GUARD_TABLE and has_unique:
            continue  # the guard table the compiler added (rule U003): the repositories write it
        for name, attribute in table.attributes.items():
            if enum_alias(table, name):
                literals[enum_alias(table, name)] = literal(attribute)
        item_name = pascal(table.key) + "Item"
        fields = _fields(table, list(dict.fromkeys([*_key_names(table), *table.attributes])),
                         set(_key_names(table)), tenancy if table.tenant_scoped else "")
        if table.version and "version" not in table.attributes:
            fields += (ItemField(name="version", stored="version", annotation="int", required=False,
                                 doc="The optimistic version: pass back the one read to replace the item."),)
        items.append(ItemModel(
            name=item_name, doc=_doc(table.description, f"An item of the table {table.key!r}."), fields=fields))
        if table.tenant_scoped:
            tenant_types.add(table.attributes[tenancy].type if tenancy in table.attributes else "string")
        targets = _targets(table)
        bound: list[Query] = []
        crossing: list[Query] = []
        taken: set[str] = set()
        made: set[str] = set()
        for pattern in table.access_patterns:
            target = targets.get(pattern.index)
            if target is None:
                continue
            partition, sort, index, scoped = target
            served = pattern.key[0] == partition.name and (
                len(pattern.key) < 2 or (sort is not None and pattern.key[1] == sort.name))
            if not served:
                continue  # rule A001 reports it; a valid schema has none
            method = _unique(snake(pattern.name), taken)
            model = _index_model(table, item_name, index, partition.name, sort.name if sort else None, items, made)
            tenant_bound = table.tenant_scoped and scoped and partition.name == tenancy
            exact = None
            if index is None and (sort is None or len(pattern.key) == 2):
                exact = "get"   # the whole primary key: one item or none
            elif (isinstance(index, ResolvedGlobalIndex) and len(pattern.key) == 1 and index.sort_key is None
                  and (table.attributes.get(partition.name) and table.attributes[partition.name].unique == "global"
                       or not table.tenant_scoped and partition.name in table.unique_attributes())):
                exact = "one"   # a unique value: at most one item across the table
            # A range: [partition] narrows optionally by the sort key, [partition, sort] of an index too.
            sort_part = _key_part(table, sort.name, sort.type) if sort and exact is None else (
                _key_part(table, sort.name, sort.type) if sort and len(pattern.key) == 2 else None)
            query = Query(method=method, pattern=pattern.name,
                          doc=_doc(pattern.description, pattern.name[:1].upper() + pattern.name[1:] + "."),
                          scope=f"{table.key}.{method}", index=pattern.index, model=model,
                          partition=_key_part(table, partition.name, partition.type), sort=sort_part,
                          exact=exact)
            (bound if tenant_bound else crossing).append(query)
        attribute = snake(table.key)
        key = tuple(_key_part(table, k.name, k.type) for k in (table.partition_key, table.sort_key)
                    if k is not None and not (table.tenant_scoped and k.name == tenancy))
        doc = _doc(table.description, f"The table {table.key!r}.")
        key_names = _key_names(table)
        version = "version" if table.version else None
        writes = {"stored_key": tuple(key_names), "unique": tuple(table.unique_attributes().items()), "version": version,
                      "aliases": tuple((python_name(n), n) for n in table.attributes if python_name(n) != n),
                      "changes": tuple((python_name(n), _annotation(a, enum_alias(table, n)))
                                    for n, a in table.attributes.items() if n not in key_names and n != version
                                    and n != tenancy)}
        if table.tenant_scoped:
            tenant_repos.append(Repository(attribute=attribute, cls=pascal(table.key) + "Repository",
                                           table=table.key, doc=doc, tenant_bound=True, item=item_name,
                                           key=key, queries=tuple(bound), **writes))
            if crossing:
                cross_repos.append(Repository(attribute=attribute, cls=pascal(table.key) + "CrossTenant",
                                              table=table.key, doc=doc, tenant_bound=False, item=None,
                                              key=(), queries=tuple(crossing)))
        else:
            cross_repos.append(Repository(attribute=attribute, cls=pascal(table.key) + "SharedRepository",
                                          table=table.key, doc=doc, tenant_bound=False, item=item_name,
                                          key=key, queries=tuple(crossing), **writes))
    return Api(
        source=source, tenancy_attribute=tenancy, tenant_is_uuid=tenant_types == {"uuid"},
        names=names,
        literals=literals, items=tuple(items), tenant=tuple(tenant_repos), cross=tuple(cross_repos),
        guards=has_unique)
