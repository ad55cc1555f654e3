"""`jobwork-infra diff`: exact output and exit codes, every --fail-on level, formats, git refs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.helpers import schema_text

runner = CliRunner()

BASE = schema_text(tables="""\
  users:
    description: Users of a tenant.
    sort_key: user_id
    attributes:
      user_id: uuid
      email: string
    global_indexes:
      by_email: {partition_key: email, projection: keys_only, tenant_scoped: false}
  orders:
    sort_key: order_id
    attributes:
      order_id: string
      status: string
""")

# One change of each severity: a key type (destructive), an index projection (multi-step), a stream
# (online), a description (safe).
HEAD = (BASE.replace("description: Users of a tenant.", "description: Everyone.")
        .replace("order_id: string", "order_id: number")
        .replace("projection: keys_only", "projection: all")
        .replace("    sort_key: user_id\n", "    sort_key: user_id\n    stream: new_image\n"))

TEXT = """\
users
  multi-step   D202  index by_email's projection changes from keys_only to all: it is deleted, \
then created again and backfilled; queries on it fail in between
               advice: add an index with the new projection under a new name, move the readers, then remove \
the old one
  online       D306  stream: the stream changes from none to new_image: item changes start being recorded for 24 h
  safe         D406  description: the description changes (metadata only)

orders
  destructive  D105  sort key: the sort key changes from order_id (S) to order_id (N): DynamoDB cannot change a \
key, so the table is replaced and its data is lost
               advice: bump `generation` on the table to keep the data (deploy copies every item into a new \
table under the new key; docs/migrate.md), or add a global index with the new key instead

4 changes: 1 destructive, 1 multi-step, 1 online, 1 safe

generated API (codegen python): code using it must change
  OrdersItem: the field 'order_id' changes type: str → int | Decimal
  TenantData.orders.delete: the argument 'order_id' changes type: str → int | Decimal
  TenantData.orders.get: the argument 'order_id' changes type: str → int | Decimal
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "head.yaml").write_text(HEAD)
    return tmp_path


def run(*args: str):
    return runner.invoke(app, ["diff", *args])


def test_text_output_and_default_fail_on_destructive(files):
    result = run("--schema", str(files / "head.yaml"), "--base", str(files / "base.yaml"))
    assert result.stdout == TEXT
    assert result.stderr == ("error: 1 change at or above destructive (--fail-on destructive)\n"
                             "  hint: review the changes above; --fail-on never reports them without failing\n")
    assert result.exit_code == 3


@pytest.mark.parametrize("level, reached", [
    ("destructive", 1), ("multi-step", 2), ("online", 3), ("safe", 4),
])
def test_every_fail_on_level_blocks_at_or_above_it(files, level, reached):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "--fail-on", level)
    assert result.exit_code == 3
    assert result.stdout == TEXT
    noun = "change" if reached == 1 else "changes"
    assert result.stderr.splitlines()[0] == f"error: {reached} {noun} at or above {level} (--fail-on {level})"


def test_fail_on_never_reports_and_exits_0(files):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "--fail-on", "never")
    assert (result.exit_code, result.stdout, result.stderr) == (0, TEXT, "")


def test_below_the_fail_on_level_exits_0(files):
    (files / "safe.yaml").write_text(BASE.replace("description: Users of a tenant.", "description: Everyone."))
    result = run("-s", str(files / "safe.yaml"), "-b", str(files / "base.yaml"), "--fail-on", "online")
    assert result.exit_code == 0
    assert result.stdout == ("users\n"
                             "  safe         D406  description: the description changes (metadata only)\n"
                             "\n"
                             "1 change: 1 safe\n")


def test_no_changes(files):
    result = run("-s", str(files / "base.yaml"), "-b", str(files / "base.yaml"), "--fail-on", "safe")
    assert (result.exit_code, result.stdout) == (0, "No changes.\n")


def test_invalid_fail_on_is_a_usage_error(files):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "--fail-on", "sometimes")
    assert result.exit_code == 2
    assert "sometimes" in result.stderr


def test_json_output(files):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "-f", "json", "--fail-on", "never")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["severity"] == "destructive"
    assert document["summary"] == {"total": 4, "destructive": 1, "multi-step": 1, "online": 1, "safe": 1}
    assert [(c["code"], c["kind"], c["severity"], c["table"]) for c in document["changes"]] == [
        ("D202", "gsi_projection_changed", "multi-step", "users"),
        ("D306", "stream_changed", "online", "users"),
        ("D406", "description_changed", "safe", "users"),
        ("D105", "sort_key_changed", "destructive", "orders"),
    ]
    assert document["changes"][3]["before"] == {"name": "order_id", "type": "S"}
    assert document["changes"][3]["after"] == {"name": "order_id", "type": "N"}


def test_json_stays_parseable_when_blocked(files):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "-f", "json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["summary"]["total"] == 4


def test_markdown_output(files):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "-f", "markdown",
                 "--fail-on", "never")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "### Schema diff",
        "",
        "**4 changes: 1 destructive, 1 multi-step, 1 online, 1 safe**",
        "",
        "| severity | table | change | what happens |",
        "| --- | --- | --- | --- |",
    ]
    assert lines[7] == ("| 🟡 online | users | `D306` stream | the stream changes from none to new_image: "
                        "item changes start being recorded for 24 h |")
    assert lines[9].startswith("| **🔴 destructive** | orders | `D105` sort key | the sort key changes from "
                               "order_id (S) to order_id (N)")
    assert "<br>**Advice:** bump `generation` on the table" in lines[9]
    # What breaks in generated code is part of the review: on stdout, so `> pr.md` keeps it (issue 23).
    assert lines[10:13] == ["", "#### Generated API (codegen python): code using it must change", ""]
    assert all(line.startswith("- `") for line in lines[13:]) and len(lines) > 13
    assert "generated API" not in result.stderr


def test_env_judges_one_environment(files):
    two_envs = BASE.replace("    removal_policy: destroy\n", "    removal_policy: destroy\n  prod:\n"
                            "    removal_policy: retain\n")
    (files / "base2.yaml").write_text(two_envs)
    (files / "head2.yaml").write_text(two_envs.replace("  orders:", "  gone:").split("  gone:")[0])
    args = ["-s", str(files / "head2.yaml"), "-b", str(files / "base2.yaml")]
    prod = run(*args, "--env", "prod")
    assert prod.exit_code == 0
    assert prod.stdout == ("orders\n"
                           "  online       D309  table shop-prod-orders leaves the stack but is kept with its data "
                           "(removal_policy: retain): it is orphaned, no longer managed\n"
                           "\n"
                           "1 change: 1 online\n"
                           "\n"
                           "generated API (codegen python): code using it must change\n"
                           "  OrdersItem: the model is removed from the generated API\n"
                           "  TenantData.orders: the repository is removed from the generated API\n"
                           "  TenantData.orders.delete: the method is removed from the generated API\n"
                           "  TenantData.orders.get: the method is removed from the generated API\n"
                           "  TenantData.orders.put: the method is removed from the generated API\n")
    everywhere = run(*args)
    assert everywhere.exit_code == 3
    assert everywhere.stdout.splitlines()[1] == ("  destructive  D101  table shop-dev-orders is deleted with its "
                                                 "data (removal_policy: destroy) (in dev)")


def test_unknown_env_lists_the_environments(files):
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "base.yaml"), "--env", "qa")
    assert result.exit_code == 1
    assert result.stderr == "error: unknown environment 'qa'\n  hint: the schema defines: dev\n"


def test_invalid_head_is_exit_1_with_located_diagnostics(files):
    (files / "bad.yaml").write_text(BASE.replace("    sort_key: order_id", "    sortkey: order_id"))
    result = run("-s", str(files / "bad.yaml"), "-b", str(files / "base.yaml"))
    assert result.exit_code == 1
    assert f"{files / 'bad.yaml'}:16:5: error M001" in result.stderr
    assert "Traceback" not in result.output


def test_invalid_base_is_exit_1_with_located_diagnostics(files):
    (files / "bad.yaml").write_text(BASE.replace("app: shop", "app: Shop!"))
    result = run("-s", str(files / "head.yaml"), "-b", str(files / "bad.yaml"))
    assert result.exit_code == 1
    assert f"{files / 'bad.yaml'}:2:6: error M002" in result.stderr


def test_base_outside_a_git_repository_is_a_clear_error(files):
    result = run("-s", str(files / "head.yaml"), "-b", "missing.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --base 'missing.yaml' is not a file, and {files} is not in a git "
                                    "repository\n")


# -- git refs ----------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "schema").mkdir()
    schema = tmp_path / "schema" / "tables.yaml"
    schema.write_text(BASE)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "tables")
    return schema


@needs_git
def test_base_head_compares_with_the_last_commit(repo):
    repo.write_text(HEAD)
    result = run("--schema", str(repo), "--base", "HEAD")
    assert (result.exit_code, result.stdout) == (3, TEXT)


@needs_git
def test_base_defaults_to_head(repo, monkeypatch):
    monkeypatch.chdir(repo.parent.parent)
    assert run("--schema", "schema/tables.yaml").stdout == "No changes.\n"
    repo.write_text(HEAD)
    assert run("--schema", "schema/tables.yaml").stdout == TEXT


@needs_git
def test_invalid_schema_at_a_ref_is_located_at_the_ref(repo):
    repo.write_text(BASE.replace("app: shop", "app: Shop!"))
    git(repo.parent.parent, "commit", "-q", "-am", "broken")
    repo.write_text(BASE)
    result = run("--schema", str(repo), "--base", "HEAD")
    assert result.exit_code == 1
    assert "HEAD:schema/tables.yaml:2:6: error M002" in result.stderr


@needs_git
def test_unknown_ref_is_a_clear_error(repo):
    result = run("--schema", str(repo), "--base", "origin/nowhere")
    assert result.exit_code == 1
    assert result.stderr == ("error: --base 'origin/nowhere' is neither a file nor a git ref\n"
                             "  hint: pass a branch, tag or commit (origin/main, HEAD~1) or a schema file\n")


@needs_git
def test_schema_missing_at_the_ref_is_new_not_an_error(repo):
    other = repo.parent / "other.yaml"
    other.write_text(BASE.replace("app: shop", "app: newshop"))  # a new app: HEAD has no schema of it anywhere
    result = run("--schema", str(other), "--base", "HEAD")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"note: {other} does not exist at HEAD: every table is new\n"
    assert "D401" in result.stdout


def test_diff_imports_neither_aws_cdk_nor_boto3(files):
    # In a fresh interpreter: the test session itself may have imported them for other commands.
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from jobwork_infra.cli import app\n"
        f"result = CliRunner().invoke(app, ['diff', '-s', {str(files / 'head.yaml')!r}, '-b', "
        f"{str(files / 'base.yaml')!r}, '--fail-on', 'never'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'boto3', 'botocore', 'jsii'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr

