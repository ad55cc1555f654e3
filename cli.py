#!/usr/bin/env python3
"""The script cdk.json runs (`python3 cli.py synth --cdk-app`); the same commands as `jobwork-infra`.

The CDK CLI starts it with whatever `python3` is on PATH, which on a fresh clone lacks the
dependencies. When they are missing and the project's ./.venv exists (made by `make test` or
`make demo`), the script re-runs itself with that interpreter instead of failing.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
_REEXEC_GUARD = "JOBWORK_INFRA_REEXEC"


def _venv_python() -> Path | None:
    for candidate in (VENV / "bin" / "python", VENV / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None


try:
    sys.path.insert(0, str(HERE))
    from jobwork_infra.cli import main
except ImportError as exc:
    venv_python = _venv_python()
    # sys.prefix, not the executable's path: a venv's python is usually a symlink to this one.
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if venv_python is None or in_venv or os.environ.get(_REEXEC_GUARD):
        sys.exit(f"error: jobwork-infra's dependencies are missing ({exc.name or exc})\n"
                 "  hint: run `make setup` (or `pip install -e .`) in this folder first")
    os.environ[_REEXEC_GUARD] = "1"
    os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])

if __name__ == "__main__":
    main()
