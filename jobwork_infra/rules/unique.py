"""Unique values and the generated code's names: what the data layer can enforce, and carry."""

from __future__ import annotations

from collections.abc import Iterator

from ..codegen.names import clashes
from ..model import GUARD_TABLE, KEY_TYPES, index_tenant_scoped, table_partition_key
from .context import Context
from .registry import Finding, rule


@rule("U001", "a unique attribute is a scalar that is not a key of its table", "unique",
      note="Keys are unique already; sets, lists, maps and booleans cannot be guarded value by value.")
def unique_scalar(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        keys = {table_partition_key(ctx.schema, table), table.sort_key}
        for name, attribute in table.attributes.items():
            if attribute.unique is None:
                continue
            path = ("tables", table_key, "attributes", name, "unique")
            if attribute.type not in KEY_TYPES:
                yield Finding(path, f"{name!r} is a {attribute.type}: only string, number, binary, uuid, date, "
                              "datetime and epoch_seconds values can be declared unique",
                              "remove unique:, or store the value in a scalar attribute")
            elif name in keys:
                yield Finding(path, f"{name!r} is a key of {table_key!r}, which DynamoDB keeps unique already",
                              "remove unique: from the key attribute")


def _crossing_indexes(ctx: Context, table, name: str) -> tuple[list[str], list[str]]:
    """The indexes partitioned by `name` that cross tenants: (acknowledged under T002, not acknowledged)."""
    acknowledged, bare = [], []
    for index_name, index in table.global_indexes.items():
        if index.partition_key == name and not index_tenant_scoped(ctx.schema, table, index):
            (acknowledged if "T002" in (index.acknowledge or {}) else bare).append(index_name)
    return acknowledged, bare


@rule("U002", "unique: global is only on a table or an index that crosses tenants on purpose "
      "(tenant_scoped: false, acknowledged under T002)", "unique",
      note="A value unique across tenants is looked up across tenants: the schema must say so where it does.")
def unique_global(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if not table.tenant_scoped:
            continue
        for name, attribute in table.attributes.items():
            if attribute.unique != "global":
                continue
            acknowledged, bare = _crossing_indexes(ctx, table, name)
            if acknowledged:
                continue
            path = ("tables", table_key, "attributes", name, "unique")
            if bare:
                hint = (f"acknowledge T002 on the index {bare[0]!r} (acknowledge: {{T002: why it crosses "
                        "tenants}})")
            else:
                hint = (f"add a global index partitioned by {name} with tenant_scoped: false and "
                        "acknowledge: {T002: why}, or use unique: tenant")
            yield Finding(path, f"{name!r} is unique across tenants, but {table_key!r} is tenant-scoped and no "
                          "acknowledged cross-tenant index is partitioned by it", hint)


@rule("U003", f"no table is named {GUARD_TABLE!r} when an attribute is unique (the guard table's name)",
      "unique")
def guard_table_name(ctx: Context) -> Iterator[Finding]:
    if GUARD_TABLE in ctx.schema.tables and any(
            a.unique for _, t in ctx.tables() for a in t.attributes.values()):
        yield Finding(("tables", GUARD_TABLE), f"the table key {GUARD_TABLE!r} is the guard table jobwork-infra "
                      "adds for unique attributes", "rename the table", at="key")


@rule("U004", "a table with version: true declares `version`, if at all, as a number that is not a key",
      "unique")
def version_attribute(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        declared = table.attributes.get("version")
        if not table.version or declared is None:
            continue
        keys = {table_partition_key(ctx.schema, table), table.sort_key}
        if declared.type not in ("number", "epoch_seconds") or "version" in keys or declared.unique:
            yield Finding(("tables", table_key, "attributes", "version"),
                          f"version: true keeps a number attribute 'version' on {table_key!r}, but the schema "
                          f"declares 'version' as {'a key' if 'version' in keys else 'a ' + declared.type}",
                          "declare version: number (or leave it out), or rename the attribute", at="key")


def _clash_rule(code: str, summary: str) -> None:
    def check(ctx: Context) -> Iterator[Finding]:
        for clash in clashes(ctx.schema):
            if clash.code == code:
                yield Finding(clash.path, clash.message, clash.hint, at=clash.at)

    rule(code, summary, "names")(check)


_clash_rule("N110", "no two attributes of a table become the same Python name in the generated code "
            "(shift-code and shift_code)")
_clash_rule("N111", "no attribute becomes the Python name of the tenancy attribute (tenant-id shadows tenant_id)")
_clash_rule("N112", "no two tables or indexes become the same generated class or repository name")
_clash_rule("N113", "no key attribute is a Python keyword or a name the generated methods use "
            "(self, cursor, limit, …)")
