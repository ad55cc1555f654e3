"""Key attributes: declared, scalar, and the tenancy attribute a string."""

from __future__ import annotations

from collections.abc import Iterator

from ..load import did_you_mean
from ..model import KEY_TYPES
from .context import Context
from .registry import Finding, rule

SCALAR = ", ".join(KEY_TYPES)


@rule("K101", "every key attribute (of the table or an index) is declared under attributes", "keys",
      note="The tenancy attribute is implied as a string and need not be declared.")
def declared(ctx: Context) -> Iterator[Finding]:
    for use in ctx.key_uses:
        table = ctx.schema.tables[use.table]
        if ctx.attribute_type(table, use.name) is None:
            hint = f"declare it under tables.{use.table}.attributes, e.g. {use.name}: string"
            # The tenancy attribute is implied, not listed: offer it too (`tenantid` → tenant_id).
            close = did_you_mean(use.name, [*table.attributes, ctx.tenancy])
            yield Finding(use.path, f"the {use.role} {use.name!r} of {use.owner} is not declared",
                          f"{close} or {hint}" if close else hint, at=use.at)


@rule("K102", f"key attributes have a scalar type ({SCALAR})", "keys")
def scalar(ctx: Context) -> Iterator[Finding]:
    for use in ctx.key_uses:
        table = ctx.schema.tables[use.table]
        if use.name == ctx.tenancy and table.tenant_scoped:
            continue  # K103 speaks about the tenancy attribute
        kind = ctx.attribute_type(table, use.name)
        if kind is not None and kind not in KEY_TYPES:
            yield Finding(use.path, f"the {use.role} {use.name!r} of {use.owner} is a {kind}; "
                          "keys must be scalar", f"declare {use.name} as one of: {SCALAR}", at=use.at)


@rule("K103", "the tenancy attribute is a string (string, uuid, date or datetime) in tenant-scoped tables", "keys")
def tenancy_is_string(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        attribute = table.attributes.get(ctx.tenancy)
        if table.tenant_scoped and attribute is not None and KEY_TYPES.get(attribute.type) != "S":
            yield Finding(("tables", table_key, "attributes", ctx.tenancy),
                          f"the tenancy attribute {ctx.tenancy!r} is declared as {attribute.type}; tenant "
                          "isolation matches it as a string",
                          f"declare {ctx.tenancy} as string or uuid (or remove it: it is implied)")


@rule("K104", "a partition key and a sort key are different attributes", "keys")
def distinct(ctx: Context) -> Iterator[Finding]:
    uses = {}
    for use in ctx.key_uses:
        uses.setdefault((use.table, use.owner), {})[use.role] = use
    for (_, owner), roles in uses.items():
        pk, sk = roles.get("partition key"), roles.get("sort key")
        if pk and sk and pk.name == sk.name:
            yield Finding(sk.path, f"{owner} uses {sk.name!r} as both partition and sort key",
                          "choose another sort key, or drop sort_key", at=sk.at)
