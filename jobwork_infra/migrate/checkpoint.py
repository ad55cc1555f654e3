"""A migration's checkpoint: where each stage stopped, so an interrupted run resumes, never restarts.

One JSON file per migration, `.jobwork/migrations/{env}/{physical name of generation N}.json`, replaced whole by
`fsio.atomic_write` after every page a segment has written and every batch of stream records
applied: a kill at any instant leaves the last complete checkpoint. The file is trusted only for
the migration it names (source, target and key are compared before it is used).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import JobworkError
from ..fsio import atomic_write
from .keys import KeySchema

FORMAT = 1
PHASES = ("prescanned", "copying", "copied", "caught_up", "verified", "finished")


@dataclass
class Segment:
    last_key: dict | None = None   # LastEvaluatedKey of the last page written; None: not started
    done: bool = False
    items: int = 0                 # items written from the pages checkpointed


@dataclass
class Shard:
    after: str | None = None       # the last sequence number applied; None: from TRIM_HORIZON
    done: bool = False             # closed and read to its end
    parent: str | None = None


@dataclass
class MigrationState:
    table: str
    env: str
    source: str
    target: str
    from_generation: int
    to_generation: int
    key: dict                      # KeySchema.to_json() of the target
    phase: str = "prescanned"
    total_segments: int = 0
    segments: list[Segment] = field(default_factory=list)
    stream_arn: str | None = None  # the source's stream, recorded before the copy read anything
    shards: dict[str, Shard] = field(default_factory=dict)
    unkeyed: int = 0               # items left behind (written to unkeyed_file)
    unkeyed_file: str | None = None
    records_applied: int = 0
    verify: dict | None = None     # the last verify's summary
    started: float | None = None
    caught_up_at: float | None = None   # when the last catch-up pass ended
    lag_seconds: float | None = None    # age of the newest record it applied
    retired: str | None = None          # after `migrate finish`: what became of the source
    format: int = FORMAT

    @property
    def key_schema(self) -> KeySchema:
        return KeySchema.from_json(self.key)

    @property
    def copied(self) -> int:
        return sum(s.items for s in self.segments)

    def at_least(self, phase: str) -> bool:
        return PHASES.index(self.phase) >= PHASES.index(phase)


def path_for(root: Path, env: str, target: str) -> Path:
    """The checkpoint of the migration into `target` (generation N's physical name: unique per app)."""
    return root / ".jobwork" / "migrations" / env / f"{target}.json"


def migrations(root: Path, env: str) -> list[tuple[Path, MigrationState]]:
    """Every migration of `env` with a checkpoint, by table then generation (`migrate status`)."""
    folder = root / ".jobwork" / "migrations" / env
    found = [(path, load(path)) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return sorted(found, key=lambda entry: (entry[1].table, entry[1].to_generation))


class Checkpoint:
    """The state of one migration and the file that holds it; `save` is safe from several threads."""

    def __init__(self, path: Path, state: MigrationState):
        self.path = path
        self.state = state
        self.lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, fresh: MigrationState) -> Checkpoint:
        """The checkpoint at `path` when it is of the same migration, else `fresh` (written at once)."""
        if path.exists():
            state = load(path)
            same = (state.source, state.target, state.key) == (fresh.source, fresh.target, fresh.key)
            if not same:
                raise JobworkError(
                    f"{path} holds a migration of {state.source} into {state.target} (key "
                    f"{state.key_schema.show()}), not of {fresh.source} into {fresh.target} (key "
                    f"{fresh.key_schema.show()})",
                    "finish or abandon that migration first (delete the file once generation "
                    f"{state.to_generation} is not needed), then rerun")
            return cls(path, state)
        checkpoint = cls(path, fresh)
        checkpoint.save()
        return checkpoint

    def save(self) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(asdict(self.state), indent=1, sort_keys=True) + "\n")

    def update(self, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                setattr(self.state, name, value)
        self.save()


def load(path: Path) -> MigrationState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        data["segments"] = [Segment(**s) for s in data.get("segments", [])]
        data["shards"] = {k: Shard(**v) for k, v in data.get("shards", {}).items()}
        state = MigrationState(**data)
        if state.phase not in PHASES:
            raise ValueError(f"phase {state.phase!r}")
        # What a checkpoint claims is checked against itself: a phase past the copy with a segment not
        # done, or a count of segments that disagrees, is a file this tool did not write.
        if len(state.segments) != state.total_segments:
            raise ValueError(f"{len(state.segments)} segments recorded for {state.total_segments}")
        if state.at_least("copied") and not all(s.done for s in state.segments):
            raise ValueError(f"phase {state.phase} with segments not copied")
        if state.at_least("copying") and not state.stream_arn:
            raise ValueError("no stream recorded for a copy")
        return state
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise JobworkError(f"the migration checkpoint {path} cannot be read ({exc})",
                           "it is not one this version wrote; move it aside and rerun (the copy starts "
                           "over: it only rewrites items already copied)") from exc
