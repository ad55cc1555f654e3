"""The front of the pipeline in one call: load → model → rules, for every command that needs a schema."""

from __future__ import annotations

import gc
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import DEFAULT_SCHEMA
from .errors import Diagnostic, JobworkError, SchemaInvalid, sort_key
from .load import Document, load_document
from .model import ResolvedSchema, SchemaFile, parse_schema, resolve


def default_schema_path() -> str:
    return os.environ.get("JOBWORK_SCHEMA") or DEFAULT_SCHEMA


@dataclass
class Project:
    """A checked schema file. `schema` is None when loading or the model failed."""

    document: Document | None
    schema: SchemaFile | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.schema is not None and not any(d.is_error for d in self.diagnostics)

    @property
    def environments(self) -> list[str]:
        return list(self.schema.environments) if self.schema else []

    def require_valid(self) -> Project:
        if not self.ok:
            sources = {self.document.file: self.document.text} if self.document else {}
            raise SchemaInvalid(self.diagnostics, sources)
        return self

    def resolve(self, env: str) -> ResolvedSchema:
        self.require_valid()
        if env not in self.schema.environments:
            raise JobworkError(f"unknown environment {env!r}",
                               f"the schema defines: {', '.join(self.environments)}")
        return resolve(self.schema, env)


@contextmanager
def _cyclic_gc_paused():
    """Loading builds hundreds of thousands of small acyclic objects (YAML nodes, models); the
    cyclic collector's passes over them were half the time of validating 1000 tables (571 → 265 ms)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_project(path: str | Path, text: str | None = None) -> Project:
    """Load, model and check a schema; never raises for bad input (findings are in the result)."""
    with _cyclic_gc_paused():
        return _check_project(path, text)


def _check_project(path: str | Path, text: str | None) -> Project:
    from .rules import check  # rules import the model; kept here so load/model stay rule-free

    document, diagnostics = load_document(path, text)
    schema = None
    if document is not None and not any(d.is_error for d in diagnostics):
        schema, model_findings = parse_schema(document)
        diagnostics += model_findings
        if schema is not None:
            diagnostics += check(document, schema)
    return Project(document, schema, sorted(diagnostics, key=sort_key))


def check_base(base: str, schema: str | Path) -> Project | None:
    """The version to diff against: a file, or the schema as committed at a git ref.

    None when the ref is real but the schema did not exist there yet (its first pull request):
    then every table is new.
    """
    if Path(base).is_file():
        return check_project(base)
    shown = _git_show(base, Path(schema))
    if shown is None:
        return None
    name, text = shown
    return check_project(name, text=text)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise JobworkError("--base needs git to read a ref, and git is not installed",
                           "install git, or pass --base FILE") from None


def _git_show(ref: str, schema: Path) -> tuple[str, str] | None:
    """(a name for locating findings, the text) of the schema at `ref`; None if it wasn't there."""
    schema = schema.resolve()
    if not schema.parent.is_dir():
        raise JobworkError(f"--base {ref}: {schema.parent} does not exist", "pass --schema PATH")
    found = _git(["rev-parse", "--show-toplevel"], schema.parent)
    if found.returncode != 0:
        raise JobworkError(f"--base {ref!r} is not a file, and {schema.parent} is not in a git repository",
                           "pass --base FILE, or run inside the repository that holds the schema")
    root = Path(found.stdout.strip()).resolve()
    path = schema.relative_to(root).as_posix()
    if _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).returncode != 0:
        raise JobworkError(f"--base {ref!r} is neither a file nor a git ref",
                           "pass a branch, tag or commit (origin/main, HEAD~1) or a schema file")
    if _git(["cat-file", "-e", f"{ref}:{path}"], root).returncode != 0:
        return None
    shown = _git(["show", f"{ref}:{path}"], root)
    if shown.returncode != 0:
        raise JobworkError(f"cannot read {path} at {ref}: {shown.stderr.strip()}")
    return f"{ref}:{path}", shown.stdout
