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
    adds = [lid for lid in new if lid not in old]
    modifies = [lid for lid in new if lid in old and new[lid] != old[lid]]
    removes = [lid for lid in old if lid not in new]
    return adds, modifies, removes


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


