#!/usr/bin/env python3
"""The seed's CDK entry point (hand-written); the output folder comes from CDK_OUTDIR or ./cdk.out.

BENCH_SAME_APP_SETTINGS=1 gives the App the settings jobwork-infra uses (no built-in template
validation, no stack traces, no tree.json), so bench/synth.py can also compare like with like.
"""

import os
import sys

import aws_cdk as cdk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynamodb_stack import DynamoDbStack

settings = {}
if os.environ.get("BENCH_SAME_APP_SETTINGS"):
    settings = {"builtin_cloud_formation_validation": False, "stack_traces": False, "tree_metadata": False,
                "analytics_reporting": False}
app = cdk.App(**settings)
DynamoDbStack(app, "jobwork-dev")
app.synth()
