"""ResolvedSchema → CDK stack → CloudFormation template. The only module that imports aws_cdk.

One stack per stack name of the environment (`{app}-{env}`, and `{app}-{env}-NAME` for tables
with `stack: NAME`), of `aws_dynamodb.Table` (not TableV2: local engines lack
AWS::DynamoDB::GlobalTable) with the BootstraplessSynthesizer, so a template needs no bootstrap stack
and no asset bucket. Every logical ID is set from the schema (`ResolvedTable.logical_id`), never
from the construct path, so refactoring this module can never replace a live table.

aws_cdk is imported inside the functions: importing it starts a Node.js process (about a second),
which commands that never synth must not pay. The imports are cached by Python, so calling
`synth_template` several times in one process (the staged CloudFormation deploy does) pays once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import JobworkError
from .table_options import index_options_to_template, options_to_template

if TYPE_CHECKING:  # pragma: no cover
    from aws_cdk import App, Stack

    from .model import ResolvedSchema, ResolvedTable

from .budgets import (
    KMS_ACTIONS,
    KMS_READ_ACTIONS,
    READ_ACTIONS,
    ROLE_IDS,
    TENANT_ACTIONS,
    fixed_output_ids,
    index_lanes,
    pack_tenant_policies,
    policy_description,
    policy_id,
    policy_resources,
    read_policy_id,
    read_policy_name,
    stream_output_id,
    table_key_arn,
)

METADATA_KEY = "JobworkInfra"
__all__ = ["KMS_ACTIONS", "TENANT_ACTIONS", "build_stack", "build_stacks", "synth_assembly", "synth_template",
           "synth_templates"]

# Context that must hold whether the app runs here or under the CDK CLI (which passes its own
# context in CDK_CONTEXT_JSON): `post_cli_context` wins over the CLI's values, so both paths write
# byte-for-byte the same template. Path metadata would add an `aws:cdk:path` to every resource.
_FORCED_CONTEXT = {
    "aws:cdk:enable-path-metadata": False,
    "aws:cdk:enable-asset-metadata": False,
    "aws:cdk:version-reporting": False,
}


_warm_up: threading.Thread | None = None


def warm_up() -> None:
    """Start the Node.js process behind aws_cdk now, in the background; `_cdk()` waits for it.

    Starting Node.js and its jsii runtime is a third of a synth, spent waiting on another process.
    Called before the CLI's own imports, it overlaps them instead of following them. Only the
    process is started in the thread: no Python module is imported there (two threads importing
    at once is where import deadlocks come from), so `import jsii` happens here, first.
    """
    global _warm_up
    if _warm_up is not None or "aws_cdk" in sys.modules:
        return
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from jsii._runtime import kernel

    def start() -> None:
        # A failure here (no Node.js) is raised again, in context, by the first real jsii call.
        with contextlib.suppress(Exception):
            kernel.provider._process  # noqa: B018 - a memoized property: touching it starts Node.js

    _warm_up = threading.Thread(target=start, name="jobwork-jsii-start", daemon=True)
    _warm_up.start()


def _cdk():
    """aws_cdk and the modules compile uses, imported once per process."""
    if _warm_up is not None:
        _warm_up.join()  # never two Node.js processes: the warm-up's is the one jsii keeps
    # Set before the import: jsii prints a banner about Node 20's end of life to stderr otherwise.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk
    from aws_cdk import aws_dynamodb, aws_iam, aws_kms

    return aws_cdk, aws_dynamodb, aws_iam, aws_kms


def new_app(outdir: str | Path | None = None) -> App:
    """An App whose context is pinned (see _FORCED_CONTEXT), without the extras that cost time."""
    cdk, *_ = _cdk()
    return cdk.App(
        outdir=str(outdir) if outdir is not None else None,
        analytics_reporting=False,
        stack_traces=False,  # recording a trace per construct is a large share of synth time
        tree_metadata=False,
        # CDK's built-in template validation takes 4-6 s per process (most of a synth) and
        # checks what cfn-lint already checks over every golden template in the tests.
        builtin_cloud_formation_validation=False,
        post_cli_context=_FORCED_CONTEXT,
    )


def template_metadata(resolved: ResolvedSchema, stack: str | None = None) -> dict[str, Any]:
    """What a deployed stack says about the schema that made it; deploy compares SchemaHash.

    `Tables` is the manifest of the stack: table key → logical id and physical name. It lives in
    the metadata, not in Outputs, so it costs no output however many tables there are
    (docs/synth.md, "Outputs").
    """
    # Each stack carries the hash of its own view (ResolvedSchema.stack_view): what deploy compares,
    # and unchanged by edits to the tables of other stacks. A one-stack environment is its own view.
    view = resolved.stack_view(stack) if stack is not None else resolved
    tables = resolved.stacks.get(stack, {}) if stack is not None else resolved.tables
    return {METADATA_KEY: {
        "SchemaHash": view.schema_hash, "Version": __version__, "Environment": resolved.env,
        "Tables": {key: {"LogicalId": t.logical_id, "TableName": t.physical_name} for key, t in tables.items()},
    }}


def build_stacks(resolved: ResolvedSchema, app: App | None = None) -> dict[str, Stack]:
    """Every CDK stack of one environment (main first), added to `app` (a new pinned App when None).

    Each stack object carries `tables` (table key → aws_dynamodb.Table) and `tenant_policies`
    (aws_iam.ManagedPolicy, in order), for CDK code that grants or references them.
    """
    app = app if app is not None else new_app()
    return {name: _build_stack(resolved, name, tables, app) for name, tables in resolved.stacks.items()}


def build_stack(resolved: ResolvedSchema, app: App | None = None) -> Stack:
    """The stack of an environment that has one (`build_stacks` for several)."""
    _one_stack(resolved)
    [stack] = build_stacks(resolved, app).values()
    return stack


def _build_stack(resolved: ResolvedSchema, name: str, tables: dict[str, ResolvedTable], app: App) -> Stack:
    cdk, _, _, _ = _cdk()
    env = None
    if resolved.region or resolved.account:
        # Only what the schema says: an unset account stays ${AWS::AccountId}, resolved at deploy.
        env = cdk.Environment(account=resolved.account, region=resolved.region)
    stack = cdk.Stack(
        app, name,
        stack_name=name,
        env=env,
        synthesizer=cdk.BootstraplessSynthesizer(),
        analytics_reporting=False,
        description=f"DynamoDB tables of {resolved.app} ({resolved.env}), generated by jobwork-infra "
                    "from the schema: edit tables.yaml, not this template.",
    )
    stack.template_options.metadata = template_metadata(resolved, name)

    constructs = {key: _table(stack, table) for key, table in tables.items()}
    # Tables with secondary indexes are created a few at a time (budgets.INDEX_CREATION_LANES).
    for key, waits_for in index_lanes(tables).items():
        constructs[key].node.add_dependency(constructs[waits_for])
    policies, read_policies = _tenant_policies(stack, resolved, name, tables, constructs)
    roles = _tenant_roles(stack, resolved, name, policies, read_policies)
    _outputs(stack, tables, constructs, policies, read_policies, roles)
    stack.tables = constructs
    stack.tenant_policies = policies
    stack.tenant_read_policies = read_policies
    stack.tenant_roles = roles
    return stack


def _table(stack: Stack, table: ResolvedTable):
    cdk, ddb, _, kms = _cdk()

    def attribute(key):
        return ddb.Attribute(name=key.name, type=ddb.AttributeType(_ATTRIBUTE_TYPES[key.type])) if key else None

    options: dict[str, Any] = {}
    if table.billing == "provisioned":
        options.update(billing_mode=ddb.BillingMode.PROVISIONED,
                       read_capacity=table.capacity.read, write_capacity=table.capacity.write)
    else:
        options["billing_mode"] = ddb.BillingMode.PAY_PER_REQUEST
    encryption = table.encryption
    if encryption.type == "aws_managed":
        options["encryption"] = ddb.TableEncryption.AWS_MANAGED
    elif encryption.type == "customer_managed":
        options["encryption"] = ddb.TableEncryption.CUSTOMER_MANAGED
        options["encryption_key"] = kms.Key.from_key_arn(stack, f"{table.logical_id}Key", encryption.kms_key_arn)
    if table.stream:
        options["stream"] = ddb.StreamViewType(_STREAMS[table.stream])
    if table.ttl:
        options["time_to_live_attribute"] = table.ttl

    construct = ddb.Table(
        stack, table.logical_id,
        table_name=table.physical_name,
        partition_key=attribute(table.partition_key),
        sort_key=attribute(table.sort_key),
        # Written out even at their defaults, so that turning an option off is a visible change.
        table_class=ddb.TableClass(_TABLE_CLASSES[table.table_class]),
        point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=table.point_in_time_recovery),
        deletion_protection=table.deletion_protection,
        removal_policy=_REMOVAL[table.removal_policy](cdk.RemovalPolicy),
        **options,
    )
    for index in table.global_indexes:
        capacity = {}
        if table.billing == "provisioned" and index.capacity:
            capacity = {"read_capacity": index.capacity.read, "write_capacity": index.capacity.write}
        construct.add_global_secondary_index(
            index_name=index.name,
            partition_key=attribute(index.partition_key),
            sort_key=attribute(index.sort_key),
            **_projection(ddb, index.projection),
            **capacity,
        )
    for index in table.local_indexes:
        construct.add_local_secondary_index(
            index_name=index.name, sort_key=attribute(index.sort_key), **_projection(ddb, index.projection))

    resource = construct.node.default_child
    resource.override_logical_id(table.logical_id)
    # One property override instead of a Tags aspect per tag: the same sorted Key/Value list CDK's
    # tag manager renders, at a quarter of the calls into Node.js (synth of 1,000 tables: −1.5 s).
    resource.add_property_override("Tags", [{"Key": k, "Value": v} for k, v in sorted(table.tags.items())])
    for name, value in options_to_template(table).items():  # the registered options (table_options.py)
        resource.add_property_override(name, value)
    # The index options, at the index's place in the list CDK renders (the order they were added).
    for position, index in enumerate(table.global_indexes):
        for name, value in index_options_to_template(index).items():
            resource.add_property_override(f"GlobalSecondaryIndexes.{position}.{name}", value)
    return construct


_ATTRIBUTE_TYPES = {"S": "STRING", "N": "NUMBER", "B": "BINARY"}
_STREAMS = {"keys_only": "KEYS_ONLY", "new_image": "NEW_IMAGE", "old_image": "OLD_IMAGE",
            "new_and_old_images": "NEW_AND_OLD_IMAGES"}
_TABLE_CLASSES = {"standard": "STANDARD", "infrequent_access": "STANDARD_INFREQUENT_ACCESS"}
# CloudFormation accepts the Snapshot policy only on resource types that have snapshots (RDS, EBS,
# ElastiCache, …), not on AWS::DynamoDB::Table: a template with it fails validation. `snapshot`
# therefore compiles to Retain, the one policy that still keeps the data; take backups with PITR
# or AWS Backup.
_REMOVAL = {"destroy": lambda p: p.DESTROY, "retain": lambda p: p.RETAIN}


def _projection(ddb, projection) -> dict[str, Any]:
    if projection.type == "keys_only":
        return {"projection_type": ddb.ProjectionType.KEYS_ONLY}
    if projection.type == "include":
        return {"projection_type": ddb.ProjectionType.INCLUDE, "non_key_attributes": list(projection.attributes)}
    return {"projection_type": ddb.ProjectionType.ALL}


def _outputs(stack: Stack, tables: dict[str, ResolvedTable], constructs: dict, policies: list, read_policies: list,
             roles: list) -> None:
    """A fixed set of outputs, plus one per table with a stream (a stream ARN cannot be derived).

    Names and ARNs follow from the schema (`naming`), so they are not outputs: the manifest in the
    template metadata lists them, and TableArnPrefix + name gives any table's ARN.
    """
    cdk, *_ = _cdk()
    fixed = fixed_output_ids(bool(policies), bool(roles))
    values = {
        "TableArnPrefix": (cdk.Fn.sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"),
                           "Prefix of every table ARN of this stack: append the table name."),
        "TenantDataAccessPolicyArns": (
            cdk.Fn.join(",", [p.managed_policy_arn for p in policies]) if policies else None,
            "Attach every one of these managed policies to the roles that serve one tenant's requests."),
        "TenantDataReadPolicyArns": (
            cdk.Fn.join(",", [p.managed_policy_arn for p in read_policies]) if read_policies else None,
            "Attach every one of these managed policies to the roles that only read one tenant's items."),
    }
    for role_id, role in zip(ROLE_IDS, roles, strict=False):
        values[f"{role_id}Arn"] = (role.role_arn, "The role that serves one tenant's requests (assume it with the "
                                   "tenant's session tag)." if role_id == ROLE_IDS[0] else "The role that reads one "
                                   "tenant's items (assume it with the tenant's session tag).")
    for output_id in fixed:
        value, description = values[output_id]
        cdk.CfnOutput(stack, output_id, value=value, description=description).override_logical_id(output_id)
    for key, table in tables.items():
        if table.stream:
            output_id = stream_output_id(table)
            cdk.CfnOutput(stack, output_id, value=constructs[key].table_stream_arn,
                          description=f"The stream ARN of the {key} table.").override_logical_id(output_id)


def _tenant_policies(stack: Stack, resolved: ResolvedSchema, name: str, tables: dict[str, ResolvedTable],
                     constructs: dict) -> tuple[list, list]:
    """The managed policies that confine a principal to its own tenant's items, packed by
    `budgets.pack_tenant_policies` so that none passes IAM's 6,144 characters: the read-write ones
    (TenantDataAccess; read actions only on tables with `tenant_access: read`) and, for the same
    tables, their read-only twins (TenantDataRead).

    No tenant-scoped table, no policy: IAM rejects a statement without resources, and an empty
    policy would only suggest an isolation that does not exist.
    """
    cdk, _, iam, _ = _cdk()
    # The principal's session tag carries its tenant; by convention the tag is named like the
    # tenancy attribute (tenant_id), so the condition reads the same as the key it guards.
    tenant_tag = "${aws:PrincipalTag/" + resolved.tenancy_attribute + "}"
    condition = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [tenant_tag]}}
    packed_policies = pack_tenant_policies(name, tables, resolved.tenancy_attribute, resolved.region)
    policies, read_policies = [], []
    for packed in packed_policies:
        write, read = policy_resources(packed.tables, tables, lambda t: constructs[t.key].table_arn)
        key_arns = sorted({a for k in packed.tables if (a := table_key_arn(tables[k]))})
        for read_only in (False, True):
            statements = []
            # The same statements, in the same order, as budgets.policy_document counts them.
            if write and not read_only:
                statements.append(iam.PolicyStatement(sid="TenantItemsOnly", actions=list(TENANT_ACTIONS),
                                                      resources=write, conditions=condition))
            if read or read_only:
                statements.append(iam.PolicyStatement(sid="TenantItemsReadOnly", actions=list(READ_ACTIONS),
                                                      resources=[*write, *read] if read_only else read,
                                                      conditions=condition))
            if key_arns:
                statements.append(iam.PolicyStatement(
                    sid="TableEncryptionKeys", actions=list(KMS_READ_ACTIONS if read_only else KMS_ACTIONS),
                    resources=key_arns,
                    # The key serves DynamoDB's calls on the principal's behalf, and nothing else.
                    conditions={"StringEquals": {"kms:ViaService": cdk.Fn.sub("dynamodb.${AWS::Region}.amazonaws.com")}}))
            logical = (read_policy_id if read_only else policy_id)(packed.number)
            policy = iam.ManagedPolicy(
                stack, logical,
                managed_policy_name=read_policy_name(name, packed.number) if read_only else packed.name,
                description=policy_description(name, packed.number, len(packed_policies), resolved.tenancy_attribute,
                                               read_only=read_only),
                statements=statements,
            )
            policy.node.default_child.override_logical_id(logical)
            (read_policies if read_only else policies).append(policy)
    # Policy N waits for N+1: a table moving to a higher-numbered policy (the only way tables move
    # when one is added, see pack_tenant_policies) is granted there before it leaves the old one.
    for group in (policies, read_policies):
        for lower, higher in itertools.pairwise(group):
            lower.node.add_dependency(higher)
    return policies, read_policies


def _tenant_roles(stack: Stack, resolved: ResolvedSchema, name: str, policies: list, read_policies: list) -> list:
    """With `tenancy.assumed_by`, the two roles a tenant session assumes: read-write and read-only.

    Their trust policy lets only that principal assume them, with sts:TagSession and a non-empty tag
    named like the tenancy attribute: the tag the policies' LeadingKeys condition reads
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required).
    """
    if not resolved.tenant_role_assumed_by or not policies:
        return []
    _, _, iam, _ = _cdk()
    roles = []
    for role_id, attached, what in ((ROLE_IDS[0], policies, "Serves one tenant's requests"),
                                    (ROLE_IDS[1], read_policies, "Reads one tenant's items")):
        principal = iam.ArnPrincipal(resolved.tenant_role_assumed_by).with_conditions(
            {"StringLike": {f"aws:RequestTag/{resolved.tenancy_attribute}": "?*"}}).with_session_tags()
        role = iam.Role(stack, role_id, assumed_by=principal, managed_policies=attached,
                        description=f"{what} in {name}: assumed with the session tag "
                                    f"{resolved.tenancy_attribute}=<tenant>.")
        role.node.default_child.override_logical_id(role_id)
        roles.append(role)
    return roles


def synth_assembly(resolved: ResolvedSchema, out_dir: str | Path) -> dict[str, Path]:
    """Write the cloud assembly (every stack of the environment) to `out_dir`; stack name → template path."""
    out_dir = Path(out_dir)
    try:  # here, not in Node.js, whose error for it would read as an internal failure
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobworkError(f"cannot write the cloud assembly to {out_dir}: {exc.strerror or exc}",
                           "pass --out with a folder you can write to") from exc
    app = new_app(out_dir)
    stacks = build_stacks(resolved, app)
    app.synth()
    return {name: out_dir / stack.template_file for name, stack in stacks.items()}


def synth_templates(resolved: ResolvedSchema) -> dict[str, dict[str, Any]]:
    """Every CloudFormation template of one environment: stack name → template (main stack first)."""
    with tempfile.TemporaryDirectory(prefix="jobwork-synth-") as tmp:
        return {name: json.loads(path.read_text()) for name, path in synth_assembly(resolved, tmp).items()}


def synth_template(resolved: ResolvedSchema) -> dict[str, Any]:
    """The template of an environment that has one stack (`synth_templates` for several)."""
    _one_stack(resolved)
    [template] = synth_templates(resolved).values()
    return template


def _one_stack(resolved: ResolvedSchema) -> None:
    """Refuse, for the single-stack callers (the CloudFormation deploy), an environment whose tables
    are not all in its main stack: they would be deployed under the wrong stack name or not at all."""
    stacks = resolved.stacks
    if list(stacks) != [resolved.stack_name]:
        raise JobworkError(f"environment {resolved.env} has its tables in the stack(s) {', '.join(stacks)}, and "
                           f"this step handles only the main stack {resolved.stack_name}",
                           f"`jobwork-infra synth --env {resolved.env}` writes every stack; deploying several stacks "
                           "through CloudFormation is not supported yet")
