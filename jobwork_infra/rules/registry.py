"""Every diagnostic code the tool can emit, with its metadata as data.

Rules are small functions that yield `Finding`s (a schema path and a message); the runner in
`rules/__init__.py` turns a path into a location. Codes raised by the loader (Y…) and the model (M…)
are registered here too, without a check, so the generated reference lists every code there is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import Severity
from ..load import Path_

if TYPE_CHECKING:
    from .context import Context


@dataclass(frozen=True)
class Finding:
    """What a rule reports: where (a schema path) and what; the runner adds code and location."""

    path: Path_
    message: str
    hint: str | None = None
    at: str = "value"                   # "key" points at the key, "value" at its value
    severity: Severity | None = None    # None: the rule's default


Check = Callable[["Context"], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    summary: str
    severity: Severity
    family: str
    check: Check | None = None          # None: emitted by the loader or the model, not a rule
    note: str | None = None             # more on when it fires, for the reference


FAMILIES = {
    "yaml": "Reading the YAML file (Y0xx)",
    "model": "The shape of the schema (M0xx)",
    "names": "Names (N1xx)",
    "keys": "Key attributes (K1xx)",
    "indexes": "Indexes (I1xx)",
    "options": "TTL, capacity and table options (C1xx)",
    "tenancy": "Tenant isolation (T0xx)",
    "unique": "Unique values and optimistic versions (U0xx)",
    "access": "Access patterns (A0xx)",
    "budgets": "AWS limits per stack and table (B0xx)",
    "acknowledge": "Acknowledged findings (X0xx)",
    "generations": "Generations, compared with the base or what is deployed (G1xx)",
}

REGISTRY: dict[str, Rule] = {}


def register(code: str, summary: str, family: str, severity: Severity = Severity.ERROR,
             check: Check | None = None, note: str | None = None) -> Rule:
    if code in REGISTRY:
        raise ValueError(f"duplicate rule code {code}")
    if family not in FAMILIES:
        raise ValueError(f"unknown rule family {family}")
    REGISTRY[code] = Rule(code, summary, severity, family, check, note)
    return REGISTRY[code]


def rule(code: str, summary: str, family: str, severity: Severity = Severity.ERROR,
         note: str | None = None) -> Callable[[Check], Check]:
    """Declare a check: `@rule("K101", "…", "keys")` over `def check(ctx) -> Iterator[Finding]`."""

    def decorate(check: Check) -> Check:
        register(code, summary, family, severity, check, note)
        return check

    return decorate


# Loader and model codes: emitted by load.py and model.py, listed here for the reference.
for _code, _summary in [
    ("Y001", "the schema file cannot be read (missing, unreadable, or not a regular file)"),
    ("Y002", "the file is larger than 5 MB"),
    ("Y003", "the file is not UTF-8"),
    ("Y004", "the file is empty"),
    ("Y005", "invalid YAML syntax or an unreadable value"),
    ("Y006", "a tab character used for indentation"),
    ("Y007", "alias expansion exceeds the bound (billion laughs)"),
    ("Y008", "nesting too deep (a recursive alias?)"),
    ("Y009", "a YAML tag other than plain strings, numbers, booleans, lists and maps (e.g. !!python/…)"),
    ("Y010", "a map key that is not a string (quote it)"),
    ("Y011", "a duplicate key in one map"),
    ("Y012", "a merge key (<<) whose value is not a map"),
    ("Y013", "a character YAML does not allow (a control character such as NUL or BEL), named and located"),
]:
    register(_code, _summary, "yaml")

for _code, _summary in [
    ("M001", "an unknown key (with a 'did you mean' hint)"),
    ("M002", "a value of the wrong type, out of range or not one of the allowed values"),
    ("M003", "a required key is missing"),
]:
    register(_code, _summary, "model")
