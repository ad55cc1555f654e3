"""The local-engine target of the deploy flow (deploy/flow.py): `deploy --local` and `destroy --local`.

The live tables are read by live.py into the same `ResolvedSchema` that `diff` compares, so the
plan, the staging and the safety gate are the flow's, as for CloudFormation. Each step is applied by
reconciling the live tables with the step's target (steps.py); which tables are ours is the
registry's business (registry.py); tables to adopt are found and claimed by adopt.py.

Layering: target.py → steps.py, live.py, adopt.py → registry.py → client.py → engine.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...changes import Plan, Step
from ...model import ResolvedSchema
from ...project import Project
from .. import DeployRequest
from ..adopt import Adoption, announce, gate_adoption
from ..events import Emit, Note
from ..settle import wait_settled
from ..target import Capabilities, DeployedState, Predecessor
from ..verify import verify_applied
from . import engine as engines
from .adopt import claim, find_adoption
from .client import RunContext, client_for, engine_errors
from .live import READERS, Live, read_live
from .registry import Entry, bump_serial, read_registry, read_serial, unregister
from .steps import migrate_step, remove, run_step

COUNT_BOUND = 100_000  # items counted before a plan says "at least": a local table is rarely bigger


def _source(project: Project) -> str:
    return str(Path(project.document.file).resolve()) if project.document is not None else ""


def find_predecessors(registry: dict[str, Entry], head: ResolvedSchema, environments: list[str],
                      source: str) -> tuple[Predecessor, ...]:
    """The tables this environment had under its old name, when the app or the environment was renamed.

    Evidence, all required: deployed from the same schema file, with table keys of this schema, and
    either the same app under an environment that is no longer in the schema, or the same
    environment under another app name. Tables of another project on the same engine (another
    schema file) never match.
    """
    if not source:
        return ()
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name in sorted(registry):
        entry = registry[name]
        if entry.source != source or entry.table_key not in head.tables or entry.created == 0:
            continue
        renamed_env = entry.app == head.app and entry.env not in environments
        renamed_app = entry.app != head.app and entry.env == head.env
        if renamed_env or renamed_app:
            found.setdefault((entry.app, entry.env), []).append((entry.table_key, name))
    return tuple(Predecessor(app, env, tuple(tables)) for (app, env), tables in sorted(found.items()))


@dataclass
class EngineReading:
    """What one reading of the engine found (`DeployedState.private`, only this target reads it)."""

    live: Live | None = None
    adoption: Adoption = field(default_factory=Adoption)


class LocalTarget:
    """The local engine (started on the first read when none runs), as the deploy flow's target."""

    # A key or local-index change deletes and re-creates the table (destroy only; the gate refuses
    # retain). The local engines do not enforce TTL's one-hour window: no record is kept, nothing deferred.
    capabilities = Capabilities(lock_scope="local", replaces_in_place=True, ttl_cool_down=False, migrates=True,
                                settled_by_apply=True)

    def __init__(self, project: Project, request: DeployRequest, emit: Emit):
        self.project, self.request, self.emit = project, request, emit
        self.state: engines.EngineState | None = None
        self.ctx: RunContext | None = None
        self._connected = False

    def _connect(self) -> None:
        """The engine, started when none runs, once. A dry run changes nothing, so it starts nothing
        either (issue 14, item 8): with no engine running nothing is deployed locally."""
        if self._connected:
            return
        self._connected = True
        running = engines.status()
        if running is None and self.request.dry_run:
            return
        self.state = running or engines.ensure_running()
        if running is None:
            self.emit(Note(f"started {self.state.label} at {self.state.endpoint} (stop it with `jobwork-infra local "
                           "stop`)"))
        self.ctx = RunContext(client_for(self.state.endpoint), self.state, self.emit, source=_source(self.project))

    def _errors(self, doing: str):
        return engine_errors(self.ctx.engine, lambda: doing)

    def read(self, head: ResolvedSchema, *, destroying: bool = False) -> DeployedState:
        """The environment's live tables. Deploying, the schema's tables that exist but nothing manages
        are gated (adopt.py: exit 3 without --adopt) and join the base; destroy leaves them out."""
        self._connect()
        if self.state is None:
            self.emit(Note("no local engine runs, and a dry run does not start one: nothing is deployed locally, "
                           "so every table would be created (`jobwork-infra local start` starts it)"))
            return DeployedState(None, f"{head.stack_name} on the local engine (not running)",
                                 private=EngineReading())
        reading = EngineReading()
        with self._errors("reading the live tables"):
            adoption = find_adoption(self.ctx.client, head)
            if not destroying:
                gate_adoption(adoption, head, adopt=self.request.adopt)
            reading.live = live = read_live(self.ctx.client, adoption.managed(head))
            if not self.request.dry_run:
                for name in live.stale:  # registered, but the table is gone (deleted by hand)
                    unregister(self.ctx, name)
        base = live.base
        if not destroying:
            reading.adoption = adoption
            base = adoption.base(base, head)
        where = f"{head.stack_name} on {self.state.label} ({self.state.endpoint})"
        predecessors = ()
        if live.base is None:
            with self._errors("reading the registry"):
                predecessors = find_predecessors(read_registry(self.ctx.client), head, self.project.environments,
                                                 self.ctx.source)
        # The tables were just described: only those not ACTIVE (or with an index not ACTIVE) need waiting for.
        unsettled = [name for name, d in live.descriptions.items()
                     if d.get("TableStatus") != "ACTIVE"
                     or any(i.get("IndexStatus") != "ACTIVE" for i in d.get("GlobalSecondaryIndexes") or [])]
        with self._errors("reading the deploy serial"):
            serial = read_serial(self.ctx.client, head.app, head.env)
        return DeployedState(base, where, exists=base is not None, unsettled=unsettled, predecessors=predecessors,
                             adopting=tuple(reading.adoption.names), serial=serial, private=reading)

    def announce(self, state: DeployedState, head: ResolvedSchema) -> None:
        announce(state.private.adoption, head, self.emit)

    def drift(self, head: ResolvedSchema, state: DeployedState) -> None:
        # The registry records which tables are ours, not what was deployed to them: a live table
        # that differs from the schema may be drift or a schema edit not deployed yet, and the local
        # deploy plans from the live tables either way (its plan shows each). `drift --local` lists
        # the differences against the schema.
        return None

    def adopt(self, state: DeployedState) -> None:
        with self._errors("adopting the tables"):
            claim(self.ctx, state.private.adoption, self.project.resolve(self.request.env))

    def wait_settled(self, names: list[str], deadline: float) -> None:
        with self._errors("waiting for the tables"):
            wait_settled(self.ctx.client, names, deadline=deadline, emit=self.emit, sleep=time.sleep,
                         resume_hint="every applied step is complete; run deploy again to resume: it plans "
                                     "from the live tables")

    def check_live(self, state: DeployedState, plan: Plan) -> list[tuple[str, str]]:
        return []  # read_live already refuses a name held by a table that is not this environment's

    def apply(self, step: Step, before: ResolvedSchema | None, state: DeployedState) -> bool:
        doing = f"applying step {step.number} ({step.summary})"
        with self._errors(doing):
            # Bumped before the step, so a step cut short still ends every plan made before it.
            state.serial = bump_serial(self.ctx, step.target.app, step.target.env, state.serial)
            head = self.project.resolve(self.request.env)
            if step.kind == "migrate":
                migrate_step(self.ctx, step, head, engines.project_root(), self.request.skip_unkeyed)
            else:
                run_step(self.ctx, before, step, head)
        return True

    def verify(self, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]:
        with self._errors("verifying the tables"):
            # Only what the engine can show: DynamoDB Local supports TTL, moto too.
            return verify_applied(self.ctx.client, plan, applied, readers=READERS)

    def item_client(self) -> Any:
        return self.ctx.client

    def count_items(self, names: list[str]) -> dict[str, tuple[int, str]]:
        """Exact up to COUNT_BOUND items (Scan, Select=COUNT, page by page), "at least" beyond."""
        counts: dict[str, tuple[int, str]] = {}
        with self._errors("counting the items of the tables the plan deletes"):
            for name in names:
                total = 0
                for page in self.ctx.client.get_paginator("scan").paginate(TableName=name, Select="COUNT"):
                    total += page["Count"]
                    if total >= COUNT_BOUND and page.get("LastEvaluatedKey"):
                        counts[name] = (total, "at least")
                        break
                else:
                    counts[name] = (total, "")
        return counts

    def finish(self, state: DeployedState, changed: bool) -> int:
        return 0  # nothing to protect and no outputs on a local engine

    def destroy(self, state: DeployedState) -> tuple[str, ...]:
        base = state.base
        if base is None:
            return ()
        with self._errors("destroying the tables"):
            for table in base.tables.values():
                remove(self.ctx, table, "destroy")
        return tuple(t.physical_name for t in base.tables.values() if t.removal_policy != "destroy")
