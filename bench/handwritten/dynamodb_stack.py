"""The seed's approach, written by hand: the tables of schema/tables.yaml as CDK Python (dev).

Kept equivalent to what `jobwork-infra synth --env dev` produces (same tables, keys, index, tags,
policy and outputs), so that bench/synth.py compares the cost of the tool, not of different stacks.
"""

from aws_cdk import CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct


class DynamoDbStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        tenant_table = dynamodb.Table(
            self, "TenantTable",
            table_name="jobwork-dev-tenant",
            partition_key=dynamodb.Attribute(name="tenant_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )

        users_table = dynamodb.Table(
            self, "UsersTable",
            table_name="jobwork-dev-users",
            partition_key=dynamodb.Attribute(name="tenant_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )
        users_table.add_global_secondary_index(
            index_name="by_cognito_sub",
            partition_key=dynamodb.Attribute(name="cognito_sub", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )

        for key, table in (("tenant", tenant_table), ("users", users_table)):
            for tag, value in (("app", "jobwork"), ("env", "dev"), ("table", key), ("managed-by", "hand")):
                Tags.of(table).add(tag, value)
            CfnOutput(self, f"{key.capitalize()}TableName", value=table.table_name)
            CfnOutput(self, f"{key.capitalize()}TableArn", value=table.table_arn)

        policy = iam.ManagedPolicy(
            self, "TenantDataAccess",
            managed_policy_name="jobwork-dev-TenantDataAccess",
            statements=[iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                         "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
                         "dynamodb:ConditionCheckItem"],
                resources=[tenant_table.table_arn, users_table.table_arn],
                conditions={"ForAllValues:StringEquals": {
                    "dynamodb:LeadingKeys": ["${aws:PrincipalTag/tenant_id}"]}},
            )],
        )
        CfnOutput(self, "TenantDataAccessPolicyArn", value=policy.managed_policy_arn)
