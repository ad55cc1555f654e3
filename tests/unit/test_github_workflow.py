"""The composite action and the repository's workflow: both parse, their inputs match, and their shell
steps really run here against a git repository with a base and a head schema.

Steps that need GitHub itself are not run: `install` (pip from the action's checkout; the tool under
test is on PATH already), actions/github-script (its script is checked by `node --check`) and
actions/upload-artifact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.unit.test_diff_cli import BASE, HEAD

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "schema.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Expressions:
    """Just enough of GitHub's expression language for these two files: names, '…', ||, &&, ==, !=, !,
    and the status functions (success(), failure(), always(), cancelled()) over `failed`."""

    def __init__(self, context: dict):
        self.context = context
        self.failed = False  # a step failed without continue-on-error

    def value(self, text: str):
        text = text.strip()
        for op in ("||", "&&"):
            if op in text:
                left, right = text.split(op, 1)
                a = self.value(left)
                return (a or self.value(right)) if op == "||" else (a and self.value(right))
        for op in ("==", "!="):
            if op in text:
                left, right = text.split(op, 1)
                same = self.value(left) == self.value(right)
                return same if op == "==" else not same
        if text.startswith("!"):
            return not self.value(text[1:])
        status = {"success()": not self.failed, "failure()": self.failed, "always()": True, "cancelled()": False}
        if text in status:
            return status[text]
        if text.startswith("'") and text.endswith("'"):
            return text[1:-1]
        node = self.context
        for part in text.split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        return node

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: str(self.value(m.group(1))), str(text))


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A repository whose main has BASE and whose pull request branch has HEAD (a destructive change)."""
    repo = tmp_path / "repo"
    (repo / "schema").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "schema" / "tables.yaml").write_text(BASE)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "checkout", "-qb", "change")
    (repo / "schema" / "tables.yaml").write_text(HEAD)
    _git(repo, "commit", "-qam", "head")
    return repo


class ActionRun(dict):
    """The shell steps' results by id; `ran` lists every step that ran, `uses` steps included."""

    ran: list[str]


def run_action(repo: Path, tmp_path: Path, extra_env: dict | None = None, *, github: dict | None = None,
               failing: frozenset[str] = frozenset(), **inputs: str) -> ActionRun:
    """Run the action's steps as the runner does: each step's `if` (default `success()`) against the
    steps before it; a failed step fails the rest unless `continue-on-error`. `uses` steps are not run;
    those named in `failing` count as failed (a fork's read-only token makes github-script throw)."""
    declared = ACTION["inputs"]
    assert set(inputs) <= set(declared)
    context = {
        "inputs": {name: inputs.get(name, spec.get("default", "")) for name, spec in declared.items()},
        "github": github or {"base_ref": "main", "action_path": str(ROOT), "event_name": "pull_request",
                             "job": "check", "event": {"pull_request": {"number": 7}}},
        "steps": {},
    }
    expressions = Expressions(context)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    results = ActionRun()
    results.ran = []
    for step in ACTION["runs"]["steps"]:
        condition = step.get("if", "success()")
        if not expressions.value(EXPRESSION.sub(r"\1", condition)):
            continue
        if "uses" in step or step["id"] == "install":
            if "uses" in step:
                results.ran.append(step["id"])
            if step["id"] in failing and not step.get("continue-on-error"):
                expressions.failed = True
            continue
        results.ran.append(step["id"])
        output = tmp_path / f"{step['id']}.out"
        output.touch()
        env = {"PATH": path, "HOME": str(tmp_path), "RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output),
               **(extra_env or {}), **{k: expressions.substitute(v) for k, v in step.get("env", {}).items()}}
        assert step["shell"] == "bash"
        # GitHub runs `bash --noprofile --norc -eo pipefail {0}` for shell: bash.
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)
        results[step["id"]] = done
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        context["steps"][step["id"]] = {"outputs": outputs}
        if done.returncode != 0 and not step.get("continue-on-error"):
            expressions.failed = True
    return results


def test_the_action_runs_validate_and_diff_and_fails_at_the_fail_on_level(repo, tmp_path):
    results = run_action(repo, tmp_path)
    assert list(results) == ["prepare", "validate", "diff", "body", "verdict"]
    assert results["validate"].returncode == 0
    assert results["validate"].stdout.startswith("::warning file=schema/tables.yaml,line=15,col=72::T002 ")
    annotations = results["diff"].stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in annotations] == ["::warning", "::warning", "::notice", "::error"]
    assert annotations[-1].startswith("::error file=schema/tables.yaml,line=17,col=5,title=D105 destructive")
    assert results["verdict"].returncode == 3
    assert "diff exited 3" in results["verdict"].stdout
    report = tmp_path / "runner" / "jobwork-infra"
    comment = (report / "comment.md").read_text()
    base = _git(repo, "rev-parse", "origin/main")  # the merge base of the pull request's branch
    assert comment.startswith("<!-- jobwork-infra:schema-check schema=schema/tables.yaml job=check -->\n"
                              f"## jobwork-infra: `schema/tables.yaml` against `{base}`\n")
    assert "> This change reaches `--fail-on destructive`" in comment
    assert "**4 changes: 1 destructive, 1 multi-step, 1 online, 1 safe**" in comment
    assert (f"#### Plan for `shop-dev`: 2 steps (if `{base}` is what is deployed)\n\n"
            "1. users: D306 stream, D406 description, delete index by_email; orders: D105 sort key — **refused by "
            "deploy**\n2. users: create index by_email\n") in comment
    assert "> ⛔ deploy refuses it (even with --allow-destructive): cannot replace shop-dev-orders" in comment
    assert "<summary>validate: schema/tables.yaml: valid (2 tables, 1 index; 0 errors, 1 warning)</summary>" in comment
    assert sorted(p.name for p in report.iterdir()) == ["comment.md", "diff.json", "diff.md", "validate.txt"]


def test_fail_on_never_passes_and_the_comment_has_no_caution(repo, tmp_path):
    results = run_action(repo, tmp_path, **{"fail-on": "never"})
    assert results["verdict"].returncode == 0
    assert "[!CAUTION]" not in (tmp_path / "runner" / "jobwork-infra" / "comment.md").read_text()


def test_an_invalid_schema_fails_validate_and_skips_the_diff(repo, tmp_path):
    (repo / "schema" / "tables.yaml").write_text(HEAD.replace("version: 1", "version: 2"))
    results = run_action(repo, tmp_path)
    assert results["validate"].stdout.startswith("::error file=schema/tables.yaml,line=1,col=10::M002 unsupported")
    assert results["diff"].stdout == ""
    assert results["verdict"].returncode == 1
    comment = (tmp_path / "runner" / "jobwork-infra" / "comment.md").read_text()
    assert "_The schema is invalid: no diff until validate passes._" in comment


def test_comment_text_is_escaped_in_the_pre_blocks(repo, tmp_path):
    (repo / "schema" / "tables.yaml").write_text(HEAD.replace("version: 1", "version: '<b>@team</b>'"))
    run_action(repo, tmp_path)
    comment = (tmp_path / "runner" / "jobwork-infra" / "comment.md").read_text()
    assert "&lt;b&gt;@&#8203;team&lt;/b&gt;" in comment
    assert "<b>" not in comment and "@team" not in comment


@pytest.mark.skipif(shutil.which("node") is None, reason="node checks the github-script")
def test_the_comment_script_parses(tmp_path):
    [step] = [s for s in ACTION["runs"]["steps"] if s.get("uses", "").startswith("actions/github-script@")]
    # github-script runs the script as the body of an async function.
    script = tmp_path / "script.js"
    script.write_text(f"(async function (github, context, core, require) {{\n{step['with']['script']}\n}});\n")
    subprocess.run(["node", "--check", str(script)], check=True, capture_output=True, timeout=60)
    assert "process.env.MARKER" in step["with"]["script"]


def test_the_workflow_uses_the_action_with_declared_inputs_and_its_steps_run(tmp_path):
    assert set(WORKFLOW[True] if True in WORKFLOW else WORKFLOW["on"]) == {"pull_request", "push"}
    [job] = WORKFLOW["jobs"].values()
    [local] = [s for s in job["steps"] if s.get("uses") == "./"]
    assert set(local["with"]) <= set(ACTION["inputs"])
    assert job["steps"][0]["with"]["fetch-depth"] == 0
    [summary] = [s for s in job["steps"] if "run" in s]
    report = tmp_path / "report"
    report.mkdir()
    (report / "comment.md").write_text("the comment\n")
    summary_file = tmp_path / "summary.md"
    env = {"PATH": os.environ["PATH"], "DIR": str(report), "GITHUB_STEP_SUMMARY": str(summary_file)}
    subprocess.run(["bash", "-eo", "pipefail", "-c", summary["run"]], env=env, check=True, timeout=60)
    assert summary_file.read_text() == "the comment\n"


def test_plan_env_saves_the_plan_for_the_merge_job_and_starts_nothing(repo, tmp_path):
    """plan-env on the local target with no engine running: the dry run starts none (issue 14, item 8)
    and the artifact holds plan.json, which `deploy --plan` reads."""
    root = tmp_path / "project-root"
    root.mkdir()
    results = run_action(repo, tmp_path, {"JOBWORK_ROOT": str(root)},
                         **{"plan-env": "dev", "deploy-args": "--local", "fail-on": "never"})
    assert results["plan"].returncode == 0, results["plan"].stdout + results["plan"].stderr
    report = tmp_path / "runner" / "jobwork-infra"
    assert {"plan.json", "plan.txt"} <= {p.name for p in report.iterdir()}
    saved = json.loads((report / "plan.json").read_text())
    assert (saved["format"], saved["env"], saved["target"]) == ("jobwork-infra-plan/2", "dev", "local")
    assert "a dry run does not start one" in " ".join((report / "plan.txt").read_text().split())
    assert "<summary>staged plan</summary>" in (report / "comment.md").read_text()
    assert not (root / ".jobwork" / "engine.json").exists()
