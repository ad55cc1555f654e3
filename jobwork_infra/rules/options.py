"""TTL, billing and capacity, encryption: options whose validity depends on other options."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Severity
from ..load import did_you_mean
from ..model import effective_option
from .context import Context
from .registry import Finding, rule

TTL_TYPES = ("number", "epoch_seconds")


@rule("C101", "the ttl attribute is declared as number or epoch_seconds", "options")
def ttl_type(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if table.ttl is None:
            continue
        path = ("tables", table_key, "ttl")
        attribute = table.attributes.get(table.ttl)
        if attribute is None:
            yield Finding(path, f"the ttl attribute {table.ttl!r} is not declared",
                          did_you_mean(table.ttl, table.attributes)
                          or f"declare it under tables.{table_key}.attributes: {table.ttl}: epoch_seconds")
        elif attribute.type not in TTL_TYPES:
            yield Finding(path, f"the ttl attribute {table.ttl!r} is a {attribute.type}; DynamoDB only expires "
                          "items by a number of seconds since the epoch",
                          f"declare {table.ttl} as epoch_seconds")


@rule("C102", "a table with billing: provisioned has capacity (read, write) in every environment", "options")
def provisioned_has_capacity(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        envs = [env for env in ctx.environments
                if (t := ctx.resolved(env).tables[table_key]).billing == "provisioned" and t.capacity is None]
        if envs:
            path, at = (("tables", table_key, "billing"), "value") if table.billing else (("tables", table_key), "key")
            yield Finding(path, f"{table_key!r} is provisioned in {', '.join(envs)} but has no capacity there",
                          "add capacity: {read: 5, write: 5} to the table, the environment or defaults", at=at)


def _on_demand_everywhere(ctx: Context, table_key: str) -> bool:
    return all(ctx.resolved(env).tables[table_key].billing == "on_demand" for env in ctx.environments)


@rule("C103", "capacity is only set where billing is provisioned (tables, indexes, environments, defaults)",
      "options", note="Capacity that applies in no environment is an error: it would be silently ignored.")
def capacity_only_when_provisioned(ctx: Context) -> Iterator[Finding]:
    hint = "remove capacity, or set billing: provisioned"
    for table_key, table in ctx.tables():
        on_demand = _on_demand_everywhere(ctx, table_key)
        if table.capacity is not None and on_demand:
            yield Finding(("tables", table_key, "capacity"),
                          f"capacity is set but {table_key!r} is on_demand in every environment", hint, at="key")
        for name, index in table.global_indexes.items():
            if index.capacity is not None and on_demand:
                yield Finding(("tables", table_key, "global_indexes", name, "capacity"),
                              f"the index {name!r} has capacity but {table_key!r} is on_demand in every "
                              "environment", hint, at="key")
    # A shared capacity is used when some table takes it (no capacity of its own) and is provisioned.
    def used(env: str) -> bool:
        return any(table.capacity is None
                   and effective_option(ctx.schema, env, table, "billing") == "provisioned"
                   for _, table in ctx.tables())

    for env, environment in ctx.schema.environments.items():
        if environment.capacity is not None and ctx.schema.tables and not used(env):
            yield Finding(("environments", env, "capacity"),
                          f"capacity is set for {env} but no table there is provisioned without its own", hint,
                          at="key")
    if ctx.schema.defaults.capacity is not None and ctx.schema.tables and not any(
            used(env) and ctx.schema.environments[env].capacity is None for env in ctx.environments):
        yield Finding(("defaults", "capacity"), "the default capacity applies to no table in any environment",
                      hint, at="key")


@rule("C107", "a table's on_demand_throughput applies in some environment where it is on_demand", "options",
      note="CloudFormation reference, AWS::DynamoDB::Table OnDemandThroughput: the maximum of an on-demand table; "
           "where the table is provisioned it is left out. One that applies in no environment is an error: it "
           "would be silently ignored.")
def on_demand_throughput_only_when_on_demand(ctx: Context) -> Iterator[Finding]:
    for table_key, table in ctx.tables():
        if not all(ctx.resolved(env).tables[table_key].billing == "provisioned" for env in ctx.environments):
            continue
        if table.on_demand_throughput is not None:
            yield Finding(("tables", table_key, "on_demand_throughput"),
                          f"{table_key!r} has an on-demand maximum but is provisioned in every environment",
                          "remove on_demand_throughput, or set billing: on_demand", at="key")
        for name, index in table.global_indexes.items():
            if index.on_demand_throughput is not None:
                yield Finding(("tables", table_key, "global_indexes", name, "on_demand_throughput"),
                              f"the index {name!r} has an on-demand maximum but {table_key!r} is provisioned in "
                              "every environment", "remove on_demand_throughput, or set billing: on_demand", at="key")


@rule("C104", "encryption: customer_managed comes with a kms_key_arn, and only it does", "options")
def kms_key(ctx: Context) -> Iterator[Finding]:
    layers = [(("defaults", "encryption"), ctx.schema.defaults.encryption)]
    layers += [(("environments", env, "encryption"), e.encryption) for env, e in ctx.schema.environments.items()]
    layers += [(("tables", key, "encryption"), t.encryption) for key, t in ctx.tables()]
    for path, encryption in layers:
        if encryption is None:
            continue
        if encryption.type == "customer_managed" and not encryption.kms_key_arn:
            yield Finding(path, "customer_managed encryption needs the key's ARN",
                          "write encryption: {kms_key_arn: arn:aws:kms:REGION:ACCOUNT:key/ID}")
        elif encryption.type != "customer_managed" and encryption.kms_key_arn:
            yield Finding(path, f"a kms_key_arn is given with {encryption.type} encryption, which ignores it",
                          "drop type: to use the key (customer_managed), or drop kms_key_arn")


@rule("C105", "removal_policy: snapshot is kept as retain for DynamoDB tables", "options", severity=Severity.WARNING,
      note="CloudFormation takes a final snapshot only of volumes and database clusters, not DynamoDB tables; "
           "the table is retained whole instead, which keeps every item.")
def snapshot_is_retain(ctx: Context) -> Iterator[Finding]:
    layers = [(("defaults", "removal_policy"), ctx.schema.defaults.removal_policy)]
    layers += [(("environments", env, "removal_policy"), e.removal_policy)
               for env, e in ctx.schema.environments.items()]
    layers += [(("tables", key, "removal_policy"), t.removal_policy) for key, t in ctx.tables()]
    for path, policy in layers:
        if policy == "snapshot":
            yield Finding(path, "CloudFormation cannot snapshot a DynamoDB table on deletion: it is retained instead",
                          "write removal_policy: retain (and point_in_time_recovery: true for backups)")
