"""IAM's managed policy size quota: 6,144 characters, whitespace excluded, ARNs resolved.

Through CloudFormation (an AWS::IAM::ManagedPolicy resource fails) and on the IAM API
(CreatePolicy, CreatePolicyVersion).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.cloudformation.models import Stack

from .stacks import MANAGED_POLICY, TABLE, ResourceFailure, live_resource, props_of, resources_of

# IAM: "The size of each managed policy cannot exceed 6,144 characters. IAM doesn't count white
# space when computing the size of a policy against this limit."
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
POLICY_SIZE_LIMIT = 6144
POLICY_TOO_BIG = "Cannot exceed quota for PolicySize: 6144"


def policy_size(document: Any, stack: Stack, template: dict) -> int:
    resolved = _resolve(document, stack, template)
    return len(re.sub(r"\s", "", json.dumps(resolved, separators=(",", ":"))))


def _physical_name(lid: str, stack: Stack, template: dict) -> str:
    live = live_resource(stack, lid)
    if live is not None and not isinstance(live, str):
        return getattr(live, "physical_resource_id", lid)
    resource = resources_of(template).get(lid) or {}
    if resource.get("Type") == TABLE:
        return props_of(resource).get("TableName") or f"{stack.name}-{lid}-ABCDEFGHIJKL"
    return f"{stack.name}-{lid}-ABCDEFGHIJKL"


def _attribute(lid: str, attribute: str, stack: Stack, template: dict) -> str:
    resource = resources_of(template).get(lid) or {}
    region = stack.region_name
    if resource.get("Type") == TABLE:
        arn = f"arn:aws:dynamodb:{region}:{stack.account_id}:table/{_physical_name(lid, stack, template)}"
        return arn + "/stream/2026-01-01T00:00:00.000" if attribute == "StreamArn" else arn
    return f"arn:aws:service:{region}:{stack.account_id}:{lid}/{attribute}"


def _pseudo(name: str, stack: Stack) -> str | None:
    return {"AWS::Region": stack.region_name, "AWS::AccountId": stack.account_id, "AWS::Partition": "aws",
            "AWS::StackName": stack.name, "AWS::StackId": stack.stack_id,
            "AWS::URLSuffix": "amazonaws.com"}.get(name)


def _resolve(value: Any, stack: Stack, template: dict) -> Any:
    if isinstance(value, list):
        return [_resolve(v, stack, template) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return _pseudo(arg, stack) or stack.resource_map.resolved_parameters.get(arg) \
                or _physical_name(arg, stack, template)
        if fn == "Fn::GetAtt":
            lid, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return _attribute(lid, attribute, stack, template)
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(str(_resolve(p, stack, template)) for p in _resolve_list(parts, stack, template))
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg

            def sub(match: re.Match) -> str:
                name = match.group(1)
                if name in variables:
                    return str(_resolve(variables[name], stack, template))
                if "." in name and not name.startswith("AWS::"):
                    lid, attribute = name.split(".", 1)
                    return _attribute(lid, attribute, stack, template)
                return str(_resolve({"Ref": name}, stack, template))
            return re.sub(r"\$\{([^!}][^}]*)\}", sub, text)
    return {k: _resolve(v, stack, template) for k, v in value.items()}


def _resolve_list(parts: Any, stack: Stack, template: dict) -> list:
    resolved = _resolve(parts, stack, template)
    return resolved if isinstance(resolved, list) else [resolved]


def check_policy(stack: Stack, lid: str, resource: dict, template: dict) -> None:
    document = props_of(resource).get("PolicyDocument")
    if document is not None and policy_size(document, stack, template) > POLICY_SIZE_LIMIT:
        raise ResourceFailure(lid, MANAGED_POLICY, POLICY_TOO_BIG + " (Service: Iam, Status Code: 409, "
                              "Request ID: 00000000-0000-0000-0000-000000000000)")


# The IAM API refuses a document over the quota too

def policy_size_of_json(document: str) -> int:
    return len(re.sub(r"\s", "", document))


def create_policy(original: Any) -> Any:
    def create(self: Any, description: str, path: str, policy_document: str, policy_name: str,
               tags: list) -> Any:
        _refuse_big_policy(policy_document)
        return original(self, description, path, policy_document, policy_name, tags)
    return create


def create_policy_version(original: Any) -> Any:
    def create(self: Any, policy_arn: str, policy_document: str, set_as_default: bool) -> Any:
        _refuse_big_policy(policy_document)
        return original(self, policy_arn, policy_document, set_as_default)
    return create


def _refuse_big_policy(document: str) -> None:
    from moto.iam.exceptions import LimitExceededException

    if policy_size_of_json(document) > POLICY_SIZE_LIMIT:
        raise LimitExceededException(POLICY_TOO_BIG)


