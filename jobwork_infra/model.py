"""The schema language as pydantic models, and its resolution into one model per environment.

`SchemaFile` mirrors tables.yaml (every option, `extra="forbid"`); unset options stay None so the
precedence table > environment > defaults > built-in can be applied by `resolve`. `ResolvedSchema`
is what compile, diff and deploy consume: every option decided, names formatted, keys typed.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from .errors import Diagnostic, Severity
from .load import Document, did_you_mean

AttributeType = Literal[
    "string", "number", "binary", "boolean", "list", "map", "string_set", "number_set", "binary_set",
    "uuid", "date", "datetime", "epoch_seconds",
]
# Key attributes must be scalar; the string-backed types are stored as S.
KEY_TYPES: dict[str, str] = {
    "string": "S", "uuid": "S", "date": "S", "datetime": "S",
    "number": "N", "epoch_seconds": "N",
    "binary": "B",
}
Billing = Literal["on_demand", "provisioned"]
TableClass = Literal["standard", "infrequent_access"]
RemovalPolicy = Literal["destroy", "retain", "snapshot"]
# CloudFormation cannot snapshot a DynamoDB table (rule C105): `snapshot` resolves to retain, so
# compile, diff and both deploys agree on what a removal does.
ResolvedRemovalPolicy = Literal["destroy", "retain"]
Stream = Literal["keys_only", "new_image", "old_image", "new_and_old_images"]

BUILT_IN_TAGS = ("app", "env", "table", "managed-by")
MANAGED_BY = "jobwork-infra"
# Tables the tool keeps for itself on a local engine start with this; schemas may not use it (rule N109).
TOOL_TABLE_PREFIX = f"_{MANAGED_BY}"
# Tags the tool sets on every table (ownership is read from them): a schema may not set them (rule N109).
TOOL_TAGS = ("app", "env", "table", "managed-by")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# Shorthands: `name: string`, `projection: keys_only`, `encryption: aws_managed` are strings in YAML
# and objects in the model. Normalizing before validation keeps pydantic's errors about one shape.

def _attribute_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


def _projection_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("all", "keys_only"):
            # `include` is spelt as a list, so it is not offered as a word here.
            raise PydanticCustomError("literal_error", "Input should be {expected}",
                                      {"expected": "'all' or 'keys_only' (or a list of attribute names)"})
        return {"type": value}
    if isinstance(value, list):
        return {"type": "include", "attributes": value}
    return value


def _encryption_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, dict) and "kms_key_arn" in value and "type" not in value:
        return {"type": "customer_managed", **value}
    return value


class Attribute(_Model):
    type: AttributeType
    description: str | None = None
    enum: list[str | int] | None = Field(default=None, min_length=1)


class Projection(_Model):
    type: Literal["all", "keys_only", "include"]
    attributes: tuple[str, ...] = ()


class Encryption(_Model):
    type: Literal["aws_owned", "aws_managed", "customer_managed"]
    kms_key_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")


class Capacity(_Model):
    read: int = Field(ge=1, le=40_000)
    write: int = Field(ge=1, le=40_000)


AttributeField = Annotated[Attribute, BeforeValidator(_attribute_shorthand, json_schema_input_type=AttributeType | Attribute)]
ProjectionField = Annotated[
    Projection,
    BeforeValidator(_projection_shorthand, json_schema_input_type=Literal["all", "keys_only"] | list[str]),
]
EncryptionField = Annotated[
    Encryption,
    BeforeValidator(_encryption_shorthand,
                    json_schema_input_type=Literal["aws_owned", "aws_managed"] | dict[Literal["kms_key_arn"], str]),
]


# An attribute or table name: never empty (an empty key name used to reach the resolver and fail there).
Name = Annotated[str, Field(min_length=1)]


class GlobalIndex(_Model):
    partition_key: Name
    sort_key: Name | None = None
    projection: ProjectionField = Projection(type="all")
    # None: decided by rule T2 (scoped when the partition key is the tenancy attribute).
    tenant_scoped: bool | None = None
    capacity: Capacity | None = None


class LocalIndex(_Model):
    sort_key: Name
    projection: ProjectionField = Projection(type="all")


class AccessPattern(_Model):
    name: str = Field(min_length=1)
    key: list[str] = Field(min_length=1, max_length=2)
    index: str | None = None
    description: str | None = None


class TableOptions(_Model):
    """Options that defaults and environments may set for every table."""

    billing: Billing | None = None
    capacity: Capacity | None = None
    table_class: TableClass | None = None
    encryption: EncryptionField | None = None
    point_in_time_recovery: bool | None = None
    deletion_protection: bool | None = None
    removal_policy: RemovalPolicy | None = None
    stream: Stream | None = None
    tags: dict[str, str] | None = None


class Environment(TableOptions):
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")


class Table(TableOptions):
    description: str | None = None
    tenant_scoped: bool = True
    partition_key: Name | None = None
    sort_key: Name | None = None
    attributes: dict[str, AttributeField] = {}
    global_indexes: dict[str, GlobalIndex] = {}
    local_indexes: dict[str, LocalIndex] = {}
    ttl: Name | None = None
    table_name: Name | None = None
    access_patterns: list[AccessPattern] = []


class Tenancy(_Model):
    attribute: Name = "tenant_id"


class Naming(_Model):
    table: str = "{app}-{env}-{table}"


class SchemaFile(_Model):
    """The whole of tables.yaml."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="jobwork-infra tables.yaml",
        json_schema_extra={"$id": "https://jobwork-infra/schema/tables.schema.json"},
    )

    version: Literal[1]
    app: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")
    tenancy: Tenancy = Tenancy()
    naming: Naming = Naming()
    environments: dict[str, Environment] = Field(min_length=1)
    defaults: TableOptions = TableOptions()
    tables: dict[str, Table] = {}


# ---------------------------------------------------------------------------------------------
# pydantic errors → Diagnostics

def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is not None and type(None) in get_args(annotation):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class that owns the mapping at `loc` (for 'did you mean' over its fields)."""
    current: Any = SchemaFile
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, list, tuple):
            current = get_args(current)[-1] if get_origin(current) is dict else get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop the steps pydantic adds that are not in the YAML (shorthand objects like `type`)."""
    out: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif not isinstance(node, (dict, list)):
            break  # a shorthand scalar: the error is about this value
        else:
            node = None
        out.append(part)
    return tuple(out)


# What each constrained string must look like, in words (pydantic would quote the regex).
_PATTERN_MEANING = {
    "app": "2–31 characters, a lowercase letter first, then lowercase letters, digits or hyphens",
    "region": "an AWS region such as ap-south-1",
    "account": "a 12-digit AWS account id (quote it in YAML)",
    "kms_key_arn": "a KMS key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
}


def model_diagnostics(error: ValidationError, document: Document) -> list[Diagnostic]:
    found: dict[tuple, Diagnostic] = {}
    for err in error.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]), document.data)
        kind = err["type"]
        hint = None
        if kind == "extra_forbidden":
            code, at = "M001", "key"
            owner = _model_at(loc[:-1])
            choices = list(owner.model_fields) if owner else []
            message = f"unknown key {loc[-1]!r}"
            hint = did_you_mean(str(loc[-1]), choices) or (f"allowed here: {', '.join(choices)}" if choices else None)
        elif kind == "missing":
            code, at = "M003", "key"
            message = f"missing required key {loc[-1]!r}"
            parent = loc[:-1]
            hint = f"add {loc[-1]}: under {'.'.join(map(str, parent)) or 'the top level'}"
        elif kind in ("literal_error", "enum"):
            code, at = "M002", "value"
            expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
            message = f"{err['input']!r} is not one of: {', '.join(expected)}"
            hint = did_you_mean(str(err["input"]), expected)
        elif kind == "string_type" and isinstance(err["input"], (int, float, bool)):
            code, at = "M002", "value"
            message = f"expected text, got the {type(err['input']).__name__} {err['input']!r}"
            hint = "quote it in YAML, e.g. '012345678901'"
        elif kind == "string_too_short" and err["input"] == "":
            code, at = "M002", "value"
            message = f"{loc[-1]} is empty" if loc and isinstance(loc[-1], str) else "an empty name"
            hint = f"name an attribute or a table here, or remove the {loc[-1]} key to use the default" \
                if loc and isinstance(loc[-1], str) else "give it a name"
        elif kind == "string_pattern_mismatch" and loc and loc[-1] in _PATTERN_MEANING:
            code, at = "M002", "value"
            message = f"{err['input']!r} is not a valid {loc[-1]}: {_PATTERN_MEANING[loc[-1]]}"
        else:
            code, at = "M002", "value"
            message = err["msg"].removeprefix("Value error, ")
        key = (code, loc)
        if key not in found:  # one finding per place, not one per union branch
            found[key] = Diagnostic(code, Severity.ERROR, message, document.locate(loc, at), hint, loc)
    return list(found.values())


def parse_schema(document: Document) -> tuple[SchemaFile | None, list[Diagnostic]]:
    if not isinstance(document.data, dict):
        return None, [Diagnostic("M002", Severity.ERROR, "the top level must be a map (version:, app:, tables:, …)",
                                 document.locate(()), None, ())]
    try:
        return SchemaFile.model_validate(document.data), []
    except ValidationError as exc:
        return None, model_diagnostics(exc, document)


# ---------------------------------------------------------------------------------------------
# Resolution: one fully decided model per environment.

class KeyAttribute(_Model):
    name: str
    type: Literal["S", "N", "B"]


class ResolvedGlobalIndex(_Model):
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    projection: Projection
    tenant_scoped: bool
    capacity: Capacity | None


class ResolvedLocalIndex(_Model):
    name: str
    sort_key: KeyAttribute
    projection: Projection


class ResolvedTable(_Model):
    key: str                      # the YAML key: users
    logical_id: str               # UsersTable
    physical_name: str            # jobwork-dev-users
    description: str | None
    tenant_scoped: bool
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    attributes: dict[str, Attribute]
    global_indexes: tuple[ResolvedGlobalIndex, ...]
    local_indexes: tuple[ResolvedLocalIndex, ...]
    ttl: str | None
    stream: Stream | None
    billing: Billing
    capacity: Capacity | None
    table_class: TableClass
    encryption: Encryption
    point_in_time_recovery: bool
    deletion_protection: bool
    removal_policy: ResolvedRemovalPolicy
    tags: dict[str, str]
    access_patterns: tuple[AccessPattern, ...]

    def global_index(self, name: str) -> ResolvedGlobalIndex | None:
        return next((i for i in self.global_indexes if i.name == name), None)


class ResolvedSchema(_Model):
    app: str
    env: str
    region: str | None
    account: str | None
    stack_name: str
    tenancy_attribute: str
    tables: dict[str, ResolvedTable]

    @property
    def schema_hash(self) -> str:
        """sha256 of the canonical JSON of this environment's resolved schema."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


BUILT_IN_OPTIONS: dict[str, Any] = {
    "billing": "on_demand",
    "capacity": None,
    "table_class": "standard",
    "encryption": Encryption(type="aws_owned"),
    "point_in_time_recovery": False,
    "deletion_protection": False,
    # Retain unless told otherwise: forgetting the option must never lose data.
    "removal_policy": "retain",
    "stream": None,
}


def effective_option(schema: SchemaFile, env: str, table: Table, option: str) -> Any:
    """table > environment > defaults > built-in."""
    for layer in (table, schema.environments.get(env), schema.defaults):
        value = getattr(layer, option, None) if layer is not None else None
        if value is not None:
            return value
    return BUILT_IN_OPTIONS[option]


def logical_id(table_key: str) -> str:
    """users → UsersTable, job_orders → JobOrdersTable: from the YAML key, never a path hash."""
    words = re.split(r"[^A-Za-z0-9]+", table_key)
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "Table"


class _SafeFormat(string.Formatter):
    def get_value(self, key, args, kwargs):
        return kwargs.get(key, "{" + str(key) + "}")


def physical_name(schema: SchemaFile, env: str, table_key: str, table: Table) -> str:
    if table.table_name:
        return table.table_name
    try:
        return _SafeFormat().format(schema.naming.table, app=schema.app, env=env, table=table_key)
    except (ValueError, IndexError):
        return schema.naming.table  # malformed braces; rule N002 reports it


def stack_name(schema: SchemaFile, env: str) -> str:
    return f"{schema.app}-{env}"


def key_type(schema: SchemaFile, table: Table, name: str) -> str:
    attribute = table.attributes.get(name)
    if attribute is None:
        return "S"  # the tenancy attribute (implied string) or an undeclared key that rule K001 reports
    return KEY_TYPES.get(attribute.type, "S")


def table_partition_key(schema: SchemaFile, table: Table) -> str:
    return table.partition_key or schema.tenancy.attribute


def index_tenant_scoped(schema: SchemaFile, table: Table, index: GlobalIndex) -> bool:
    if index.tenant_scoped is not None:
        return index.tenant_scoped
    return table.tenant_scoped and index.partition_key == schema.tenancy.attribute


def _resolve_table(schema: SchemaFile, env: str, table_key: str, table: Table) -> ResolvedTable:
    def option(name: str) -> Any:
        return effective_option(schema, env, table, name)

    def key(name: str | None) -> KeyAttribute | None:
        return KeyAttribute(name=name, type=key_type(schema, table, name)) if name else None

    tags = {**(schema.defaults.tags or {}), **(schema.environments[env].tags or {}), **(table.tags or {})}
    tags.update(dict(zip(TOOL_TAGS, (schema.app, env, table_key, MANAGED_BY), strict=True)))
    billing = option("billing")
    removal_policy = option("removal_policy")
    return ResolvedTable(
        key=table_key,
        logical_id=logical_id(table_key),
        physical_name=physical_name(schema, env, table_key, table),
        description=table.description,
        tenant_scoped=table.tenant_scoped,
        partition_key=key(table_partition_key(schema, table)),
        sort_key=key(table.sort_key),
        attributes=dict(table.attributes),
        global_indexes=tuple(
            ResolvedGlobalIndex(
                name=name,
                partition_key=key(index.partition_key),
                sort_key=key(index.sort_key),
                projection=index.projection,
                tenant_scoped=index_tenant_scoped(schema, table, index),
                capacity=(index.capacity or option("capacity")) if billing == "provisioned" else None,
            )
            for name, index in table.global_indexes.items()
        ),
        local_indexes=tuple(
            ResolvedLocalIndex(name=name, sort_key=key(index.sort_key), projection=index.projection)
            for name, index in table.local_indexes.items()
        ),
        ttl=table.ttl,
        stream=option("stream"),
        billing=billing,
        capacity=option("capacity") if billing == "provisioned" else None,
        table_class=option("table_class"),
        encryption=option("encryption"),
        point_in_time_recovery=option("point_in_time_recovery"),
        deletion_protection=option("deletion_protection"),
        removal_policy="retain" if removal_policy == "snapshot" else removal_policy,
        tags=dict(sorted(tags.items())),
        access_patterns=tuple(table.access_patterns),
    )


def resolve(schema: SchemaFile, env: str) -> ResolvedSchema:
    """The schema as one environment sees it. Never raises on a model-valid schema."""
    environment = schema.environments[env]
    return ResolvedSchema(
        app=schema.app,
        env=env,
        region=environment.region,
        account=environment.account,
        stack_name=stack_name(schema, env),
        tenancy_attribute=schema.tenancy.attribute,
        tables={key: _resolve_table(schema, env, key, table) for key, table in schema.tables.items()},
    )
