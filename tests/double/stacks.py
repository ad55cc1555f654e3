"""Reading moto's stacks as CloudFormation sees them: resources, live objects, events, failures.

Shared by the executor (cloudformation.py), the table rules (tables.py), IAM (iam.py) and
imports (imports.py).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import Event, Stack
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

TABLE = "AWS::DynamoDB::Table"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"
# Kept when removed from the template or when the stack is deleted. RetainExceptOnCreate retains
# too, except when the resource is rolled back during its own creation (never applied here).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
RETAINED = ("Retain", "RetainExceptOnCreate")


class ResourceFailure(Exception):
    def __init__(self, logical_id: str, resource_type: str, message: str):
        super().__init__(message)
        self.logical_id, self.resource_type, self.message = logical_id, resource_type, message


def resources_of(template: dict | None) -> dict[str, dict]:
    return dict((template or {}).get("Resources") or {})


def diff_resources(old: dict[str, dict], new: dict[str, dict]) -> tuple[list[str], list[str], list[str]]:
    """Added, modified and removed logical ids; a DependsOn-only edit is no modification."""
    adds = [lid for lid in new if lid not in old]
    modifies = [lid for lid in new if lid in old and _without_depends_on(new[lid]) != _without_depends_on(old[lid])]
    removes = [lid for lid in old if lid not in new]
    return adds, modifies, removes


def _without_depends_on(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "DependsOn"}


# What a stack update can change. "During a stack update, you cannot update the Metadata section
# by itself" (likewise Description):
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/metadata-section-structure.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-description-structure.html
# A DependsOn-only edit is no change either (measured on AWS, ministack#1646). A change of
# DeletionPolicy/UpdateReplacePolicy alone is one (same measurement; it was not before:
# cloudformation-coverage-roadmap#1543, aws-cdk#11521).
_NOT_ALONE = ("Metadata", "Description")


def template_changes(old: dict | None, new: dict) -> bool:
    """Whether an update from `old` to `new` changes anything CloudFormation acts on."""
    old = old or {}
    adds, modifies, removes = diff_resources(resources_of(old), resources_of(new))
    if adds or modifies or removes:
        return True
    sections = set(old) | set(new)
    return any(old.get(k) != new.get(k) for k in sections if k not in _NOT_ALONE and k != "Resources")


def props_of(resource: dict | None) -> dict:
    return (resource or {}).get("Properties") or {}


def tables_of(stack: Stack) -> dict[str, Table]:
    return dynamodb_backends[stack.account_id][stack.region_name].tables


def live_resource(stack: Stack, logical_id: str) -> Any:
    return stack.resource_map._parsed_resources.get(logical_id)


def stacks_of(stack: Stack) -> dict[str, Stack]:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[stack.account_id][stack.region_name].stacks


def owner_of_table(stack: Stack, name: str) -> Stack | None:
    for other in stacks_of(stack).values():
        for resource in other.resource_map._parsed_resources.values():
            if isinstance(resource, Table) and resource.name == name:
                return other
    return None


def true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def service_error(message: str, code: str) -> str:
    # How CloudFormation quotes a DynamoDB error in a resource's status reason.
    return (f"{message} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: {code}; "
            "Request ID: 00000000-0000-0000-0000-000000000000)")


def physical_id_of(resource: Any) -> str:
    if resource is None or isinstance(resource, str):
        return ""
    return str(getattr(resource, "physical_resource_id", ""))


def event(stack: Stack, lid: str, resource_type: str, status: str, reason: str | None = None,
          physical_id: str = "") -> None:
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=lid,
                              physical_resource_id=physical_id, resource_type=resource_type,
                              resource_status=status, resource_status_reason=reason,
                              resource_properties=None))


def stack_event(stack: Stack, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack.stack_status_reason = reason
    event(stack, stack.name, "AWS::CloudFormation::Stack", status, reason, stack.stack_id)


