"""Every option the README's command table shows exists on that command (`local status --engine` did not)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.conftest import ROOT

ROOT_COMMAND = typer.main.get_command(app)
README_ROWS = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")]


def _usages() -> list[str]:
    usages = []
    for row in README_ROWS:
        first_cell = row.split(" | ")[0]
        usages += [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", first_cell)]
    return usages


USAGES = [u for u in _usages() if u.split()[0] in ROOT_COMMAND.commands]


def test_the_readme_table_lists_usages():
    assert len(USAGES) >= 8
    assert "local status" in USAGES


@pytest.mark.parametrize("usage", USAGES)
def test_every_option_in_the_readme_exists(usage):
    words = usage.split()
    command = ROOT_COMMAND.commands[words[0]]
    path = [words[0]]
    if isinstance(command, typer.core.TyperGroup):
        path.append(words[1])
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in re.findall(r"--[a-z][a-z-]*", usage):
        assert option in result.output, f"README shows `{usage}`, but {' '.join(path)} has no {option}"
