"""The plan's "migrate" step, run by a deploy target through the DynamoDB API (local engine or AWS).

The target has created generation N in an earlier step and kept generation N-1; this runs each
migration of the step (run.py) and refuses the cut-over (exit 3) unless both generations verified
equal, so generation N becomes the table of record only then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..changes import Migration, Step
from ..errors import Blocked
from . import events as ev
from .keys import KeyAttr, KeySchema
from .run import Job, Outcome, migrate_table


def key_schema(migration: Migration) -> KeySchema:
    """Generation N's key as the engine reads items by it."""
    pk, sk = migration.partition_key, migration.sort_key
    return KeySchema(KeyAttr(pk.name, pk.type), KeyAttr(sk.name, sk.type) if sk else None)


def job_for(migration: Migration, env: str, *, skip_unkeyed: bool, retry: str) -> Job:
    return Job(table=migration.table, env=env, source=migration.source, target=migration.target,
               from_generation=migration.from_generation, to_generation=migration.to_generation,
               key=key_schema(migration), skip_unkeyed=skip_unkeyed, retry=retry)


def run_migrations(client: Any, streams: Any, step: Step, env: str, root: Path, *, skip_unkeyed: bool,
                   retry: str, emit: ev.Emit = ev.ignore) -> list[Outcome]:
    """Fill every new generation of `step`; Blocked when one does not verify equal."""
    outcomes = []
    for migration in step.migrations:
        outcome = migrate_table(client, streams, job_for(migration, env, skip_unkeyed=skip_unkeyed, retry=retry),
                                root, emit=emit)
        result = outcome.verify
        if not result.equal:
            shown = "; ".join(f"{kind} {key}" for kind, key in result.differences(5))
            raise Blocked(
                f"{migration.target} does not equal {migration.source} yet ({result.difference_count} "
                f"difference(s): {shown}): it does not become the table of record",
                f"rerun `{retry}` (it resumes: catches up and verifies again); if writes keep arriving faster than they "
                "are replayed, run it when the application is quieter")
        if outcome.state.phase != "verified":
            # Items that lost the new key while the copy ran, without --skip-unkeyed: listed, not dropped.
            raise Blocked(
                f"{result.unkeyed} item(s) of {migration.source} got no {key_schema(migration).show()} while the "
                f"copy ran: they are listed in {outcome.left_behind}, and {migration.target} does not become the "
                "table of record",
                f"give them the key and rerun `{retry}`, or run `{retry} --skip-unkeyed` to leave them behind")
        outcomes.append(outcome)
    return outcomes
