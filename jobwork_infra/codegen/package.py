"""The generated package on disk: write it, or check that it still matches the schema.

Codegen touches only what it wrote. The package folder holds a manifest, `_generated.json`, listing
every file codegen wrote there with its sha256; codegen writes only into a folder it creates or one
holding its manifest, refuses a folder with anything the manifest does not list, never writes
through a symbolic link, deletes only files the manifest lists, and writes every file atomically
(`fsio.atomic_write`). `--check` compares the whole tree, files and folders, with the manifest and
with what the schema generates now.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Blocked, JobworkError
from ..fsio import UnsafeWriteError, atomic_write
from .python import GENERATOR, HASH_LINE

MANIFEST = "_generated.json"
# Python writes its bytecode cache beside the modules it imports: not a file of ours, nor the user's.
_CACHE = "__pycache__"


@dataclass
class CheckResult:
    expected_hash: str
    stamped_hash: str | None        # None: no generated package at the place
    differences: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return self.stamped_hash != self.expected_hash

    @property
    def ok(self) -> bool:
        return not self.differences


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refuse(message: str, hint: str) -> Blocked:
    """A write codegen refuses because it could harm what it did not write (exit 3)."""
    return Blocked(message, hint)


def read_manifest(out: Path) -> dict[str, str] | None:
    """File name → sha256 of what codegen wrote into `out`; None when `out` holds no manifest."""
    path = out / MANIFEST
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return None
    # A name with a separator or a dot-dot would reach outside the package: a manifest never holds one.
    if any("/" in k or "\\" in k or k in ("", ".", "..", MANIFEST) for k in files):
        return None
    return dict(files)


def _entries(out: Path) -> list[str]:
    """Every file, folder and link under `out`, relative (bytecode caches aside)."""
    found: list[str] = []
    for root, dirs, files in os.walk(out, followlinks=False):
        rel = Path(root).relative_to(out)
        for name in sorted(dirs):
            path = Path(root) / name
            if name == _CACHE and not path.is_symlink():
                dirs.remove(name)
                continue
            found.append(str(rel / name) + ("" if path.is_symlink() else "/"))
            if path.is_symlink():
                dirs.remove(name)
        found += [str(rel / name) for name in sorted(files)]
    return sorted(entry.removeprefix("./") for entry in found)


def _guard_out(out: Path, *, schema: Path | None) -> None:
    """Refuse a package folder that would put the user's own files in reach."""
    if out.is_symlink():
        raise _refuse(f"--out {out} is a symbolic link; codegen does not write through links",
                      "pass the real folder, or a new one")
    resolved = out.resolve()
    forbidden = {Path.cwd().resolve(): "the current directory"}
    if schema is not None:
        forbidden[schema.resolve().parent] = "the schema's directory"
    for place, what in forbidden.items():
        if resolved == place:
            raise _refuse(f"--out {out} is {what}; codegen writes its package into a folder of its own",
                          f"pass a new folder, e.g. --out {out / 'jobwork_data'}")


def write(files: dict[str, str], out: Path, *, schema: Path | None = None) -> tuple[list[str], list[str]]:
    """Write the package; files an earlier run listed in the manifest and this one does not are removed.

    Returns (written, removed) file names; unchanged files are not rewritten.
    """
    _guard_out(out, schema=schema)
    try:
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobworkError(f"cannot write the package to {out}: {exc.strerror or exc}",
                           "pass --out a directory you can write to") from None
    manifest = {} if created else read_manifest(out)
    entries = _entries(out)
    if manifest is None and entries and _earlier_package(out, entries, files):
        manifest = {name: "" for name in entries}  # a package of an earlier codegen (before manifests)
    if manifest is None:
        if entries:
            shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
            raise _refuse(f"{out} holds files codegen did not write ({shown}) and no {MANIFEST}; codegen writes "
                          "only into a folder it created or one holding its manifest",
                          "pass a new folder to --out, or move those files away (a package generated before "
                          "manifests existed: delete the folder and generate again)")
        manifest = {}
    foreign = [e for e in entries if e != MANIFEST and e not in manifest]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise _refuse(f"{out} holds what codegen did not write: {shown}; it neither overwrites nor deletes it",
                      f"move those out of {out} (the package folder holds generated files only)")
    links = [name for name in manifest if (out / name).is_symlink()]
    if links:
        raise _refuse(f"{out / links[0]} is a symbolic link; codegen does not write through links",
                      "remove the link; codegen then writes the file itself")
    written: list[str] = []
    removed = [name for name in manifest if name not in files]
    try:
        # The manifest first lists everything that may be on disk during the run, so that a run
        # interrupted half way leaves no file the next run would take for the user's.
        during = {**manifest, **{name: _sha256(text.encode()) for name, text in files.items()}}
        atomic_write(out / MANIFEST, _manifest_text(during), within=out)
        for name, text in files.items():
            path = out / name
            if not (path.is_file() and path.read_bytes() == text.encode()):
                atomic_write(path, text, within=out)
                written.append(name)
        for name in removed:
            path = out / name
            if path.is_file() and not path.is_symlink():
                path.unlink()
        atomic_write(out / MANIFEST, _manifest_text({name: _sha256(t.encode()) for name, t in files.items()}),
                     within=out)
    except UnsafeWriteError:
        raise
    except OSError as exc:
        raise JobworkError(f"cannot write the package to {out}: {exc.strerror or exc}",
                           "pass --out a directory you can write to") from None
    return written, removed


def _earlier_package(out: Path, entries: list[str], files: dict[str, str]) -> bool:
    """A folder that an earlier codegen wrote before it kept a manifest: only the files it generates
    (this run's names, each a regular file starting with the generated header; py.typed empty)."""
    if not set(entries) <= set(files):
        return False
    for name in entries:
        path = out / name
        if path.is_symlink() or not path.is_file():
            return False
        head = path.read_bytes()[:200]
        if not (head.startswith(f"# Generated by {GENERATOR}".encode()) or (name == "py.typed" and not head)):
            return False
    return True


def _manifest_text(files: dict[str, str]) -> str:
    return json.dumps({"generator": GENERATOR, "note": "the files codegen wrote here; it touches no other",
                       "files": dict(sorted(files.items()))}, indent=2) + "\n"


def check(files: dict[str, str], out: Path, expected_hash: str) -> CheckResult:
    """Compare the package at `out` with what the schema generates now; say what differs."""
    manifest = read_manifest(out) if out.is_dir() and not out.is_symlink() else None
    init = out / "__init__.py"
    text = init.read_text(errors="replace") if manifest is not None and init.is_file() else ""
    stamped = HASH_LINE.search(text)
    result = CheckResult(expected_hash, stamped.group(1) if stamped else None)
    if manifest is None:
        result.differences.append(f"{out} holds no generated package (no {MANIFEST})")
        return result
    if result.stale and result.stamped_hash is not None:
        result.differences.append(f"generated from schema hash {result.stamped_hash[:12]}, the schema now "
                                  f"gives {expected_hash[:12]}: the schema changed since")
    for entry in _entries(out):
        if entry == MANIFEST:
            continue
        if entry not in files and entry not in manifest:
            what = "a folder" if entry.endswith("/") else "a file"
            result.differences.append(f"{entry}: {what} that is not part of the generated package "
                                      "(Python may import it instead of the generated code)")
        elif (out / entry).is_symlink():
            result.differences.append(f"{entry}: a symbolic link, not the generated file")
    for name, text in files.items():
        path = out / name
        if not path.is_file() or path.is_symlink():
            if not path.is_symlink():
                result.differences.append(f"{name}: missing")
            continue
        existing = path.read_text(errors="replace")
        if existing == text:
            continue
        if result.stale:
            result.differences.append(f"{name}: differs from what the schema generates now")
            continue
        diff = list(difflib.unified_diff(text.splitlines(), existing.splitlines(),
                                         f"generated/{name}", f"{out}/{name}", n=0, lineterm=""))
        shown = [line for line in diff[2:] if not line.startswith("@@")][:6]
        more = sum(1 for line in diff[2:] if line[:1] in "+-") - len([x for x in shown if x[:1] in "+-"])
        detail = "\n".join(f"    {line}" for line in shown) + (f"\n    … {more} more changed lines" if more > 0 else "")
        result.differences.append(f"{name}: edited by hand\n{detail}" if detail.strip() else f"{name}: edited by hand")
    for name in manifest:
        if name not in files and (out / name).exists():
            result.differences.append(f"{name}: generated earlier, no longer part of the package")
    return result
