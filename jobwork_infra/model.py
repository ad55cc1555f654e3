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
from collections import deque
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_serializer
from pydantic_core import PydanticCustomError

from .errors import Diagnostic, Severity
from .load import Document, did_you_mean
from .table_options import (
    CONTRIBUTOR_INSIGHTS,
    INDEX_OPTIONS,
    KINESIS_DESTINATION,
    ON_DEMAND_THROUGHPUT,
    RESOURCE_POLICY,
    TABLE_OPTIONS,
    WARM_THROUGHPUT,
    KinesisDestination,
    OnDemandThroughput,
    PolicyDocument,
    WarmThroughput,
    option_values,
)

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


def _unique_shorthand(value: Any) -> Any:
    if value is True:
        return "tenant"
    if value is False:
        return None
    return value


def _schema_version(value: Any) -> Any:
    # Exactly the integer 1: lax validation would take `true` and `1.0` as 1 (True == 1 == 1.0).
    if type(value) is not int or value != 1:
        shown = "true" if value is True else "false" if value is False else repr(value)
        raise PydanticCustomError("schema_version", "unsupported schema version {shown}: this jobwork-infra "
                                  "reads version 1", {"shown": shown})
    return value


class Attribute(_Model):
    """An attribute: its type, and optionally what it holds."""

    type: AttributeType = Field(description="string, number, binary, boolean, list, map, string_set, number_set, "
                                "binary_set; uuid, date, datetime (stored as strings); epoch_seconds (a number).")
    description: str | None = Field(default=None, description="What the attribute holds (for docs and readers).")
    enum: list[str | int] | None = Field(default=None, min_length=1,
                                         description="The values it may take (documentation and codegen).")
    # `true` is `tenant`: a value unique among the items of one tenant (an email); `global`: unique
    # across tenants (a login subject). The generated data layer keeps a guard item per value in the
    # guard table (GUARD_TABLE) and writes it in the same transaction as the item (docs/codegen.md).
    unique: Annotated[Literal["tenant", "global"] | None, BeforeValidator(_unique_shorthand,
                      json_schema_input_type=bool | Literal["tenant", "global"] | None)] = Field(
        default=None, description="tenant (or true): no two items of one tenant hold the same value; global: no "
        "two items at all (only on a table or index marked as crossing tenants). Enforced by the generated "
        "data layer with guard items.")


class Projection(_Model):
    type: Literal["all", "keys_only", "include"] = Field(description="Which attributes the index copies.")
    attributes: tuple[str, ...] = Field(default=(), description="The attributes an include projection copies.")


class Encryption(_Model):
    type: Literal["aws_owned", "aws_managed", "customer_managed"] = Field(
        description="aws_owned (free, default), aws_managed (the aws/dynamodb KMS key) or customer_managed.")
    kms_key_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$",
                                    description="The customer managed KMS key or alias ARN.")


class Capacity(_Model):
    """Provisioned throughput (billing: provisioned only)."""

    read: int = Field(ge=1, le=40_000, description="Read capacity units per second.")
    write: int = Field(ge=1, le=40_000, description="Write capacity units per second.")


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
_NAME_FIELDS = ("partition_key", "sort_key", "ttl", "table_name", "attribute")


# `acknowledge: {T002: "why"}` on a table or index: rules/acknowledge.py turns the warnings it names,
# at that place, into notes. The reason is required: it is what the note shows to the next reader.
Acknowledgements = dict[str, Annotated[str, Field(min_length=1)]]


_ACKNOWLEDGE = Field(default=None, description="Warnings accepted on purpose here, code → reason "
                     "(e.g. T002: login lookup): they stay visible as notes and no longer fail --strict.")
# The default as written in YAML (`all`), so the JSON Schema's default passes its own anyOf.
_PROJECTION = Field(default=Projection(type="all"), json_schema_extra={"default": "all"},
                    description="all (default), keys_only, or a list of attribute names to include.")


class GlobalIndex(_Model):
    """A global secondary index: another key to query the table by."""

    partition_key: Name = Field(description="The index's partition key, a declared scalar attribute; required, "
                               "also on a tenant-scoped index (write the tenancy attribute, e.g. tenant_id).")
    sort_key: Name | None = Field(default=None, description="The index's sort key, a declared scalar attribute.")
    projection: ProjectionField = _PROJECTION
    # None: decided by rule T2 (scoped when the partition key is the tenancy attribute).
    tenant_scoped: bool | None = Field(default=None, description="Default: true when partitioned by the tenancy "
                                       "attribute; false makes a cross-tenant index (rule T002 warns).")
    capacity: Capacity | None = Field(default=None, description="The index's provisioned capacity (default: the "
                                      "table's).")
    # Options of the table-option registry an index has too (table_options.INDEX_OPTIONS); not inherited
    # from the table: each index has its own.
    contributor_insights: bool | Literal["throttled_keys"] | None = Field(
        default=None, description="Contributor insights on this index: true, false (default) or throttled_keys.")
    on_demand_throughput: OnDemandThroughput | None = Field(
        default=None, description="On-demand tables only: the index's own maximum ({max_read, max_write}).")
    warm_throughput: WarmThroughput | None = Field(
        default=None, description="The index's warm throughput ({read, write}); AWS never lowers it.")
    acknowledge: Acknowledgements | None = _ACKNOWLEDGE


class LocalIndex(_Model):
    """A local secondary index: the table's partition key with another sort key; fixed at creation."""

    sort_key: Name = Field(description="The index's sort key, a declared scalar attribute.")
    projection: ProjectionField = _PROJECTION
    acknowledge: Acknowledgements | None = _ACKNOWLEDGE


class AccessPattern(_Model):
    """A query the application makes; validate checks it is served without a Scan (A001)."""

    name: str = Field(min_length=1, description="What the query does, in words (codegen names the method after it).")
    key: list[str] = Field(min_length=1, max_length=2,
                           description="[partition key] or [partition key, sort key] of the table or index.")
    index: str | None = Field(default=None, description="The index queried (default: the table).")
    description: str | None = Field(default=None, description="More about the query.")


class TableOptions(_Model):
    """Options that defaults and environments may set for every table."""

    billing: Billing | None = Field(default=None, description="on_demand (default, pay per request) or "
                                    "provisioned (then set capacity).")
    capacity: Capacity | None = Field(default=None, description="Read and write capacity units (billing: "
                                      "provisioned only).")
    table_class: TableClass | None = Field(default=None, description="standard (default) or infrequent_access.")
    encryption: EncryptionField | None = Field(default=None, description="aws_owned (default), aws_managed, or "
                                               "{kms_key_arn: ...} for a customer managed key.")
    point_in_time_recovery: bool | None = Field(default=None, description="Continuous backups for restoring to "
                                                "any second of the last 35 days (default off).")
    contributor_insights: bool | Literal["throttled_keys"] | None = Field(
        default=None, description=CONTRIBUTOR_INSIGHTS.description)
    on_demand_throughput: OnDemandThroughput | None = Field(default=None,
                                                            description=ON_DEMAND_THROUGHPUT.description)
    warm_throughput: WarmThroughput | None = Field(default=None, description=WARM_THROUGHPUT.description)
    resource_policy: PolicyDocument | None = Field(default=None, description=RESOURCE_POLICY.description)
    kinesis_destination: KinesisDestination | None = Field(default=None,
                                                           description=KINESIS_DESTINATION.description)
    deletion_protection: bool | None = Field(default=None, description="DynamoDB refuses to delete the table "
                                             "while on (default off).")
    removal_policy: RemovalPolicy | None = Field(default=None, description="What removing the table from the "
                                                 "schema or destroying the stack does: retain (default) keeps "
                                                 "it, destroy deletes it with its data; snapshot means retain.")
    stream: Stream | None = Field(default=None, description="Record item changes for 24 h: keys_only, "
                                  "new_image, old_image or new_and_old_images (default none).")
    tags: dict[str, str] | None = Field(default=None, description="Tags added to the table (app, env, table, "
                                        "managed-by are always added).")
    # Which CloudFormation stack holds the table: {app}-{env}-{stack}; unset, the main {app}-{env}.
    stack: str | None = Field(default=None, pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,63}$",
                              description="The CloudFormation stack that holds the table: {app}-{env}-{stack} "
                                          "(default: the environment's main stack {app}-{env}).")


class Environment(TableOptions):
    """An environment (dev, prod, ...): where its stack goes, and table options for it."""

    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$",
                               description="The AWS region of the stack (default: the caller's).")
    account: str | None = Field(default=None, pattern=r"^\d{12}$",
                                description="The 12-digit AWS account id, quoted (default: the caller's).")


class Table(TableOptions):
    """A DynamoDB table; its YAML key gives its logical id and name."""

    description: str | None = Field(default=None, description="What the table holds.")
    tenant_scoped: bool = Field(default=True, description="Partitioned by the tenancy attribute and covered by "
                                "the TenantDataAccess policy (default true).")
    partition_key: Name | None = Field(default=None, description="The partition key attribute (default: the "
                                      "tenancy attribute; a tenant-scoped table must use it).")
    sort_key: Name | None = Field(default=None, description="The sort key attribute (none by default).")
    attributes: dict[str, AttributeField] = Field(default={}, description="Attribute name → type, or "
                                                  "{type, description, enum}; every key must be declared.")
    global_indexes: dict[str, GlobalIndex] = Field(default={}, description="Index name → global secondary "
                                                   "index (at most 20).")
    local_indexes: dict[str, LocalIndex] = Field(default={}, description="Index name → local secondary index "
                                                 "(at most 5; needs a table sort key; only at creation).")
    ttl: Name | None = Field(default=None, description="The attribute holding the expiry time (epoch_seconds or "
                            "number); expired items are deleted.")
    table_name: Name | None = Field(default=None, description="An explicit physical name, e.g. to adopt an "
                                   "existing table (default: from naming.table).")
    # Strict: lax validation would take `true` as 1 and "2" as 2 (docs/migrate.md).
    generation: int = Field(default=1, ge=1, strict=True, description="The table's generation (default 1). "
                            "Bumping it makes a new physical table ({name}-gN, or {generation} in naming) "
                            "that deploy fills from generation N-1: the way to change a key, a key type or a "
                            "local index of a table that holds data. Generations only go up.")
    access_patterns: list[AccessPattern] = Field(default=[], description="The queries the application makes; "
                                                 "each must be served without a Scan.")
    version: bool = Field(default=False, description="Optimistic locking in the generated data layer: a number "
                          "attribute `version` that every write increments and a stale write is refused on.")
    tenant_access: Literal["read", "write"] = Field(default="write", description="What a tenant principal may do "
                                                    "to the table's items: read, or write (default).")
    acknowledge: Acknowledgements | None = _ACKNOWLEDGE


class Tenancy(_Model):
    """How tables are split by tenant."""

    attribute: Name = Field(default="tenant_id", description="The partition key of every tenant-scoped table (a "
                           "string); IAM limits each tenant to items whose key is its own id.")
    assumed_by: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
                                   description="The role ARN (your application's) allowed to assume the tenant "
                                   "roles with a tenant session tag; compile then emits the roles.")


class Naming(_Model):
    """How physical names are made."""

    table: str = Field(default="{app}-{env}-{table}", description="The physical table name; placeholders {app}, "
                       "{env}, {table}, {generation} (without it, generation N > 1 appends -gN).")


class SchemaFile(_Model):
    """The whole of tables.yaml."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="jobwork-infra tables.yaml",
        json_schema_extra={"$id": "https://jobwork-infra/schema/tables.schema.json"},
    )

    version: Annotated[Literal[1], BeforeValidator(_schema_version)] = Field(
        description="The schema language version: 1.")
    app: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", description="The app's name; prefixes stacks "
                     "({app}-{env}) and table names.")
    tenancy: Tenancy = Field(default=Tenancy(), description="The tenancy attribute (default tenant_id).")
    naming: Naming = Field(default=Naming(), description="The physical name pattern of tables.")
    environments: dict[str, Environment] = Field(min_length=1, description="At least one environment (dev, "
                                                 "prod, ...): region, account and table options per environment.")
    defaults: TableOptions = Field(default=TableOptions(), description="Table options for every table "
                                   "(precedence: table > environment > defaults > built-in).")
    tables: dict[str, Table] = Field(default={}, description="Table key → table; the key gives the logical id "
                                     "(job_orders → JobOrdersTable) and the name.")


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
    "stack": "1–64 letters, digits or hyphens, a letter first (it ends the stack name {app}-{env}-NAME)",
    "kms_key_arn": "a KMS key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
    "assumed_by": "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
}


# Words people reach for first, from other schema languages, and the type we call that.
_TYPE_SYNONYMS = {
    "integer": "number", "int": "number", "float": "number", "decimal": "number", "double": "number",
    "long": "number", "str": "string", "text": "string", "bool": "boolean", "array": "list",
    "object": "map", "dict": "map", "timestamp": "datetime", "epoch": "epoch_seconds", "bytes": "binary",
}
_TOO_SHORT_HINT = {
    "environments": "name at least one, e.g. `environments: {dev: {}}`",
    "acknowledge": "give the reason the finding is accepted, e.g. `T002: login lookup before the tenant is known`",
    "key": "list the partition key, then optionally the sort key: `key: [tenant_id, user_id]`",
}


def _synonym(value: Any, expected: list[str]) -> str | None:
    meant = _TYPE_SYNONYMS.get(str(value).lower())
    return f"did you mean {meant!r}?" if meant in expected else None


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
            if loc[-1] == "partition_key" and "global_indexes" in loc:
                # Not implied on an index (a table's is): a tenant-scoped index names the tenancy attribute.
                declared = document.data.get("tenancy")
                tenancy = declared.get("attribute", "tenant_id") if isinstance(declared, dict) else "tenant_id"
                hint += f"; for a tenant-scoped index that is the tenancy attribute: partition_key: {tenancy}"
        elif kind == "schema_version":
            code, at = "M002", "value"
            message = err["msg"]
            hint = "write `version: 1` (a plain number); no other version exists yet"
        elif kind in ("literal_error", "enum"):
            code, at = "M002", "value"
            raw = err.get("ctx", {}).get("expected", "")
            expected = re.findall(r"'([^']*)'", raw) or [raw]  # unquoted when the choices are numbers
            message = f"{err['input']!r} is not one of: {', '.join(expected)}"
            hint = did_you_mean(str(err["input"]), expected) or _synonym(err["input"], expected)
        elif kind in ("too_short", "too_long"):
            code, at = "M002", "value"
            ctx = err.get("ctx", {})
            bound, word = (ctx.get("min_length"), "at least") if kind == "too_short" else (ctx.get("max_length"), "at most")
            one, many = ("entry", "entries") if ctx.get("field_type") == "Dictionary" else ("item", "items")
            name = loc[-1] if loc and isinstance(loc[-1], str) else "this value"
            message = f"{name} needs {word} {bound} {one if bound == 1 else many}"
            hint = _TOO_SHORT_HINT.get(name)
        elif kind == "string_too_short" and loc and loc[-1] in _NAME_FIELDS:
            code, at = "M002", "value"
            message = f"{loc[-1]} is empty"
            hint = f"name an attribute or a table here, or remove the {loc[-1]} key to use the default"
        elif kind == "string_too_short":
            code, at = "M002", "value"
            message = "this text must not be empty"
            hint = _TOO_SHORT_HINT.get(loc[-2] if len(loc) > 1 else "")
        elif kind == "string_type" and isinstance(err["input"], (int, float, bool)):
            code, at = "M002", "value"
            message = f"expected text, got the {type(err['input']).__name__} {err['input']!r}"
            hint = "quote it in YAML, e.g. '012345678901'"
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
    # table_options.INDEX_OPTIONS; left out of the dump at their defaults (the schema hash stays).
    contributor_insights: bool | Literal["throttled_keys"] = False
    on_demand_throughput: OnDemandThroughput | None = None
    warm_throughput: WarmThroughput | None = None

    @model_serializer(mode="wrap")
    def _omit_default_options(self, handler: Any) -> Any:
        dumped = handler(self)
        for option in INDEX_OPTIONS:
            if isinstance(dumped, dict) and dumped.get(option.field, option.default) == option.default:
                dumped.pop(option.field, None)
        return dumped


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
    # `stack: NAME`: the table lives in {app}-{env}-NAME; None: the main stack {app}-{env}.
    stack: str | None = None
    # A new physical table per generation (docs/migrate.md). Left out of the dump at 1, so tables
    # that never migrated keep the schema hash (and the deployed-template metadata) they had.
    generation: int = 1

    @model_serializer(mode="wrap")
    def _omit_first_generation(self, handler: Any) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict) and dumped.get("generation") == 1:
            del dumped["generation"]
        for option in TABLE_OPTIONS:
            if isinstance(dumped, dict) and dumped.get(option.field, option.default) == option.default:
                dumped.pop(option.field, None)
        return dumped

    version: bool = False
    tenant_access: Literal["read", "write"] = "write"
    # Registered table options (table_options.py). Left out of the dump at their defaults, as
    # generation is, so tables that do not set them keep their schema hash.
    contributor_insights: bool | Literal["throttled_keys"] = False
    on_demand_throughput: OnDemandThroughput | None = None
    warm_throughput: WarmThroughput | None = None
    resource_policy: dict[str, Any] | None = None
    kinesis_destination: KinesisDestination | None = None

    def unique_attributes(self) -> dict[str, Literal["tenant", "global"]]:
        """Attribute name → its scope, for every attribute declared `unique`."""
        return {name: a.unique for name, a in self.attributes.items() if a.unique is not None}

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
    # The role that may assume the tenant roles (tenancy.assumed_by); None: compile emits no role.
    tenant_role_assumed_by: str | None = None

    @property
    def stacks(self) -> dict[str, dict[str, ResolvedTable]]:
        """Stack name → its tables in schema order; the main stack first, the others by name.

        The main stack is left out when every table is in another one (a stack without resources
        is not a valid template); with no tables at all it is the only one.
        """
        grouped: dict[str, dict[str, ResolvedTable]] = {self.stack_name: {}}
        for name in sorted({self.stack_of(t) for t in self.tables.values()} - {self.stack_name}):
            grouped[name] = {}
        for key, table in self.tables.items():
            grouped[self.stack_of(table)][key] = table
        if not grouped[self.stack_name] and len(grouped) > 1:
            del grouped[self.stack_name]
        return grouped

    def stack_of(self, table: ResolvedTable) -> str:
        """The CloudFormation stack that holds `table`."""
        return f"{self.stack_name}-{table.stack}" if table.stack else self.stack_name

    def stack_view(self, name: str) -> ResolvedSchema:
        """One stack of the environment as an environment of its own: stack name `name`, its tables
        only, each without a `stack:` (so `stacks` of the view is that one stack).

        The CloudFormation deploy reads, plans and applies each stack through its view, and compile
        stamps the view's hash in the stack's Metadata: a change to a table of another stack leaves
        this stack's template as it is.
        """
        tables = {k: t.model_copy(update={"stack": None}) for k, t in self.stacks.get(name, {}).items()}
        return self.model_copy(update={"stack_name": name, "tables": tables})

    @property
    def schema_hash(self) -> str:
        """sha256 of the canonical JSON of this environment's resolved schema."""
        # Remembered per object (frozen, so its hash never changes): ~0.3 ms a table, and a deploy
        # of several stacks asks for each stack's several times.
        for held, digest in _HASHES:
            if held is self:
                return digest
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        _HASHES.append((self, digest))
        return digest


_HASHES: deque[tuple[ResolvedSchema, str]] = deque(maxlen=16)  # the last schemas hashed, by identity


BUILT_IN_OPTIONS: dict[str, Any] = {
    "billing": "on_demand",
    "capacity": None,
    "table_class": "standard",
    "encryption": Encryption(type="aws_owned"),
    "point_in_time_recovery": False,
    **{o.field: o.default for o in TABLE_OPTIONS},
    "deletion_protection": False,
    # Retain unless told otherwise: forgetting the option must never lose data.
    "removal_policy": "retain",
    "stream": None,
    "stack": None,
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
    """The table's physical name in `env`; generation N > 1 is a table of its own (docs/migrate.md):
    `{generation}` in the naming pattern places N, otherwise `-gN` is appended."""
    generation = table.generation
    if table.table_name:
        return table.table_name + (f"-g{generation}" if generation > 1 else "")
    try:
        name = _SafeFormat().format(schema.naming.table, app=schema.app, env=env, table=table_key,
                                    generation=generation)
    except (ValueError, IndexError):
        return schema.naming.table  # malformed braces; rule N002 reports it
    if generation > 1 and "{generation}" not in schema.naming.table:
        name += f"-g{generation}"
    return name


def stack_name(schema: SchemaFile, env: str) -> str:
    """The environment's main stack; tables with `stack: NAME` go to {app}-{env}-NAME."""
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
                **{o.field: o.default if (value := getattr(index, o.field)) is None else value
                   for o in INDEX_OPTIONS if not (o.field == "on_demand_throughput" and billing == "provisioned")},
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
        stack=option("stack"),
        generation=table.generation,
        version=table.version,
        tenant_access=table.tenant_access,
        **{**option_values(option),
           # An on-demand maximum means nothing to a provisioned table (rule C107 says so where it is set).
           **({"on_demand_throughput": None} if billing == "provisioned" else {})},
    )


# The table the compiler adds when any attribute is `unique`: one guard item per unique value,
# apart from the tables it guards so that it never shows in their queries, counts or scans. Its
# partition key is the tenancy attribute, so a tenant-scoped guard lives in its tenant's partition
# (TenantDataAccess covers it); a global guard's partition starts with GLOBAL_GUARD_PREFIX, which no
# tenant id can (docs/codegen.md, "Unique values").
GUARD_TABLE = "unique_guards"
GUARD_SORT_KEY = "guard"
GLOBAL_GUARD_PREFIX = "#global#"


def guard_table(schema: SchemaFile) -> Table | None:
    """The guard table's definition, or None when no attribute of the schema is unique."""
    if not any(a.unique for t in schema.tables.values() for a in t.attributes.values()):
        return None
    return Table(description="Guard items of the unique attributes (added by jobwork-infra; one item per value).",
                 sort_key=GUARD_SORT_KEY,
                 attributes={schema.tenancy.attribute: Attribute(type="string"),
                             GUARD_SORT_KEY: Attribute(type="string")})


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
        tables=_resolve_tables(schema, env),
        tenant_role_assumed_by=schema.tenancy.assumed_by,
    )


def _resolve_tables(schema: SchemaFile, env: str) -> dict[str, ResolvedTable]:
    tables = {key: _resolve_table(schema, env, key, table) for key, table in schema.tables.items()}
    guards = guard_table(schema)
    if guards is not None and GUARD_TABLE not in tables:  # a table of that name is refused by rule U003
        tables[GUARD_TABLE] = _resolve_table(schema, env, GUARD_TABLE, guards)
    return tables
