"""Names: physical table and index names, the naming pattern, stack names, key attribute names."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

from ..model import TOOL_TABLE_PREFIX, TOOL_TAGS, logical_id
from .context import Context
from .registry import Finding, rule

NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
NAME_CHARS = re.compile(r"[a-zA-Z0-9_.-]*")
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
PLACEHOLDERS = ("app", "env", "table", "generation")
NAME_RULE = "3–255 characters of letters, digits, '_', '.' and '-'"


def _literal_text(pattern: str) -> str | None:
    """The pattern without its placeholders, or None when its braces are malformed."""
    try:
        return "".join(literal for literal, *_ in string.Formatter().parse(pattern))
    except ValueError:
        return None


def _pattern_ok(pattern: str) -> bool:
    """Braces balanced and only known placeholders (N103 reports the rest)."""
    try:
        return all(f is None or (f in PLACEHOLDERS and not s and not c) for _, f, s, c in string.Formatter().parse(pattern))
    except ValueError:
        return False


def _table_name_at(ctx: Context, table_key: str) -> tuple[tuple, str]:
    table = ctx.schema.tables[table_key]
    if table.table_name:
        return ("tables", table_key, "table_name"), "value"
    return ("tables", table_key), "key"


@rule("N101", f"physical table names (after `naming`) are {NAME_RULE}, in every environment", "names")
def table_names(ctx: Context) -> Iterator[Finding]:
    literal = _literal_text(ctx.schema.naming.table)
    pattern_bad = literal is not None and not NAME_CHARS.fullmatch(literal)
    if pattern_bad and any(not t.table_name for _, t in ctx.tables()):
        yield Finding(("naming", "table"), f"the naming pattern {ctx.schema.naming.table!r} puts characters "
                      "into table names that DynamoDB does not allow",
                      f"table names are {NAME_RULE}; use '-' or '_' as separators")
    pattern_ok = _pattern_ok(ctx.schema.naming.table)
    for table_key, table in ctx.tables():
        if not table.table_name and (pattern_bad or not pattern_ok):
            continue
        names = [ctx.resolved(env).tables[table_key].physical_name for env in ctx.environments]
        bad = list(dict.fromkeys(name for name in names if not NAME.fullmatch(name)))
        if bad:
            path, at = _table_name_at(ctx, table_key)
            where = "table_name" if table.table_name else "the table key or the naming pattern"
            shown = ", ".join(repr(name) for name in bad)
            yield Finding(path, f"the table name{'s' if len(bad) > 1 else ''} {shown} "
                          f"{'are' if len(bad) > 1 else 'is'} not {NAME_RULE}",
                          f"change {where} so the name fits", at=at)


@rule("N102", f"index names are {NAME_RULE}", "names")
def index_names(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        for kind, indexes in (("global_indexes", table.global_indexes), ("local_indexes", table.local_indexes)):
            for name in indexes:
                if not NAME.fullmatch(name):
                    yield Finding(("tables", table_key, kind, name), f"the index name {name!r} is not {NAME_RULE}",
                                  "rename the index", at="key")


@rule("N103", "the naming pattern uses only the placeholders {app}, {env}, {table} and {generation}", "names")
def naming_placeholders(ctx: Context) -> Iterator[Finding]:
    pattern = ctx.schema.naming.table
    path = ("naming", "table")
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        yield Finding(path, f"the naming pattern {pattern!r} has unbalanced braces ({exc})",
                      f"placeholders are written {allowed}")
        return
    for _, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if field_name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field_name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            yield Finding(path, f"unknown placeholder {shown} in the naming pattern",
                          f"use only {allowed}")


@rule("N104", "the naming pattern contains {table} unless every table sets table_name", "names")
def naming_has_table(ctx: Context) -> Iterator[Finding]:
    pattern = ctx.schema.naming.table
    if "{table}" in pattern:
        return
    unnamed = [key for key, table in ctx.tables() if not table.table_name]
    if unnamed:
        yield Finding(("naming", "table"), f"the naming pattern {pattern!r} has no {{table}}, so tables "
                      f"({', '.join(unnamed)}) would share one name",
                      "add {table} to the pattern, or set table_name on every table")


@rule("N105", "no two tables have the same physical name in an environment", "names")
def unique_physical_names(ctx: Context) -> Iterator[Finding]:
    if "{table}" not in ctx.schema.naming.table and any(not t.table_name for _, t in ctx.tables()):
        return  # N104 already says why every table collides
    reported: set[str] = set()
    for env in ctx.environments:
        seen: dict[str, str] = {}
        for table_key, table in ctx.resolved(env).tables.items():
            first = seen.setdefault(table.physical_name, table_key)
            if first != table_key and table_key not in reported:
                reported.add(table_key)
                path, at = _table_name_at(ctx, table_key)
                yield Finding(path, f"tables {first!r} and {table_key!r} are both named "
                              f"{table.physical_name!r} in {env}",
                              "give one of them a different key or table_name", at=at)


@rule("N106", "no two tables have the same logical id (users → UsersTable)", "names")
def unique_logical_ids(ctx: Context) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for table_key, _ in ctx.tables():
        lid = logical_id(table_key)
        first = seen.setdefault(lid, table_key)
        if first != table_key:
            yield Finding(("tables", table_key), f"tables {first!r} and {table_key!r} both become the "
                          f"CloudFormation resource {lid}", "rename one of the table keys", at="key")


@rule("N107", "key attribute names are 1–255 bytes", "names")
def key_name_length(ctx: Context) -> Iterator[Finding]:
    def bad(name: str) -> bool:
        return not 1 <= len(name.encode("utf-8")) <= 255

    if bad(ctx.tenancy):
        yield Finding(("tenancy", "attribute"), f"the tenancy attribute name is {len(ctx.tenancy.encode())} bytes",
                      "key attribute names are 1–255 bytes; choose a shorter name")
    for use in ctx.key_uses:
        if not use.implied and bad(use.name):
            yield Finding(use.path, f"the {use.role} name of {use.owner} is {len(use.name.encode())} bytes",
                          "key attribute names are 1–255 bytes; choose another name", at=use.at)


@rule("N108", "stack names ({app}-{env}) match [a-zA-Z][-a-zA-Z0-9]* and are at most 128 characters", "names")
def stack_names(ctx: Context) -> Iterator[Finding]:
    for env in ctx.environments:
        name = ctx.resolved(env).stack_name
        if not STACK_NAME.fullmatch(name):
            yield Finding(("environments", env), f"the stack name {name!r} is not a valid CloudFormation "
                          "stack name", "environment names may use letters, digits and '-' (no '_' or '.')",
                          at="key")


@rule("N109", f"names the tool uses for itself are reserved: table names starting with {TOOL_TABLE_PREFIX}, "
      f"and the tags {', '.join(TOOL_TAGS)}", "names")
def reserved_names(ctx: Context) -> Iterator[Finding]:
    # A table named like the local registry would replace it on deploy, after which every table
    # "belongs to another tool" (issue 14). Compared without case: names differing only in case
    # are still confusing next to the tool's own.
    for table_key, table in ctx.tables():
        names = dict.fromkeys(ctx.resolved(env).tables[table_key].physical_name for env in ctx.environments)
        reserved = [name for name in names if name.lower().startswith(TOOL_TABLE_PREFIX)]
        if reserved:
            path, at = _table_name_at(ctx, table_key)
            yield Finding(path, f"the table name {reserved[0]!r} starts with {TOOL_TABLE_PREFIX!r}, which "
                          "jobwork-infra reserves for its own tables (the local registry)",
                          "choose a name that does not start with " + repr(TOOL_TABLE_PREFIX), at=at)
    # The tool sets these tags itself and reads ownership from them: a schema's value would be overwritten.
    owners = [(("defaults", "tags"), ctx.schema.defaults.tags),
              *((("environments", env, "tags"), e.tags) for env, e in ctx.schema.environments.items()),
              *((("tables", key, "tags"), t.tags) for key, t in ctx.tables())]
    for path, tags in owners:
        for tag in TOOL_TAGS:
            if tags and tag in tags:
                yield Finding(path + (tag,), f"the tag {tag!r} is set by jobwork-infra on every table "
                              f"(its {', '.join(TOOL_TAGS)} tags say which tables it manages)",
                              "rename the tag (e.g. team-" + tag + ") or remove it", at="key")
