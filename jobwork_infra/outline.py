"""A table in a few lines for a reviewer: keys, indexes, TTL, billing and protections.

One home for how a table is summarised: a new table in `diff` (text, Markdown and JSON), `status`
and `deploy --show-plan` all show these fields. Values are plain strings and lists, JSON-ready.
"""

from __future__ import annotations

from .model import KeyAttribute, Projection, ResolvedTable


def key_text(partition: KeyAttribute, sort: KeyAttribute | None = None) -> str:
    """`tenant_id (S) + user_id (S)`."""
    return " + ".join(f"{k.name} ({k.type})" for k in (partition, sort) if k is not None)


def projection_text(projection: Projection) -> str:
    if projection.type == "include":
        return "include " + ", ".join(projection.attributes)
    return projection.type


def protections_text(table: ResolvedTable) -> str:
    """What keeps the data when something goes wrong: removal policy, PITR, deletion protection."""
    return (f"removal_policy {table.removal_policy}, point-in-time recovery "
            f"{'on' if table.point_in_time_recovery else 'off'}, deletion protection "
            f"{'on' if table.deletion_protection else 'off'}")


def table_outline(table: ResolvedTable) -> dict:
    """The table as a reviewer needs to see it before it exists."""
    indexes = [f"{i.name}: {key_text(i.partition_key, i.sort_key)}, projection {projection_text(i.projection)}"
               + ("" if i.tenant_scoped else ", cross-tenant")
               for i in table.global_indexes]
    indexes += [f"{i.name} (local): {key_text(table.partition_key, i.sort_key)}, projection "
                f"{projection_text(i.projection)}" for i in table.local_indexes]
    return {
        "keys": key_text(table.partition_key, table.sort_key),
        "indexes": indexes,
        "ttl": table.ttl,
        "billing": table.billing,
        "protections": protections_text(table),
    }


OUTLINE_FIELDS = ("keys", "indexes", "ttl", "billing", "protections")


def outline_lines(outline: dict) -> list[str]:
    """`keys: …`, `indexes: …`, `ttl: …`, `billing: …`, `protections: …`.

    `outline` is one table's outline, or (merged over environments, where they differ) environment
    → outline: the fields that differ are then given per environment (`dev: …; prod: …`)."""
    if outline and not set(outline) & set(OUTLINE_FIELDS):
        per_env = outline
    else:
        per_env = {"": outline}
    lines = []
    for name in OUTLINE_FIELDS:
        values = {env: _field(o.get(name)) for env, o in per_env.items() if isinstance(o, dict)}
        distinct = list(dict.fromkeys(values.values()))
        if len(distinct) == 1:
            lines.append(f"{name}: {distinct[0]}")
        else:
            lines.append(f"{name}: " + "; ".join(f"{env}: {value}" for env, value in values.items()))
    return lines


def _field(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return " | ".join(str(v) for v in value) if value else "none"
    return str(value)
