"""The docs' examples say what the tool does (issue 23: codegen.md named "rule T2" and left out the
acknowledgement; `docs` did not show the per-environment protections)."""

from __future__ import annotations

from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.conftest import ROOT


def _users_block(text: str) -> str:
    start = text.index("  users:\n")
    end = text.index("    access_patterns:", start)
    return text[start:end]


def test_codegen_docs_show_the_projects_users_table_with_its_acknowledgement():
    docs = (ROOT / "docs" / "codegen.md").read_text()
    schema = (ROOT / "schema" / "tables.yaml").read_text()
    assert _users_block(docs) == _users_block(schema)
    assert "rule T2" not in docs and "T002: login looks the user up" in docs


def test_docs_show_each_environments_protections():
    result = CliRunner().invoke(app, ["docs", "--schema", str(ROOT / "schema" / "tables.yaml")])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    users = lines[lines.index("## users"):]
    assert "- protections (dev): removal_policy destroy, point-in-time recovery off, deletion protection off" in users
    assert "- protections (prod): removal_policy retain, point-in-time recovery on, deletion protection on" in users
