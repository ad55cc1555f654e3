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
from ..events import Emit, Failed, StackEvent
from ..gate import Refused
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
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
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
    if status == "UPDATE_ROLLBACK_FAILED":
        raise JobworkError(
            f"stack {name} is UPDATE_ROLLBACK_FAILED{reason}: a rollback could not finish",
            f"fix the cause, then run `aws cloudformation continue-update-rollback --stack-name {name}`, "
            "and deploy again")
    raise JobworkError(f"stack {name} is {status}{reason} and cannot be updated",
                       f"look at its events in the CloudFormation console; `jobwork-infra destroy --env {env}` "
                       "deletes it")


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
        from botocore.exceptions import ClientError, WaiterError

        cfn = self.cfn
        extra: dict = {}
        if parameters:
            extra["Parameters"] = parameters
        if resources_to_import:
            extra["ResourcesToImport"] = resources_to_import
        body = json.dumps(template, indent=1, sort_keys=False)
        if len(body.encode()) > MAX_INLINE_TEMPLATE:
            body = compact(template)  # whitespace alone must not force S3
        with aws_errors(f"creating change set {name} on stack {stack}"):
            created = cfn.create_change_set(
                StackName=stack, ChangeSetName=name, ChangeSetType=kind, Capabilities=CAPABILITIES,
                Description=summary[:1024], **self._template_argument(stack, body, upload_key or name), **extra)
        change_set, stack_id = created["Id"], created["StackId"]
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
            try:
                cfn.execute_change_set(ChangeSetName=change_set, StackName=stack_id)
            except ClientError as exc:
                if error_code(exc) != "ChangeSetNotFound":
                    raise
                # Another change set of the stack was executed since this one was made: CloudFormation
                # deleted this one with the others (AWS CloudFormation User Guide, change sets).
                raise Refused("R010", f"stack {stack} was updated by another deploy after change set {name} was "
                              "made (CloudFormation deleted it); nothing of this step was applied",
                              "run deploy again: it plans from what is deployed now") from None
            ok = wait_stack(cfn, WAITERS[kind], stack_id, progress, self.timeout)
        return ChangeSetRun("complete" if ok else "failed", cfn, stack_id, progress)

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
