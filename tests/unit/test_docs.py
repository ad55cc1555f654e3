"""Every command has help with an example and is listed in the README (so the docs can't drift)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.conftest import ROOT

COMMANDS = sorted(typer.main.get_command(app).commands)
README = (ROOT / "README.md").read_text()


def test_the_commands_of_the_design_exist():
    assert set(COMMANDS) >= {"validate", "synth", "diff", "deploy", "destroy", "local", "docs", "json-schema"}


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_help_with_an_example(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"Example: jobwork-infra {command}\b", result.output), result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_command_is_in_the_readme(command):
    assert f"`{command}" in README or f"`{command} " in README, f"README.md does not list `{command}`"
