"""`validate --quiet`: an acknowledged finding (a note) is left out of the output; the summary still counts it."""

from __future__ import annotations

from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.conftest import ROOT

SCHEMA = str(ROOT / "schema" / "tables.yaml")  # its by_cognito_sub index is an acknowledged T002


def run(*args: str):
    return CliRunner().invoke(app, ["validate", "--schema", SCHEMA, *args])


def test_quiet_leaves_acknowledged_notes_out_and_keeps_the_count():
    loud, quiet = run(), run("--quiet")
    assert loud.exit_code == quiet.exit_code == 0
    assert "note T002" in loud.stdout and len(loud.stdout.splitlines()) == 4
    summary = loud.stdout.splitlines()[-1]
    assert summary.endswith("(2 tables, 1 index; 0 errors, 0 warnings, 1 note)")
    assert quiet.stdout.splitlines() == [summary]
    github = run("-q", "--format", "github")
    assert github.stdout == "" and "1 note" in github.stderr


def test_quiet_never_hides_a_warning_or_an_error(tmp_path):
    text = (ROOT / "schema" / "tables.yaml").read_text()
    unacknowledged = text.replace(
        "        acknowledge:\n          T002: login looks the user up before the tenant is known; granted to the "
        "auth service only\n", "")
    assert unacknowledged != text
    path = tmp_path / "tables.yaml"
    path.write_text(unacknowledged)
    result = CliRunner().invoke(app, ["validate", "--schema", str(path), "--quiet", "--strict"])
    assert result.exit_code == 1
    assert "warning T002" in result.stdout
