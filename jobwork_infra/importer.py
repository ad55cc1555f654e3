"""Live tables → their definitions in the schema language, printed or merged into tables.yaml.

Written relative to the schema they join: an option is written only where the table differs from
what the environment's defaults would give it, so the YAML resolves for that environment to the
live table (keys, indexes, TTL, stream, billing, PITR, deletion protection, tags). Anything the
language cannot say is a YAML comment on the table. `merge_tables` inserts the definitions into
the schema file with ruamel.yaml's round trip, which keeps the file's comments, order and quoting.

Imports neither boto3 nor aws_cdk: the reading is deploy/dynamodb.py's (and deploy/factory.py's).
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .errors import JobworkError, Severity
from .model import (
    BUILT_IN_TAGS,
    MANAGED_BY,
    TOOL_TAGS,
    Capacity,
    Encryption,
    Projection,
    ResolvedTable,
    SchemaFile,
    Table,
    effective_option,
    physical_name,
)
from .project import Project, check_project
from .table_options import INDEX_OPTIONS, TABLE_OPTIONS

_TYPE_OF_KEY = {"S": "string", "N": "number", "B": "binary"}


@dataclass(frozen=True)
class Imported:
    """One live table to write: its model, where it came from, and what the language cannot say."""

    table: ResolvedTable
    source: str                                   # "live table users", "stack seed-stack, UsersTable"
    notes: tuple[str, ...] = field(default=())


def table_key(schema: SchemaFile, env: str, name: str) -> tuple[str, bool]:
    """(the YAML key for a physical name, whether the name needs `table_name:`)."""
    pattern = schema.naming.table
    parts = list(string.Formatter().parse(pattern))
    if sum(1 for _, f, _, _ in parts if f == "table") == 1:
        before, _, after = pattern.partition("{table}")
        fmt = lambda text: text.replace("{app}", schema.app).replace("{env}", env)
        prefix, suffix = fmt(before), fmt(after)
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix) + len(suffix):
            candidate = name[len(prefix):len(name) - len(suffix)]
            if re.fullmatch(r"[a-z][a-z0-9_]*", candidate) and physical_name(schema, env, candidate, Table()) == name:
                return candidate, False
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "table"
    if not key[0].isalpha():
        key = f"t_{key}"
    return key, True


def _flow(mapping: Mapping) -> CommentedMap:
    out = CommentedMap(mapping)
    out.fa.set_flow_style()
    return out


def _projection(projection: Projection) -> object:
    if projection.type == "include":
        seq = CommentedSeq(projection.attributes)
        seq.fa.set_flow_style()
        return seq
    return projection.type


def _encryption(encryption: Encryption) -> object:
    if encryption.type == "customer_managed":
        return _flow({"kms_key_arn": encryption.kms_key_arn})
    return encryption.type


def _capacity(capacity: Capacity | None) -> CommentedMap | None:
    return _flow({"read": capacity.read, "write": capacity.write}) if capacity else None


def table_entry(item: Imported, schema: SchemaFile, env: str, key: str, needs_name: bool) -> CommentedMap:
    """The table's YAML node, options written only where they differ from the environment's."""
    t = item.table
    tenancy = schema.tenancy.attribute
    default = lambda option: effective_option(schema, env, Table(), option)
    entry = CommentedMap()
    if needs_name:
        entry["table_name"] = t.physical_name
    scoped = t.partition_key.name == tenancy
    if not scoped:
        entry["tenant_scoped"] = False
        entry["partition_key"] = t.partition_key.name
    if t.sort_key is not None:
        entry["sort_key"] = t.sort_key.name
    # Only key attributes are stored by DynamoDB; the TTL attribute must be declared a number (C101).
    attributes = CommentedMap()
    keys = [t.partition_key, t.sort_key, *[k for i in t.global_indexes for k in (i.partition_key, i.sort_key)],
            *[i.sort_key for i in t.local_indexes]]
    for k in keys:
        if k is not None and k.name not in attributes:
            attributes[k.name] = _TYPE_OF_KEY[k.type]
    if t.ttl and t.ttl not in attributes:
        attributes[t.ttl] = "epoch_seconds"
    entry["attributes"] = attributes
    entry.yaml_set_comment_before_after_key(
        "attributes", before="DynamoDB stores only the key attributes: declare the others here", indent=4)
    if t.global_indexes:
        gsis = CommentedMap()
        for index in t.global_indexes:
            spec = CommentedMap({"partition_key": index.partition_key.name})
            if index.sort_key is not None:
                spec["sort_key"] = index.sort_key.name
            if index.projection.type != "all":
                spec["projection"] = _projection(index.projection)
            if scoped and index.partition_key.name != tenancy:
                spec["tenant_scoped"] = False  # crosses tenants: rule T002 asks to say so
            if t.billing == "provisioned" and index.capacity and index.capacity != t.capacity:
                spec["capacity"] = _capacity(index.capacity)
            for option in INDEX_OPTIONS:
                value = getattr(index, option.field)
                if value != option.default:
                    spec[option.field] = _flow(value.model_dump(exclude_none=True)) if hasattr(value, "model_dump") \
                        else value
            gsis[index.name] = spec
        entry["global_indexes"] = gsis
    if t.local_indexes:
        lsis = CommentedMap()
        for index in t.local_indexes:
            spec = CommentedMap({"sort_key": index.sort_key.name})
            if index.projection.type != "all":
                spec["projection"] = _projection(index.projection)
            lsis[index.name] = spec
        entry["local_indexes"] = lsis
    if t.ttl:
        entry["ttl"] = t.ttl
    if default("removal_policy") == "destroy":
        # The table holds data this tool did not create: never deleted by a later schema edit unless
        # someone writes `destroy` on purpose.
        entry["removal_policy"] = "retain"
        entry.yaml_set_comment_before_after_key(
            "removal_policy", before=f"environment {env} deletes removed tables; this one keeps its data", indent=4)
    for option, value in (("stream", t.stream), ("billing", t.billing), ("table_class", t.table_class),
                          ("point_in_time_recovery", t.point_in_time_recovery),
                          ("deletion_protection", t.deletion_protection),
                          *[(o.field, getattr(t, o.field)) for o in TABLE_OPTIONS]):
        if value != default(option) and value is not None:
            # A structured option (on_demand_throughput, warm_throughput) as a flow map, like capacity.
            entry[option] = _flow(value.model_dump(exclude_none=True)) if hasattr(value, "model_dump") else value
    if t.billing == "provisioned" and t.capacity != default("capacity"):
        entry["capacity"] = _capacity(t.capacity)
    if t.encryption != default("encryption"):
        entry["encryption"] = _encryption(t.encryption)
    inherited = {**(schema.defaults.tags or {}), **(schema.environments[env].tags or {})}
    tags = {k: v for k, v in t.tags.items() if k not in BUILT_IN_TAGS and inherited.get(k) != v}
    if tags:
        entry["tags"] = CommentedMap(sorted(tags.items()))
    pattern = [t.partition_key.name] + ([t.sort_key.name] if t.sort_key else [])
    entry["access_patterns"] = CommentedSeq([_flow({"name": "get an item by its key", "key": CommentedSeq(pattern)})])
    entry["access_patterns"][0]["key"].fa.set_flow_style()
    return entry


def _built_in_tags_replaced(item: Imported, schema: SchemaFile, env: str, key: str) -> list[str]:
    """A live tag under one of the tool's own keys with another value: the first deploy replaces it. Said
    here, since the schema cannot keep it (rule N109 reserves those keys)."""
    ours = dict(zip(TOOL_TAGS, (schema.app, env, key, MANAGED_BY), strict=True))  # as model.py sets them
    return [f"tag {k}={v!r} becomes {k}={ours[k]!r} on the first deploy: jobwork-infra sets the tags "
            f"{', '.join(BUILT_IN_TAGS)} itself (copy the value under another tag key to keep it)"
            for k, v in item.table.tags.items() if k in ours and v != ours[k]]


def build_entries(items: Sequence[Imported], schema: SchemaFile, env: str) -> CommentedMap:
    """YAML key → table node, each preceded by where it came from and what the language cannot say."""
    tables = CommentedMap()
    for item in items:
        key, needs_name = table_key(schema, env, item.table.physical_name)
        if key in tables:
            raise JobworkError(f"two imported tables would both be called {key!r} in the schema",
                               "import them one at a time and rename the first before importing the second")
        tables[key] = table_entry(item, schema, env, key, needs_name)
        comment = [f"imported from {item.source}", *item.notes, *_built_in_tags_replaced(item, schema, env, key)]
        tables.yaml_set_comment_before_after_key(key, before="\n".join(comment), indent=2)
    return tables


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quoting survive
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 110
    yaml.preserve_quotes = True
    return yaml


def dump(node: object) -> str:
    out = io.StringIO()
    _yaml().dump(node, out)
    return out.getvalue()


def render_tables(entries: CommentedMap) -> str:
    """The `tables:` fragment to paste under the schema's tables."""
    return dump(CommentedMap({"tables": entries}))


def merge_tables(text: str, entries: CommentedMap, file: str) -> str:
    """The schema text with `entries` appended under `tables:`; comments and order kept."""
    document = _yaml().load(text)
    if not isinstance(document, CommentedMap):
        raise JobworkError(f"{file}: the top level is not a map", "fix the schema, then import again")
    tables = document.get("tables")
    if tables is None:
        document["tables"] = tables = CommentedMap()
    taken = [k for k in entries if k in tables]
    if taken:
        raise JobworkError(
            f"{file} already has table{'s' if len(taken) > 1 else ''} {', '.join(taken)}: not overwriting",
            "remove or rename it in the schema first, or print the definitions without --write and merge "
            "them by hand")
    for key, node in entries.items():
        tables[key] = node
    # ruamel keeps the comment written before each key on the parent map's key list.
    for key in entries:
        if key in entries.ca.items:
            tables.ca.items[key] = entries.ca.items[key]
    return dump(document)


# Why a warning on an imported table is acknowledged rather than left to fail `validate --strict`: the
# table exists, AWS accepted it, and changing it would recreate an index or the table. Each reason says so.
_IMPORTED_REASONS = {
    "I104": "imported as it is live: AWS accepts a local index on the table's own sort key, and a local index "
            "cannot change without recreating the table",
    "I107": "imported as it is live: AWS accepts key attributes in an INCLUDE list, and changing the list "
            "recreates the index",
    "I108": "imported: DynamoDB does not record the types of non-key attributes; declare them under attributes "
            "to have their spelling checked",
    "T002": "imported as it is live: this index crosses tenants; review who may query it",
}


def _owner(path: tuple) -> tuple:
    """The table or index (where `acknowledge:` goes) that a finding's path is about."""
    if len(path) >= 4 and path[2] in ("global_indexes", "local_indexes"):
        return tuple(path[:4])
    return tuple(path[:2])


def acknowledge_imported(project: Project, entries: CommentedMap) -> list[str]:
    """Acknowledge, on the imported table or index it is about, each warning the imported tables raise.

    What `import --write` writes then passes `validate --strict`; each acknowledged warning stays
    visible as a note with its reason. Errors are left alone (check_imported refuses them). Returns
    one line per acknowledgement ("users.by_email: T002").
    """
    document = _yaml().load(project.document.text)
    document["tables"] = entries
    checked = check_project(f"{project.document.file} (imported tables)", text=dump(document))
    done = []
    for d in checked.diagnostics:
        if d.severity is not Severity.WARNING or len(d.path) < 2 or d.path[0] != "tables" or d.path[1] not in entries:
            continue
        owner = _owner(d.path)
        node = entries[owner[1]]
        if len(owner) == 4:
            node = node[owner[2]][owner[3]]
        acknowledged = node.setdefault("acknowledge", CommentedMap())
        if d.code not in acknowledged:
            acknowledged[d.code] = _IMPORTED_REASONS.get(d.code, f"imported as it is live: {d.message}")
            done.append(f"{'.'.join(map(str, owner[1::2] if len(owner) == 4 else owner[1:]))}: {d.code}")
    return done


def check_imported(project: Project, entries: CommentedMap) -> Project:
    """The imported tables in a copy of the schema holding only them: validated as the printed YAML is.

    Findings that are not errors (rule T002's cross-tenant index) are kept for the caller to show.
    """
    document = _yaml().load(project.document.text)
    document["tables"] = entries
    text = dump(document)
    checked = check_project(f"{project.document.file} (imported tables)", text=text)
    return checked.require_valid()
