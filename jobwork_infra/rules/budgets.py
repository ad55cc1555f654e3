"""Budgets: the hard limits of CloudFormation, IAM and DynamoDB, per stack and per table.

A wall met at deploy time that validate could have seen is a defect: every limit here is computed
from the resolved schema by `jobwork_infra.budgets` (which states what compile builds, without
aws_cdk), in every environment. Each finding is located at the table where the line is crossed,
and the hint gives the `stack:` line that splits the stack there. Warn at 80 %, error past 100 %.
The limits and their sources are listed in `jobwork_infra/budgets.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import budgets as b
from ..errors import Severity
from ..model import ResolvedSchema
from .context import Context
from .registry import Finding, rule


def _usages(ctx: Context) -> Iterator[tuple[str, ResolvedSchema, list[b.StackUsage]]]:
    cache = ctx.__dict__.setdefault("_budget_usage", {})
    for env in ctx.environments:
        if env not in cache:
            cache[env] = b.usage(ctx.resolved(env))
        yield env, ctx.resolved(env), cache[env]


def _new_stack_name(resolved: ResolvedSchema) -> str:
    taken = set(resolved.stacks)
    n = 2
    while f"{resolved.stack_name}-part{n}" in taken:
        n += 1
    return f"part{n}"


def _split_hint(resolved: ResolvedSchema, table: str) -> str:
    return (f"split the stack here: add `stack: {_new_stack_name(resolved)}` to table {table!r} and the "
            "tables after it (every stack has its own limits; see docs/synth.md)")


def _crossing(running: list[tuple[str, int]], limit: float) -> tuple[str, int] | None:
    return next(((key, used) for key, used in running if used > limit), None)


def _budget(ctx: Context, budget: str, limit: int, what: str) -> Iterator[Finding]:
    """One finding per stack and table where the line is crossed; errors silence the warnings."""
    found: dict[Severity, dict[str, Finding]] = {Severity.ERROR: {}, Severity.WARNING: {}}
    for env, resolved, stacks in _usages(ctx):
        for usage in stacks:
            running = usage.running[budget]
            over = _crossing(running, limit)
            hit, severity = (over, Severity.ERROR) if over else (_crossing(running, b.WARN_AT * limit), Severity.WARNING)
            # one finding per stack of the schema, whichever environment crosses first
            stack = usage.name[len(resolved.stack_name):]
            if hit is None or stack in found[severity]:
                continue
            verb = "passes" if over else f"passes {int(b.WARN_AT * 100)} % of"
            found[severity][stack] = Finding(
                ("tables", hit[0]),
                f"stack {usage.name} ({env}) {verb} CloudFormation's limit of {limit:,} {what} at this "
                f"table ({hit[1]:,}; {running[-1][1]:,} with every table of the stack)",
                _split_hint(resolved, hit[0]), at="key", severity=severity)
    yield from (found[Severity.ERROR] or found[Severity.WARNING]).values()


@rule("B001", f"a stack has at most {b.MAX_RESOURCES} resources (tables and tenant policies)", "budgets",
      note="warning at 80 %; the hint says where to split with `stack:`")
def resources(ctx: Context) -> Iterator[Finding]:
    yield from _budget(ctx, "resources", b.MAX_RESOURCES, "resources")


@rule("B002", f"a stack has at most {b.MAX_OUTPUTS} outputs (two, plus one per table with a stream)", "budgets",
      note="warning at 80 %")
def outputs(ctx: Context) -> Iterator[Finding]:
    yield from _budget(ctx, "outputs", b.MAX_OUTPUTS, "outputs")


@rule("B003", f"a stack's template is at most {b.MAX_TEMPLATE_S3:,} bytes (through S3; "
      f"{b.MAX_TEMPLATE_INLINE:,} inline)", "budgets",
      note="estimated without a synth; a note past the inline limit (deploy needs --template-bucket), "
           "a warning at 80 % of the S3 limit")
def template_size(ctx: Context) -> Iterator[Finding]:
    found = list(_budget(ctx, "template_bytes", b.MAX_TEMPLATE_S3, "template bytes (through S3)"))
    yield from found
    if found:
        return
    reported: set[str] = set()
    for env, resolved, stacks in _usages(ctx):
        for usage in stacks:
            hit = _crossing(usage.running["template_bytes"], b.MAX_TEMPLATE_INLINE)
            stack = usage.name[len(resolved.stack_name):]  # once per stack, whichever environment
            if hit is None or stack in reported:
                continue
            reported.add(stack)
            yield Finding(("tables", hit[0]),
                          f"the template of stack {usage.name} ({env}) passes {b.MAX_TEMPLATE_INLINE:,} bytes at "
                          f"this table (about {usage.template_bytes:,}): CloudFormation takes it only from S3",
                          "deploy with --template-bucket BUCKET, or " + _split_hint(resolved, hit[0]),
                          at="key", severity=Severity.NOTE)  # a fact for the deploy, not a risk: --strict passes


@rule("B004", f"the tenant-scoped ARNs of one table fit in one managed policy ({b.MAX_POLICY_CHARS:,} characters)",
      "budgets", note="counted as IAM does: no white space, ARNs resolved with a 12-digit account and the longest "
                      "region; tables are packed into as many policies as needed, so only one table can pass it")
def policy_size(ctx: Context) -> Iterator[Finding]:
    reported: set[str] = set()
    for env, resolved, stacks in _usages(ctx):
        for usage in stacks:
            for policy in usage.policies:
                if len(policy.tables) != 1 or policy.characters <= b.WARN_AT * b.MAX_POLICY_CHARS:
                    continue
                [table] = policy.tables
                if table in reported:
                    continue
                reported.add(table)
                over = policy.characters > b.MAX_POLICY_CHARS
                yield Finding(("tables", table),
                              f"the TenantDataAccess statement of table {table!r} alone is {policy.characters:,} "
                              f"characters in {env}, {'over' if over else 'near'} IAM's limit of "
                              f"{b.MAX_POLICY_CHARS:,} for a managed policy",
                              "shorten the table name or index names, or mark indexes that need no tenant "
                              "access tenant_scoped: false", at="key",
                              severity=Severity.ERROR if over else Severity.WARNING)


def _stack_option_path(ctx: Context, env: str, table_key: str) -> tuple[tuple, str]:
    if ctx.schema.tables[table_key].stack is not None:
        return ("tables", table_key, "stack"), "value"
    if ctx.schema.environments[env].stack is not None:
        return ("environments", env, "stack"), "value"
    if ctx.schema.defaults.stack is not None:
        return ("defaults", "stack"), "value"
    return ("environments", env), "key"


@rule("B005", f"stack names and tenant policy names are at most {b.MAX_NAME} characters", "budgets")
def name_lengths(ctx: Context) -> Iterator[Finding]:
    reported: set[str] = set()
    for env, resolved, stacks in _usages(ctx):
        for usage in stacks:
            long = [(usage.name, "stack name")] if usage.name != resolved.stack_name else []
            long += [(p.name, "managed policy name") for p in usage.policies]
            for name, what in long:
                if len(name) <= b.MAX_NAME or name in reported or not usage.tables:
                    continue
                reported.add(name)
                path, at = _stack_option_path(ctx, env, usage.tables[0])
                yield Finding(path, f"the {what} {name!r} is {len(name)} characters, over the {b.MAX_NAME} "
                              "CloudFormation and IAM allow", "choose a shorter stack name (or app/environment name)",
                              at=at)


def _tag_layers(ctx: Context) -> Iterator[tuple[tuple, dict[str, str]]]:
    if ctx.schema.defaults.tags:
        yield ("defaults", "tags"), ctx.schema.defaults.tags
    for env, environment in ctx.schema.environments.items():
        if environment.tags:
            yield ("environments", env, "tags"), environment.tags
    for key, table in ctx.tables():
        if table.tags:
            yield ("tables", key, "tags"), table.tags


@rule("B006", f"a table has at most {b.MAX_TAGS} tags, the built-in ones included", "budgets",
      note="DynamoDB allows 50 tags per resource; warning at 80 %")
def tag_count(ctx: Context) -> Iterator[Finding]:
    for key, table in ctx.tables():
        counts = {env: len(ctx.resolved(env).tables[key].tags) for env in ctx.environments}
        env, count = max(counts.items(), key=lambda item: item[1])
        if count <= b.WARN_AT * b.MAX_TAGS:
            continue
        path, at = (("tables", key, "tags"), "key") if table.tags else (("tables", key), "key")
        over = count > b.MAX_TAGS
        yield Finding(path, f"table {key!r} has {count} tags in {env} (4 built-in), "
                      f"{'over' if over else 'near'} DynamoDB's limit of {b.MAX_TAGS}",
                      "remove tags, or move them to fewer, wider tags", at=at,
                      severity=Severity.ERROR if over else Severity.WARNING)


@rule("B007", f"tag keys are 1–{b.MAX_TAG_KEY} characters and do not start with `aws:`; values at most "
      f"{b.MAX_TAG_VALUE}", "budgets", note="the aws: prefix is reserved for AWS's own tags")
def tag_keys(ctx: Context) -> Iterator[Finding]:
    for path, tags in _tag_layers(ctx):
        for key, value in tags.items():
            if key.lower().startswith("aws:"):
                yield Finding(path + (key,), f"the tag key {key!r} uses the prefix aws:, which AWS reserves",
                              "rename the tag without the aws: prefix", at="key")
            elif not 1 <= len(key) <= b.MAX_TAG_KEY:
                yield Finding(path + (key,), f"the tag key is {len(key)} characters; DynamoDB allows 1–{b.MAX_TAG_KEY}",
                              "shorten the tag key", at="key")
            if len(value) > b.MAX_TAG_VALUE:
                yield Finding(path + (key,), f"the value of tag {key!r} is {len(value)} characters; DynamoDB allows "
                              f"at most {b.MAX_TAG_VALUE}", "shorten the tag value")


@rule("B008", f"the tenant policies of an environment fit on one role ({b.POLICIES_PER_ROLE} managed policies "
      f"by default, {b.POLICIES_PER_ROLE_MAX} at most)", "budgets", severity=Severity.WARNING,
      note="a warning: a role serving only some stacks attaches only their policies")
def policies_per_role(ctx: Context) -> Iterator[Finding]:
    for env, _, stacks in _usages(ctx):
        policies = [(u, p) for u in stacks for p in u.policies]
        if len(policies) <= b.POLICIES_PER_ROLE:
            continue
        _, policy = policies[b.POLICIES_PER_ROLE]
        yield Finding(("tables", policy.tables[0]),
                      f"{env} needs {len(policies)} TenantDataAccess policies; one role holds "
                      f"{b.POLICIES_PER_ROLE} managed policies by default ({b.POLICIES_PER_ROLE_MAX} after a quota "
                      f"increase), and this table is in the {b.POLICIES_PER_ROLE + 1}th",
                      "serve groups of stacks with roles of their own, ask AWS for a higher quota, or mark "
                      "tables that tenants never reach tenant_scoped: false", at="key")
        return


@rule("B009", "no two environments have a stack of the same name", "budgets",
      note="environment dev with `stack: x` and an environment dev-x would both own the stack {app}-dev-x")
def stack_names_unique(ctx: Context) -> Iterator[Finding]:
    owners: dict[str, str] = {}
    for env, resolved, stacks in _usages(ctx):
        for usage in stacks:
            first = owners.setdefault(usage.name, env)
            if first != env and usage.tables:
                path, at = _stack_option_path(ctx, env, usage.tables[0])
                yield Finding(path, f"environments {first!r} and {env!r} both have the stack {usage.name!r}: "
                              "deploying one would change the other's tables", "rename the stack or the environment",
                              at=at)
