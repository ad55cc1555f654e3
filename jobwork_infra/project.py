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
    # How this version was found, when the user should hear it (a base read from a renamed file).
    note: str | None = None
    # env → its ResolvedSchema: resolving 1,000 tables takes ~0.1 s, and a deploy asks once per stack.
    _resolved: dict[str, ResolvedSchema] = field(default_factory=dict, repr=False, compare=False)

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
        if env not in self._resolved:
            self._resolved[env] = resolve(self.schema, env)
        return self._resolved[env]


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
    resolved: dict[str, ResolvedSchema] = {}  # the rules resolve every environment: deploy reuses them
    if document is not None and not any(d.is_error for d in diagnostics):
        schema, model_findings = parse_schema(document)
        diagnostics += model_findings
        if schema is not None:
            diagnostics += check(document, schema, resolved)
    return Project(document, schema, sorted(diagnostics, key=sort_key), _resolved=resolved)


def check_base(base: str, schema: str | Path, base_schema: str | Path | None = None,
               app: str | None = None) -> Project | None:
    """The version to diff against: a file, or the schema as committed at a git ref.

    At a ref, the schema is read from `base_schema` when given, else from the same path, else from
    the path git's rename detection says it had there (a `git mv` of the schema file). None when the
    ref is real but no schema existed there yet (its first pull request): then every table is new.
    But when the ref holds another schema file for the same `app`, moving the file must not turn
    dropped tables into "every table is new" (issue 14, item 4): that is refused, naming the file.
    """
    if base_schema is None and Path(base).is_file():
        return check_project(base)
    root, path = _repo_path(base, Path(schema))
    _verify_ref(base, root)
    if base_schema is not None:
        # Relative to the repository root; it need not exist in the working tree any more.
        try:
            at_ref = Path(base_schema).resolve().relative_to(root).as_posix()
        except ValueError:
            raise JobworkError(f"--base-schema {base_schema} is not inside the repository at {root}",
                               "name the schema file's path in that repository") from None
        if not _exists_at(base, at_ref, root):
            raise JobworkError(f"--base-schema {base_schema}: {at_ref} does not exist at {base}",
                               f"name the schema file as it was at {base} (see `git show --stat {base}`)")
        return _project_at(base, at_ref, root)
    if _exists_at(base, path, root):
        return _project_at(base, path, root)
    renamed = _renamed_from(base, path, root)
    if renamed is not None:
        project = _project_at(base, renamed, root)
        project.note = f"{path} was {renamed} at {base} (followed the rename)"
        return project
    if app is not None:
        elsewhere = _schemas_of_app(base, app, root)
        if elsewhere:
            raise JobworkError(
                f"{path} does not exist at {base}, but {elsewhere[0]} there is a schema for the same app "
                f"{app!r}: comparing with nothing would call every table new and hide what was dropped",
                f"pass --base-schema {elsewhere[0]} to compare with it (the schema file was moved or copied)")
    return None


def _repo_path(ref: str, file: Path) -> tuple[Path, str]:
    """The repository root holding `file`, and the file's path in it (posix)."""
    file = file.resolve()
    if not file.parent.is_dir():
        raise JobworkError(f"--base {ref}: {file.parent} does not exist", "pass --schema PATH")
    found = _git(["rev-parse", "--show-toplevel"], file.parent)
    if found.returncode != 0:
        raise JobworkError(f"--base {ref!r} is not a file, and {file.parent} is not in a git repository",
                           "pass --base FILE, or run inside the repository that holds the schema")
    root = Path(found.stdout.strip()).resolve()
    try:
        return root, file.relative_to(root).as_posix()
    except ValueError:
        raise JobworkError(f"{file} is not inside the repository at {root}",
                           "pass a schema file of that repository") from None


def _verify_ref(ref: str, root: Path) -> None:
    if ref.startswith("-") or _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).returncode != 0:
        raise JobworkError(f"--base {ref!r} is neither a file nor a git ref",
                           "pass a branch, tag or commit (origin/main, HEAD~1) or a schema file")


def _exists_at(ref: str, path: str, root: Path) -> bool:
    return _git(["cat-file", "-e", f"{ref}:{path}"], root).returncode == 0


def _project_at(ref: str, path: str, root: Path) -> Project:
    shown = _git(["show", f"{ref}:{path}"], root)
    if shown.returncode != 0:
        raise JobworkError(f"cannot read {path} at {ref}: {shown.stderr.strip()}")
    return check_project(f"{ref}:{path}", text=shown.stdout)


def _renamed_from(ref: str, path: str, root: Path) -> str | None:
    """The path `path` had at `ref`, by git's rename detection between `ref` and the working tree."""
    found = _git(["diff", "-M", "--name-status", "-z", ref, "--"], root)
    if found.returncode != 0:
        return None
    fields = found.stdout.split("\0")
    i = 0
    while i < len(fields) - 1:
        status = fields[i]
        if status.startswith(("R", "C")):
            old, new = fields[i + 1], fields[i + 2]
            if new == path and status.startswith("R"):
                return old
            i += 3
        else:
            i += 2
    return None


MAX_CANDIDATES = 20


def _schemas_of_app(ref: str, app: str, root: Path) -> list[str]:
    """Files at `ref` that are schemas of `app` (YAML or JSON files mentioning it, then loaded to be sure)."""
    found = _git(["grep", "-l", "-I", "-F", "-e", app, ref, "--", "*.yaml", "*.yml", "*.json"], root)
    if found.returncode != 0:
        return []
    prefix = f"{ref}:"
    paths = [line.removeprefix(prefix) for line in found.stdout.splitlines() if line.startswith(prefix)]
    schemas = []
    for candidate in sorted(paths)[:MAX_CANDIDATES]:
        project = _project_at(ref, candidate, root)
        data = project.document.data if project.document else None
        if isinstance(data, dict) and data.get("app") == app and "tables" in data:
            schemas.append(candidate)
    return schemas


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise JobworkError("--base needs git to read a ref, and git is not installed",
                           "install git, or pass --base FILE") from None
