"""ResolvedSchema → CDK stack → CloudFormation template. The only module that imports aws_cdk.

One stack `{app}-{env}` of `aws_dynamodb.Table` (not TableV2: local engines lack
AWS::DynamoDB::GlobalTable) with the BootstraplessSynthesizer, so a template needs no bootstrap stack
and no asset bucket. Every logical ID is set from the schema (`ResolvedTable.logical_id`), never
from the construct path, so refactoring this module can never replace a live table.

aws_cdk is imported inside the functions: importing it starts a Node.js process (about a second),
which commands that never synth must not pay. The imports are cached by Python, so calling
`synth_template` several times in one process (the staged CloudFormation deploy does) pays once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import JobworkError

if TYPE_CHECKING:  # pragma: no cover
    from aws_cdk import App, Stack

    from .model import ResolvedSchema, ResolvedTable

POLICY_ID = "TenantDataAccess"
POLICY_OUTPUT_ID = "TenantDataAccessPolicyArn"
METADATA_KEY = "JobworkInfra"

# Item-level actions a tenant's principal needs. Scan is left out on purpose: LeadingKeys cannot
# limit a Scan to one partition, so allowing it would let a tenant read every tenant's items.
TENANT_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
# Reading and writing items of a table encrypted with a customer managed key also needs the key.
KMS_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")

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


def output_ids(table: ResolvedTable) -> dict[str, str]:
    """The stable output ids of one table: what deploy prints and applications read."""
    base = table.logical_id  # UsersTable
    ids = {"name": f"{base}Name", "arn": f"{base}Arn"}
    if table.stream:
        ids["stream_arn"] = f"{base}StreamArn"
    return ids


def template_metadata(resolved: ResolvedSchema) -> dict[str, Any]:
    """What a deployed stack says about the schema that made it; deploy compares SchemaHash."""
    return {METADATA_KEY: {"SchemaHash": resolved.schema_hash, "Version": __version__,
                           "Environment": resolved.env}}


def build_stack(resolved: ResolvedSchema, app: App | None = None) -> Stack:
    """The CDK stack of one environment, added to `app` (a new pinned App when None)."""
    cdk, _, _, _ = _cdk()
    app = app if app is not None else new_app()
    env = None
    if resolved.region or resolved.account:
        # Only what the schema says: an unset account stays ${AWS::AccountId}, resolved at deploy.
        env = cdk.Environment(account=resolved.account, region=resolved.region)
    stack = cdk.Stack(
        app, resolved.stack_name,
        stack_name=resolved.stack_name,
        env=env,
        synthesizer=cdk.BootstraplessSynthesizer(),
        analytics_reporting=False,
        description=f"DynamoDB tables of {resolved.app} ({resolved.env}), generated by jobwork-infra "
                    "from the schema: edit tables.yaml, not this template.",
    )
    stack.template_options.metadata = template_metadata(resolved)

    tables = {key: _table(stack, table) for key, table in resolved.tables.items()}
    for key, table in resolved.tables.items():
        _table_outputs(stack, table, tables[key])
    _tenant_policy(stack, resolved, tables)
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

    construct.node.default_child.override_logical_id(table.logical_id)
    for key, value in table.tags.items():
        cdk.Tags.of(construct).add(key, value)
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


def _table_outputs(stack: Stack, table: ResolvedTable, construct) -> None:
    cdk, *_ = _cdk()
    ids = output_ids(table)
    values = {"name": (construct.table_name, "name"), "arn": (construct.table_arn, "ARN"),
              "stream_arn": (construct.table_stream_arn, "stream ARN")}
    for kind, output_id in ids.items():
        value, what = values[kind]
        output = cdk.CfnOutput(stack, output_id, value=value, description=f"The {what} of the {table.key} table.")
        output.override_logical_id(output_id)


def _tenant_policy(stack: Stack, resolved: ResolvedSchema, tables: dict) -> None:
    """The one managed policy that confines a principal to its own tenant's items.

    DynamoDB checks `dynamodb:LeadingKeys` against the partition key of every item a request
    touches, so the condition holds only on tables and indexes whose partition key is the tenancy
    attribute: those are exactly the tenant-scoped ones. A tenant_scoped: false index (login lookup
    by cognito_sub) is left out; the backend reaches it with its own role.

    No tenant-scoped table, no policy: IAM rejects a statement without resources, and an empty
    policy would only suggest an isolation that does not exist.
    """
    cdk, _, iam, _ = _cdk()
    resources: list[str] = []
    key_arns: list[str] = []
    for key, table in resolved.tables.items():
        if not table.tenant_scoped:
            continue
        arn = tables[key].table_arn
        resources.append(arn)
        resources += [f"{arn}/index/{index.name}" for index in table.global_indexes if index.tenant_scoped]
        # LSIs share the table's partition key, so they are always as scoped as their table.
        resources += [f"{arn}/index/{index.name}" for index in table.local_indexes]
        # IAM authorizes KMS calls against the key's ARN, never an alias ARN: an alias-encrypted
        # table needs the key policy to admit the tenant roles (said in docs/synth.md).
        if table.encryption.type == "customer_managed" and ":key/" in (table.encryption.kms_key_arn or ""):
            key_arns.append(table.encryption.kms_key_arn)
    if not resources:
        return
    # The principal's session tag carries its tenant; by convention the tag is named like the
    # tenancy attribute (tenant_id), so the condition reads the same as the key it guards.
    tenant_tag = "${aws:PrincipalTag/" + resolved.tenancy_attribute + "}"
    statements = [iam.PolicyStatement(
        sid="TenantItemsOnly",
        actions=list(TENANT_ACTIONS),
        resources=resources,
        conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [tenant_tag]}},
    )]
    if key_arns:
        statements.append(iam.PolicyStatement(
            sid="TableEncryptionKeys", actions=list(KMS_ACTIONS), resources=sorted(set(key_arns))))
    policy = iam.ManagedPolicy(
        stack, POLICY_ID,
        managed_policy_name=f"{resolved.stack_name}-{POLICY_ID}",
        description=f"Item access to the tenant-scoped tables of {resolved.stack_name}, "
                    f"limited to the caller's own {resolved.tenancy_attribute} (principal tag).",
        statements=statements,
    )
    policy.node.default_child.override_logical_id(POLICY_ID)
    output = cdk.CfnOutput(stack, POLICY_OUTPUT_ID, value=policy.managed_policy_arn,
                           description="Attach to the roles that serve one tenant's requests.")
    output.override_logical_id(POLICY_OUTPUT_ID)


def synth_assembly(resolved: ResolvedSchema, out_dir: str | Path) -> Path:
    """Write the cloud assembly to `out_dir`; returns the path of the stack's template."""
    out_dir = Path(out_dir)
    try:  # here, not in Node.js, whose error for it would read as an internal failure
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobworkError(f"cannot write the cloud assembly to {out_dir}: {exc.strerror or exc}",
                           "pass --out with a folder you can write to") from exc
    app = new_app(out_dir)
    stack = build_stack(resolved, app)
    app.synth()
    return out_dir / stack.template_file


def synth_template(resolved: ResolvedSchema) -> dict[str, Any]:
    """The CloudFormation template of one environment, as a dict (the JSON CDK writes)."""
    with tempfile.TemporaryDirectory(prefix="jobwork-synth-") as tmp:
        return json.loads(synth_assembly(resolved, tmp).read_text())
