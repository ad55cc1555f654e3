"""Patch moto's in-process models once per session; the server thread then runs the double."""

from __future__ import annotations

from typing import Any

from . import cloudformation as cfn
from . import dynamodb as ddb

_installed = False


class _Shape:
    """A dict as attributes: moto's serializer reads response members from attributes."""

    def __init__(self, members: dict) -> None:
        self.__dict__.update(members)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return _Shape({k: _shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.cloudformation.utils import generate_stack_id
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import GlobalSecondaryIndex, Table

    # DynamoDB
    Table.describe = ddb.describe_table(Table.describe)
    GlobalSecondaryIndex.describe = ddb.describe_index(GlobalSecondaryIndex.describe)
    DynamoDBBackend.update_table = ddb.update_table(DynamoDBBackend.update_table)
    DynamoDBBackend.update_time_to_live = ddb.update_time_to_live(DynamoDBBackend.update_time_to_live)
    DynamoDBBackend.delete_table = ddb.delete_table(DynamoDBBackend.delete_table)

    # CloudFormation: change sets describe their changes as CloudFormation does
    # moto wraps each change in {"Type": "Resource", "ResourceChange": change} when it answers
    ChangeSet.diff = lambda self: [_shape(c["ResourceChange"]) for c in cfn.describe_changes(self.stack, self.template_dict)]

    def find_change_set(backend: Any, name: str) -> Any:
        if name in backend.change_sets:
            return backend.change_sets[name]
        for change_set in backend.change_sets.values():
            if change_set.change_set_name == name:
                return change_set
        raise ValidationError(message=f"ChangeSet [{name}] does not exist")

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = find_change_set(self, change_set_name)
        if change_set.execution_status != "AVAILABLE":
            raise ValidationError(message=(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.execution_status}]"))
        stack = self.stacks[change_set.stack_id]
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        kind = "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"
        cfn.execute(stack, change_set.template, kind, change_set.parameters)
        failed = "ROLLBACK" in stack.status
        change_set.execution_status = "EXECUTE_FAILED" if failed else "EXECUTE_COMPLETE"

    def create_stack(self: Any, name: str, template: str, parameters: dict, notification_arns=None, tags=None,
                     role_arn=None, enable_termination_protection=False, timeout_in_mins=None,
                     stack_policy_body=None) -> Any:
        if name in [stack.name for stack in self.stacks.values()]:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        stack = Stack(stack_id=generate_stack_id(name, self.region_name, self.account_id), name=name,
                      template={}, parameters=parameters, account_id=self.account_id,
                      region_name=self.region_name, notification_arns=notification_arns, tags=tags,
                      role_arn=role_arn, enable_termination_protection=enable_termination_protection,
                      timeout_in_mins=timeout_in_mins, stack_policy_body=stack_policy_body)
        self.stacks[stack.stack_id] = stack
        cfn.execute(stack, template, "CREATE", parameters)
        return stack

    def update_stack(self: Any, name: str, template: str, role_arn: str | None, parameters: list,
                     tags: dict | None) -> Any:
        stack = self.get_stack(name)
        resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
        cfn.execute(stack, template, "UPDATE", resolved)
        if tags is not None:
            stack.tags = tags
        return stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is not None:
            cfn.delete(self, stack)

    CloudFormationBackend.execute_change_set = execute_change_set
    CloudFormationBackend.create_stack = create_stack
    CloudFormationBackend.update_stack = update_stack
    CloudFormationBackend.delete_stack = delete_stack

    # Template limits, when a template is submitted
    def limited(original: Any) -> Any:
        def handler(self: Any) -> Any:
            body, url = self._get_param("TemplateBody"), self._get_param("TemplateURL")
            if body:
                cfn.check_template_limits(body, from_url=False)
            elif url:
                cfn.check_template_limits(self._get_stack_from_s3_url(url), from_url=True)
            return original(self)
        return handler

    for action in ("create_change_set", "create_stack", "update_stack"):
        setattr(CloudFormationResponse, action, limited(getattr(CloudFormationResponse, action)))
