"""One CloudFormation stack, through one client: its description and status, the live progress of an
operation (stack events), and the one change-set runner every stack change goes through.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import JobworkError
from ..aws import aws_errors, error_code
from ..events import Emit, Failed, Note, StackEvent
from ..gate import Overtaken
from ..timing import TIMING
from .read import stack_template
from .template import MAX_INLINE_TEMPLATE, compact

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
# A GSI backfill on a large table can take hours; give up waiting after a day.
STACK_WAIT_SECONDS = 24 * 3600
# Statuses a stack may be deployed over; REVIEW_IN_PROGRESS is a stack created by a change set that
# was never executed: it has no resources and takes a CREATE change set.
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE"}
EMPTY_CHANGE_SET = ("didn't contain changes", "No updates are to be performed")
_RERUN = "run deploy again: it plans from what is deployed now"
WAITERS = {"CREATE": "stack_create_complete", "UPDATE": "stack_update_complete", "IMPORT": "stack_import_complete"}


@dataclass
class Stack:
    cfn: Any
    name: str

    def describe(self) -> dict | None:
        """The stack, or None when there is none (CloudFormation says so with a ValidationError)."""
        from botocore.exceptions import ClientError

        try:
            return self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise

    def template(self) -> dict:
        return stack_template(self.cfn, self.name)


def refuse_in_progress(stack: dict, action: str) -> None:
    """A stack another operation is working on is reported, never touched."""
    status, name = stack["StackStatus"], stack["StackName"]
    if in_progress(stack):
        reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
        raise JobworkError(
            f"stack {name} is {status}{reason}: another operation is running on it; nothing was changed",
            f"wait for it to finish (aws cloudformation describe-stacks --stack-name {name}), then {action} again")


def check_status(stack: dict, env: str) -> None:
    status = stack["StackStatus"]
    name = stack["StackName"]
    if status == "REVIEW_IN_PROGRESS" or status in UPDATABLE:
        return
    refuse_in_progress(stack, "deploy")
    reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
    if status == "ROLLBACK_COMPLETE":
        raise JobworkError(
            f"stack {name} is ROLLBACK_COMPLETE: its creation failed and was rolled back, and CloudFormation "
            "cannot update a stack in this state",
            f"delete it with `jobwork-infra destroy --env {env}`, then deploy again")
    raise JobworkError(f"stack {name} is {status}{reason} and cannot be updated",
                       f"look at its events in the CloudFormation console; `jobwork-infra destroy --env {env}` "
                       "deletes it")


def in_progress(stack: dict) -> bool:
    """Another operation runs on the stack (REVIEW_IN_PROGRESS is a stack no operation works on)."""
    return stack["StackStatus"].endswith("_IN_PROGRESS") and stack["StackStatus"] != "REVIEW_IN_PROGRESS"


# Every stack status that ends an operation (API_Stack.html, StackStatus), and REVIEW_IN_PROGRESS (a stack made by a
# change set never executed: nothing runs on it). No botocore waiter waits for "any operation over":
# stack_update_complete fails on UPDATE_ROLLBACK_COMPLETE, which ends another deploy's failed update as well as any.
SETTLED = ("CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE",
           "DELETE_FAILED", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED",
           "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED", "REVIEW_IN_PROGRESS")


def settled_waiter(cfn: Any, delay: float, attempts: int) -> Any:
    """A botocore waiter (the waiter model of botocore's own, version 2) on DescribeStacks until the stack's
    operation is over; a stack deleted meanwhile ("does not exist": ValidationError) is over too."""
    from botocore.waiter import WaiterModel, create_waiter_with_client

    acceptors = [{"state": "success", "matcher": "path", "argument": "Stacks[0].StackStatus", "expected": status}
                 for status in SETTLED]
    acceptors.append({"state": "success", "matcher": "error", "expected": "ValidationError"})
    model = WaiterModel({"version": 2, "waiters": {"StackOperationOver": {
        "operation": "DescribeStacks", "delay": delay, "maxAttempts": attempts, "acceptors": acceptors}}})
    return create_waiter_with_client("StackOperationOver", model, cfn)


def wait_for_other_operation(cfn: Any, stack: dict, emit: Emit, timeout: float) -> None:
    """Another deploy or a rollback is running on the stack: wait until it is over, showing its events.

    CloudFormation runs one operation on a stack at a time: CreateChangeSet and UpdateStack are refused while it is
    *_IN_PROGRESS ("Stack ... is in UPDATE_IN_PROGRESS state and can not be updated"; ansible amazon.aws#1910 waits
    the same way), ExecuteChangeSet answers InvalidChangeSetStatus ("the stack status might be UPDATE_IN_PROGRESS",
    API_ExecuteChangeSet.html). Waiting, then reading the stack again, is how a deploy queues behind another.
    """
    from botocore.exceptions import WaiterError

    name = stack["StackName"]
    reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
    emit(Note(f"stack {name} is {stack['StackStatus']}{reason}: another deploy or a rollback is running on it; "
              "waiting for it to finish, then planning from what it leaves"))
    progress = Progress(cfn, stack["StackId"], emit)
    event = "after-call.cloudformation.DescribeStacks"
    delay = TIMING.stack_poll
    with aws_errors(f"reading stack {name}"):
        progress.baseline()
        cfn.meta.events.register(event, progress.poll)
        try:
            settled_waiter(cfn, delay, max(1, int(timeout // max(delay, 0.1)))).wait(StackName=stack["StackId"])
        except WaiterError as exc:
            if "Max attempts exceeded" not in str(exc):
                raise
            raise JobworkError(f"gave up waiting for stack {name} after {timeout:.0f} s (--timeout): another operation "
                               "is still running on it; nothing was changed",
                               "follow it in the CloudFormation console, and deploy again once it is over") from None
        finally:
            cfn.meta.events.unregister(event, progress.poll)


def rollback_failures(cfn: Any, stack_id: str) -> list[tuple[str, str]]:
    """The resources whose rollback failed in the stack's last rollback: (logical id, reason), oldest first.

    Newest events first: the UPDATE_FAILED events after the stack's latest UPDATE_ROLLBACK_IN_PROGRESS are the
    rollback's own failures (the update's failure that started the rollback came before it)."""
    found: list[tuple[str, str]] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page.get("StackEvents", []):
            if event.get("ResourceType") == "AWS::CloudFormation::Stack":
                if event.get("ResourceStatus") == "UPDATE_ROLLBACK_IN_PROGRESS":
                    return found[::-1]
                continue
            if event.get("ResourceStatus") == "UPDATE_FAILED":
                lid = event.get("LogicalResourceId", "")
                if all(lid != known for known, _ in found):
                    found.append((lid, event.get("ResourceStatusReason") or ""))
    return found[::-1]


# ---------------------------------------------------------------------------------------------
# Live progress: the waiter polls DescribeStacks; each poll also emits the new stack events.

@dataclass
class Progress:
    cfn: Any
    stack_id: str
    emit: Emit
    started: float = field(default_factory=time.monotonic)
    seen: set[str] = field(default_factory=set)
    events: list[dict] = field(default_factory=list)

    def baseline(self) -> None:
        """Mark the events already there, so only this operation's events are shown."""
        page = self.cfn.describe_stack_events(StackName=self.stack_id)
        self.seen.update(e["EventId"] for e in page.get("StackEvents", []))

    def poll(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        new: list[dict] = []
        try:
            for page in self.cfn.get_paginator("describe_stack_events").paginate(StackName=self.stack_id):
                fresh = [e for e in page.get("StackEvents", []) if e["EventId"] not in self.seen]
                new += fresh
                if len(fresh) < len(page.get("StackEvents", [])):
                    break  # newest first: a known event means the rest are known too
        except ClientError:
            return  # events are a view; the waiter decides success
        for event in reversed(new):
            self.seen.add(event["EventId"])
            self.events.append(event)
            self.emit(StackEvent(event.get("ResourceStatus", ""), event.get("LogicalResourceId", ""),
                                 event.get("ResourceType", ""), event.get("ResourceStatusReason") or "",
                                 time.monotonic() - self.started))

    def failures(self) -> list[dict]:
        return [e for e in self.events if e.get("ResourceStatus", "").endswith("_FAILED")]


def wait_stack(cfn: Any, waiter_name: str, stack: str, progress: Progress, timeout: float) -> bool:
    """Wait with the botocore waiter, emitting events; False when the stack ended in failure."""
    from botocore.exceptions import WaiterError

    event = "after-call.cloudformation.DescribeStacks"
    cfn.meta.events.register(event, progress.poll)
    delay = TIMING.stack_poll
    try:
        cfn.get_waiter(waiter_name).wait(
            StackName=stack,
            WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout // max(delay, 1)))})
        return True
    except WaiterError as exc:
        if "Max attempts exceeded" in str(exc):
            raise JobworkError(f"gave up waiting for stack {stack} after {timeout:.0f} s (--timeout); "
                               "CloudFormation is still working on it",
                               "follow it in the CloudFormation console; once it is complete, run deploy "
                               "again to resume") from None
        progress.poll()
        return False
    finally:
        cfn.meta.events.unregister(event, progress.poll)


def failure(cfn: Any, stack_id: str, progress: Progress, what: str) -> JobworkError:
    failed = progress.failures()
    if failed:
        progress.emit(Failed(tuple(
            f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): "
            f"{e.get('ResourceStatusReason') or e.get('ResourceStatus')}" for e in failed)))
    final = "gone"
    try:
        stacks = cfn.describe_stacks(StackName=stack_id)["Stacks"]
        if stacks:
            final = stacks[0]["StackStatus"]
    except Exception:  # noqa: BLE001 — the failure above is what matters; the state is extra
        final = "unknown"
    if final == "UPDATE_ROLLBACK_FAILED":
        return JobworkError(f"{what} failed, and so did its rollback; the stack is now {final}",
                            "it takes no update until the rollback is continued: run deploy again to see which "
                            "resources and the continue-update-rollback command")
    return JobworkError(f"{what} failed; the stack is now {final}",
                        "fix the cause shown above and deploy again")


# ---------------------------------------------------------------------------------------------
# The one change-set runner: create → (guard) → execute → wait, for a deploy step and for adoption

@dataclass
class ChangeSetRun:
    """How a change set ended: "empty" (nothing to change, deleted), "complete", or "failed" (rolled back)."""

    outcome: str
    cfn: Any = None
    stack_id: str = ""
    progress: Progress | None = None

    def failure(self, what: str) -> JobworkError:
        """The error for a failed run, after emitting the failed resources' reasons."""
        return failure(self.cfn, self.stack_id, self.progress, what)


@dataclass
class ChangeSets:
    """Change sets on any stack of one account, each waited for until the stack settles."""

    cfn: Any
    emit: Emit
    timeout: float = STACK_WAIT_SECONDS
    s3: Any = None                        # for templates over the inline limit (--template-bucket)
    template_bucket: str | None = None

    def run(self, stack: str, template: dict, kind: str, summary: str, *, name: str,
            rejected: Callable[[str], JobworkError], parameters: list[dict] | None = None,
            resources_to_import: list[dict] | None = None,
            guard: Callable[[list[dict], str], Exception | None] | None = None,
            upload_key: str | None = None) -> ChangeSetRun:
        """Create change set `name` of `kind` (CREATE, UPDATE, IMPORT) on `stack`, execute it and wait.

        An empty change set is deleted ("empty"); one CloudFormation rejects is deleted and
        `rejected(reason)` raised; a template over the inline limit goes to S3 under `upload_key`;
        `guard(changes, name)` may refuse the described changes (the change set
        is then deleted and what it returns raised). FAILED is also how CloudFormation says "empty":
        the status reason tells which.
        """
        from botocore.exceptions import WaiterError

        cfn = self.cfn
        extra: dict = {}
        if parameters:
            extra["Parameters"] = parameters
        if resources_to_import:
            extra["ResourcesToImport"] = resources_to_import
        body = json.dumps(template, indent=1, sort_keys=False)
        if len(body.encode()) > MAX_INLINE_TEMPLATE:
            body = compact(template)  # whitespace alone must not force S3
        change_set, stack_id = self._create(stack, name, kind, summary,
                                            {**self._template_argument(stack, body, upload_key or name), **extra})
        try:
            cfn.get_waiter("change_set_create_complete").wait(
                ChangeSetName=change_set, StackName=stack_id,
                WaiterConfig={"Delay": TIMING.change_set_poll, "MaxAttempts": 300})
        except WaiterError:
            pass  # the description says why
        with aws_errors(f"reading change set {name}"):
            pages = list(cfn.get_paginator("describe_change_set").paginate(ChangeSetName=change_set,
                                                                           StackName=stack_id))
        described = pages[0]
        changes = [c for page in pages for c in page.get("Changes", [])]
        if described.get("Status") == "FAILED":
            reason = described.get("StatusReason", "")
            empty = any(marker in reason for marker in EMPTY_CHANGE_SET)
            with aws_errors(f"deleting {'empty ' if empty else ''}change set {name}"):
                cfn.delete_change_set(ChangeSetName=change_set, StackName=stack_id)
            if empty:
                return ChangeSetRun("empty")
            raise rejected(reason)
        refusal = guard(changes, name) if guard is not None else None
        if refusal is not None:
            with aws_errors(f"deleting change set {name}"):
                cfn.delete_change_set(ChangeSetName=change_set, StackName=stack_id)
            raise refusal
        progress = Progress(cfn, stack_id, self.emit)
        with aws_errors(f"executing change set {name}"):
            progress.baseline()
            self._execute(stack, name, change_set, stack_id)
            ok = wait_stack(cfn, WAITERS[kind], stack_id, progress, self.timeout)
        return ChangeSetRun("complete" if ok else "failed", cfn, stack_id, progress)

    def _create(self, stack: str, name: str, kind: str, summary: str, arguments: dict) -> tuple[str, str]:
        """CreateChangeSet; (change set id, stack id). Overtaken when another operation runs on the stack."""
        from botocore.exceptions import ClientError

        with aws_errors(f"creating change set {name} on stack {stack}"):
            try:
                created = self.cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=kind,
                                                     Capabilities=CAPABILITIES, Description=summary[:1024],
                                                     **arguments)
            except ClientError as exc:
                message = exc.response.get("Error", {}).get("Message", "")
                if "_IN_PROGRESS state" not in message:
                    raise
                # Another deploy's update started after this deploy read the stack ("Stack ... is in
                # UPDATE_IN_PROGRESS state and can not be updated").
                raise Overtaken(f"another operation started on stack {stack} after this deploy read it ({message}); "
                                "nothing of this step was applied", _RERUN) from None
        return created["Id"], created["StackId"]

    def _execute(self, stack: str, name: str, change_set: str, stack_id: str) -> None:
        """ExecuteChangeSet; Overtaken when another deploy's execute came first (this change set is gone) or another
        operation runs on the stack."""
        from botocore.exceptions import ClientError

        try:
            self.cfn.execute_change_set(ChangeSetName=change_set, StackName=stack_id)
        except ClientError as exc:
            if error_code(exc) == "InvalidChangeSetStatus":
                # "the stack status might be UPDATE_IN_PROGRESS" (API_ExecuteChangeSet.html): another
                # operation runs on the stack; when it ends, this change set is stale or gone.
                raise Overtaken(f"another operation is running on stack {stack} (change set {name} cannot be "
                                "executed now); nothing of this step was applied", _RERUN) from None
            if error_code(exc) != "ChangeSetNotFound":
                raise
            # Another change set of the stack was executed since this one was made: CloudFormation
            # deleted this one with the others (AWS CloudFormation User Guide, change sets).
            raise Overtaken(f"stack {stack} was updated by another deploy after change set {name} was "
                            "made (CloudFormation deleted it); nothing of this step was applied", _RERUN) from None

    def _template_argument(self, stack: str, body: str, upload_key: str) -> dict:
        """TemplateBody, or for templates over CloudFormation's inline limit a TemplateURL in S3."""
        size = len(body.encode())
        if size <= MAX_INLINE_TEMPLATE:
            return {"TemplateBody": body}
        if not self.template_bucket:
            raise JobworkError(
                f"the template of stack {stack} is {size:,} bytes, over CloudFormation's "
                f"{MAX_INLINE_TEMPLATE:,}-byte limit for templates sent inline",
                "pass --template-bucket BUCKET: an S3 bucket in the stack's region that you can write to")
        key = f"jobwork-infra/{stack}/{upload_key}.json"
        with aws_errors(f"uploading the template to s3://{self.template_bucket}/{key}"):
            self.s3.put_object(Bucket=self.template_bucket, Key=key, Body=body.encode(),
                               ContentType="application/json")
        region = self.s3.meta.region_name or "us-east-1"
        # Path-style: valid for any bucket name (dots included), and the form CDK itself passes.
        return {"TemplateURL": f"https://s3.{region}.amazonaws.com/{self.template_bucket}/{key}"}
