"""Python names of the generated code: how schema names map to them, and which schemas they break.

One home for the mapping (attribute → field or argument, table → class and repository attribute),
used by `api.py` to generate and by the N11x rules to refuse, at validate time, a schema whose
names would collide or shadow in the generated package (issue 19, item 4).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel

from ..model import SchemaFile, Table, logical_id, table_partition_key

# Names a field may not take on a pydantic model (they would shadow its methods).
_MODEL_NAMES = frozenset(dir(BaseModel))
# What an item model's class body and the repositories' signatures refer to by name: a field of
# that name would shadow the type its neighbours are annotated with (pydantic resolves annotations
# in the class namespace first), so the generated code maps it (`datetime` → `datetime_`).
TYPE_NAMES = frozenset({
    "UUID", "date", "datetime", "Decimal", "Any", "Literal", "BaseModel", "ConfigDict", "Field", "TypedDict",
    "Collection", "Iterable", "Mapping", "Sequence", "TYPE_CHECKING", "DynamoDBClient",
    "str", "int", "bytes", "bool", "list", "dict", "frozenset", "tuple", "float", "object",
})
# Argument and local names of the generated methods, and the runtime helpers they call: a key
# attribute of that name would be a duplicate argument (a SyntaxError) or shadow the helper.
GENERATED_NAMES = frozenset({
    "self", "cursor", "limit", "consistent", "item", "items", "keys", "key", "if_not_exists", "transaction",
    "set", "remove", "if_", "expected_version", "condition", "sort_condition", "normalize_tenant", "table_names",
    "Page", "Repository", "TableRepository", "Transaction", "TABLE_NAMES", "TENANCY_ATTRIBUTE", "UNIQUE",
})
REPOSITORY_METHODS = ("get", "put", "delete", "update", "batch_get", "batch_put")

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NOT_WORD = re.compile(r"\W", re.ASCII)


@cache
def pascal(text: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in _NOT_ALNUM.split(text) if w)


@cache
def snake(text: str) -> str:
    name = _NOT_ALNUM.sub("_", _CAMEL.sub(r"\1_\2", text)).strip("_").lower() or "x"
    return python_name(name)


@cache
def python_name(name: str) -> str:
    """A valid Python identifier for an attribute name (the stored name stays as an alias).

    Keywords, names of pydantic's model API, the types the generated code annotates with and the
    names its methods use get a trailing underscore (`class` → `class_`, `datetime` → `datetime_`).
    """
    safe = identifier(name)
    if (keyword.iskeyword(safe) or keyword.issoftkeyword(safe) or safe in _MODEL_NAMES or safe in TYPE_NAMES
            or safe in GENERATED_NAMES):
        safe += "_"
    return safe


def identifier(name: str) -> str:
    """The name with every character Python does not allow in a name replaced (no reserved-name step)."""
    safe = _NOT_WORD.sub("_", name)
    if not safe or safe[0].isdigit():
        safe = "a_" + safe
    if safe.startswith("_"):
        safe = safe.strip("_") + "_" if safe.strip("_") else "a_"
    return safe


def reserved_reason(name: str) -> str | None:
    """Why a key attribute's name cannot be an argument of the generated methods, or None."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "a Python keyword"
    if name in GENERATED_NAMES:
        return "a name the generated methods use themselves"
    if name in TYPE_NAMES:
        return "the name of a type the generated code uses"
    return None


@dataclass(frozen=True)
class NameClash:
    """A name the generated package cannot carry: rule `code` reports it at `path`."""

    code: str
    path: tuple
    message: str
    hint: str
    at: str = "key"


def _key_attributes(schema: SchemaFile, table: Table) -> list[str]:
    names = [table_partition_key(schema, table), *([table.sort_key] if table.sort_key else [])]
    for index in table.global_indexes.values():
        names += [index.partition_key, *([index.sort_key] if index.sort_key else [])]
    names += [index.sort_key for index in table.local_indexes.values()]
    return list(dict.fromkeys(names))


def clashes(schema: SchemaFile) -> list[NameClash]:
    """Every name of the schema that the generated package would get wrong."""
    found: list[NameClash] = []
    tenancy = schema.tenancy.attribute
    classes: dict[str, str] = {}          # generated class name → what made it
    attributes: dict[str, str] = {}       # TenantData / CrossTenantData attribute → table key
    logical_ids: set[str] = set()
    tables = dict(schema.tables)
    for table_key, table in tables.items():
        base = ("tables", table_key)
        owners: dict[str, str] = {}
        if table.tenant_scoped and tenancy not in table.attributes:
            owners[python_name(tenancy)] = tenancy  # implied: the repository fills it in
        for name in table.attributes:
            mapped = python_name(name)
            first = owners.setdefault(mapped, name)
            if first == name:
                continue
            if first == tenancy and table.tenant_scoped:
                found.append(NameClash(
                    "N111", base + ("attributes", name),
                    f"the attribute {name!r} becomes the Python name {mapped!r}, which is the tenancy "
                    f"attribute {tenancy!r}: it would shadow the tenant field of the item",
                    "rename the attribute (e.g. other_" + mapped + ")"))
            else:
                found.append(NameClash(
                    "N110", base + ("attributes", name),
                    f"the attributes {first!r} and {name!r} of {table_key!r} both become the Python name "
                    f"{mapped!r} in the generated item", "rename one of them"))
        for name in _key_attributes(schema, table):
            reason = reserved_reason(identifier(name))
            if reason is not None and not (name == tenancy and table.tenant_scoped):
                where = ("attributes", name) if name in table.attributes else ()
                found.append(NameClash(
                    "N113", base + where,
                    f"the key attribute {name!r} of {table_key!r} is {reason}: it cannot be an argument "
                    "of the generated methods", f"rename the attribute (e.g. {name}_key)"))
        made = [(pascal(table_key) + "Item", f"the item of {table_key!r}"),
                (pascal(table_key) + "Repository", f"the repository of {table_key!r}"),
                (pascal(table_key) + "Changes", f"the update fields of {table_key!r}")]
        made += [(pascal(table_key) + pascal(index) + "Item", f"the index {index!r} of {table_key!r}")
                 for index in [*table.global_indexes, *table.local_indexes]]
        made += [(pascal(table_key) + pascal(name), f"the enum of {table_key}.{name}")
                 for name, a in table.attributes.items() if a.enum]
        if logical_id(table_key) in logical_ids:
            continue  # rule N106 reports the two tables already
        logical_ids.add(logical_id(table_key))
        for cls, what in made:
            first = classes.setdefault(cls, what)
            if first != what:
                found.append(NameClash("N112", base, f"{what} and {first} are both generated as the class {cls}",
                                       "rename the table or the index"))
                break
        attribute = snake(table_key)
        first_table = attributes.setdefault(attribute, table_key)
        if first_table != table_key:
            found.append(NameClash("N112", base, f"the tables {first_table!r} and {table_key!r} both become the "
                                   f"repository attribute {attribute!r} of TenantData/CrossTenantData",
                                   "rename one of the table keys"))
    return found
