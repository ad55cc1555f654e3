"""Indexes: DynamoDB's limits on GSIs and LSIs, and what their projections may list."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Severity
from ..load import did_you_mean
from ..model import table_partition_key
from .context import Context
from .registry import Finding, rule

MAX_GSIS = 20
MAX_LSIS = 5
MAX_PROJECTED = 100


@rule("I101", f"a table has at most {MAX_GSIS} global indexes (a warning: AWS's default quota, which an account "
      "can have raised)", "indexes", severity=Severity.WARNING,
      note=f"{MAX_GSIS} is DynamoDB's default quota of global indexes per table, adjustable through Service Quotas "
           "(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html): a deploy beyond it "
           "fails unless the quota was raised, and a live table beyond it had it raised. Acknowledge I101 on the "
           "table when it was.")
def gsi_limit(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if len(table.global_indexes) > MAX_GSIS:
            yield Finding(("tables", table_key, "global_indexes"),
                          f"{len(table.global_indexes)} global indexes; DynamoDB's default quota is {MAX_GSIS} per "
                          "table", "remove indexes, or serve some access patterns with an overloaded index; if the "
                          "account's quota was raised, acknowledge I101 on the table", at="key")


@rule("I102", f"a table has at most {MAX_LSIS} local indexes", "indexes")
def lsi_limit(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if len(table.local_indexes) > MAX_LSIS:
            yield Finding(("tables", table_key, "local_indexes"),
                          f"{len(table.local_indexes)} local indexes; DynamoDB allows {MAX_LSIS} per table",
                          "remove local indexes or use global indexes instead", at="key")


@rule("I103", "a table with local indexes has a sort key", "indexes")
def lsi_needs_sort_key(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if table.local_indexes and table.sort_key is None:
            name = next(iter(table.local_indexes))
            yield Finding(("tables", table_key, "local_indexes", name),
                          f"the local index {name!r} is on a table without a sort key",
                          "give the table a sort_key, or make it a global index", at="key")


@rule("I104", "a local index's sort key is not the table's partition key (AWS refuses it) nor its sort key "
      "(a warning: the index would repeat the table)", "indexes",
      note="An error when the index sorts by the table's partition key: its key schema would name one attribute "
           "as both HASH and RANGE, which CreateTable refuses. A warning when it sorts by the table's own sort "
           "key: AWS accepts that (aws-cdk's DynamoDB integration test creates one on purpose) and such a table "
           "must stay adoptable, but the index holds the table's order again.")
def lsi_sort_key_differs(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        partition_key = table_partition_key(ctx.schema, table)
        for name, index in table.local_indexes.items():
            path = ("tables", table_key, "local_indexes", name, "sort_key")
            if index.sort_key == partition_key:
                yield Finding(path, f"the local index {name!r} sorts by {index.sort_key!r}, the table's partition "
                              "key: DynamoDB refuses a key that names one attribute twice",
                              "sort it by another attribute, or remove it")
            elif index.sort_key is not None and index.sort_key == table.sort_key:
                yield Finding(path, f"the local index {name!r} sorts by {index.sort_key!r}, the table's own sort "
                              "key: AWS accepts it, but it only repeats the table's order (and its storage)",
                              "sort it by another attribute or remove it; if the table already has it live, "
                              "acknowledge I104 on the index with the reason",
                              severity=Severity.WARNING)


@rule("I105", "index names are unique within a table (global and local together)", "indexes")
def unique_index_names(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        for name in table.local_indexes:
            if name in table.global_indexes:
                yield Finding(("tables", table_key, "local_indexes", name),
                              f"{name!r} is both a global and a local index", "rename one of them", at="key")


def _include_lists(table):
    for kind, indexes in (("global_indexes", table.global_indexes), ("local_indexes", table.local_indexes)):
        for name, index in indexes.items():
            if index.projection.type == "include":
                yield (kind, name), index


@rule("I106", f"include projections list at most {MAX_PROJECTED} attributes, summed over all indexes "
      "of a table (duplicates count)", "indexes")
def projection_total(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        total = 0
        for (kind, name), index in _include_lists(table):
            total += len(index.projection.attributes)
            if total > MAX_PROJECTED:
                yield Finding(("tables", table_key, kind, name, "projection"),
                              f"the include projections of {table_key!r} list {total} attributes up to here; "
                              f"DynamoDB allows {MAX_PROJECTED} per table",
                              "project fewer attributes, or use projection: all")
                break


@rule("I107", "an include projection is not empty, lists no attribute twice (AWS refuses both) and names no "
      "key attribute (a warning: keys are projected anyway)", "indexes",
      note="An error for an empty list or a repeat: CreateTable refuses them (the Projection API takes 1 to 20 "
           "NonKeyAttributes; 'Cannot have two attributes with the same name'). A warning for a key attribute: AWS "
           "accepts it (the AWS::DynamoDB::Table reference's own example projects Album and Artist, the table's "
           "keys, into myGSI2), so a live table that has one stays adoptable.")
def projection_entries(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        table_keys = {table_partition_key(ctx.schema, table), table.sort_key}
        for (kind, name), index in _include_lists(table):
            # The index's own keys and the table's are projected anyway.
            keys = table_keys | {getattr(index, "partition_key", None), index.sort_key}
            path = ("tables", table_key, kind, name, "projection")
            attributes = index.projection.attributes
            if not attributes:
                yield Finding(path, f"the index {name!r} projects an empty list",
                              "list attributes, or write projection: keys_only")
            seen: set[str] = set()
            for i, attribute in enumerate(attributes):
                if attribute in seen:
                    yield Finding(path + (i,), f"{attribute!r} is listed twice", "remove the repeat")
                elif attribute in keys:
                    yield Finding(path + (i,), f"{attribute!r} is a key attribute, which every index projects "
                                  "anyway: AWS accepts it, but listing it changes nothing",
                                  "remove it from the list (a live index keeps it until the index is recreated: "
                                  "acknowledge I107 on the index to keep the list as AWS has it)",
                                  severity=Severity.WARNING)
                seen.add(attribute)


@rule("I108", "attributes in an include projection are declared", "indexes", severity=Severity.WARNING,
      note="A warning: DynamoDB stores undeclared attributes too, but a misspelt name projects nothing.")
def projection_declared(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        keys = ctx.key_attributes(table_key)
        for (kind, name), index in _include_lists(table):
            for i, attribute in enumerate(index.projection.attributes):
                if attribute not in table.attributes and attribute not in keys:
                    yield Finding(("tables", table_key, kind, name, "projection", i),
                                  f"the index {name!r} projects {attribute!r}, which is not declared",
                                  did_you_mean(attribute, table.attributes)
                                  or f"declare it under tables.{table_key}.attributes")
