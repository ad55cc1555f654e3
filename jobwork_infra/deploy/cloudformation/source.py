"""Another team's CloudFormation template, read for adoption: its tables, their policies, what refers to them.

`import --from-stack` and `deploy --adopt --from-stack` need three things from the stack that holds a
table today: the table's logical id, its DeletionPolicy and UpdateReplacePolicy (a table under
`Delete` is deleted with its items if it leaves the stack), and the resources and outputs that refer
to it (they would break when it leaves). Everything else about the table — keys, indexes,
throughput, options — is read from the live table (DescribeTable and friends), which is the truth;
the template's properties are kept resolved only so that a property the tool does not model can be
named (`table_properties.py`), never to shape the table.

The template is the other team's: JSON or YAML, with short-form tags (`!Ref`, `!Sub`, `!If`…), read
by cfn-lint's decoder (`cfnlint.decode`, the decoder cfn-lint itself runs; it also refuses duplicate
keys). Parameters take the stack's values (DescribeStacks), else their defaults; conditions are
evaluated; Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Select, Fn::Join, Fn::Split, Fn::FindInMap and
Fn::Base64 are resolved, following CloudFormation's intrinsic function reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html).
What cannot be resolved without calling AWS (Fn::ImportValue, Fn::GetAZs, an attribute of another
resource, a NoEcho parameter) is refused where it is needed, located: `FILE:LINE:COL: error F102: …`.

Pure: no boto3; the caller passes what DescribeStacks and ListStackResources said.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import JobworkError, Location

TABLE_TYPE = "AWS::DynamoDB::Table"
# Pseudo parameters: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html
NO_VALUE = "AWS::NoValue"
# Parameter types whose value is a list (the stack's value is comma-separated).
_LIST_TYPES = re.compile(r"(CommaDelimitedList|List<.*>)$")
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

# Codes of the refusals this module raises (the F family: a foreign template).
UNREADABLE = "F101"      # not JSON or YAML CloudFormation can read
UNRESOLVABLE = "F102"    # an intrinsic function that cannot be resolved without AWS
UNSUPPORTED = "F103"     # a construct adoption does not handle (Fn::ForEach, a SAM SimpleTable)


class TemplateRefused(JobworkError):
    """A template (or a part of it) the reader cannot resolve; the message is located."""

    def __init__(self, code: str, location: Location, message: str, hint: str | None = None):
        super().__init__(f"{location}: error {code}: {message}", hint)
        self.code, self.location, self.reason = code, location, message


class _NoValue:
    """AWS::NoValue: the property it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


REMOVED = _NoValue()


@dataclass(frozen=True)
class Unresolved:
    """A part of a property that could not be resolved; raised (located) only if someone needs it."""

    code: str
    location: Location
    reason: str
    hint: str | None = None

    def refuse(self) -> TemplateRefused:
        return TemplateRefused(self.code, self.location, self.reason, self.hint)


@dataclass(frozen=True)
class StackContext:
    """What the stack knows that its template does not (DescribeStacks, ListStackResources, the account)."""

    stack_name: str
    region: str = "us-east-1"
    account: str = "123456789012"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"
    stack_id: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)     # name → value; "****" when NoEcho
    physical_ids: Mapping[str, str] = field(default_factory=dict)   # logical id → physical id


@dataclass(frozen=True)
class SourceTable:
    """One AWS::DynamoDB::Table of the template, as far as adoption needs it."""

    logical_id: str
    deletion_policy: str            # "Delete" when the template says nothing (CloudFormation's default)
    update_replace_policy: str
    properties: dict                # resolved; AWS::NoValue removed; an unresolvable part is `Unresolved`
    referred_by: tuple[str, ...]    # "Resources.UsersPolicy", "Outputs.UsersArn", in template order
    location: Location

    def unresolved(self) -> list[Unresolved]:
        return list(_unresolved_in(self.properties))

    def require(self, *path: str | int) -> Any:
        """The resolved value at `path` of the properties (None when absent); refused if unresolvable."""
        node: Any = self.properties
        for step in path:
            if isinstance(node, Unresolved):
                raise node.refuse()
            if isinstance(node, dict):
                node = node.get(step)
            elif isinstance(node, list) and isinstance(step, int) and step < len(node):
                node = node[step]
            else:
                return None
        first = next(_unresolved_in(node), None)
        if first is not None:
            raise first.refuse()
        return node


@dataclass(frozen=True)
class SourceTemplate:
    file: str
    template: dict                  # as decoded, long form (`!Ref x` is {"Ref": "x"}): what is sent back
    conditions: dict[str, bool]
    tables: dict[str, SourceTable]  # logical id → table, in template order; tables whose condition is false left out


# ---------------------------------------------------------------------------------------------
# Decoding

def decode_template(text: str, file: str) -> dict:
    """JSON or YAML (short-form tags included) → the template in long form; refused, located, if unreadable."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(text)
    if matches or not isinstance(template, dict):
        first = matches[0] if matches else None
        location = Location(file, getattr(first, "linenumber", 1) or 1, getattr(first, "columnnumber", 1) or 1)
        message = first.message if first is not None else "the template is not a map"
        raise TemplateRefused(UNREADABLE, location, f"the template cannot be read: {message}",
                              "check the stack's template in the CloudFormation console (Template tab)")
    return template


def _location(file: str, node: Any, fallback: Location) -> Location:
    mark = getattr(node, "start_mark", None)
    if mark is None:
        return fallback
    return Location(file, mark.line + 1, mark.column + 1)


# ---------------------------------------------------------------------------------------------
# Resolving

class _Resolver:
    def __init__(self, file: str, template: dict, context: StackContext):
        self.file, self.template, self.context = file, template, context
        self.parameters = template.get("Parameters") or {}
        self.mappings = template.get("Mappings") or {}
        self.resources = template.get("Resources") or {}
        self.condition_nodes = template.get("Conditions") or {}
        self.conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # -- failures ---------------------------------------------------------------------------
    def refuse(self, code: str, node: Any, at: Location, reason: str, hint: str | None = None) -> TemplateRefused:
        return TemplateRefused(code, _location(self.file, node, at), reason, hint)

    # -- parameters and pseudo parameters ----------------------------------------------------
    def ref(self, name: Any, node: Any, at: Location) -> Any:
        c = self.context
        if not isinstance(name, str):
            raise self.refuse(UNRESOLVABLE, node, at, "Ref takes the name of a parameter or resource")
        pseudo = {"AWS::StackName": c.stack_name, "AWS::Region": c.region, "AWS::AccountId": c.account,
                  "AWS::Partition": c.partition, "AWS::URLSuffix": c.url_suffix,
                  "AWS::StackId": c.stack_id or f"arn:{c.partition}:cloudformation:{c.region}:{c.account}:"
                                                f"stack/{c.stack_name}/unknown",
                  "AWS::NotificationARNs": []}
        if name == NO_VALUE:
            return REMOVED
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameter(name, node, at)
        if name in self.resources:
            if name in c.physical_ids:
                return c.physical_ids[name]
            raise self.refuse(UNRESOLVABLE, node, at, f"Ref {name}: the stack lists no physical id for resource "
                              f"{name}", "the resource may not exist (a false condition?); check the stack's "
                              "resources")
        raise self.refuse(UNRESOLVABLE, node, at, f"Ref {name}: no parameter or resource of that name")

    def parameter(self, name: str, node: Any, at: Location) -> Any:
        spec = self.parameters.get(name) or {}
        if name in self.context.parameters:
            value: Any = self.context.parameters[name]
            if value == "****" and str(spec.get("NoEcho", "")).lower() == "true":
                raise self.refuse(UNRESOLVABLE, node, at, f"parameter {name} is NoEcho: DescribeStacks hides its "
                                  "value", "name the tables instead of --from-stack, or give the parameter a "
                                  "value that is not secret")
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise self.refuse(UNRESOLVABLE, node, at, f"parameter {name} has no value in the stack and no default")
        if isinstance(value, str) and _LIST_TYPES.search(str(spec.get("Type", ""))):
            return [v.strip() for v in value.split(",")] if value else []
        return value

    # -- conditions --------------------------------------------------------------------------
    def condition(self, name: Any, node: Any, at: Location) -> bool:
        if not isinstance(name, str) or name not in self.condition_nodes:
            raise self.refuse(UNRESOLVABLE, node, at, f"condition {name!r} is not defined under Conditions")
        if name not in self.conditions:
            if name in self._evaluating:
                raise self.refuse(UNRESOLVABLE, node, at, f"condition {name} refers to itself")
            self._evaluating.add(name)
            definition = self.condition_nodes[name]
            self.conditions[name] = self.truth(definition, _location(self.file, definition, at))
            self._evaluating.discard(name)
        return self.conditions[name]

    def truth(self, node: Any, at: Location) -> bool:
        at = _location(self.file, node, at)
        if isinstance(node, dict) and len(node) == 1:
            (fn, args), = node.items()
            if fn == "Condition":
                return self.condition(args, node, at)
            if fn == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
                left, right = (self.value(a, at) for a in args)
                return _comparable(left) == _comparable(right)
            if fn == "Fn::Not" and isinstance(args, list) and len(args) == 1:
                return not self.truth(args[0], at)
            if fn == "Fn::And" and isinstance(args, list):
                return all(self.truth(a, at) for a in args)
            if fn == "Fn::Or" and isinstance(args, list):
                return any(self.truth(a, at) for a in args)
        raise self.refuse(UNRESOLVABLE, node, at, "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or "
                          "Condition")

    # -- values ------------------------------------------------------------------------------
    def value(self, node: Any, at: Location) -> Any:
        """`node` resolved; REMOVED for AWS::NoValue; raises TemplateRefused when it cannot be."""
        at = _location(self.file, node, at)
        if isinstance(node, list):
            out = [self.value(v, at) for v in node]
            return [v for v in out if v is not REMOVED]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key,) = node
            if key == "Ref" or key.startswith("Fn::"):
                return self.function(key, node[key], node, at)
        out = {}
        for k, v in node.items():
            resolved = self.value(v, at)
            if resolved is not REMOVED:
                out[str(k)] = resolved
        return out

    def lenient(self, node: Any, at: Location) -> Any:
        """Like `value`, but an unresolvable part becomes `Unresolved` instead of stopping the read."""
        at = _location(self.file, node, at)
        try:
            return self.value(node, at)
        except TemplateRefused as refused:
            if isinstance(node, dict) and not _is_function(node):
                out = {}
                for k, v in node.items():
                    resolved = self.lenient(v, at)
                    if resolved is not REMOVED:
                        out[str(k)] = resolved
                return out
            if isinstance(node, list):
                return [v for v in (self.lenient(v, at) for v in node) if v is not REMOVED]
            return Unresolved(refused.code, refused.location, refused.reason, refused.hint)

    def function(self, fn: str, args: Any, node: Any, at: Location) -> Any:
        handler = {
            "Ref": lambda: self.ref(args, node, at), "Fn::If": lambda: self.if_(args, node, at),
            "Fn::Sub": lambda: self.sub(args, node, at), "Fn::GetAtt": lambda: self.getatt(args, node, at),
            "Fn::Join": lambda: self.join(args, node, at), "Fn::Select": lambda: self.select(args, node, at),
            "Fn::Split": lambda: self.split(args, node, at), "Fn::FindInMap": lambda: self.find_in_map(args, node, at),
            "Fn::Base64": lambda: base64.b64encode(_text(self.value(args, at)).encode()).decode(),
            **dict.fromkeys(("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"), lambda: self.truth(node, at)),
        }.get(fn)
        if handler is not None:
            return handler()
        if fn == "Fn::ImportValue":
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::ImportValue: the value is another stack's export",
                              "name the tables instead of --from-stack, or read the export with "
                              "`aws cloudformation list-exports`")
        if fn == "Fn::ForEach" or fn.startswith("Fn::ForEach::"):
            raise self.refuse(UNSUPPORTED, node, at, "Fn::ForEach (AWS::LanguageExtensions) is not expanded here",
                              "name the tables instead of --from-stack")
        raise self.refuse(UNRESOLVABLE, node, at, f"{fn} cannot be resolved without AWS",
                          "name the tables instead of --from-stack")

    def _pair(self, args: Any, node: Any, at: Location, shape: str) -> tuple[Any, Any]:
        if not (isinstance(args, list) and len(args) == 2):
            raise self.refuse(UNRESOLVABLE, node, at, shape)
        return self.value(args[0], at), self.value(args[1], at)

    def if_(self, args: Any, node: Any, at: Location) -> Any:
        if not (isinstance(args, list) and len(args) == 3):
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::If takes [condition, value if true, value if false]")
        return self.value(args[1] if self.condition(args[0], node, at) else args[2], at)

    def join(self, args: Any, node: Any, at: Location) -> str:
        delimiter, values = self._pair(args, node, at, "Fn::Join takes [delimiter, [values]]")
        if not isinstance(values, list):
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::Join's second argument is not a list")
        return str(delimiter).join(_text(v) for v in values)

    def select(self, args: Any, node: Any, at: Location) -> Any:
        index, values = self._pair(args, node, at, "Fn::Select takes [index, [values]]")
        try:
            return values[int(index)]
        except (ValueError, TypeError, IndexError, KeyError):
            raise self.refuse(UNRESOLVABLE, node, at, f"Fn::Select: no item {index!r} in {values!r}") from None

    def split(self, args: Any, node: Any, at: Location) -> list[str]:
        delimiter, text = self._pair(args, node, at, "Fn::Split takes [delimiter, string]")
        return _text(text).split(str(delimiter))

    def sub(self, args: Any, node: Any, at: Location) -> str:
        if isinstance(args, list) and len(args) == 2 and isinstance(args[1], dict):
            text, variables = args[0], {k: self.value(v, at) for k, v in args[1].items()}
        elif isinstance(args, str):
            text, variables = args, {}
        else:
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::Sub takes a string or [string, {variables}]")
        if not isinstance(text, str):
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::Sub's template is not a string")

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):            # ${!Literal} is written as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return _text(self.getatt(name.split(".", 1), node, at))
            return _text(self.ref(name, node, at))

        return _SUB_VARIABLE.sub(replace, text)

    def getatt(self, args: Any, node: Any, at: Location) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        if not (isinstance(args, list) and len(args) == 2):
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::GetAtt takes [resource, attribute]")
        resource, attribute = args[0], self.value(args[1], at)
        spec = self.resources.get(resource)
        if spec is None:
            raise self.refuse(UNRESOLVABLE, node, at, f"Fn::GetAtt {resource}.{attribute}: no resource {resource}")
        c = self.context
        physical = c.physical_ids.get(resource)
        # A table's ARN is built from its name (the ARN format of DynamoDB:
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html#amazondynamodb-resources-for-iam-policies);
        # a KMS key's from its id (ListStackResources gives the key id). Anything else needs AWS.
        if physical and spec.get("Type") == TABLE_TYPE and attribute == "Arn":
            return f"arn:{c.partition}:dynamodb:{c.region}:{c.account}:table/{physical}"
        if physical and spec.get("Type") == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:{c.partition}:kms:{c.region}:{c.account}:key/{physical}"
        if physical and spec.get("Type") == "AWS::KMS::Key" and attribute == "KeyId":
            return physical
        raise self.refuse(UNRESOLVABLE, node, at, f"Fn::GetAtt {resource}.{attribute}: an attribute of a "
                          f"{spec.get('Type', 'resource')} is known only to AWS",
                          "the live table is read for its shape; if this value is needed, name the tables "
                          "instead of --from-stack")

    def find_in_map(self, args: Any, node: Any, at: Location) -> Any:
        if not (isinstance(args, list) and len(args) in (3, 4)):
            raise self.refuse(UNRESOLVABLE, node, at, "Fn::FindInMap takes [map, top-level key, second-level key]")
        names = [self.value(a, at) for a in args[:3]]
        try:
            return self.value(self.mappings[names[0]][names[1]][names[2]], at)
        except (KeyError, TypeError):
            if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                return self.value(args[3]["DefaultValue"], at)   # AWS::LanguageExtensions
            raise self.refuse(UNRESOLVABLE, node, at,
                              f"Fn::FindInMap: {'.'.join(map(str, names))} is not in the template's Mappings") \
                from None


def _is_function(node: dict) -> bool:
    return (len(node) == 1 and next(iter(node)) in ("Ref", "Condition")) or any(
        str(k).startswith("Fn::") for k in node)


def _comparable(value: Any) -> Any:
    # Fn::Equals compares strings: a parameter "5" equals the literal 5 (CloudFormation passes both as text).
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


def _unresolved_in(node: Any) -> Iterator[Unresolved]:
    if isinstance(node, Unresolved):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _unresolved_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from _unresolved_in(v)


# ---------------------------------------------------------------------------------------------
# References: what would break if a table left the stack

def _references(node: Any, resolver: _Resolver, at: Location) -> set[str]:
    """Logical ids `node` refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn), following only taken Fn::If branches."""
    found: set[str] = set()
    if isinstance(node, list):
        for v in node:
            found |= _references(v, resolver, at)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                target = v[0] if isinstance(v, list) and v else str(v).split(".", 1)[0]
                found.add(str(target))
                found |= _references(v, resolver, at)
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) and v else v
                if isinstance(text, str):
                    found |= {m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(text) if not m.startswith("!")}
                if isinstance(v, list) and len(v) > 1:
                    found |= _references(v[1], resolver, at)
            elif k == "Fn::If" and isinstance(v, list) and len(v) == 3:
                try:
                    taken = [v[1] if resolver.condition(v[0], node, at) else v[2]]
                except TemplateRefused:
                    taken = [v[1], v[2]]  # cannot tell: either branch may refer
                found |= _references(taken, resolver, at)
            else:
                found |= _references(v, resolver, at)
    return found


# ---------------------------------------------------------------------------------------------
# The reader

def _refuse_unexpanded(resolver: _Resolver, resources: dict, exists: Any, top: Location) -> None:
    """Resources this reader cannot see through: made by Fn::ForEach, or a SAM SimpleTable."""
    for lid, spec in resources.items():
        if str(lid).startswith("Fn::ForEach"):
            raise resolver.refuse(UNSUPPORTED, spec, top, "Fn::ForEach (AWS::LanguageExtensions) makes resources "
                                  "this reader does not expand", "name the tables instead of --from-stack")
        if isinstance(spec, dict) and spec.get("Type") == "AWS::Serverless::SimpleTable" and exists(lid, spec):
            raise resolver.refuse(UNSUPPORTED, spec, top, f"{lid} is a SAM AWS::Serverless::SimpleTable",
                                  "write it as an AWS::DynamoDB::Table in that app (SAM makes one of the same "
                                  "logical id) and deploy it, or name the table instead of --from-stack")


def _referrers(resolver: _Resolver, template: dict, present: dict, file: str, top: Location) -> dict[str, list[str]]:
    """Logical id → the resources and outputs that refer to it ("Resources.X", "Outputs.Y")."""
    referrers: dict[str, list[str]] = {}
    for lid, spec in present.items():
        at = _location(file, spec, top)
        depends = spec.get("DependsOn")
        targets = _references({k: v for k, v in spec.items() if k != "DependsOn"}, resolver, at)
        targets |= {depends} if isinstance(depends, str) else set(depends or [])
        for target in targets:
            referrers.setdefault(target, []).append(f"Resources.{lid}")
    for name, output in (template.get("Outputs") or {}).items():
        if isinstance(output, dict) and output.get("Condition") and not resolver.condition(
                output["Condition"], output, _location(file, output, top)):
            continue
        for target in _references(output, resolver, _location(file, output, top)):
            referrers.setdefault(target, []).append(f"Outputs.{name}")
    return referrers


def _table(resolver: _Resolver, lid: str, spec: dict, referred_by: list[str], at: Location) -> SourceTable:
    policies = {}
    for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
        value = resolver.value(spec.get(attribute, "Delete"), at)
        if value not in ("Delete", "Retain", "RetainExceptOnCreate", "Snapshot"):
            raise resolver.refuse(UNRESOLVABLE, spec.get(attribute), at,
                                  f"{lid}'s {attribute} resolves to {value!r}, which is not a policy")
        policies[attribute] = value
    properties = resolver.lenient(spec.get("Properties") or {}, at)
    return SourceTable(lid, policies["DeletionPolicy"], policies["UpdateReplacePolicy"],
                       properties if isinstance(properties, dict) else {},
                       tuple(r for r in referred_by if r != f"Resources.{lid}"), at)


def read_source(text_or_template: str | dict, file: str, context: StackContext) -> SourceTemplate:
    """The template's tables with their policies and referrers; refused, located, where it must resolve."""
    template = (decode_template(text_or_template, file) if isinstance(text_or_template, str)
                else text_or_template)
    resolver = _Resolver(file, template, context)
    top = Location(file, 1, 1)
    resources = resolver.resources
    if not isinstance(resources, dict):
        raise TemplateRefused(UNREADABLE, top, "the template has no Resources map")
    for name in resolver.condition_nodes:
        resolver.condition(name, resolver.condition_nodes[name], top)

    def exists(lid: str, spec: Any) -> bool:
        condition = spec.get("Condition") if isinstance(spec, dict) else None
        return condition is None or resolver.condition(condition, spec, _location(file, spec, top))

    _refuse_unexpanded(resolver, resources, exists, top)
    present = {lid: spec for lid, spec in resources.items() if isinstance(spec, dict) and exists(lid, spec)}
    referrers = _referrers(resolver, template, present, file, top)
    tables = {lid: _table(resolver, lid, spec, referrers.get(lid, []), _location(file, spec, top))
              for lid, spec in present.items() if spec.get("Type") == TABLE_TYPE}
    return SourceTemplate(file, template, dict(resolver.conditions), tables)
