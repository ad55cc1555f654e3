"""What each stack of an environment uses of AWS's hard limits, computed from the resolved schema.

validate must see every wall a deploy would meet, without importing aws_cdk (a synth of 10,000
tables takes a minute; this takes milliseconds per hundred tables). So this module states what
compile builds, as data: which stacks, which resources, how the tenant tables are packed into
managed policies, how many outputs, and an estimate of the template's size. compile uses the same
packing and the same wave lanes, so the two cannot disagree on what goes where; a slow test
compares the size estimate with real synth output (tests/unit/test_budgets.py).

Limits, with their sources:
- CloudFormation: 500 resources, 200 outputs, 200 parameters per template; a template body of
  51,200 bytes inline, 1 MB from S3.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
- IAM: a managed policy document is at most 6,144 characters, "IAM does not count white space";
  names of policies are at most 128 characters; a role holds 10 managed policies by default, 20 at
  most after a quota increase.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
- Stack names: at most 128 characters (CreateStack API reference).
- Tags: 50 per resource, keys up to 128 and values up to 256 characters, the `aws:` prefix
  reserved. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Tagging.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .model import ResolvedSchema, ResolvedTable
from .table_options import index_options_to_template, options_to_template

MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_PARAMETERS = 200
MAX_TEMPLATE_INLINE = 51_200
# "1 MB" in the quotas page; the smaller reading of it, so an estimate near the line errs safe.
MAX_TEMPLATE_S3 = 1_000_000
MAX_POLICY_CHARS = 6_144
MAX_NAME = 128
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
POLICIES_PER_ROLE = 10       # the default quota of managed policies attached to one role
POLICIES_PER_ROLE_MAX = 20   # after a quota increase
WARN_AT = 0.8

# Tables with secondary indexes are created in this many parallel lanes at most (DependsOn chains).
# The CloudFormation reference: "if your template includes multiple DynamoDB tables with indexes,
# you must declare dependencies so that the tables are created sequentially"
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html).
# DynamoDB's LimitExceededException has said 1, then 25, now 250 tables with indexes CREATING at
# once, "however, if the table or index specifications are complex, DynamoDB might temporarily
# reduce the number of concurrent operations". 10 stays far below every figure but the oldest.
INDEX_CREATION_LANES = 10

# ARNs as IAM stores them once CloudFormation resolved them: the account is always 12 digits; an
# environment without a region is counted with the longest region and partition names there are
# (us-gov-west-1 is shorter than ap-southeast-2, but aws-us-gov is longer than aws: both maxima).
LONGEST_REGION = "ap-southeast-2"
LONGEST_PARTITION = "aws-us-gov"
ACCOUNT = "123456789012"

POLICY_ID = "TenantDataAccess"
# Item-level actions a tenant's principal needs. Scan is left out on purpose: LeadingKeys cannot
# limit a Scan to one partition, so allowing it would let a tenant read every tenant's items.
# PartiQL (ExecuteStatement) is left out too: its condition keys are not those of item calls.
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
# Reading and writing items of a table encrypted with a customer managed key also needs the key,
# and only through DynamoDB: kms:ViaService keeps the grant from being used on KMS directly.
KMS_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
# What a tenant principal may do to a `tenant_access: read` table, and all a read-only principal may
# do (ConditionCheckItem lets a transaction check an item it does not write).
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem")
KMS_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
# The read-only twin of each TenantDataAccess policy (same tables, read actions only); shorter than
# POLICY_ID so that B005's name check of the read-write policy covers it.
READ_POLICY_ID = "TenantDataRead"
ROLE_IDS = ("TenantDataRole", "TenantDataReadRole")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def policy_id(number: int) -> str:
    """TenantDataAccess, TenantDataAccess2, …: the first keeps the id a one-policy stack always had."""
    return POLICY_ID if number == 1 else f"{POLICY_ID}{number}"


def policy_name(stack: str, number: int) -> str:
    return f"{stack}-{policy_id(number)}"


def read_policy_id(number: int) -> str:
    return READ_POLICY_ID if number == 1 else f"{READ_POLICY_ID}{number}"


def read_policy_name(stack: str, number: int) -> str:
    return f"{stack}-{read_policy_id(number)}"


def policy_description(stack: str, number: int, parts: int, tenancy_attribute: str, *, read_only: bool) -> str:
    """What compile writes as the policy's description ("(part N)" only when there are several)."""
    part = f" (part {number})" if parts > 1 else ""
    what = "Read-only item access" if read_only else "Item access"
    return (f"{what} to tenant-scoped tables of {stack}{part}, limited to the caller's own {tenancy_attribute} "
            "(principal tag).")


def tenant_resources(table: ResolvedTable) -> list[str]:
    """The suffixes after the table ARN this table grants: '' for the table, '/index/NAME' per index.

    DynamoDB checks `dynamodb:LeadingKeys` against the partition key of every item a request
    touches, so the condition holds only on tables and indexes whose partition key is the tenancy
    attribute: the tenant-scoped ones. LSIs share the table's partition key, so they are always as
    scoped as their table. A `tenant_scoped: false` index is left out; the backend reaches it with
    a role of its own.
    """
    if not table.tenant_scoped:
        return []
    return ([""] + [f"/index/{i.name}" for i in table.global_indexes if i.tenant_scoped]
            + [f"/index/{i.name}" for i in table.local_indexes])


def table_key_arn(table: ResolvedTable) -> str | None:
    """The KMS key a tenant-scoped table needs; an alias ARN never authorizes (docs/synth.md)."""
    arn = table.encryption.kms_key_arn or ""
    if table.tenant_scoped and table.encryption.type == "customer_managed" and ":key/" in arn:
        return arn
    return None


def policy_document(resources: list[str], key_arns: list[str], tenancy_attribute: str, region: str,
                    read_resources: list[str] | tuple[str, ...] = (), *, read_only: bool = False) -> dict:
    """The document as IAM stores it (intrinsics resolved); compile writes the same with tokens.

    `resources` get every item action, `read_resources` (tables with tenant_access: read) the read
    actions only; `read_only` makes the read-only twin (read actions on both).
    """
    def one_or_many(values: list[str]):
        return values[0] if len(values) == 1 else values  # as CDK renders a single resource

    condition = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/" + tenancy_attribute + "}"]}}
    if read_only:
        resources, read_resources = [], [*resources, *read_resources]
    statements = []
    if resources:
        statements.append({"Action": list(TENANT_ACTIONS), "Condition": condition, "Effect": "Allow",
                           "Resource": one_or_many(resources), "Sid": "TenantItemsOnly"})
    if read_resources:
        statements.append({"Action": list(READ_ACTIONS), "Condition": condition, "Effect": "Allow",
                           "Resource": one_or_many(list(read_resources)), "Sid": "TenantItemsReadOnly"})
    if key_arns:
        statements.append({
            "Action": list(KMS_READ_ACTIONS if read_only else KMS_ACTIONS),
            "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": one_or_many(key_arns),
            "Sid": "TableEncryptionKeys",
        })
    return {"Statement": statements, "Version": "2012-10-17"}


def iam_characters(document: dict) -> int:
    """Characters as IAM counts them: the JSON without any white space."""
    text = _COMPACT.encode(document)
    return len(text) - sum(text.count(c) for c in " \t\n\r")


@dataclass
class TenantPolicy:
    number: int
    name: str
    tables: list[str] = field(default_factory=list)
    characters: int = 0
    read_characters: int = 0    # of its read-only twin (TenantDataRead)


def pack_tenant_policies(stack: str, tables: dict[str, ResolvedTable], tenancy_attribute: str,
                         region: str | None) -> list[TenantPolicy]:
    """The tenant-scoped tables of one stack in managed policies of at most 6,144 characters each.

    Next-fit in schema order: a table goes into the current policy if its ARNs still fit, else it
    opens the next one. This is deterministic, and it has the property the deploy relies on:
    adding a table (or an index) anywhere moves the tables after it only to the same or a
    higher-numbered policy, never a lower one. compile makes policy N depend on policy N+1, so
    CloudFormation creates or updates the higher-numbered policy (the new home) before it changes
    the lower one (the old home): a moving table never loses its permission. A table appended at
    the end of the schema moves nothing. (The first table with a customer managed key reserves
    room for the KMS statement in every policy: less room also moves tables only forward.)
    """
    region_name = region or LONGEST_REGION
    partition = partition_of(region) if region else LONGEST_PARTITION
    prefix = f"arn:{partition}:dynamodb:{region_name}:{ACCOUNT}:table/"
    empty = policy_document(["", ""], [], tenancy_attribute, region_name)
    base = iam_characters(empty) - 2 * len('""') - 1  # the skeleton with an empty resource list
    kms_base = iam_characters(policy_document([""], ["", ""], tenancy_attribute, region_name)) - iam_characters(
        policy_document([""], [], tenancy_attribute, region_name)) - 2 * len('""') - 1

    # Every size below is independent of the other tables: a table costs its ARNs and its key ARN
    # (counted even when another table of the policy has the same key), and the KMS statement's
    # skeleton is reserved in every policy of a stack that has any key. Sizes that do not depend
    # on the neighbours are what makes next-fit move tables only forward when one is added.
    capacity = MAX_POLICY_CHARS - (kms_base + 1 if any(table_key_arn(t) for t in tables.values()) else 0)
    if any(t.tenant_access == "read" and tenant_resources(t) for t in tables.values()):
        # the read statement's skeleton, reserved in every policy like the KMS one (forward moves only)
        capacity -= iam_characters(policy_document([""], [], tenancy_attribute, region_name, ["", ""])) \
            - iam_characters(policy_document([""], [], tenancy_attribute, region_name)) - 2 * len('""') - 1
    policies: list[TenantPolicy] = []
    used = 0
    for key, table in tables.items():
        suffixes = tenant_resources(table)
        if not suffixes:
            continue
        # names and ARNs need no JSON escapes (N101, N102): quoted length is length + 2
        cost = sum(len(prefix) + len(table.physical_name) + len(s) + 3 for s in suffixes)
        if key_arn := table_key_arn(table):
            cost += len(json.dumps(key_arn)) + 1
        if not policies or used + cost > capacity:
            number = len(policies) + 1
            policies.append(TenantPolicy(number, policy_name(stack, number)))
            used = base
        policies[-1].tables.append(key)
        used += cost
    for policy in policies:
        resources, read = policy_resources(policy.tables, tables, lambda t: prefix + t.physical_name)
        key_arns = sorted({a for k in policy.tables if (a := table_key_arn(tables[k]))})
        policy.characters = iam_characters(policy_document(resources, key_arns, tenancy_attribute, region_name, read))
        policy.read_characters = iam_characters(policy_document(resources, key_arns, tenancy_attribute, region_name,
                                                                read, read_only=True))
    return policies


def policy_resources(keys: list[str], tables: dict[str, ResolvedTable], arn) -> tuple[list, list]:
    """(resources with every item action, resources with read actions only) of a policy's tables."""
    write: list = []
    read: list = []
    for key in keys:
        table = tables[key]
        target = read if table.tenant_access == "read" else write
        target += [arn(table) + suffix for suffix in tenant_resources(table)]
    return write, read


def index_lanes(tables: dict[str, ResolvedTable]) -> dict[str, str]:
    """Table key → the table it waits for (DependsOn): the tables with secondary indexes form
    INDEX_CREATION_LANES chains, so at most that many are CREATING at once on a first deploy."""
    indexed = [key for key, t in tables.items() if t.global_indexes or t.local_indexes]
    return {key: indexed[i - INDEX_CREATION_LANES] for i, key in enumerate(indexed) if i >= INDEX_CREATION_LANES}


def stream_output_id(table: ResolvedTable) -> str:
    return f"{table.logical_id}StreamArn"


def fixed_output_ids(has_policies: bool, has_roles: bool = False) -> list[str]:
    """Outputs every stack has, whatever its size (see docs/synth.md, "Outputs")."""
    return ["TableArnPrefix"] + (["TenantDataAccessPolicyArns", "TenantDataReadPolicyArns"] if has_policies else []) \
        + ([f"{role}Arn" for role in ROLE_IDS] if has_policies and has_roles else [])


# ---------------------------------------------------------------------------------------------
# Per-stack usage

@dataclass
class StackUsage:
    """What one stack uses of each limit; `crossing` says at which table a line is crossed."""

    name: str
    tables: list[str]
    resources: int
    outputs: int
    parameters: int
    template_bytes: int
    policies: list[TenantPolicy]
    # budget → [(table key, cumulative use after it)], in schema order, for locating crossings
    running: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @property
    def largest_policy(self) -> int:
        return max((p.characters for p in self.policies), default=0)

    def as_dict(self) -> dict:
        return {
            "stack": self.name,
            "tables": len(self.tables),
            "resources": {"used": self.resources, "limit": MAX_RESOURCES},
            "outputs": {"used": self.outputs, "limit": MAX_OUTPUTS},
            "parameters": {"used": self.parameters, "limit": MAX_PARAMETERS},
            "template_bytes": {"used": self.template_bytes, "inline_limit": MAX_TEMPLATE_INLINE,
                               "s3_limit": MAX_TEMPLATE_S3},
            "tenant_policies": [{"name": p.name, "tables": len(p.tables), "characters": p.characters,
                                 "limit": MAX_POLICY_CHARS} for p in self.policies],
        }


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps(…, separators) builds one per call


def _compact(value) -> int:
    return len(_COMPACT.encode(value))


_TYPES = {"standard": "STANDARD", "infrequent_access": "STANDARD_INFREQUENT_ACCESS"}


def table_resource(table: ResolvedTable, waits_for: str | None = None) -> dict:
    """A sketch of the AWS::DynamoDB::Table compile writes: the same properties and sizes."""
    key_names = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    for index in table.global_indexes:
        key_names += [index.partition_key] + ([index.sort_key] if index.sort_key else [])
    key_names += [index.sort_key for index in table.local_indexes]
    definitions = {k.name: k.type for k in key_names}

    def schema(pk, sk):
        return [{"AttributeName": pk.name, "KeyType": "HASH"}] + (
            [{"AttributeName": sk.name, "KeyType": "RANGE"}] if sk else [])

    def projection(p):
        kind = {"all": "ALL", "keys_only": "KEYS_ONLY", "include": "INCLUDE"}[p.type]
        return {"NonKeyAttributes": list(p.attributes), "ProjectionType": kind} if p.attributes else {"ProjectionType": kind}

    def throughput(capacity):
        return {"ProvisionedThroughput": {"ReadCapacityUnits": capacity.read, "WriteCapacityUnits": capacity.write}} \
            if capacity else {}

    props: dict = {"AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()]}
    if table.billing == "on_demand":
        props["BillingMode"] = "PAY_PER_REQUEST"
    props["DeletionProtectionEnabled"] = table.deletion_protection
    if table.global_indexes:
        props["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": schema(i.partition_key, i.sort_key), "Projection": projection(i.projection),
             **throughput(i.capacity), **index_options_to_template(i)} for i in table.global_indexes]
    props["KeySchema"] = schema(table.partition_key, table.sort_key)
    if table.local_indexes:
        props["LocalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": schema(table.partition_key, i.sort_key), "Projection": projection(i.projection)}
            for i in table.local_indexes]
    props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": table.point_in_time_recovery}
    props.update(options_to_template(table))
    props.update(throughput(table.capacity))
    if table.encryption.type == "aws_managed":
        props["SSESpecification"] = {"SSEEnabled": True}
    elif table.encryption.type == "customer_managed":
        props["SSESpecification"] = {"KMSMasterKeyId": table.encryption.kms_key_arn, "SSEEnabled": True, "SSEType": "KMS"}
    if table.stream:
        props["StreamSpecification"] = {"StreamViewType": table.stream.upper()}
    props["TableClass"] = _TYPES[table.table_class]
    props["TableName"] = table.physical_name
    props["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(table.tags.items())]
    if table.ttl:
        props["TimeToLiveSpecification"] = {"AttributeName": table.ttl, "Enabled": True}
    policy = "Delete" if table.removal_policy == "destroy" else "Retain"
    resource = {"Type": "AWS::DynamoDB::Table", "Properties": props, "UpdateReplacePolicy": policy,
                "DeletionPolicy": policy}
    if waits_for:
        resource["DependsOn"] = [waits_for]
    return resource


def _table_bytes(table: ResolvedTable, waits_for: str | None) -> int:
    size = len(json.dumps(table.logical_id)) + 2 + _compact(table_resource(table, waits_for))  # "Id":{…},
    # each tenant ARN in a policy: {"Fn::Join":["",[{"Fn::GetAtt":["Id","Arn"]},"/index/x"]]},
    for suffix in tenant_resources(table):  # twice: in the read-write policy and its read-only twin
        arn = _compact({"Fn::GetAtt": [table.logical_id, "Arn"]})
        size += 2 * (1 + (arn if not suffix else _compact({"Fn::Join": ["", [{"Fn::GetAtt": [table.logical_id, "Arn"]},
                                                                              suffix]]})))
    if table.stream:
        size += 1 + _compact({stream_output_id(table): {
            "Description": f"The stream ARN of the {table.key} table.",
            "Value": {"Fn::GetAtt": [table.logical_id, "StreamArn"]}}}) - 2
    return size


def _skeleton_bytes(resolved: ResolvedSchema, stack: str, tables: dict[str, ResolvedTable],
                    policies: list[TenantPolicy]) -> int:
    """The template without its tables: description, metadata, the policies' fixed parts, outputs."""
    skeleton = {
        "Description": f"DynamoDB tables of {resolved.app} ({resolved.env}), generated by jobwork-infra "
                       "from the schema: edit tables.yaml, not this template.",
        "Metadata": {"JobworkInfra": {"SchemaHash": "0" * 64, "Version": "0.0.0", "Environment": resolved.env,
                                      "Tables": {}}},
        "Resources": {},
        "Outputs": {"TableArnPrefix": {
            "Description": "Prefix of every table ARN of this stack: append the table name.",
            "Value": {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"}}},
    }
    size = _compact(skeleton)
    for policy in policies:
        key_arns = sorted({a for k in policy.tables if (a := table_key_arn(tables[k]))})
        write, read = policy_resources(policy.tables, tables, lambda t: "")
        for read_only in (False, True):
            document = policy_document(["x"] * bool(write) if not read_only else [], key_arns,
                                       resolved.tenancy_attribute, "${AWS::Region}",
                                       ["x"] if read or read_only else [], read_only=read_only)
            for statement in document["Statement"]:
                if "Condition" in statement and "kms:ViaService" in statement["Condition"].get("StringEquals", {}):
                    # the region is a token: {"Fn::Sub":"dynamodb.${AWS::Region}.amazonaws.com"}
                    statement["Condition"]["StringEquals"]["kms:ViaService"] = {
                        "Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}
                elif "Resource" in statement:
                    statement["Resource"] = []   # the ARNs are counted per table (_table_bytes)
            ids = read_policy_id if read_only else policy_id
            resource = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
                "Description": policy_description(stack, policy.number, len(policies), resolved.tenancy_attribute,
                                                  read_only=read_only),
                "ManagedPolicyName": (read_policy_name if read_only else policy_name)(stack, policy.number),
                "Path": "/", "PolicyDocument": document}}
            if policy.number < len(policies):
                resource["DependsOn"] = [ids(policy.number + 1)]
            size += len(json.dumps(ids(policy.number))) + 2 + _compact(resource) + 2 * len('{"Ref":""},')
    if policies:
        size += 2 * _compact({"TenantDataAccessPolicyArns": {
            "Description": "Attach every one of these managed policies to the roles that serve one tenant's requests.",
            "Value": {"Fn::Join": [",", []]}}})
    if policies and resolved.tenant_role_assumed_by:
        size += 2 * (_compact(_role_sketch(resolved, len(policies))) + 40) + 2 * _compact({"TenantDataRoleArn": {
            "Description": "The role that serves one tenant's requests (assume it with the tenant's session tag).",
            "Value": {"Fn::GetAtt": ["TenantDataRole", "Arn"]}}})
    return size


def _role_sketch(resolved: ResolvedSchema, parts: int) -> dict:
    """About what compile writes for one tenant role: its trust policy and its managed policies."""
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Statement": [{
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringLike": {f"aws:RequestTag/{resolved.tenancy_attribute}": "?*"}},
            "Effect": "Allow", "Principal": {"AWS": resolved.tenant_role_assumed_by}}], "Version": "2012-10-17"},
        "Description": f"Serves one tenant's requests in {resolved.stack_name}: assumed with the session tag "
                       f"{resolved.tenancy_attribute}=<tenant>.",
        "ManagedPolicyArns": [{"Ref": "TenantDataAccess00"}] * parts}}


def stack_usage(resolved: ResolvedSchema, stack: str, tables: dict[str, ResolvedTable]) -> StackUsage:
    policies = pack_tenant_policies(stack, tables, resolved.tenancy_attribute, resolved.region)
    policy_of = {key: p.number for p in policies for key in p.tables}
    waits = index_lanes(tables)
    outputs_base = len(fixed_output_ids(bool(policies), bool(resolved.tenant_role_assumed_by)))
    skeleton = _skeleton_bytes(resolved, stack, tables, policies)
    running: dict[str, list[tuple[str, int]]] = {"resources": [], "outputs": [], "template_bytes": []}
    resources = outputs = 0
    size = skeleton
    opened = 0
    for key, table in tables.items():
        resources += 1
        if key in policy_of and policy_of[key] > opened:
            # each policy and its read-only twin; the two tenant roles come with the first
            resources += 2 * (policy_of[key] - opened) + (len(ROLE_IDS) if not opened and
                                                          resolved.tenant_role_assumed_by else 0)
            opened = policy_of[key]
        outputs += 1 if table.stream else 0
        # the table's entry in the metadata manifest: "key":{"LogicalId":"…","TableName":"…"},
        size += _table_bytes(table, waits.get(key)) + _compact(
            {key: {"LogicalId": table.logical_id, "TableName": table.physical_name}}) - 1
        running["resources"].append((key, resources))
        running["outputs"].append((key, outputs + outputs_base))
        running["template_bytes"].append((key, size))
    return StackUsage(stack, list(tables), resources, outputs + outputs_base, 0, size, policies, running)


def usage(resolved: ResolvedSchema) -> list[StackUsage]:
    """Every stack of one environment, main first."""
    return [stack_usage(resolved, name, tables) for name, tables in resolved.stacks.items()]
