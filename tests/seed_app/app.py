#!/usr/bin/env python3
"""The seed's hand-written CDK app (/work/shared/seed: cdk-demo, app.py + dynamodb_stack.py), as it made
JobWork Planner's tables: `tenant` and `users` under those physical names, PAY_PER_REQUEST,
RemovalPolicy.DESTROY. tests/integration/test_adopt_cfn.py synthesizes it (CDK_OUTDIR) and creates its stack on
the strict AWS double, then takes the tables over with `deploy --adopt --from-stack`.

One change from the seed: the BootstraplessSynthesizer, as jobwork-infra's own stacks use, since the
double has no CDK bootstrap stack to check a version against.
"""

import aws_cdk as cdk
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


class DynamoDbStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        dynamodb.Table(
            self, "TenantTable",
            table_name="tenant",
            partition_key=dynamodb.Attribute(name="tenant_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )
        dynamodb.Table(
            self, "UsersTable",
            table_name="users",
            partition_key=dynamodb.Attribute(name="tenant_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )


app = cdk.App(analytics_reporting=False)
DynamoDbStack(app, "JobworkSeedStack", synthesizer=cdk.BootstraplessSynthesizer())
app.synth()
