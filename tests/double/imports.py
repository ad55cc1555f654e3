"""IMPORT change sets: adopt live tables into a stack, nothing else changes.

moto treats IMPORT as CREATE (issue 11); here the live table object joins the stack as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack
from moto.dynamodb.models.table import Table

from .stacks import (
    TABLE,
    ResourceFailure,
    diff_resources,
    event,
    owner_of_table,
    props_of,
    resources_of,
    stack_event,
    tables_of,
)
from .state import DOUBLE

# IMPORT change sets: adopt live resources into a stack, nothing else changes
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import.html
# Messages as AWS gives them: DeletionPolicy (aws-quickstart/quickstart-awx#38), outputs
# (awslabs/aws-security-assessment-solution#6), already in a stack
# (cloudformation-coverage-roadmap#1607).

IMPORT_NEEDS_DELETION_POLICY = ("The following resources to import [{ids}] must have DeletionPolicy attribute "
                                "specified in the template.")
IMPORT_OTHER_CHANGES = ("You have modified resources [{ids}] in your template that are not being imported. "
                        "Update, create or delete operations cannot be executed during import operations.")
IMPORT_OUTPUTS = "As part of the import operation, you cannot modify or add [Outputs]"
IMPORT_ALREADY_IN_STACK = ("Resources [{ids}] passed in ResourceToImport are already in a stack and cannot be "
                           "imported.")
IMPORT_NOT_FOUND = "Resources [{ids}] passed in ResourceToImport do not exist."
IMPORT_NOT_IN_TEMPLATE = "Resources [{ids}] passed in ResourceToImport are not in the template."


def _import_target(stack: Stack, resources_to_import: list[dict], template: dict) -> dict[str, Table]:
    """The live table of each resource to import; AWS's ValidationError when one cannot be imported."""
    new = resources_of(template)
    missing = [r["LogicalResourceId"] for r in resources_to_import if r["LogicalResourceId"] not in new]
    if missing:
        raise ValidationError(message=IMPORT_NOT_IN_TEMPLATE.format(ids=", ".join(missing)))
    unpoliced = [r["LogicalResourceId"] for r in resources_to_import
                 if not new[r["LogicalResourceId"]].get("DeletionPolicy")]
    if unpoliced:
        raise ValidationError(message=IMPORT_NEEDS_DELETION_POLICY.format(ids=", ".join(unpoliced)))
    tables = tables_of(stack)
    found: dict[str, Table] = {}
    gone, owned = [], []
    for r in resources_to_import:
        lid = r["LogicalResourceId"]
        name = (r.get("ResourceIdentifier") or {}).get("TableName") or props_of(new[lid]).get("TableName")
        table = tables.get(name)
        if r.get("ResourceType") != TABLE or new[lid].get("Type") != TABLE or table is None:
            gone.append(lid)
        elif owner_of_table(stack, name) is not None:
            owned.append(lid)
        else:
            found[lid] = table
    if gone:
        raise ValidationError(message=IMPORT_NOT_FOUND.format(ids=", ".join(gone)))
    if owned:
        raise ValidationError(message=IMPORT_ALREADY_IN_STACK.format(ids=", ".join(owned)))
    return found


def create_import_change_set(backend: Any, stack_name: str, change_set_name: str, body: str | None,
                             resources_to_import: list[dict], description: str | None) -> tuple[str, str]:
    from moto.cloudformation.models import ChangeSet
    from moto.cloudformation.utils import generate_changeset_id, generate_stack_id

    with DOUBLE.lock:
        if body is None:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
        template = Stack.parse_template(body)
        stack = next((s for s in backend.stacks.values() if s.name == stack_name), None)
        if stack is None:
            stack = Stack(stack_id=generate_stack_id(stack_name, backend.region_name, backend.account_id),
                          name=stack_name, template={}, parameters={}, account_id=backend.account_id,
                          region_name=backend.region_name)
            creating = True
        else:
            creating = False
        old = resources_of(stack.resource_map._template) if stack.resource_map._template else {}
        new = resources_of(template)
        importing = {r["LogicalResourceId"] for r in resources_to_import}
        adds, modifies, removes = diff_resources(old, new)
        others = [lid for lid in adds + modifies + removes if lid not in importing]
        if others:
            raise ValidationError(message=IMPORT_OTHER_CHANGES.format(ids=", ".join(others)))
        old_outputs = (stack.resource_map._template or {}).get("Outputs") or {}
        if (template.get("Outputs") or {}) != old_outputs:
            raise ValidationError(message=IMPORT_OUTPUTS)
        _import_target(stack, resources_to_import, template)
        if creating:
            backend.stacks[stack.stack_id] = stack
            stack.status = "REVIEW_IN_PROGRESS"
            stack_event(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        change_set = ChangeSet(change_set_type="IMPORT",
                               change_set_id=generate_changeset_id(change_set_name, backend.region_name,
                                                                   backend.account_id),
                               change_set_name=change_set_name, stack=stack, template=body, parameters={},
                               description=description)
        change_set.resources_to_import = copy.deepcopy(resources_to_import)
        from .install import _shape

        change_set.changes = [_shape({
            "Action": "Import", "LogicalResourceId": r["LogicalResourceId"], "ResourceType": r["ResourceType"],
            "PhysicalResourceId": (r.get("ResourceIdentifier") or {}).get("TableName", ""),
            "Scope": [], "Details": []}) for r in resources_to_import]
        change_set.status = "CREATE_COMPLETE"
        change_set.execution_status = "AVAILABLE"
        backend.change_sets[change_set.change_set_id] = change_set
        return change_set.change_set_id, stack.stack_id


def execute_import(stack: Stack, body: str, resources_to_import: list[dict]) -> None:
    """The live tables join the stack as they are: same objects, same items, nothing re-created."""
    with DOUBLE.lock:
        template = Stack.parse_template(body)
        stack_event(stack, "IMPORT_IN_PROGRESS", "User Initiated")
        new = resources_of(template)
        try:
            for r in resources_to_import:
                lid = r["LogicalResourceId"]
                if lid in DOUBLE.failures:
                    raise ResourceFailure(lid, new[lid]["Type"], DOUBLE.failures.pop(lid))
            found = _import_target(stack, resources_to_import, template)
        except ValidationError as exc:
            found, failure = {}, ResourceFailure(resources_to_import[0]["LogicalResourceId"], TABLE, exc.message)
        except ResourceFailure as exc:
            found, failure = {}, exc
        else:
            failure = None
        if failure is not None:
            event(stack, failure.logical_id, failure.resource_type, "IMPORT_IN_PROGRESS")
            event(stack, failure.logical_id, failure.resource_type, "IMPORT_FAILED", failure.message)
            stack_event(stack, "IMPORT_ROLLBACK_IN_PROGRESS",
                        f"The following resource(s) failed to import: [{failure.logical_id}]. ")
            stack_event(stack, "IMPORT_ROLLBACK_COMPLETE")
            return
        rm = stack.resource_map
        rm._template = template
        rm.load_mapping()
        rm.load_parameters()
        rm.load_conditions()
        rm._resource_json_map = template["Resources"]
        for lid, table in found.items():
            event(stack, lid, TABLE, "IMPORT_IN_PROGRESS", physical_id=table.name)
            table.cf_resource_type = TABLE
            table.logical_resource_id = lid
            rm._parsed_resources[lid] = table
            event(stack, lid, TABLE, "IMPORT_COMPLETE", physical_id=table.name)
        stack.template = body
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        stack_event(stack, "IMPORT_COMPLETE")


