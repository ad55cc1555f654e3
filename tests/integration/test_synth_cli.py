"""`jobwork-infra synth` through the CLI: exact output, exit codes, and the --cdk-app entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.regenerate_golden import golden_path

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = str(ROOT / "schema" / "tables.yaml")


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def test_synth_writes_the_assembly_and_says_where(tmp_path):
    out = tmp_path / "assembly"
    result = run("synth", "--env", "dev", "--schema", SCHEMA, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Synthesized jobwork-dev: 3 tables, 1 global index, 0 local indexes\n"  # with the guard table
        f"Template: {out / 'jobwork-dev.template.json'}\n"
    )
    assert json.loads((out / "jobwork-dev.template.json").read_text()) == \
        json.loads(golden_path("dev").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["artifacts"]["jobwork-dev"]["environment"] == "aws://unknown-account/unknown-region"


def test_synth_prod_pins_the_account_and_region_of_the_schema(tmp_path):
    """prod names its account (rule C106; a placeholder until the real id is written) and its region."""
    result = run("synth", "-e", "prod", "-s", SCHEMA, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["artifacts"]["jobwork-prod"]["environment"] == "aws://000000000000/ap-south-1"


def test_synth_print_writes_only_the_template(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in ./cdk.out
    result = run("synth", "--env", "prod", "--schema", SCHEMA, "--print")
    assert result.exit_code == 0, result.output
    assert result.stdout == golden_path("prod").read_text()
    assert list(tmp_path.iterdir()) == []


def test_unknown_environment_lists_the_known_ones():
    result = run("synth", "--env", "staging", "--schema", SCHEMA)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: unknown environment 'staging'\n  hint: the schema defines: dev, prod\n"


def test_missing_env_is_a_usage_error():
    result = run("synth", "--schema", SCHEMA)
    assert result.exit_code == 2
    assert "name the environment to synthesize, e.g. --env dev" in result.stderr


def test_invalid_schema_is_reported_not_synthesized(tmp_path):
    bad = tmp_path / "tables.yaml"
    bad.write_text("version: 1\napp: jobwork\nenvironments: {dev: {}}\ntables:\n  t: {billling: on_demand}\n")
    result = run("synth", "--env", "dev", "--schema", str(bad), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "unknown key 'billling'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_cdk_app_mode_reads_the_cli_context(tmp_path):
    result = run("synth", "--cdk-app", "--schema", SCHEMA,
                 env={"CDK_CONTEXT_JSON": json.dumps({"env": "dev", "cli-telemetry": False}),
                      "CDK_OUTDIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the CDK CLI does the reporting
    assert json.loads((tmp_path / "jobwork-dev.template.json").read_text()) == \
        json.loads(golden_path("dev").read_text())


def test_cdk_app_mode_without_env_context_says_how():
    result = run("synth", "--cdk-app", "--schema", SCHEMA, env={"CDK_CONTEXT_JSON": "{}", "CDK_OUTDIR": "x"})
    assert result.exit_code == 1
    assert result.stderr == ("error: no environment: the CDK CLI passed no `env` context\n"
                             "  hint: name one: npx cdk synth -c env=dev\n")


def test_synth_help_has_an_example():
    result = run("synth", "--help")
    assert result.exit_code == 0
    assert "jobwork-infra synth --env dev --print" in result.stdout
    assert "--cdk-app" not in result.stdout


def test_unwritable_out_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("synth", "--env", "dev", "--schema", SCHEMA, "--out", str(blocker / "out"))
    assert result.exit_code == 1
    assert result.stderr == (f"error: cannot write the cloud assembly to {blocker / 'out'}: Not a directory\n"
                             "  hint: pass --out with a folder you can write to\n")
