"""Which CloudFormation stacks make up an environment: what deploy, destroy and status read.

The schema's stacks (`ResolvedSchema.stacks`) are not enough. `stacks` leaves the main stack out once
every table of the schema is in another stack (a stack of nothing is not a template to create), yet
a main stack deployed while it held a table still holds it: skipped, its table stayed in it unseen
while deploy said "No changes: the N stacks match the schema". So a deployed stack of this
environment is read whether or not the schema still puts a table in it: the main stack by its name,
the others by the `{app}-{env}-` prefix, each only when its template's Metadata names this
environment (`{app}-dev-x` may be the main stack of an environment `dev-x`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model import ResolvedSchema
from ..aws import aws_errors
from .read import stack_template


def stacks_of_environment(head: ResolvedSchema, deployed: Mapping[str, str | None]) -> list[str]:
    """The stacks to read, in deploy order: the main stack first (when the schema or a deployed stack
    has it), the schema's other stacks by name, then the deployed ones the schema no longer names.

    `deployed`: the name of each deployed stack that may belong to the environment → the environment
    its template's Metadata names (None: a template jobwork-infra did not make)."""
    names = list(head.stacks)
    main, prefix = head.stack_name, f"{head.stack_name}-"
    ours = {name for name, env in deployed.items() if env == head.env}
    if main not in names and main in ours:
        names.insert(0, main)
    names += sorted(name for name in ours if name.startswith(prefix) and name not in names)
    return names


def environment_stack_names(cfn: Any, head: ResolvedSchema) -> list[str]:
    """`stacks_of_environment` over the stacks CloudFormation lists (not deleted)."""
    main, prefix = head.stack_name, f"{head.stack_name}-"
    schema = set(head.stacks)
    with aws_errors("listing the stacks"):
        found = sorted({s["StackName"] for page in cfn.get_paginator("list_stacks").paginate()
                        for s in page.get("StackSummaries", [])
                        if s.get("StackStatus") != "DELETE_COMPLETE"
                        and (s["StackName"] == main or s["StackName"].startswith(prefix))
                        and s["StackName"] not in schema})
        deployed = {name: ((stack_template(cfn, name).get("Metadata") or {}).get("JobworkInfra") or {}).get(
            "Environment") for name in found}
    return stacks_of_environment(head, deployed)
