"""What every rule sees: the modelled schema, the document it came from, and shared lookups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from ..load import Document, Path_
from ..model import ResolvedSchema, SchemaFile, Table, resolve, table_partition_key


@dataclass(frozen=True)
class KeyUse:
    """One place where an attribute is used as a key: a table's or an index's partition/sort key."""

    table: str
    owner: str          # "table 'users'", "global index 'by_email' of 'users'"
    role: str           # "partition key" | "sort key"
    name: str
    path: Path_         # where the name is written, or the table key when it is implied
    at: str             # "value" when written, "key" when implied (points at the table's key)
    implied: bool = False


@dataclass
class Context:
    document: Document
    schema: SchemaFile
    _resolved: dict[str, ResolvedSchema] = field(default_factory=dict)

    @property
    def tenancy(self) -> str:
        return self.schema.tenancy.attribute

    @property
    def environments(self) -> list[str]:
        return list(self.schema.environments)

    def resolved(self, env: str) -> ResolvedSchema:
        if env not in self._resolved:
            self._resolved[env] = resolve(self.schema, env)
        return self._resolved[env]

    def tables(self) -> Iterator[tuple[str, Table]]:
        yield from self.schema.tables.items()

    @cached_property
    def key_uses(self) -> list[KeyUse]:
        uses: list[KeyUse] = []
        for name, table in self.tables():
            base: Path_ = ("tables", name)
            this = f"table {name!r}"
            pk = table_partition_key(self.schema, table)
            if table.partition_key is None:
                uses.append(KeyUse(name, this, "partition key", pk, base, "key", implied=True))
            else:
                uses.append(KeyUse(name, this, "partition key", pk, base + ("partition_key",), "value"))
            if table.sort_key is not None:
                uses.append(KeyUse(name, this, "sort key", table.sort_key, base + ("sort_key",), "value"))
            for index_name, index in table.global_indexes.items():
                at = base + ("global_indexes", index_name)
                owner = f"global index {index_name!r} of {name!r}"
                uses.append(KeyUse(name, owner, "partition key", index.partition_key, at + ("partition_key",), "value"))
                if index.sort_key is not None:
                    uses.append(KeyUse(name, owner, "sort key", index.sort_key, at + ("sort_key",), "value"))
            for index_name, index in table.local_indexes.items():
                at = base + ("local_indexes", index_name)
                uses.append(KeyUse(name, f"local index {index_name!r} of {name!r}", "sort key", index.sort_key,
                                   at + ("sort_key",), "value"))
        return uses

    @cached_property
    def _keys_by_table(self) -> dict[str, set[str]]:
        keys: dict[str, set[str]] = {}
        for use in self.key_uses:
            keys.setdefault(use.table, set()).add(use.name)
        return keys

    def key_attributes(self, table_key: str) -> set[str]:
        """Every attribute that is a key of the table or of one of its indexes."""
        return self._keys_by_table.get(table_key, set())

    def attribute_type(self, table: Table, name: str) -> str | None:
        """The declared type; the tenancy attribute is implied as a string when not declared."""
        attribute = table.attributes.get(name)
        if attribute is not None:
            return attribute.type
        return "string" if name == self.tenancy else None
