"""Patch moto's in-process models once per session; the server thread then runs the double."""

from __future__ import annotations

from typing import Any

from . import cloudformation as cfn
from . import dynamodb as ddb
from . import iam, imports, settings, stacks
from .state import DOUBLE

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


def _switch(owner: Any, name: str, make: Any) -> None:
    """Replace owner.name by the strict version while a test holds `strict_aws`, moto's otherwise.

    The moto server of the lenient fixtures (tests/conftest.py `moto_server`) shares moto's models
    with the double's server; a test that does not ask for `strict_aws` keeps moto's behaviour.
    """
    original = getattr(owner, name)
    strict = make(original)

    def chosen(*args: Any, **kwargs: Any) -> Any:
        return (strict if DOUBLE.active else original)(*args, **kwargs)

    setattr(owner, name, chosen)


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.cloudformation.utils import generate_stack_id
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import GlobalSecondaryIndex, StreamShard, Table

    # DynamoDB
    _switch(Table, "describe", ddb.describe_table)
    _switch(GlobalSecondaryIndex, "describe", ddb.describe_index)
    _switch(DynamoDBBackend, "update_table", ddb.update_table)
    _switch(DynamoDBBackend, "update_time_to_live", ddb.update_time_to_live)
    _switch(DynamoDBBackend, "describe_time_to_live", ddb.describe_time_to_live)
    _switch(DynamoDBBackend, "delete_table", ddb.delete_table)
    _switch(StreamShard, "add", ddb.stream_shard_add)

    # What moto's DynamoDB API drops or lacks (tests/double/settings.py, with the AWS sources)
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    def records_settings(original: Any) -> Any:
        def handler(self: Any) -> Any:
            before = None
            if self.body["TableName"] in self.dynamodb_backend.tables:   # UpdateTable: AWS's refusals first
                table = self.dynamodb_backend.get_table(self.body["TableName"])
                settings.check_request(table, self.body)
                before = settings.warm_before(table)
            original(self)
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            settings.apply_request(table, self.body, before)
            return DynamoResult(table.describe())
        return handler

    _switch(DynamoHandler, "create_table", records_settings)
    _switch(DynamoHandler, "update_table", records_settings)

    def added_action(name: str, action: Any) -> Any:
        def handler(self: Any) -> Any:
            if not DOUBLE.active:  # moto has no such action
                raise NotImplementedError(f"The {name} action has not been implemented")
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            return ActionResult(action(table, self.body))
        return handler

    DynamoHandler.describe_contributor_insights = added_action(
        "DescribeContributorInsights", lambda table, body: settings.describe_contributor_insights(table, body.get("IndexName")))
    DynamoHandler.describe_kinesis_streaming_destination = added_action(
        "DescribeKinesisStreamingDestination", lambda table, body: settings.describe_kinesis(table))
    DynamoHandler.enable_kinesis_streaming_destination = added_action(
        "EnableKinesisStreamingDestination", lambda table, body: settings.change_kinesis(table, body, True))
    DynamoHandler.disable_kinesis_streaming_destination = added_action(
        "DisableKinesisStreamingDestination", lambda table, body: settings.change_kinesis(table, body, False))
    DynamoHandler.update_kinesis_streaming_destination = added_action(
        "UpdateKinesisStreamingDestination", lambda table, body: settings.update_kinesis(table, body))
    DynamoHandler.update_contributor_insights = added_action(
        "UpdateContributorInsights", lambda table, body: settings.update_contributor_insights(
            table, body.get("IndexName"), body.get("ContributorInsightsAction"), body.get("ContributorInsightsMode")))

    # CloudFormation's YAML short form `!Condition Name` is {"Condition": "Name"} (inside Fn::And, Fn::Or,
    # Fn::Not: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html);
    # moto reads it as {"Fn::Condition": …}, so `!Not [!Condition IsProd]` is true in prod and a resource
    # under `!Or [!Condition …]` silently disappears.
    import moto.cloudformation.models as cfn_models
    import moto.cloudformation.responses as cfn_responses

    moto_tag = cfn_models.yaml_tag_constructor

    def yaml_tag(loader: Any, tag: Any, node: Any) -> Any:
        if DOUBLE.active and tag == "!Condition":
            return {"Condition": node.value}
        return moto_tag(loader, tag, node)

    cfn_models.yaml_tag_constructor = cfn_responses.yaml_tag_constructor = yaml_tag

    # CloudFormation: change sets describe their changes as CloudFormation does; moto wraps each
    # change in {"Type": "Resource", "ResourceChange": change} when it answers.
    _switch(ChangeSet, "diff", lambda original: lambda self: [
        _shape(c["ResourceChange"]) for c in cfn.describe_changes(self.stack, self.template_dict)])

    def find_change_set(backend: Any, name: str) -> Any:
        if name in backend.change_sets:
            return backend.change_sets[name]
        for change_set in backend.change_sets.values():
            if change_set.change_set_name == name:
                return change_set
        raise ValidationError(message=f"ChangeSet [{name}] does not exist")

    class ChangeSetNotFound(CloudFormationError):
        # ExecuteChangeSet: "ChangeSetNotFound: The specified change set name or ID doesn't exit. To view valid
        # change sets for a stack, use the ListChangeSets operation. HTTP Status Code: 404" (API_ExecuteChangeSet.html).
        code = "ChangeSetNotFound"

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    def execute_change_set(original: Any) -> Any:
        def execute(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
            # One execute at a time, as CloudFormation serialises the operations of a stack: two deploys racing to
            # execute never both find their change set (moto's server answers requests on several threads).
            with DOUBLE.lock:
                run_execute(self, change_set_name)

        def run_execute(self: Any, change_set_name: str) -> None:
            try:
                change_set = find_change_set(self, change_set_name)
            except ValidationError:
                raise ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist") from None
            if change_set.execution_status != "AVAILABLE":
                raise ValidationError(message=(
                    f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                    f"[{change_set.execution_status}]"))
            stack = self.stacks[change_set.stack_id]
            if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
                # InvalidChangeSetStatus: "The specified change set can't be used to update the stack. For
                # example, ... the stack status might be UPDATE_IN_PROGRESS" (API_ExecuteChangeSet.html, Errors)
                raise InvalidChangeSetStatus(f"ChangeSet [{change_set.change_set_id}] cannot be executed: stack "
                                             f"[{stack.name}] is in {stack.status} state")
            change_set.execution_status = "EXECUTE_IN_PROGRESS"

            def finished(stack: Any) -> None:
                failed = "ROLLBACK" in stack.status
                change_set.execution_status = "EXECUTE_FAILED" if failed else "EXECUTE_COMPLETE"

            # "After you execute a change set, CloudFormation removes all change sets associated with the
            # stack because they aren't applicable to the updated stack" (AWS CloudFormation User Guide,
            # "Execute a change set"): another deploy's change set made against the old stack is gone.
            for key, other in list(self.change_sets.items()):
                if other is not change_set and other.stack_id == stack.stack_id:
                    del self.change_sets[key]
            if change_set.change_set_type == "IMPORT":
                imports.execute_import(stack, change_set.template, change_set.resources_to_import)
                finished(stack)
            else:
                kind = "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"
                cfn.execute(stack, change_set.template, kind, change_set.parameters, done=finished)
        return execute

    def create_stack(original: Any) -> Any:
        def create(self: Any, name: str, template: str, parameters: dict, notification_arns=None, tags=None,
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
        return create

    def update_stack(original: Any) -> Any:
        def update(self: Any, name: str, template: str, role_arn: str | None, parameters: list,
                   tags: dict | None) -> Any:
            stack = self.get_stack(name)
            resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
            cfn.execute(stack, template, "UPDATE", resolved)
            if tags is not None:
                stack.tags = tags
            return stack
        return update

    def delete_stack(original: Any) -> Any:
        def delete(self: Any, name_or_stack_id: str) -> None:
            stack = self.stacks.get(name_or_stack_id) or next(
                (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
            if stack is not None:
                cfn.delete(self, stack)
        return delete

    _switch(CloudFormationBackend, "execute_change_set", execute_change_set)
    _switch(CloudFormationBackend, "create_stack", create_stack)
    _switch(CloudFormationBackend, "update_stack", update_stack)
    _switch(CloudFormationBackend, "delete_stack", delete_stack)

    # Template limits, when a template is submitted; IMPORT change sets
    def template_of(response: Any) -> str | None:
        body, url = response._get_param("TemplateBody"), response._get_param("TemplateURL")
        if body:
            cfn.check_template_limits(body, from_url=False)
            return body
        if url:
            body = response._get_stack_from_s3_url(url)
            cfn.check_template_limits(body, from_url=True)
            return body
        return None

    def limited(original: Any) -> Any:
        def handler(self: Any) -> Any:
            template_of(self)
            return original(self)
        return handler

    def refuse_wrong_status(response: Any) -> None:
        """CREATE on an existing stack, UPDATE/IMPORT on one that cannot be updated: as AWS refuses."""
        name, kind = response._get_param("StackName"), response._get_param("ChangeSetType") or "CREATE"
        stack = next((s for s in response.cloudformation_backend.stacks.values()
                      if name in (s.name, s.stack_id)), None)
        if stack is None:
            return
        if kind == "CREATE" and stack.status != "REVIEW_IN_PROGRESS":
            raise AlreadyExistsException(f"Stack [{stack.name}] already exists and cannot be created again "
                                         f"with the changeSet [{response._get_param('ChangeSetName')}].")
        if kind in ("UPDATE", "IMPORT") and (stack.status in cfn.NOT_UPDATABLE
                                              or stack.status.endswith("_IN_PROGRESS")):
            if kind == "IMPORT" and stack.status == "REVIEW_IN_PROGRESS":
                return
            raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be "
                                          "updated.")

    def nothing_to_do(response: Any, body: str | None) -> None:
        """An UPDATE change set that changes nothing CloudFormation acts on is FAILED, as on AWS."""
        if (response._get_param("ChangeSetType") or "CREATE") != "UPDATE" or body is None:
            return
        name = response._get_param("ChangeSetName")
        change_set = [c for c in response.cloudformation_backend.change_sets.values() if c.change_set_name == name][-1]
        stack = response.cloudformation_backend.stacks[change_set.stack_id]
        same_parameters = all(not p.get("ParameterValue") or stack.parameters.get(p["ParameterKey"]) == p["ParameterValue"]
                              for p in response._get_param("Parameters", []))
        if change_set.status == "CREATE_COMPLETE" and same_parameters and not stacks.template_changes(
                stack.template_dict, Stack.parse_template(body)):
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = ("The submitted information didn't contain changes. Submit different "
                                        "information to create a change set.")
            change_set.changes = []

    def update_changes_something(original: Any) -> Any:
        def handler(self: Any) -> Any:
            body = template_of(self)
            stack = next((s for s in self.cloudformation_backend.stacks.values()
                          if self._get_param("StackName") in (s.name, s.stack_id)), None)
            if (body is not None and stack is not None and not self._get_param("Parameters")
                    and not stacks.template_changes(stack.template_dict, Stack.parse_template(body))):
                raise ValidationError(stack.name, message="No updates are to be performed.")
            return original(self)
        return handler

    def create_change_set(original: Any) -> Any:
        def handler(self: Any) -> Any:
            body = template_of(self)
            refuse_wrong_status(self)
            if self._get_param("ChangeSetType") != "IMPORT":
                result = original(self)
                nothing_to_do(self, body)
                return result
            change_set_id, stack_id = imports.create_import_change_set(
                self.cloudformation_backend, self._get_param("StackName"), self._get_param("ChangeSetName"),
                body, self._get_param("ResourcesToImport") or [], self._get_param("Description"))
            return ActionResult({"Id": change_set_id, "StackId": stack_id})
        return handler

    # IAM's policy size quota on the IAM API as well
    from moto.iam.models import IAMBackend

    _switch(IAMBackend, "create_policy", iam.create_policy)
    _switch(IAMBackend, "create_policy_version", iam.create_policy_version)

    def describe_stack_resources(original: Any) -> Any:
        # By physical id and without a stack name, DescribeStackResources answers with the stack that
        # holds the resource ("PhysicalResourceId … Required: Conditional. If you don't specify
        # PhysicalResourceId, you must specify StackName", API_DescribeStackResources.html; in use:
        # `aws cloudformation describe-stack-resources --physical-resource-id ID`,
        # cloudformation-coverage-roadmap#998). moto ignores the parameter.
        from moto.cloudformation.responses import StackResourceDTO

        def handler(self: Any) -> Any:
            physical = self._get_param("PhysicalResourceId")
            if not physical or self._get_param("StackName"):
                return original(self)
            backend = self.cloudformation_backend
            for stack in list(backend.stacks.values()):
                if stack.status == "DELETE_COMPLETE":
                    continue
                _, resources = backend.list_stack_resources(stack.stack_id)
                found = [r for r in resources if getattr(r, "physical_resource_id", None) == physical]
                if found:
                    return ActionResult({"StackResources": [StackResourceDTO(stack, r) for r in found]})
            raise ValidationError(physical, message=f"Stack for {physical} does not exist")
        return handler

    def continue_update_rollback(self: Any) -> Any:
        # moto has no ContinueUpdateRollback (API_ContinueUpdateRollback.html); the double's rollback can fail
        if not DOUBLE.active:
            raise NotImplementedError("The ContinueUpdateRollback action has not been implemented")
        name = self._get_param("StackName")
        stack = next((s for s in self.cloudformation_backend.stacks.values() if name in (s.name, s.stack_id)), None)
        if stack is None:
            raise ValidationError(name, message=f"Stack [{name}] does not exist")
        cfn.continue_update_rollback(stack, self._get_param("ResourcesToSkip") or [])
        return ActionResult({})

    CloudFormationResponse.continue_update_rollback = continue_update_rollback
    _switch(CloudFormationResponse, "describe_stack_resources", describe_stack_resources)
    _switch(CloudFormationResponse, "create_change_set", create_change_set)
    _switch(CloudFormationResponse, "create_stack", limited)
    _switch(CloudFormationResponse, "update_stack", update_changes_something)
