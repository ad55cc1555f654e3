#!/usr/bin/env python3
"""The 1,000 tables of `bench.generate.make_schema(1000, tables_per_stack=250)` (environment prod),
written by hand as CDK Python: what an engineer would write without the tool, for bench/synth_scale.py.

Four stacks of 250 tables, the same keys, indexes, TTLs, streams, tags and removal settings as the
tool's templates; tables with indexes in 10 DependsOn lanes (AWS's advice); the tenant-scoped ARNs
in managed policies of 30 tables each (a fixed chunk, which stays under IAM's 6,144 characters for
these names); the same fixed outputs. Output folder: CDK_OUTDIR or ./cdk.out. The App has the
settings the tool uses (no built-in validation, no stack traces, no tree.json, no path metadata).
"""

import os

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam

TABLES, PER_STACK, LANES, PER_POLICY = 1000, 250, 10, 30
S = ddb.AttributeType.STRING
ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
           "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"]
TENANT = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant_id}"]}}


def table(stack: cdk.Stack, i: int) -> tuple[ddb.Table, list[str], bool]:
    key = f"table_{i:05d}"
    logical = "Table" + key.title().replace("_", "") + "Table"
    t = ddb.Table(
        stack, logical, table_name=f"bench-prod-{key}",
        partition_key=ddb.Attribute(name="tenant_id", type=S), sort_key=ddb.Attribute(name="item_id", type=S),
        billing_mode=ddb.BillingMode.PAY_PER_REQUEST, table_class=ddb.TableClass.STANDARD,
        point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
        deletion_protection=True, removal_policy=cdk.RemovalPolicy.RETAIN,
        time_to_live_attribute="expires_at" if i % 7 == 0 else None,
        stream=ddb.StreamViewType.NEW_AND_OLD_IMAGES if i % 11 == 0 else None,
    )
    arns = [t.table_arn]
    if i % 3 == 0:
        t.add_global_secondary_index(index_name="by_status", partition_key=ddb.Attribute(name="tenant_id", type=S),
                                     sort_key=ddb.Attribute(name="status", type=S),
                                     projection_type=ddb.ProjectionType.INCLUDE, non_key_attributes=["total"])
        t.add_global_secondary_index(index_name="by_owner", partition_key=ddb.Attribute(name="owner_sub", type=S),
                                     projection_type=ddb.ProjectionType.KEYS_ONLY)
        arns.append(f"{t.table_arn}/index/by_status")
    if i % 5 == 0:
        t.add_local_secondary_index(index_name="by_created", sort_key=ddb.Attribute(name="created_at", type=S))
        arns.append(f"{t.table_arn}/index/by_created")
    t.node.default_child.override_logical_id(logical)
    for tag, value in (("app", "bench"), ("env", "prod"), ("managed-by", "hand"), ("table", key)):
        cdk.Tags.of(t).add(tag, value)
    if i % 11 == 0:
        cdk.CfnOutput(stack, f"{logical}StreamArn", value=t.table_stream_arn)
    return t, arns, i % 3 == 0 or i % 5 == 0


app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"), builtin_cloud_formation_validation=False, stack_traces=False,
              tree_metadata=False, analytics_reporting=False,
              post_cli_context={"aws:cdk:enable-path-metadata": False, "aws:cdk:enable-asset-metadata": False,
                                "aws:cdk:version-reporting": False})
for part in range(TABLES // PER_STACK):
    name = "bench-prod" + (f"-part{part + 1}" if part else "")
    stack = cdk.Stack(app, name, stack_name=name, synthesizer=cdk.BootstraplessSynthesizer(),
                      analytics_reporting=False)
    built = [table(stack, i) for i in range(part * PER_STACK, (part + 1) * PER_STACK)]
    indexed = [t for t, _, has_index in built if has_index]
    for later, earlier in zip(indexed[LANES:], indexed, strict=False):
        later.node.add_dependency(earlier)
    policies = []
    for n, start in enumerate(range(0, len(built), PER_POLICY), 1):
        arns = [arn for _, table_arns, _ in built[start:start + PER_POLICY] for arn in table_arns]
        policies.append(iam.ManagedPolicy(stack, f"TenantDataAccess{n}", managed_policy_name=f"{name}-TenantDataAccess{n}",
                                          statements=[iam.PolicyStatement(actions=ACTIONS, resources=arns,
                                                                          conditions=TENANT)]))
    cdk.CfnOutput(stack, "TableArnPrefix",
                  value=cdk.Fn.sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"))
    cdk.CfnOutput(stack, "TenantDataAccessPolicyArns", value=cdk.Fn.join(",", [p.managed_policy_arn for p in policies]))
app.synth()
