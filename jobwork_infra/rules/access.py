"""Access patterns: each is served by a Query on the table's key or on a named index."""

from __future__ import annotations

from collections.abc import Iterator

from ..load import did_you_mean
from ..model import AccessPattern, Table, table_partition_key
from .context import Context
from .registry import Finding, rule


def _targets(ctx: Context, table: Table) -> dict[str | None, tuple[str, str | None]]:
    """None (the table itself) and every index name → (partition key, sort key)."""
    pk = table_partition_key(ctx.schema, table)
    targets: dict[str | None, tuple[str, str | None]] = {None: (pk, table.sort_key)}
    targets.update({name: (i.partition_key, i.sort_key) for name, i in table.global_indexes.items()})
    targets.update({name: (pk, i.sort_key) for name, i in table.local_indexes.items()})
    return targets


def _serves(keys: tuple[str, str | None], pattern: AccessPattern) -> bool:
    return pattern.key[0] == keys[0] and (len(pattern.key) < 2 or pattern.key[1] == keys[1])


@rule("A001", "an access pattern is served by the table's key or by the named index", "access",
      note="Its first key attribute is the partition key; a second one is the sort key.")
def served(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        targets = _targets(ctx, table)
        for i, pattern in enumerate(table.access_patterns):
            if pattern.index is not None and pattern.index not in targets:
                continue  # A002
            keys = targets[pattern.index]
            if _serves(keys, pattern):
                continue
            on = f"the index {pattern.index!r}" if pattern.index else f"the table {table_key!r}"
            wrong = 0 if pattern.key[0] != keys[0] else 1
            expected = keys[wrong] or "nothing"
            role = "partition" if wrong == 0 else "sort"
            others = [name for name, k in targets.items() if name is not None and _serves(k, pattern)]
            if others:
                hint = f"add index: {others[0]} to the pattern"
            elif wrong == 0:
                hint = f"add a global index with partition_key: {pattern.key[0]}, and name it in the pattern"
            else:
                hint = f"add an index sorted by {pattern.key[1]}, or drop the second key attribute"
            yield Finding(("tables", table_key, "access_patterns", i, "key", wrong),
                          f"the access pattern {pattern.name!r} would need a Scan: the {role} key of {on} is "
                          f"{expected!r}, not {pattern.key[wrong]!r}", hint)


@rule("A002", "an access pattern names an index the table has", "access")
def known_index(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        names = [*table.global_indexes, *table.local_indexes]
        for i, pattern in enumerate(table.access_patterns):
            if pattern.index is not None and pattern.index not in names:
                yield Finding(("tables", table_key, "access_patterns", i, "index"),
                              f"{table_key!r} has no index {pattern.index!r}",
                              did_you_mean(pattern.index, names)
                              or (f"its indexes: {', '.join(names)}" if names else "it has no indexes"))
