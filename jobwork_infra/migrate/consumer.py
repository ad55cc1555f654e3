"""The stream consumer AWS runs after the copy: a Lambda on generation N-1's stream that replays its
records into generation N, as `catchup.plan_writes` does in the CLI (docs/migrate.md).

Its code is inline (`Code.ZipFile`): a Lambda needs no package, so the compiler can put it in the
template. The event-source mapping reads one shard in order (ParallelizationFactor 1) from
TRIM_HORIZON of the stream enabled before the copy, retries a failing batch until it succeeds
(MaximumRetryAttempts -1: a skipped batch would lose writes) and is created only once the copy
finished, so the convergence argument of the CLI catch-up holds. CloudFormation no longer limits
inline code to 4096 characters (aws/aws-cdk#20624), but this stays under it.

What the tests can show: the handler run in-process on real DynamoDB Local stream records, and the
resources passing cfn-lint. moto cannot invoke a Lambda without docker, and no double here runs an
event-source mapping: AWS's ordering and retries are taken from the Lambda documentation, not tested.
"""

from __future__ import annotations

import json

from .keys import KeySchema

HANDLER = '''\
import json, os, time
import boto3

TABLE = os.environ["TARGET_TABLE"]
KEY = json.loads(os.environ["TARGET_KEY"])
LIMITS = (2048, 1024)
client = boto3.client("dynamodb")


def key_of(item):
    """The item's new key as a tuple, or None when it cannot have one (a reason is logged)."""
    if item is None:
        return None
    out = []
    for (name, kind), limit in zip(KEY, LIMITS):
        value = item.get(name) or {}
        raw = value.get(kind)
        if len(value) != 1 or raw is None or len(raw) == 0 or len(str(raw).encode()) > limit:
            return None
        out.append((kind, raw))
    return tuple(out)


def handler(event, context):
    ops = {}
    for record in event["Records"]:
        data, name = record["dynamodb"], record["eventName"]
        old, new = data.get("OldImage"), data.get("NewImage")
        old_key = key_of(old)
        new_key = key_of(new) if name != "REMOVE" else None
        if old_key is not None and old_key != new_key:
            ops.pop(old_key, None)
            ops[old_key] = {"DeleteRequest": {"Key": {n: old[n] for n, _ in KEY}}}
        if name != "REMOVE":
            if new_key is None:
                print(json.dumps({"left_behind": new}))
            else:
                ops.pop(new_key, None)
                ops[new_key] = {"PutRequest": {"Item": new}}
    requests = list(ops.values())
    for start in range(0, len(requests), 25):
        pending, attempt = {TABLE: requests[start:start + 25]}, 0
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if pending:
                time.sleep(min(5, 0.05 * 2 ** attempt))
                attempt += 1
    return {"applied": len(requests)}
'''


def environment(table: str, key: KeySchema) -> dict[str, str]:
    return {"TARGET_TABLE": table, "TARGET_KEY": json.dumps([[a.name, a.type] for a in key.attributes])}


def resources(prefix: str, *, source_logical_id: str, target_logical_id: str, key: KeySchema) -> dict:
    """CloudFormation resources of the consumer: role, function, event-source mapping."""
    stream_arn = {"Fn::GetAtt": [source_logical_id, "StreamArn"]}
    target_arn = {"Fn::GetAtt": [target_logical_id, "Arn"]}
    return {
        f"{prefix}ReplicationRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                "ManagedPolicyArns": [
                    {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}],
                "Policies": [{"PolicyName": "replicate", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Resource": stream_arn,
                     "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                "dynamodb:ListStreams"]},
                    {"Effect": "Allow", "Resource": target_arn, "Action": ["dynamodb:BatchWriteItem"]},
                ]}}],
            },
        },
        f"{prefix}ReplicationFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "Timeout": 300,
                "Role": {"Fn::GetAtt": [f"{prefix}ReplicationRole", "Arn"]},
                "Code": {"ZipFile": HANDLER},
                "Environment": {"Variables": {
                    "TARGET_TABLE": {"Ref": target_logical_id},
                    "TARGET_KEY": environment("", key)["TARGET_KEY"]}},
            },
        },
        f"{prefix}ReplicationMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": stream_arn,
                "FunctionName": {"Ref": f"{prefix}ReplicationFunction"},
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 100,
                "ParallelizationFactor": 1,
                "MaximumRetryAttempts": -1,
                "BisectBatchOnFunctionError": False,
            },
        },
    }
