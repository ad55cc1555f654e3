"""The CI gate cannot be sidestepped by moving the schema file (issue 14, item 4)."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.unit.test_diff_cli import BASE, git

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def run(*args: str):
    return CliRunner().invoke(app, ["diff", *args])


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "tables.yaml").write_text(BASE)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "tables")
    return tmp_path


def drop_orders(text: str) -> str:
    return text[: text.index("  orders:")]


@needs_git
def test_a_renamed_schema_is_compared_with_its_old_path(repo):
    git(repo, "mv", "schema/tables.yaml", "schema/t.yaml")
    moved = repo / "schema" / "t.yaml"
    moved.write_text(drop_orders(BASE))
    git(repo, "commit", "-q", "-am", "move and drop a table")
    result = run("--schema", str(moved), "--base", "HEAD~1")
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("note: schema/t.yaml was schema/tables.yaml at HEAD~1 (followed the rename)\n")
    assert "destructive  D101  table shop-dev-orders is deleted with its data" in result.stdout
    # The same edit in place gives the same verdict.
    git(repo, "mv", "schema/t.yaml", "schema/tables.yaml")
    git(repo, "commit", "-q", "-m", "back")
    assert run("--schema", str(repo / "schema" / "tables.yaml"), "--base", "HEAD~2").exit_code == 3


@needs_git
def test_a_move_git_cannot_pair_is_refused_not_called_new(repo):
    # Most of the file rewritten: below git's rename similarity, so no rename is detected.
    git(repo, "rm", "-q", "schema/tables.yaml")
    moved = repo / "elsewhere.yaml"
    moved.write_text("version: 1\napp: shop\nenvironments:\n  dev: {}\ntables:\n  notes: {}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "rewrite")
    result = run("--schema", str(moved), "--base", "HEAD~1")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "error: elsewhere.yaml does not exist at HEAD~1, but schema/tables.yaml there is a schema for the same "
        "app 'shop': comparing with nothing would call every table new and hide what was dropped\n"
        "  hint: pass --base-schema schema/tables.yaml to compare with it (the schema file was moved or copied)\n")
    named = run("--schema", str(moved), "--base", "HEAD~1", "--base-schema", str(repo / "schema" / "tables.yaml"))
    assert named.exit_code == 3, named.output
    assert "D101" in named.stdout


@needs_git
def test_base_schema_that_did_not_exist_at_the_ref_is_a_clear_error(repo):
    result = run("--schema", str(repo / "schema" / "tables.yaml"), "--base", "HEAD",
                 "--base-schema", str(repo / "nope.yaml"))
    assert result.exit_code == 1
    assert result.stderr == ("error: --base-schema " + str(repo / "nope.yaml") + ": nope.yaml does not exist at HEAD\n"
                             "  hint: name the schema file as it was at HEAD (see `git show --stat HEAD`)\n")


@needs_git
def test_an_untracked_copy_is_refused_too(repo):
    copy = repo / "copy.yaml"
    copy.write_text(drop_orders(BASE))
    result = run("--schema", str(copy), "--base", "HEAD")
    assert result.exit_code == 1
    assert "but schema/tables.yaml there is a schema for the same app 'shop'" in result.stderr


@needs_git
def test_a_ref_that_looks_like_an_option_is_not_passed_to_git(repo):
    result = run("--schema", str(repo / "schema" / "tables.yaml"), "--base", "--output=/tmp/x")
    assert result.exit_code == 1
    assert "is neither a file nor a git ref" in result.stderr
