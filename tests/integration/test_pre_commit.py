"""`.pre-commit-hooks.yaml`: the hook definitions, and pre-commit really building and running both hooks
from this repository (marked slow: pre-commit makes the hook's virtualenv and pip-installs this checkout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

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
    codegen = HOOKS["jobwork-infra-codegen-check"]
    assert codegen["entry"] == "jobwork-infra codegen python --check"
    assert (codegen["language"], codegen["pass_filenames"], codegen["files"]) == ("python", False, validate["files"])


def _hooks_repo(tmp_path: Path, env: dict) -> tuple[Path, str]:
    """This checkout as pre-commit sees a hook repository: its files (uncommitted edits included, as
    `try-repo` does) committed in a fresh repository; returns it and the commit."""
    hooks = tmp_path / "hooks-repo"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (hooks / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, hooks / name)
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "hooks"]):
        subprocess.run(["git", *args], cwd=hooks, env=env, check=True, capture_output=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hooks, check=True, capture_output=True, text=True)
    return hooks, rev.stdout.strip()


def _cheap_env(tmp_path: Path) -> dict:
    """See the docstring below: only jobwork-infra is installed into the hook env, its dependencies
    are lent from this virtualenv."""
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    return {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_DEPS": "1",
            "PIP_NO_COMPILE": "1", "PYTHONPATH": site_packages,
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


@pytest.mark.slow
@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is a dev dependency: make setup")
def test_pre_commit_try_repo_runs_the_validate_hook(tmp_path):
    env = _cheap_env(tmp_path)
    repo = tmp_path / "app"
    (repo / "schema").mkdir(parents=True)
    shutil.copy(ROOT / "schema" / "tables.yaml", repo / "schema" / "tables.yaml")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "schema"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    done = subprocess.run([str(PRE_COMMIT), "try-repo", str(ROOT), "jobwork-infra-validate", "--all-files"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "jobwork-infra validate" in done.stdout and "Passed" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is a dev dependency: make setup")
def test_pre_commit_builds_the_hooks_from_this_repository_and_runs_both(tmp_path):
    """pre-commit builds the hook environment from this repository (`language: python`: a virtualenv,
    `pip install .` of this checkout) and runs both hooks, with `args` for codegen's --out.

    Cheap but real: PIP_NO_DEPS installs only jobwork-infra itself into the hook environment (the
    dependencies, aws-cdk-lib among them, took minutes to install and are not what is under test);
    PYTHONPATH lends them from the test's virtualenv. The package, its entry point and the hook
    definitions are the ones a user gets.
    """
    env = _cheap_env(tmp_path)
    hooks, rev = _hooks_repo(tmp_path, env)
    repo = tmp_path / "app"
    (repo / "schema").mkdir(parents=True)
    schema = repo / "schema" / "tables.yaml"
    shutil.copy(ROOT / "schema" / "tables.yaml", schema)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{
        "repo": str(hooks), "rev": rev,
        "hooks": [{"id": "jobwork-infra-validate"},
                  {"id": "jobwork-infra-codegen-check", "args": ["--out", "gen/jobwork_data"]}]}]}))
    subprocess.run([str(Path(sys.executable).parent / "jobwork-infra"), "codegen", "python", "--out", "gen/jobwork_data"],
                   cwd=repo, env=env, check=True, capture_output=True)
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "schema"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    def run_hooks() -> subprocess.CompletedProcess:
        return subprocess.run([str(PRE_COMMIT), "run", "--all-files"], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=600, check=False)

    passed = run_hooks()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "jobwork-infra validate" in passed.stdout and "jobwork-infra codegen --check" in passed.stdout
    assert passed.stdout.count("Passed") == 2

    # A valid schema edit the generated package does not know yet: codegen --check fails, validate passes.
    original = schema.read_text()
    assert "      name: string\n" in original
    schema.write_text(original.replace("      name: string\n", "      name: string\n      nickname: string\n", 1))
    stale = run_hooks()
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert stale.stdout.count("Passed") == 1 and stale.stdout.count("Failed") == 1
    assert "jobwork-infra codegen python --out gen/jobwork_data" in stale.stdout  # the fix, named

    schema.write_text(original.replace("version: 1", "version: 2"))
    failed = run_hooks()
    assert failed.returncode == 1
    assert "schema/tables.yaml:6:10: error M002: unsupported schema version 2" in failed.stdout
