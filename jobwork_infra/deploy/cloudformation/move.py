"""A table moved between this tool's own stacks (D206): the old stack's template without it.

The move is the adoption's retain → remove → import (adopt.py), with one difference in the removal:
the old stack is this tool's own, and its tenant policies (AWS::IAM::ManagedPolicy) always refer to
the table (`Fn::GetAtt [OrdersTable, Arn]`), which the adoption refuses for another team's stack
(R015: removing a resource others refer to fails). Here those references are rewritten to the table's
ARN spelled out, so the policies keep granting what they granted — the table keeps its name and ARN
through the move — and nothing refers to the resource removed. The old stack's next update drops them.
Any other reference is still refused.

Moving resources between stacks by retain, remove and import:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/refactor-stacks.html
"""

from __future__ import annotations

import json
from typing import Any

from .template import removed_template

POLICY_TYPE = "AWS::IAM::ManagedPolicy"


def _arn(name: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{name}"}


def _spelled_out(node: Any, names: dict[str, str]) -> Any:
    """`node` with Fn::GetAtt [lid, Arn] and Ref lid of the moved tables replaced by their ARN and name."""
    if isinstance(node, dict):
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            parts = target if isinstance(target, list) else str(target).split(".", 1)
            if len(parts) == 2 and parts[0] in names and parts[1] == "Arn":
                return _arn(names[parts[0]])
        if set(node) == {"Ref"} and node["Ref"] in names:
            return names[node["Ref"]]
        return {k: _spelled_out(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_spelled_out(v, names) for v in node]
    return node


def released_template(template: dict, logical_ids: list[str], stack: str) -> dict:
    """The old stack's template without the moved tables, its tenant policies naming them by ARN;
    Refused (R015) when another resource still refers to them."""
    out = json.loads(json.dumps(template))
    resources = out.get("Resources") or {}
    names = {lid: resources[lid]["Properties"]["TableName"] for lid in logical_ids}
    for lid, resource in resources.items():
        if resource.get("Type") == POLICY_TYPE:
            resources[lid] = _spelled_out(resource, names)
    # The stack's manifest of tables (Metadata) no longer lists them: outputs and codegen read it.
    manifest = ((out.get("Metadata") or {}).get("JobworkInfra") or {}).get("Tables")
    if isinstance(manifest, dict):
        for key in [k for k, v in manifest.items() if isinstance(v, dict) and v.get("LogicalId") in names]:
            del manifest[key]
    return removed_template(out, logical_ids, stack)
