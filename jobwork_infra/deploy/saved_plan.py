"""Saved plans: `deploy --dry-run --plan-out FILE` writes the plan, `deploy --plan FILE` applies exactly it.

As Terraform's `plan -out` / `apply PLAN`: the plan reviewed on a pull request is the plan applied
on merge, or nothing is. The file is not signed, and in CI it comes from the pull request's own run,
so nothing in it is trusted; it is a claim that applying checks, stack by stack, before anything is
applied (issue 18):

- **where**: the target, app, environment, and per stack the place (`where`) and the lineage of its
  deployed state (the stack's id on CloudFormation, the registry's lineage locally). A plan made on a
  throw-away engine or in another account is refused elsewhere.
- **when**: the deploy serial of each stack (Terraform's state serial: kept where the deployed state
  lives — the stack template's Metadata, the local registry — and bumped by every apply). A plan
  applies once: after it, or after any other deploy, the serial moved on, even if a revert made the
  tables look as they did.
- **what**: the schema hash, and every step's changes and each stack's target state, compared with
  the plan computed now. A difference refuses: what runs is what the reviewer read.
- **grants nothing**: `allow_destructive` is recorded (a JSON boolean, else the file is damaged) so
  the reviewer sees it, but the applying command carries `--allow-destructive` itself.

The file is JSON, one object:

    {"format": "jobwork-infra-plan/2", "tool_version": "…", "target": "cloudformation", "app": "shop",
     "env": "prod", "schema_hash": "…", "allow_destructive": false,
     "stacks": [{"stack": "shop-prod", "where": "stack shop-prod", "deployed": "…", "serial": "…",
                 "steps": [{"number": 1, "summary": "…", "target_hash": "…", "changes": [{"code": …}]}],
                 "target_state": {…the stack's resolved view…}}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..changes import Plan
from ..errors import JobworkError
from ..followup import Invocation, command
from ..fsio import atomic_write
from ..model import ResolvedSchema
from .gate import Refused
from .target import DeployedState, deployed_fingerprint

FORMAT = "jobwork-infra-plan/2"
MAX_BYTES = 20 * 1024 * 1024  # a plan of 500 tables is a few MB; anything far larger is not one


def steps_record(plan: Plan | None) -> list[dict[str, Any]]:
    """A plan's steps as the file records them (and as applying compares them)."""
    return [{"number": s.number, "summary": s.summary, "target_hash": s.target.schema_hash,
             # enough of each change for `deploy --show-plan` to print it as the dry run did
             "changes": [{"code": c.code, "kind": c.kind, "table": c.table, "severity": c.severity.label,
                          "subject": c.subject, "statement": c.statement, "advice": c.advice,
                          "index": c.index, "after": c.after} for c in s.changes]}
            for s in (plan.steps if plan is not None else ())]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class StackRecord:
    stack: str
    where: str
    deployed: str
    serial: str
    steps: list[dict[str, Any]]
    target_state: dict[str, Any]


@dataclass(frozen=True)
class SavedPlan:
    path: str
    target: str
    app: str
    env: str
    schema_hash: str
    allow_destructive: bool          # recorded for the reviewer; never grants anything
    stacks: dict[str, StackRecord] = field(default_factory=dict)
    rerun: Invocation | None = None  # the command applying it: its hints repeat its target and schema

    def _new_plan_hint(self) -> str:
        return f"write a new plan and review it: {self._rewrite()}"

    def _rewrite(self) -> str:
        """The command that writes a new plan, on the same target as the one applying this one."""
        return f"`{command(self.rerun or Invocation(env=self.env), 'deploy', '--dry-run', '--plan-out', self.path)}`"

    def check_schema(self, head: ResolvedSchema, target: str) -> None:
        """Before anything is read: the same target, environment and schema."""
        if (target, head.app, head.env) != (self.target, self.app, self.env):
            raise Refused(
                "R017",
                f"{self.path} is a plan for environment {self.env} of app {self.app} ({self.target}), "
                f"not for environment {head.env} of app {head.app} ({target}); nothing was changed",
                "apply it with the --env (and --local or not) it was written for, or write a new plan")
        if head.schema_hash != self.schema_hash:
            raise Refused(
                "R018",
                f"the schema changed since {self.path} was written (schema {head.schema_hash[:12]}, "
                f"the plan was computed from {self.schema_hash[:12]}); nothing was changed",
                f"write a new plan: {self._rewrite()}")

    def check_stacks(self, names: list[str]) -> None:
        """The plan covers exactly the stacks deployed now, no more, no fewer."""
        if sorted(names) != sorted(self.stacks):
            raise Refused(
                "R020",
                f"{self.path} covers stacks {', '.join(sorted(self.stacks)) or 'none'}, the environment has "
                f"{', '.join(sorted(names))}; nothing was changed", self._new_plan_hint())

    def _record(self, stack: str) -> StackRecord:
        record = self.stacks.get(stack)
        if record is None:
            raise Refused("R020", f"{self.path} has no plan for stack {stack}; nothing was changed",
                          self._new_plan_hint())
        return record

    def check_deployed(self, stack: str, state: DeployedState) -> None:
        """After reading what is deployed: the same place, the same lineage and serial, the same state."""
        record = self._record(stack)
        if state.where != record.where or _lineage(state.serial) != _lineage(record.serial):
            raise Refused(
                "R017",
                f"{self.path} was written for {record.where}"
                f"{' (deployed state ' + _lineage(record.serial) + ')' if _lineage(record.serial) else ''}, "
                f"not for {state.where}"
                f"{' (deployed state ' + _lineage(state.serial) + ')' if _lineage(state.serial) else ''}; "
                "nothing was changed",
                "apply a plan where it was written: " + self._new_plan_hint())
        if state.serial != record.serial or deployed_fingerprint(state) != record.deployed:
            raise Refused(
                "R019",
                f"what is deployed to {state.where} changed since {self.path} was written (deploy serial "
                f"{_number(record.serial)} then, {_number(state.serial)} now: the plan was applied already, "
                "or another deploy ran since); a plan applies once; nothing was changed",
                self._new_plan_hint())

    def check_plan(self, stack: str, plan: Plan | None, head: ResolvedSchema) -> None:
        """The plan computed now is the recorded one: every step's changes and the target state."""
        record = self._record(stack)
        now = steps_record(plan)
        if _canonical(now) != _canonical(record.steps):
            raise Refused(
                "R020",
                f"the plan computed now for {record.where} differs from the one recorded in {self.path} "
                f"({len(now)} step(s) now, {len(record.steps)} recorded; the changes must be exactly those "
                "reviewed); nothing was changed", self._new_plan_hint())
        if _canonical(head.model_dump(mode="json")) != _canonical(record.target_state):
            raise Refused(
                "R020",
                f"the target state recorded in {self.path} for {record.where} is not the schema's; nothing "
                "was changed", self._new_plan_hint())


def _lineage(serial: str) -> str:
    return serial.rpartition(":")[0]


def _number(serial: str) -> str:
    return serial.rpartition(":")[2] or "none"


@dataclass
class PlanFile:
    """The stacks of one `--plan-out`, written together once every stack was planned and gated."""

    path: str
    target: str
    head: ResolvedSchema
    allow_destructive: bool
    stacks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, view: ResolvedSchema, plan: Plan | None, state: DeployedState) -> None:
        self.stacks.append({"stack": view.stack_name, "where": state.where, "deployed": deployed_fingerprint(state),
                            "serial": state.serial, "steps": steps_record(plan),
                            "target_state": view.model_dump(mode="json")})

    def write(self) -> None:
        document = {
            "format": FORMAT,
            "tool_version": __version__,
            "target": self.target,
            "app": self.head.app,
            "env": self.head.env,
            "schema_hash": self.head.schema_hash,
            "allow_destructive": self.allow_destructive,
            "stacks": self.stacks,
        }
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobworkError(f"cannot write the plan to {self.path}: {exc.strerror}",
                               "give --plan-out a path in a writable directory") from None
        atomic_write(self.path, json.dumps(document, indent=2) + "\n")


def load_plan(path: str) -> SavedPlan:
    """Read a plan written by PlanFile; a clear error for anything else."""
    hint = "pass a file written by `jobwork-infra deploy --dry-run --plan-out FILE`"
    file = Path(path)
    try:
        if not file.is_file():
            raise JobworkError(f"{path}: no such plan file" if not file.exists() else f"{path}: not a regular file",
                               hint)
        if file.stat().st_size > MAX_BYTES:
            raise JobworkError(f"{path}: too large to be a plan ({file.stat().st_size:,} bytes)", hint)
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobworkError(f"cannot read the plan {path}: {exc.strerror}", hint) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JobworkError(f"{path}: not a jobwork-infra plan (not JSON: {exc})", hint) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise JobworkError(f"{path}: not a jobwork-infra plan (format {found!r}, expected {FORMAT!r}; a plan "
                           "written by another version is written again)", hint)
    try:
        # JSON's own true/false only: the string "false" is truthy to Python, and a plan is not trusted.
        if not isinstance(raw["allow_destructive"], bool):
            raise JobworkError(f"{path}: a damaged jobwork-infra plan (allow_destructive must be true or false, "
                               f"not {json.dumps(raw['allow_destructive'])})", hint)
        stacks = {}
        for s in raw["stacks"]:
            if not isinstance(s["steps"], list) or not isinstance(s["target_state"], dict):
                raise TypeError("steps or target_state")
            stacks[str(s["stack"])] = StackRecord(str(s["stack"]), str(s["where"]), str(s["deployed"]),
                                                  str(s["serial"]), s["steps"], s["target_state"])
        return SavedPlan(path, str(raw["target"]), str(raw["app"]), str(raw["env"]), str(raw["schema_hash"]),
                         raw["allow_destructive"], stacks)
    except (KeyError, TypeError) as exc:
        raise JobworkError(f"{path}: a damaged jobwork-infra plan (missing or wrong field: {exc})", hint) from None
