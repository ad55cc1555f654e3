"""Every file the tool writes goes through `atomic_write`: nothing it writes can half-happen.

A write lands in a temporary file in the destination's own directory (so the final `os.replace`
is a rename within one filesystem, atomic on POSIX), is flushed and fsynced, then renamed over the
destination; on any failure (a full disk, `ulimit -f`, a read-only directory) the temporary file is
removed and the destination is exactly what it was before. A destination that is a symlink, or
that resolves outside `within`, is refused: the tool never writes through a link it did not make.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jobwork_infra.errors import JobworkError


class UnsafeWriteError(JobworkError):
    """A write the tool refuses to make (a symlink, a path outside its folder, an unwritable file)."""


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *,
                 within: str | os.PathLike[str] | None = None, mode: int | None = None) -> Path:
    """Replace `path` with `data` atomically; returns the path written.

    `within`: the folder the write must stay inside (checked on the resolved path, so `..` and
    symlinked parents cannot lead out of it). `mode`: the new file's permissions (default: those of
    the file replaced, else 0o644).
    """
    target = Path(path)
    if target.is_symlink():
        raise UnsafeWriteError(f"{target} is a symbolic link; the tool does not write through links "
                               "(remove the link or name the real file)")
    if within is not None:
        root = Path(within).resolve()
        resolved = target.parent.resolve() / target.name
        if resolved != root and root not in resolved.parents:
            raise UnsafeWriteError(f"{target} is outside {root}; the tool writes only inside it")
    if target.is_dir():
        raise UnsafeWriteError(f"{target} is a directory, not a file")
    if target.exists() and not _writable(target):
        # A rename would replace it anyway (only the folder's permissions matter to rename): the
        # file's own mode is the user's word that it is not to be changed.
        raise UnsafeWriteError(f"{target} is read-only; the tool does not replace a read-only file",
                               hint=f"make it writable (chmod u+w {target}) or write elsewhere")
    directory = target.parent if str(target.parent) else Path(".")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    try:
        # Closed by the `with` below; opened here so an unwritable folder is reported on its own.
        handle = tempfile.NamedTemporaryFile("wb", dir=directory, prefix=f".{target.name}.",  # noqa: SIM115
                                             suffix=".tmp", delete=False)
    except OSError as error:
        raise UnsafeWriteError(f"cannot write {target}: {error.strerror or error}") from error
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)
        os.replace(handle.name, target)
    except BaseException as error:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise UnsafeWriteError(f"cannot write {target}: {error.strerror or error}; "
                                   "it was left as it was") from error
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash only once the directory is synced
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target


def _writable(path: Path) -> bool:
    """Writable to us, judged by the mode bits as well: root's `os.access` says yes to any file."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
