"""The action as a hostile pull-request author or an unlucky push meets it (issue 18, item 4): the base
comes from the event, a comment that cannot be posted stops nothing, a plan the deploy would refuse is
still commented and uploaded, and one repository's several checks keep one sticky comment each.

The shell steps really run (tests/unit/test_github_workflow.py's runner, which follows the runner's `if` and
`continue-on-error` rules); the github-script really runs under Node.js against a stand-in of the
GitHub client that answers as the API does for a fork's read-only token (HTTP 403).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.conftest import ROOT
from tests.unit.test_diff_cli import BASE, HEAD
from tests.unit.test_github_workflow import ACTION, WORKFLOW, _git, run_action

ZEROS = "0" * 40
# Drops the orders table: destructive (D101) at any --fail-on level but never.
DROPPED = BASE[:BASE.index("  orders:")]


def _commit(repo, text: str, message: str) -> str:
    (repo / "schema" / "tables.yaml").write_text(text)
    _git(repo, "commit", "-qam", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def main_repo(tmp_path):
    """A repository whose main has BASE (what was pushed before)."""
    repo = tmp_path / "repo"
    (repo / "schema").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "schema" / "tables.yaml").write_text(BASE)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    return repo


def push_context(before: str) -> dict:
    return {"event_name": "push", "base_ref": "", "action_path": str(ROOT), "job": "check",
            "event": {"before": before}}


# ---------------------------------------------------------------------------------------------
# The base comes from the event

def test_a_push_of_two_commits_is_judged_from_its_before(main_repo, tmp_path):
    """Issue 18's repro: one push of two commits, a table dropped and then a comment edited. HEAD~1 sees
    only the comment (green); the push's `before` sees the drop."""
    before = _git(main_repo, "rev-parse", "HEAD")
    _commit(main_repo, DROPPED, "drop orders")
    _commit(main_repo, DROPPED.replace("Users of a tenant.", "Users of one tenant."), "reword")
    last_only = subprocess.run([str(Path(sys.executable).parent / "jobwork-infra"), "diff", "--base", "HEAD~1", "--fail-on", "destructive"],
                               cwd=main_repo, capture_output=True, text=True, check=False)
    assert last_only.returncode == 0, last_only.stdout  # what the old HEAD~1 base passed

    results = run_action(main_repo, tmp_path, github=push_context(before), comment="false")
    assert results["prepare"].returncode == 0, results["prepare"].stdout
    assert results.ran == ["prepare", "validate", "diff", "body", "upload", "verdict"]
    assert "::error file=schema/tables.yaml" in results["diff"].stdout and "D101" in results["diff"].stdout
    assert results["verdict"].returncode == 3
    comment = (tmp_path / "runner" / "jobwork-infra" / "comment.md").read_text()
    assert f"against `{before}`" in comment


@pytest.mark.parametrize("before", [ZEROS, "1" * 40], ids=["new branch", "not in the checkout"])
def test_a_push_without_a_usable_before_fails_the_check(main_repo, tmp_path, before):
    _commit(main_repo, DROPPED, "drop orders")
    results = run_action(main_repo, tmp_path, github=push_context(before), comment="false")
    assert results["prepare"].returncode == 1
    assert "::error title=jobwork-infra::" in results["prepare"].stdout
    assert "set the action's base input" in results["prepare"].stdout
    # Nothing is diffed against a guess; the verdict still runs, and fails.
    assert "diff" not in results.ran
    assert results["verdict"].returncode == 1
    assert "validate failed (exit none: it did not run)" in results["verdict"].stdout


def test_a_push_with_the_base_input_uses_it(main_repo, tmp_path):
    first = _git(main_repo, "rev-parse", "HEAD")
    _commit(main_repo, DROPPED, "drop orders")
    results = run_action(main_repo, tmp_path, github=push_context(ZEROS), comment="false", base=first)
    assert results["verdict"].returncode == 3


def test_a_pull_request_is_judged_from_its_merge_base(main_repo, tmp_path):
    """main moved on after the branch left it (a table added there): diffing against main's tip would
    report that table as dropped by this pull request. The merge base reports only the branch's change."""
    _git(main_repo, "checkout", "-qb", "change")
    _commit(main_repo, BASE.replace("Users of a tenant.", "Users of one tenant."), "reword")
    _git(main_repo, "checkout", "-q", "main")
    fork_point = _git(main_repo, "merge-base", "main", "change")
    _commit(main_repo, BASE + "  invoices:\n    sort_key: invoice_id\n    attributes: {invoice_id: string}\n",
            "add invoices")
    _git(main_repo, "update-ref", "refs/remotes/origin/main", "main")
    _git(main_repo, "checkout", "-q", "change")
    results = run_action(main_repo, tmp_path)
    assert _git(main_repo, "rev-parse", "origin/main") != fork_point
    assert results["verdict"].returncode == 0, results["verdict"].stdout + results["diff"].stdout
    assert "D101" not in results["diff"].stdout
    assert f"against `{fork_point}`" in (tmp_path / "runner" / "jobwork-infra" / "comment.md").read_text()


# ---------------------------------------------------------------------------------------------
# A fork's read-only token: no comment, everything else as always

def test_a_comment_that_cannot_be_posted_stops_neither_the_artifact_nor_the_verdict(main_repo, tmp_path):
    _git(main_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(main_repo, "checkout", "-qb", "change")
    _commit(main_repo, HEAD, "head")
    results = run_action(main_repo, tmp_path, failing=frozenset({"comment"}))
    assert results.ran == ["prepare", "validate", "diff", "body", "comment", "upload", "verdict"]
    assert results["verdict"].returncode == 3
    [step] = [s for s in ACTION["runs"]["steps"] if s["id"] == "comment"]
    assert step["continue-on-error"] is True


def test_a_step_that_fails_still_leaves_the_report_and_a_failing_verdict(main_repo, tmp_path):
    """The diff step fails outright (its base ref does not exist): the comment, the artifact and a
    failing verdict still follow."""
    _commit(main_repo, DROPPED, "drop orders")
    results = run_action(main_repo, tmp_path, github=push_context(ZEROS), base="no-such-ref")
    assert results.ran[-3:] == ["body", "upload", "verdict"]
    assert results["verdict"].returncode != 0


NODE = shutil.which("node")
SCRIPT_HARNESS = """
const [script, scenario] = [process.argv[2], JSON.parse(process.argv[3])];
const calls = [];
const fail = (status, message) => { const e = new Error(message); e.status = status; throw e; };
const github = {
  paginate: async () => scenario.comments,
  rest: { issues: {
    listComments: "listComments",
    createComment: async (a) => { calls.push(["create", a.body.split("\\n", 1)[0]]);
                                  if (scenario.status) fail(scenario.status, "Resource not accessible by integration"); },
    updateComment: async (a) => { calls.push(["update", a.comment_id]);
                                  if (scenario.status) fail(scenario.status, "Resource not accessible by integration"); },
  } },
};
const context = { repo: { owner: "o", repo: "r" }, payload: { pull_request: { number: 7 } } };
const core = { warning: (m) => calls.push(["warning", m]) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction("github", "context", "core", "require", script)(github, context, core, require)
  .then(() => console.log(JSON.stringify(calls)))
  .catch((e) => { console.log(JSON.stringify(calls)); console.error("thrown: " + e.status); process.exit(1); });
"""


def run_comment_script(tmp_path, marker: str, *, comments=(), status: int | None = None):
    [step] = [s for s in ACTION["runs"]["steps"] if s["id"] == "comment"]
    body = tmp_path / "comment.md"
    body.write_text(f"{marker}\n## the report\n")
    harness = tmp_path / "harness.js"
    harness.write_text(SCRIPT_HARNESS)
    scenario = json.dumps({"comments": list(comments), "status": status})
    done = subprocess.run([NODE, str(harness), step["with"]["script"], scenario], capture_output=True, text=True,
                          timeout=60, check=False, env={"BODY_FILE": str(body), "MARKER": marker})
    return done, json.loads(done.stdout or "[]")


@pytest.mark.skipif(NODE is None, reason="node runs the github-script")
def test_the_comment_script_warns_on_a_read_only_token_and_fails_on_anything_else(tmp_path):
    marker = "<!-- jobwork-infra:schema-check schema=schema/tables.yaml job=check -->"
    done, calls = run_comment_script(tmp_path, marker, status=403)
    assert done.returncode == 0, done.stderr
    assert calls[0] == ["create", marker]
    assert calls[1][0] == "warning" and "the comment was not posted (403" in calls[1][1]
    done, _ = run_comment_script(tmp_path, marker, status=500)
    assert done.returncode == 1 and "thrown: 500" in done.stderr


@pytest.mark.skipif(NODE is None, reason="node runs the github-script")
def test_the_sticky_comment_is_keyed_by_schema_and_job(tmp_path):
    ours = "<!-- jobwork-infra:schema-check schema=schema/tables.yaml job=check -->"
    others = [
        {"id": 1, "user": {"type": "Bot"}, "body": "<!-- jobwork-infra:schema-check -->\nan old unkeyed one"},
        {"id": 2, "user": {"type": "Bot"},
         "body": "<!-- jobwork-infra:schema-check schema=other/tables.yaml job=check -->\nanother schema's"},
        {"id": 3, "user": {"type": "Bot"},
         "body": "<!-- jobwork-infra:schema-check schema=schema/tables.yaml job=nightly -->\nanother job's"},
        {"id": 4, "user": {"type": "User"}, "body": f"{ours}\na person quoting it"},
    ]
    done, calls = run_comment_script(tmp_path, ours, comments=others)
    assert done.returncode == 0, done.stderr
    assert calls == [["create", ours]]
    mine = {"id": 5, "user": {"type": "Bot"}, "body": f"{ours}\nthe last report"}
    done, calls = run_comment_script(tmp_path, ours, comments=[*others, mine])
    assert calls == [["update", 5]]


def test_the_marker_names_the_schema_and_the_job_id(main_repo, tmp_path):
    _git(main_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    results = run_action(main_repo, tmp_path, **{"job-id": "nightly --> <b>"})
    marker = "<!-- jobwork-infra:schema-check schema=schema/tables.yaml job=nightly_--__"
    comment = (tmp_path / "runner" / "jobwork-infra" / "comment.md").read_text()
    assert comment.startswith(marker)
    assert comment.splitlines()[0].count("-->") == 1  # the job id cannot close the comment early
    assert results["body"].returncode == 0


def test_the_workflow_never_cancels_the_check_of_a_push():
    concurrency = WORKFLOW["concurrency"]
    assert "github.sha" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    [job] = WORKFLOW["jobs"].values()
    [local] = [s for s in job["steps"] if s.get("uses") == "./"]
    assert local["with"]["job-id"]


# ---------------------------------------------------------------------------------------------
# A plan the deploy would refuse: commented and uploaded, and the verdict fails with it

@pytest.mark.slow
def test_a_blocked_plan_is_still_commented_and_uploaded(main_repo, tmp_path, local_engine, app_name, monkeypatch):
    base, head = (text.replace("app: shop", f"app: {app_name}") for text in (BASE, HEAD))
    deployed = tmp_path / "deployed.yaml"
    deployed.write_text(base)
    done = CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--yes", "--schema", str(deployed)])
    assert done.exit_code == 0, done.output
    _commit(main_repo, base, "app name")
    _git(main_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(main_repo, "checkout", "-qb", "change")
    _commit(main_repo, head, "head: changes the orders key (destructive)")
    results = run_action(main_repo, tmp_path, {"JOBWORK_ROOT": str(local_engine.root)},
                         **{"plan-env": "dev", "deploy-args": "--local", "fail-on": "never"})
    assert results["plan"].returncode == 0
    assert results.ran == ["prepare", "validate", "diff", "plan", "body", "comment", "upload", "verdict"]
    report = tmp_path / "runner" / "jobwork-infra"
    plan_text = (report / "plan.txt").read_text()
    assert "--allow-destructive" in plan_text
    comment = (report / "comment.md").read_text()
    assert "> The deploy to `dev` would not apply this plan (exit 3)" in comment
    assert "<summary>staged plan</summary>" in comment
    assert results["verdict"].returncode == 3
    assert "the plan for dev exited 3" in results["verdict"].stdout
