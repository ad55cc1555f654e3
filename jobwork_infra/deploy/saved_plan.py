"""Saved plans: `deploy --dry-run --plan-out FILE` writes the plan, `deploy --plan FILE` applies exactly it.

As Terraform's `plan -out` / `apply PLAN`: the plan reviewed on a pull request is the plan applied
on merge, or nothing is. The file records what the plan was computed from — the schema's hash (of
the resolved environment) and a fingerprint of what was deployed (flow.deployed_fingerprint: the
deployed template for CloudFormation, the live tables as read for the local engine) — plus each
step and the target state. Applying refuses (Blocked, exit 3) when either no longer matches, which
includes a plan already applied once: applying it changed what is deployed.

The file is JSON, one object:

    {"format": "jobwork-infra-plan/1", "target": "cloudformation", "where": "stack shop-prod",
     "app": "shop", "env": "prod", "schema_hash": "…", "deployed": "…", "allow_destructive": false,
     "steps": [{"number": 1, "summary": "…", "target_hash": "…", "changes": [{"code": …}]}],
     "target_state": {…the resolved environment…}, "tool_version": "…"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..changes import Plan
from ..errors import JobworkError
from ..model import ResolvedSchema
from .gate import Refused

FORMAT = "jobwork-infra-plan/1"
MAX_BYTES = 20 * 1024 * 1024  # a plan of 500 tables is a few MB; anything far larger is not one


@dataclass(frozen=True)
class SavedPlan:
    path: str
    target: str
    where: str
    app: str
    env: str
    schema_hash: str
    deployed: str
    allow_destructive: bool
    steps: tuple[tuple[str, str], ...]  # (summary, target schema hash) per step

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
                f"write a new plan: jobwork-infra deploy --env {head.env} --dry-run --plan-out {self.path}")

    def check_deployed(self, fingerprint: str) -> None:
        """After reading what is deployed: the same as when the plan was written."""
        if fingerprint != self.deployed:
            raise Refused(
                "R019",
                f"what is deployed to {self.where} changed since {self.path} was written (the plan was "
                "applied already, or another deploy ran since): the plan no longer starts from what is "
                "deployed; nothing was changed",
                f"write a new plan and review it: jobwork-infra deploy --env {self.env} --dry-run "
                f"--plan-out {self.path}")

    def check_plan(self, plan: Plan) -> None:
        """The plan computed now is step for step the saved one (it is, when both checks above passed:
        planning is deterministic; a different jobwork-infra version may plan differently)."""
        now = tuple((s.summary, s.target.schema_hash) for s in plan.steps)
        if now != self.steps:
            raise Refused(
                "R020",
                f"this jobwork-infra plans the change differently from the one that wrote {self.path} "
                f"({len(now)} step(s) now, {len(self.steps)} saved); nothing was changed",
                f"write the plan with the jobwork-infra that applies it: jobwork-infra deploy --env {self.env} "
                f"--dry-run --plan-out {self.path}")


def write_plan(path: str, plan: Plan | None, head: ResolvedSchema, where: str, deployed: str, target: str,
               allow_destructive: bool) -> None:
    """Write the plan (None: nothing to do) with what it was computed from."""
    steps = plan.steps if plan is not None else ()
    document = {
        "format": FORMAT,
        "tool_version": __version__,
        "target": target,
        "where": where,
        "app": head.app,
        "env": head.env,
        "schema_hash": head.schema_hash,
        "deployed": deployed,
        "allow_destructive": allow_destructive,
        "steps": [{"number": s.number, "summary": s.summary, "target_hash": s.target.schema_hash,
                   "changes": [{"code": c.code, "table": c.table, "severity": c.severity.label,
                                "statement": c.statement} for c in s.changes]}
                  for s in steps],
        "target_state": head.model_dump(mode="json"),
    }
    try:
        Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise JobworkError(f"cannot write the plan to {path}: {exc.strerror}",
                           "give --plan-out a path in a writable directory") from None


def load_plan(path: str) -> SavedPlan:
    """Read a plan written by write_plan; a clear error for anything else."""
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
        raise JobworkError(f"{path}: not a jobwork-infra plan (format {found!r}, expected {FORMAT!r})", hint)
    try:
        steps = tuple((str(s["summary"]), str(s["target_hash"])) for s in raw["steps"])
        return SavedPlan(path, str(raw["target"]), str(raw["where"]), str(raw["app"]), str(raw["env"]),
                         str(raw["schema_hash"]), str(raw["deployed"]), bool(raw["allow_destructive"]), steps)
    except (KeyError, TypeError) as exc:
        raise JobworkError(f"{path}: a damaged jobwork-infra plan (missing or wrong field: {exc})", hint) from None
