"""Generated Markdown: the rules reference (docs/rules.md) and the `docs` page of a schema."""

from __future__ import annotations

import re

from .model import KEY_TYPES, SchemaFile, resolve, table_partition_key
from .outline import protections_text
from .rules import FAMILIES, REGISTRY

RULES_HEADER = """# Rules reference

Generated from the rule registry (`jobwork_infra/rules/`) by `python -m jobwork_infra.docs`;
a test fails when this file and the registry disagree. Every finding of `jobwork-infra validate`
carries one of these codes.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rules_reference() -> str:
    out = [RULES_HEADER.rstrip("\n")]
    for family, title in FAMILIES.items():
        rules = [r for r in REGISTRY.values() if r.family == family]
        out.append(f"\n## {title}\n\n| code | severity | rule |\n| --- | --- | --- |")
        for r in rules:
            text = r.summary + (f" — {r.note}" if r.note else "")
            out.append(f"| {r.code} | {r.severity} | {_cell(text)} |")
    return "\n".join(out) + "\n"


def _ident(name: str) -> str:
    """Mermaid entity and attribute names are words; anything else becomes '_'."""
    return re.sub(r"\W", "_", name) or "_"


def _mermaid(schema: SchemaFile) -> list[str]:
    lines = ["```mermaid", "erDiagram"]
    for key, table in schema.tables.items():
        pk = table_partition_key(schema, table)
        roles: dict[str, list[str]] = {}
        roles.setdefault(pk, []).append("partition key")
        if table.sort_key:
            roles.setdefault(table.sort_key, []).append("sort key")
        for name, index in table.global_indexes.items():
            roles.setdefault(index.partition_key, []).append(f"{name} partition key")
            if index.sort_key:
                roles.setdefault(index.sort_key, []).append(f"{name} sort key")
        for name, index in table.local_indexes.items():
            roles.setdefault(index.sort_key, []).append(f"{name} sort key")
        names = list(dict.fromkeys([pk, *([table.sort_key] if table.sort_key else []), *table.attributes]))
        lines.append(f"    {_ident(key)} {{")
        for name in names:
            attribute = table.attributes.get(name)
            kind = attribute.type if attribute else "string"
            marker = " PK" if name == pk else ""
            comment = f' "{", ".join(roles[name])}"' if name in roles else ""
            lines.append(f"        {_ident(kind)} {_ident(name)}{marker}{comment}")
        lines.append("    }")
    return lines + ["```"]


def _key(schema: SchemaFile, table, name: str | None) -> str:
    if name is None:
        return "—"
    attribute = table.attributes.get(name)
    kind = attribute.type if attribute else "string"
    return f"`{name}` ({kind}, {KEY_TYPES.get(kind, '?')})"


def _budgets(schema: SchemaFile) -> list[str]:
    """Each stack's use of each AWS limit, per environment (validate warns at 80 %)."""
    from .budgets import MAX_OUTPUTS, MAX_POLICY_CHARS, MAX_RESOURCES, MAX_TEMPLATE_INLINE, usage

    out = ["", "## Stacks and their limits", "",
           ("| environment | stack | tables | resources | outputs | template bytes (estimate) "
            "| tenant policies (largest) |"), "| --- | --- | --- | --- | --- | --- | --- |"]
    for env in schema.environments:
        for u in usage(resolve(schema, env)):
            policies = (f"{len(u.policies)} ({u.largest_policy:,} / {MAX_POLICY_CHARS:,} characters)"
                        if u.policies else "none")
            out.append(f"| {env} | `{u.name}` | {len(u.tables)} | {u.resources} / {MAX_RESOURCES} | "
                       f"{u.outputs} / {MAX_OUTPUTS} | {u.template_bytes:,} / {MAX_TEMPLATE_INLINE:,} inline | "
                       f"{policies} |")
    return out


def schema_markdown(schema: SchemaFile, source: str = "schema/tables.yaml") -> str:
    """Tables, keys, indexes and access patterns, with a Mermaid diagram; from a valid schema."""
    envs = list(schema.environments)
    # Resolved once per environment: resolving inside the table loop made docs quadratic (3000 tables: minutes).
    by_env = {env: resolve(schema, env) for env in envs}
    first = by_env[envs[0]]
    out = [f"# {schema.app}: DynamoDB tables", "",
           (f"Generated from `{source}` by `jobwork-infra docs`. Tenancy attribute: "
            f"`{schema.tenancy.attribute}`. Environments: {', '.join(f'`{e}`' for e in envs)}."), ""]
    out += _mermaid(schema)
    out += _budgets(schema)
    for key, table in schema.tables.items():
        resolved = first.tables[key]
        out += ["", f"## {key}", ""]
        if table.description:
            out += [table.description, ""]
        names = ", ".join(f"`{by_env[e].tables[key].physical_name}` ({e})" for e in envs)
        out += [f"- physical name: {names}",
                f"- tenant-scoped: {'yes' if table.tenant_scoped else 'no'}",
                f"- partition key: {_key(schema, table, table_partition_key(schema, table))}",
                f"- sort key: {_key(schema, table, table.sort_key)}",
                f"- billing: {resolved.billing}" + (f", TTL on `{table.ttl}`" if table.ttl else "")]
        # What keeps the data, per environment: the reader of the docs asks it of prod first (issue 23).
        out += [f"- protections ({e}): {protections_text(by_env[e].tables[key])}" for e in envs]
        if table.attributes:
            out += ["", "| attribute | type | description |", "| --- | --- | --- |"]
            for name, attribute in table.attributes.items():
                desc = attribute.description or ""
                if attribute.enum:
                    desc = (desc + " " if desc else "") + "one of " + ", ".join(map(str, attribute.enum))
                out.append(f"| `{name}` | {attribute.type} | {_cell(desc)} |")
        indexes = [(n, "global", _key(schema, table, i.partition_key), _key(schema, table, i.sort_key),
                    i.projection, g.tenant_scoped)
                   for (n, i), g in zip(table.global_indexes.items(), resolved.global_indexes)]
        indexes += [(n, "local", _key(schema, table, table_partition_key(schema, table)),
                     _key(schema, table, i.sort_key), i.projection, table.tenant_scoped)
                    for n, i in table.local_indexes.items()]
        if indexes:
            out += ["", "| index | kind | partition key | sort key | projection | tenant-scoped |",
                    "| --- | --- | --- | --- | --- | --- |"]
            for name, kind, pk, sk, projection, scoped in indexes:
                shown = projection.type if projection.type != "include" else ", ".join(projection.attributes)
                out.append(f"| `{name}` | {kind} | {pk} | {sk} | {shown} | {'yes' if scoped else 'no'} |")
        if table.access_patterns:
            out += ["", "| access pattern | served by | key |", "| --- | --- | --- |"]
            for pattern in table.access_patterns:
                out.append(f"| {_cell(pattern.name)} | {f'`{pattern.index}`' if pattern.index else 'table'} | "
                           f"{', '.join(f'`{k}`' for k in pattern.key)} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # regenerate docs/rules.md (or the file named on the command line)
    import sys
    from pathlib import Path

    from jobwork_infra.fsio import atomic_write

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "rules.md"
    atomic_write(target, rules_reference())
    print(f"wrote {target}")
