"""Drift: the live tables against what was deployed, each difference with what the next deploy does.

Three versions of an environment side by side: the schema resolved for it (`head`), what was
deployed (`reference`: the stack's template on CloudFormation; on the local engine the registry
records ownership only, so the schema stands in for it) and the live tables (`live`). A difference
between `reference` and `live` is drift: someone changed the table behind the tool's back. Each is
a `Change` of diff.py (diff_schemas(reference, live): the same kinds, codes and severities as
`diff`), told as what happened and what the next deploy would do about it:

- the local deploy plans from the live tables, so it undoes every drift the schema disagrees with;
- CloudFormation applies only what changes between the deployed template and the new one: a
  drifted property the schema does not touch stays drifted, and one the schema changes to what it
  already is live fails (AWS refuses to create what exists).

Imports neither boto3 nor aws_cdk: the reading is deploy/dynamodb.py's (and deploy/factory.py's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .changes import Change, Severity
from .diff import diff_schemas, sort_changes
from .model import ResolvedSchema

# Always left out, with the reason: what AWS changes on its own, or what no table stores.
NOT_CHECKED = (
    "provisioned capacity: auto scaling moves it (diff and deploy compare it with the schema)",
    "warm throughput: AWS sets and raises it",
    "the order of attribute definitions and indexes: meaningless to DynamoDB",
    "descriptions, non-key attributes and access patterns: DynamoDB does not store them",
)
# Meta-changes about how a set of changes is staged, not a difference of their own.
_STAGING = {"gsi_updates_staged"}
_NOISE = {"capacity_changed"}


@dataclass(frozen=True)
class DriftItem:
    change: Change          # reference → live: kind, code and severity as diff gives them
    drift: str              # what differs, in words
    next_deploy: str        # what the next deploy does about it

    @property
    def severity(self) -> Severity:
        return self.change.severity


@dataclass(frozen=True)
class DriftReport:
    env: str
    where: str                                       # "stack jobwork-dev at …", "DynamoDB Local (…)"
    reference_label: str                             # "the deployed template", "the schema"
    items: tuple[DriftItem, ...]
    unmanaged: tuple[str, ...] = ()                  # live tables with the env's prefix that no schema manages
    unadopted: tuple[str, ...] = ()                  # the schema's names, taken by tables not managed here
    not_checked: tuple[str, ...] = field(default=NOT_CHECKED)
    pending: tuple[Change, ...] = ()                 # reference → schema: not drift, just not deployed yet

    @property
    def severity(self) -> Severity | None:
        return max((i.severity for i in self.items), default=None)


def find_drift(head: ResolvedSchema, reference: ResolvedSchema, live: ResolvedSchema, *, target: str,
               reference_label: str, where: str, unmanaged: Iterable[str] = (), unadopted: Iterable[str] = (),
               not_reported: Iterable[str] = ()) -> DriftReport:
    """Every difference between `reference` and `live`, and what a deploy of `head` does about it.

    `target` is "local" (the deploy plans from the live tables) or "cloudformation" (from the
    deployed template). `not_reported`: options the engine does not report, listed as not checked.
    """
    drifted = [c for c in diff_schemas(reference, live) if c.kind not in _STAGING | _NOISE]
    to_head_from_live = _by_subject(diff_schemas(live, head))
    to_head_from_reference = _by_subject(diff_schemas(reference, head))
    items = []
    for change in sort_changes(drifted, list(reference.tables)):
        subject = (change.table, change.subject)
        if target == "local":
            consequence = _local_consequence(to_head_from_live.get(subject))
        else:
            consequence = _cloudformation_consequence(change, to_head_from_reference.get(subject),
                                                      to_head_from_live.get(subject))
        sentence = _drift_sentence(change, reference_label)
        # The record keeps diff's kind, code and severity; its sentence is told from the live side.
        items.append(DriftItem(replace(change, statement=sentence, advice=None), sentence, consequence))
    gaps = tuple(f"{option}: not reported by this engine (the schema's value is assumed)"
                 for option in dict.fromkeys(not_reported))
    pending = tuple(c for c in diff_schemas(reference, head) if c.kind not in _STAGING)
    return DriftReport(head.env, where, reference_label, tuple(items), tuple(sorted(unmanaged)),
                       tuple(sorted(unadopted)), NOT_CHECKED + gaps, pending)


def _by_subject(changes: list[Change]) -> dict[tuple[str, str], Change]:
    return {(c.table, c.subject): c for c in changes if c.kind not in _STAGING}


def _drift_sentence(change: Change, reference_label: str) -> str:
    """What differs, told from the live table's side (the change reads reference → live)."""
    what = change.subject or f"table {change.table}"
    if change.kind in ("table_removed", "table_removed_retained"):
        return f"table {change.table} is gone from the engine, but {reference_label} has it"
    if change.kind == "table_added":
        return f"table {change.table} exists live, but {reference_label} does not have it"
    if change.kind == "gsi_added":
        return f"{what} exists on the live table only: added outside jobwork-infra"
    if change.kind == "gsi_removed":
        return f"{what} is missing from the live table: deleted outside jobwork-infra"
    if isinstance(change.before, dict) and isinstance(change.after, dict):
        return f"{what} differ live: {_dict_drift(change.before, change.after)}"
    return f"{what}: {_value(change.before)} in {reference_label}, {_value(change.after)} live"


def _dict_drift(before: dict, after: dict) -> str:
    parts = [f"{k}={_value(after[k])} added" for k in after if k not in before]
    parts += [f"{k} removed" for k in before if k not in after]
    parts += [f"{k} {_value(before[k])} → {_value(after[k])}" for k in after if k in before and before[k] != after[k]]
    return ", ".join(parts)


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _local_consequence(undo: Change | None) -> str:
    if undo is None:
        return "deploy keeps it: the schema says the same (it is no longer drift once deployed)"
    if undo.severity is Severity.DESTRUCTIVE:
        return f"deploy refuses it without --allow-destructive: {undo.statement}"
    return f"deploy will undo it: {undo.statement}"


# The properties CloudFormation sets again when the template changes them, and what AWS answers
# when the live table already has them:
# - a stream: "Table already has an enabled stream" (ValidationException), reported in
#   https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1167
# - an index: CloudFormation compares the old template with the new one, not with the table
#   (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/881), so it
#   creates an index that exists, and DynamoDB refuses it
# - TTL: UpdateTimeToLive "returns a ValidationException" when TTL is already enabled
#   (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html)
_ALREADY = {
    "gsi_added": "deploy will fail: the index already exists, and CloudFormation would create it again; "
                 "delete it by hand first, or rename it in the schema",
    "stream_changed": "deploy will fail: stream already enabled, and CloudFormation would enable it again; "
                      "disable it by hand first (its consumers stop)",
    "ttl_enabled": "deploy will fail: TTL already enabled, and CloudFormation would enable it again; "
                   "disable it by hand first",
}


def _cloudformation_consequence(drift: Change, template_change: Change | None, undo: Change | None) -> str:
    if template_change is None:
        if undo is None:
            return "deploy leaves it: the schema says the same as the live table"
        return ("deploy leaves it drifted: CloudFormation changes only what differs between the deployed "
                "template and the new one; undo it by hand, or write it into the schema")
    if undo is None:  # the schema now asks for what someone already did by hand
        if drift.kind in _ALREADY and drift.before in (None, False):
            return _ALREADY[drift.kind]
        return "deploy sets it to what it already is: no effect"
    if undo.severity is Severity.DESTRUCTIVE:
        return f"deploy refuses it without --allow-destructive: {template_change.statement}"
    return f"deploy will change it: {template_change.statement}"

