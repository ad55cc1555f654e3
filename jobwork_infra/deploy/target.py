"""The contract between the deploy flow and a place to deploy to.

The flow (flow.py) imports this module and never a concrete target; the targets
(cloudformation/target.py, local/target.py) import it too, and the CLI picks one through
factory.py. So the arrows run one way: cli → factory → targets → target.py ← flow.

Shaped after Terraform's provider protocol (`ApplyResourceChange(PriorState, PlannedState,
PlannedPrivate)`, `ServerCapabilities`): what every target reads back is in `DeployedState`; what
only one target needs between its calls rides in `DeployedState.private`, which only that target
interprets; what a target can do is declared once in `Capabilities`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..changes import Plan, Step
from ..drift import DriftReport
from ..model import ResolvedSchema


@dataclass(frozen=True)
class Capabilities:
    """What a target is and can do, declared once; the flow and the gate read it, nothing else."""

    lock_scope: str                 # which deploy lock it takes (deploy/lock.py): "local" or "cloudformation"
    # A key/LSI change of a table that keeps its name can be applied (local: delete and re-create,
    # unless retained); CloudFormation never replaces a named table in place.
    replaces_in_place: bool = False
    # The target enforces AWS's hour between TTL changes (the local engines do not).
    ttl_cool_down: bool = True
    # `apply` returns only once every table it touched is settled (the local engine waits for each
    # call it makes), so the flow does not wait for those tables again; CloudFormation reports a stack
    # complete while a new index is still CREATING (settle.py), so the flow waits after its steps.
    settled_by_apply: bool = False
    # The target runs a plan's migrate step (a generation bump, docs/migrate.md); without it, the gate
    # refuses the bump (R021) rather than let the table be replaced.
    migrates: bool = False


@dataclass(frozen=True)
class Predecessor:
    """An environment's tables as deployed before its app or environment was renamed."""

    app: str
    env: str
    tables: tuple[tuple[str, str], ...]  # (YAML table key, physical name)


@dataclass
class DeployedState:
    """What a target found deployed for the environment."""

    base: ResolvedSchema | None                                  # None: nothing deployed
    where: str                                                   # "stack shop-dev", "… on DynamoDB Local (url)"
    ttl_changed: dict[str, datetime] = field(default_factory=dict)  # table key → last TTL change
    up_to_date: bool = False        # what is deployed is exactly what the head would deploy
    template_differs: bool = False  # the deployed template is not the head's, whatever the plan
    exists: bool = False            # a stack (or tables) to update rather than create
    # Physical names of the deployed tables that may still be settling (indexes being created or
    # deleted by the last update); None: any of them may be.
    unsettled: list[str] | None = None
    fingerprint: str = ""           # what is deployed, as the target sees it ("": derived from `base`)
    # What else a destroy deletes with the tables (CloudFormation: "IAM managed policy NAME"), and
    # whether the stack's termination protection must be turned off first.
    other_resources: tuple[str, ...] = ()
    termination_protection: bool = False
    # Nothing deployed under this name, but the same tables under an old app or environment name.
    predecessors: tuple[Predecessor, ...] = ()
    adopting: tuple[str, ...] = ()  # tables nothing manages, taken over before step 1 (deploy --adopt)
    # The deploy serial, "LINEAGE:NUMBER" ("": never applied): kept where the deployed state lives (the
    # stack template's Metadata, the local registry), bumped by every apply; a saved plan records it
    # and so applies once (Terraform's state lineage and serial; issue 18, item 2).
    serial: str = ""
    # The target's own record of this reading (the stack's description and template, the engine
    # run, the adoption found): opaque to the flow, passed back to the target with the state. A
    # re-read after the prompt gets its own, so nothing of one reading leaks into another.
    private: Any = None


def deployed_fingerprint(state: DeployedState) -> str:
    """A digest of what is deployed: equal before and after a prompt (or between a saved plan and its
    apply) exactly when nothing was deployed in between. The target's own fingerprint when it has
    one (CloudFormation: the deployed template), else the deployed schema as read."""
    if state.fingerprint:
        return state.fingerprint
    base = state.base.model_dump(mode="json") if state.base is not None else None
    canonical = json.dumps({"base": base, "exists": state.exists, "serial": state.serial}, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Target(Protocol):
    """What the flow needs of a place to deploy to."""

    capabilities: Capabilities

    def read(self, head: ResolvedSchema, *, destroying: bool = False) -> DeployedState:
        """What is deployed. Deploying, tables to adopt are found and gated; destroying, they are none of its business."""
        ...

    def wait_settled(self, names: list[str], deadline: float) -> None: ...

    def announce(self, state: DeployedState, head: ResolvedSchema) -> None:
        """Say what `adopt` will take over (with the plan, before the question)."""
        ...

    def adopt(self, state: DeployedState) -> None:
        """Take over `state.adopting` (approved, before step 1); the plan's base already counts them."""
        ...

    def drift(self, head: ResolvedSchema, state: DeployedState) -> DriftReport | None:
        """Changes made to the deployed tables behind the tool's back (drift.py); None: cannot tell."""
        ...

    def check_live(self, state: DeployedState, plan: Plan) -> list[tuple[str, str]]:
        """Live state the plan cannot go over: (problem, what to do) pairs."""
        ...

    def apply(self, step: Step, before: ResolvedSchema | None, state: DeployedState) -> bool:
        """Bring the environment from `before` to `step.target`; False when nothing had to change."""
        ...

    def verify(self, plan: Plan, applied: ResolvedSchema) -> tuple[int, list[str]]: ...

    def count_items(self, names: list[str]) -> dict[str, tuple[int, str]]:
        """Items held by these deployed tables: name → (count, "" exact | "at least" | "approximately")."""
        ...

    def finish(self, state: DeployedState, changed: bool) -> int:
        """After a successful deploy (termination protection, outputs); returns the exit code."""
        ...

    def item_client(self) -> Any:
        """A DynamoDB client for items of the deployed tables (the unique guards' scan and writes)."""
        ...

    def destroy(self, state: DeployedState) -> tuple[str, ...]:
        """Delete the environment; returns the physical names of the tables kept."""
        ...


Targets = Target | Mapping[str, Target]


@dataclass
class StackRun:
    """One stack of the environment on its way through the flow (the local engine: one run, all tables)."""

    head: ResolvedSchema        # the stack's view (ResolvedSchema.stack_view), or the environment
    target: Target
    state: DeployedState
    plan: Plan | None = None    # None: nothing to do


def stack_targets(head: ResolvedSchema, target: Targets) -> list[tuple[ResolvedSchema, Target]]:
    """(what to deploy, where) in deploy order: one target for the whole environment, or per stack.

    Stacks are deployed in the order of `ResolvedSchema.stacks` (the main stack first, the others
    by name) and destroyed in reverse. No stack references another (each has its own tenant
    policies), so the order only makes the output predictable; a failure stops the stacks after it.
    """
    if isinstance(target, Mapping):
        return [(head.stack_view(name), t) for name, t in target.items()]
    return [(head, target)]


def per_stack(target: Targets) -> bool:
    """One target per stack of the environment (CloudFormation), rather than one for all of it."""
    return isinstance(target, Mapping)


def lock_scope(target: Targets) -> str:
    first = next(iter(target.values())) if isinstance(target, Mapping) else target
    return first.capabilities.lock_scope
