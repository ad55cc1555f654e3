"""`.pre-commit-hooks.yaml`: the hook definitions, and `pre-commit try-repo .` really running the validate hook.

try-repo builds the hook's own virtualenv from this repository (pip, from the configured index), so it
takes about a minute the first time: marked slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

HOOKS = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def test_the_hooks_are_defined_for_tables_yaml():
    assert set(HOOKS) == {"jobwork-infra-validate", "jobwork-infra-codegen-check"}
    validate = HOOKS["jobwork-infra-validate"]
    assert validate["entry"] == "jobwork-infra validate --strict"
    assert (validate["language"], validate["pass_filenames"]) == ("python", False)
    import re

    pattern = re.compile(validate["files"])
    assert pattern.search("schema/tables.yaml") and pattern.search("tables.yaml")
    assert not pattern.search("schema/tables.yaml.bak") and not pattern.search("other.yaml")
    # Defined now, wired once the codegen command is merged.
    assert HOOKS["jobwork-infra-codegen-check"]["entry"] == "jobwork-infra codegen python --check"


@pytest.mark.slow
@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is a dev dependency: make setup")
def test_pre_commit_try_repo_runs_the_validate_hook(tmp_path):
    repo = tmp_path / "app"
    (repo / "schema").mkdir(parents=True)
    shutil.copy(ROOT / "schema" / "tables.yaml", repo / "schema" / "tables.yaml")
    # PIP_NO_COMPILE: the hook env installs aws-cdk-lib; byte-compiling its modules is most of the install.
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_COMPILE": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "schema"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    def try_repo() -> subprocess.CompletedProcess:
        return subprocess.run([str(PRE_COMMIT), "try-repo", str(ROOT), "jobwork-infra-validate", "--all-files"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False)

    passed = try_repo()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "jobwork-infra validate" in passed.stdout and "Passed" in passed.stdout

    (repo / "schema" / "tables.yaml").write_text((ROOT / "schema" / "tables.yaml").read_text()
                                                 .replace("version: 1", "version: 2"))
    failed = try_repo()
    assert failed.returncode == 1
    assert "schema/tables.yaml:6:10: error M002: unsupported schema version 2" in failed.stdout
