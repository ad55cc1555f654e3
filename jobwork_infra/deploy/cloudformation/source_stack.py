"""A source stack read for `import --from-stack` and `deploy --adopt --from-stack`: template, parameters, tables.

The template is read by source.py with what the stack says about itself: DescribeStacks (its
parameters' values — `ResolvedValue` for SSM parameters — its id, which names the partition, region
and account) and ListStackResources (the physical id of each resource). Each table's shape is then
read from the live table (DescribeTable and friends): the template serves only for logical ids,
policies, references and the property check of table_properties.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...errors import JobworkError
from ...model import Encryption
from ...table_properties import CREATION_ONLY, PROPERTIES, refusals
from .source import SourceTable, SourceTemplate, StackContext, Unresolved, read_source


@dataclass(frozen=True)
class StackSource:
    stack: str
    source: SourceTemplate
    physical_ids: dict[str, str]      # logical id → physical id, every resource of the stack

    def tables(self) -> list[tuple[SourceTable, str]]:
        """(table, physical name) for each table the stack holds, by logical id."""
        return [(t, self.physical_ids[lid]) for lid, t in sorted(self.source.tables.items())
                if lid in self.physical_ids]


def template_text(cfn: Any, stack: str) -> str:
    """The stack's original template as text (botocore decodes a JSON body; a YAML one stays text)."""
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    return body if isinstance(body, str) else json.dumps(body, indent=2)


def read_stack_source(cfn: Any, stack: str) -> StackSource:
    """The stack's template resolved with its own parameters and physical ids (nothing is changed)."""
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    # arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/ID
    parts = described["StackId"].split(":")
    partition, region, account = (parts[1], parts[3], parts[4]) if len(parts) > 5 else ("aws", "us-east-1", "")
    parameters = {p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
                  for p in described.get("Parameters") or []}
    physical: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page["StackResourceSummaries"]:
            if summary.get("PhysicalResourceId"):
                physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    context = StackContext(stack, region=region, account=account, partition=partition,
                           url_suffix="amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
                           stack_id=described["StackId"], parameters=parameters, physical_ids=physical)
    source = read_source(template_text(cfn, stack), f"{stack}.template", context)
    return StackSource(stack, source, physical)


def unkept_note(path: str, reason: str, way_forward: str) -> str:
    """The comment import writes for a property the schema cannot keep; adopt refuses the table (R023)."""
    return (f"not kept by the schema yet: {path}: {reason}; {way_forward}. `deploy --adopt` refuses this table "
            "until then (docs/schema.md)")


def notes_for(stack: str, table: SourceTable) -> list[str]:
    """What import writes as comments: the policies that put the data at risk, references, creation-only."""
    notes = []
    if table.deletion_policy in ("Delete", "Snapshot"):
        notes.append(f"stack {stack} deletes this table with its data if the table leaves the stack or the stack is "
                     f"deleted (DeletionPolicy {table.deletion_policy}): adopt it before changing that stack "
                     "(docs/adopt.md)")
    if table.referred_by:
        notes.append(f"referred to in stack {stack} by {', '.join(table.referred_by)}: those references go before "
                     "the table can leave that stack")
    for name in table.properties:
        row = PROPERTIES.get(name)
        if row is not None and row.status == CREATION_ONLY:
            notes.append(f"{name}: {row.reason}")
    return notes


_AWS_MANAGED_KEY = "alias/aws/dynamodb"


def _customer_key(table: SourceTable, description: dict) -> str | None:
    """The live table's key ARN when the source template names a key of its own (a customer managed key).

    DescribeTable reports the key's ARN but not whose key it is; the template that asked for it does:
    a KMSMasterKeyId other than alias/aws/dynamodb is the team's key. Unresolvable: not decided here
    (import keeps its note with the ARN).
    """
    arn = (description.get("SSEDescription") or {}).get("KMSMasterKeyArn")
    spec = table.properties.get("SSESpecification")
    if not arn or not isinstance(spec, dict):
        return None
    asked = spec.get("KMSMasterKeyId")
    if not isinstance(asked, str) or asked in (_AWS_MANAGED_KEY, f"arn:aws:kms:::{_AWS_MANAGED_KEY}"):
        return None
    return arn if ":key/" in arn else None


def _as_the_template_asked(model: Any, live: Any, properties: dict) -> Any:
    """An option AWS only raises (warm throughput) compared with what the template asked for: the live
    table has one whether or not anyone set it."""
    from ...table_options import TABLE_OPTIONS, settled

    return model.model_copy(update={
        o.field: settled(o, live.options[o.field], o.from_cfn(properties.get(o.cfn_property)))
        for o in TABLE_OPTIONS if o.settle and o.field in live.options})


def imported_from_stack(dynamodb: Any, cfn: Any, stack: str, names: list[str], tenancy_attribute: str) -> list:
    """`import --from-stack`: the stack's tables (all, or those named by physical name or logical id), each
    read from the live table, with the template's notes; a property the schema cannot keep (from the
    template or the live table) is a note too, and `deploy --adopt` refuses that table (R023)."""
    from ...importer import Imported
    from ...load import did_you_mean
    from ..dynamodb import read_live_table, unexpressed
    from ..live_settings import read_live_settings
    from ..shapes import table_from_live

    source = read_stack_source(cfn, stack)
    held = source.tables()
    if not held:
        raise JobworkError(f"stack {stack} has no DynamoDB tables", "check the stack name")
    wanted = []
    for name in names or [t.logical_id for t, _ in held]:
        found = next(((t, p) for t, p in held if name in (t.logical_id, p)), None)
        if found is None:
            listed = ", ".join(f"{p} ({t.logical_id})" for t, p in held)
            raise JobworkError(f"stack {stack} has no table {name!r} (its tables: {listed})",
                               did_you_mean(name, [*(p for _, p in held), *(t.logical_id for t, _ in held)]))
        wanted.append(found)
    out = []
    for table, physical in wanted:
        live = read_live_table(dynamodb, physical, aws=True)
        if live is None:
            raise JobworkError(f"stack {stack} lists table {physical} ({table.logical_id}) but DynamoDB has no "
                               "such table", "it was deleted outside CloudFormation; check the stack's drift")
        model = table_from_live(live, key=physical, tenancy_attribute=tenancy_attribute)
        model = _as_the_template_asked(model, live, table.properties)
        unkept = {r.path: r.property for r in refusals(table.properties,
                                                         unresolved=lambda v: isinstance(v, Unresolved))}
        unkept.update({r.path: r.property for r in read_live_settings(dynamodb, live.description).refusals})
        notes = [*notes_for(stack, table), *unexpressed(live, model),
                 *(unkept_note(path, p.reason, p.way_forward) for path, p in unkept.items())]
        customer = _customer_key(table, live.description)
        if customer is not None:
            model = model.model_copy(update={"encryption": Encryption(type="customer_managed",
                                                                      kms_key_arn=customer)})
            notes = [n for n in notes if not n.startswith("encrypted with the KMS key")]
        out.append(Imported(model, f"stack {stack}, resource {table.logical_id}", tuple(notes)))
    return out
