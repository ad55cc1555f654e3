"""The templates this tool sends: pure functions of dicts, no AWS call.

The synthesized template plus what the deploy itself records in its Metadata (when each table's TTL
last changed; the tables whose indexes the last update changed), how templates are compared, and
the templates of adoption (retain, remove, import: cloudformation/adopt.py runs them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ...budgets import MAX_TEMPLATE_S3
from ...model import ResolvedSchema
from ..aws import TABLE_TYPE
from ..gate import Refused

# CloudFormation's limit for TemplateBody; bigger templates must be passed as an S3 URL.
MAX_INLINE_TEMPLATE = 51_200
MAX_S3_TEMPLATE = MAX_TEMPLATE_S3  # through S3 (TemplateURL); the budgets' reading of "1 MB"
# Metadata.JobworkInfra.DeploySerial: bumped by every apply (issue 18, item 2); with the stack's id it is
# the lineage and serial a saved plan records, so a plan applies once even after a revert.
SERIAL_RECORD = "DeploySerial"
TTL_RECORD = "TtlChangedAt"  # Metadata.JobworkInfra.TtlChangedAt: table key → ISO time of its last TTL change
# Metadata.JobworkInfra.IndexesChanged: the keys of the tables whose global indexes the update that
# sent this template created or deleted. CloudFormation reports the stack complete before such an
# index is ACTIVE (settle.py cites it); everything else it waits for. So a later run needs to wait
# only for these tables before planning, instead of describing every table of the stack.
SETTLING_RECORD = "IndexesChanged"
RETAIN = "Retain"
PLACEHOLDER = "JobworkInfraKeepsTheStack"
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-waitconditionhandle.html
PLACEHOLDER_RESOURCE = {"Type": "AWS::CloudFormation::WaitConditionHandle"}


def deployed_tables(template: dict) -> dict[str, dict]:
    """logical id → resource, for the DynamoDB tables of a template."""
    return {lid: r for lid, r in (template.get("Resources") or {}).items()
            if isinstance(r, dict) and r.get("Type") == TABLE_TYPE}


def schema_hash_of(template: dict) -> str | None:
    """The hash of the schema that made the template (its Metadata), None for a template made elsewhere."""
    return ((template.get("Metadata") or {}).get("JobworkInfra") or {}).get("SchemaHash")


def compact(template: dict) -> str:
    return json.dumps(template, separators=(",", ":"))


def canonical(template: dict) -> str:
    """The template as compared: the record of the last update's index changes is not part of what it deploys."""
    meta = (template.get("Metadata") or {}).get("JobworkInfra") or {}
    if SETTLING_RECORD in meta or SERIAL_RECORD in meta:
        template = {**template, "Metadata": {**template["Metadata"], "JobworkInfra": {
            k: v for k, v in meta.items() if k not in (SETTLING_RECORD, SERIAL_RECORD)}}}
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


def serial_of(template: dict) -> int:
    """The deploy serial recorded in the template (0: none, or not a number)."""
    value = ((template.get("Metadata") or {}).get("JobworkInfra") or {}).get(SERIAL_RECORD)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def settling_record(template: dict) -> list[str] | None:
    """Keys of the tables whose indexes may still be settling; None when the template has no record."""
    record = ((template.get("Metadata") or {}).get("JobworkInfra") or {}).get(SETTLING_RECORD)
    return [k for k in record if isinstance(k, str)] if isinstance(record, list) else None


def ttl_record(template: dict) -> dict[str, datetime]:
    """Table key → when its TTL last changed, as recorded in the template's Metadata."""
    record = ((template.get("Metadata") or {}).get("JobworkInfra") or {}).get(TTL_RECORD) or {}
    out = {}
    for key, stamp in record.items():
        try:
            out[key] = datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            continue  # a hand-edited record is ignored rather than trusted
    return out


def prepare_template(template: dict, target: ResolvedSchema, current: dict | None,
                     ttl_changed: dict[str, datetime]) -> dict:
    """The synthesized template, plus TTL disabled explicitly and the record of TTL changes.

    A TTL that leaves the schema is sent as `Enabled: false` with the attribute it had: leaving
    TimeToLiveSpecification out leaves TTL on in AWS (https://github.com/aws/aws-cdk/issues/10576)
    or fails the update (https://github.com/aws/aws-cdk/issues/25655). The record of when each
    table's TTL last changed rides in the template's Metadata, so the next deploy knows when AWS's
    one-hour window ends.
    """
    template = json.loads(json.dumps(template))
    current_tables = deployed_tables(current or {})
    by_logical_id = {t.logical_id: t for t in target.tables.values()}
    for lid, resource in deployed_tables(template).items():
        table = by_logical_id.get(lid)
        props = resource.setdefault("Properties", {})
        if table is None or table.ttl is not None or "TimeToLiveSpecification" in props:
            continue
        old = ((current_tables.get(lid) or {}).get("Properties") or {}).get("TimeToLiveSpecification") or {}
        if isinstance(old.get("AttributeName"), str):
            props["TimeToLiveSpecification"] = {"AttributeName": old["AttributeName"], "Enabled": False}
    if ttl_changed:
        keys = [k for k in target.tables if k in ttl_changed]
        meta = template.setdefault("Metadata", {}).setdefault("JobworkInfra", {})
        meta[TTL_RECORD] = {k: ttl_changed[k].astimezone(UTC).isoformat(timespec="seconds") for k in keys}
    return template


def policies(template: dict) -> tuple[str, ...]:
    """The tenant policies of a deployed template, as a destroy lists them (they go with the stack)."""
    return tuple(f"IAM managed policy {(r.get('Properties') or {}).get('ManagedPolicyName') or lid}"
                 for lid, r in (template.get("Resources") or {}).items() if r.get("Type") == "AWS::IAM::ManagedPolicy")


# ---------------------------------------------------------------------------------------------
# Adoption: retain, remove, import

def refers_to(node: Any, ids: set[str]) -> bool:
    """Whether a template fragment refers to one of `ids` (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and v in ids:
                return True
            if k == "Fn::GetAtt" and (v[0] if isinstance(v, list) and v else str(v).split(".")[0]) in ids:
                return True
            if k == "Fn::Sub" and any(f"${{{i}" in json.dumps(v) for i in ids):
                return True
            if k == "DependsOn" and ({v} if isinstance(v, str) else set(v or [])) & ids:
                return True
            if refers_to(v, ids):
                return True
    elif isinstance(node, list):
        return any(refers_to(v, ids) for v in node)
    return False


def retained_template(template: dict, logical_ids: list[str]) -> dict:
    """The template with DeletionPolicy and UpdateReplacePolicy Retain on those resources, nothing else."""
    out = json.loads(json.dumps(template))
    for lid in logical_ids:
        out["Resources"][lid]["DeletionPolicy"] = RETAIN
        out["Resources"][lid]["UpdateReplacePolicy"] = RETAIN
    return out


def removed_template(template: dict, logical_ids: list[str], stack: str) -> dict:
    """The template without those resources and the outputs that named them; Blocked if others refer to them."""
    ids = set(logical_ids)
    out = json.loads(json.dumps(template))
    resources = {k: v for k, v in out["Resources"].items() if k not in ids}
    users = sorted(k for k, v in resources.items() if refers_to(v, ids))
    if users:
        raise Refused(
            "R015",
            f"stack {stack} has resources that refer to the tables to take out ({', '.join(users)}): removing the "
            "tables from it would fail; nothing was changed",
            f"remove those references from the app that deploys stack {stack} and deploy it, then rerun")
    out["Resources"] = resources or {PLACEHOLDER: PLACEHOLDER_RESOURCE}
    outputs = {k: v for k, v in (out.get("Outputs") or {}).items() if not refers_to(v, ids)}
    if "Outputs" in out:
        if outputs:
            out["Outputs"] = outputs
        else:
            del out["Outputs"]
    return out


def import_template(current: dict | None, resources: dict[str, dict]) -> dict:
    """The stack's template plus the imported resources (Retain), outputs and everything else unchanged."""
    out = json.loads(json.dumps(current or {}))
    out.setdefault("Resources", {})
    for lid, resource in resources.items():
        out["Resources"][lid] = {**resource, "DeletionPolicy": RETAIN, "UpdateReplacePolicy": RETAIN}
    return out
