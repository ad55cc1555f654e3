"""The CDK CLI path: `cdk synth -c env=dev` through cdk.json and the top-level cli.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def offline_env() -> dict[str, str]:
    """No credentials at all: the CDK CLI then never asks STS for a default account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("CDK_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
               CDK_DISABLE_CLI_TELEMETRY="true", CDK_DISABLE_VERSION_CHECK="1",
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    return env


@pytest.mark.skipif(not CDK.exists(), reason="node_modules/.bin/cdk is missing: run `npm install` (make setup)")
def test_cdk_cli_synth_equals_jobwork_infra_synth(tmp_path):
    proc = subprocess.run([str(CDK), "synth", "-c", "env=dev", "--no-notices", "-q", "-o", str(tmp_path)],
                          cwd=ROOT, env=offline_env(), capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    from_cdk = json.loads((tmp_path / "jobwork-dev.template.json").read_text())

    result = CliRunner().invoke(app, ["synth", "--env", "dev", "--schema", str(ROOT / "schema" / "tables.yaml"),
                                      "--print"])
    assert result.exit_code == 0, result.output
    assert from_cdk == json.loads(result.stdout)


def test_cli_script_reexecs_into_the_project_venv():
    """`python3 cli.py` from an interpreter without the dependencies still runs, through ./.venv."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not (ROOT / ".venv" / "bin" / "python").exists() or not base.exists():
        pytest.skip("needs the project's ./.venv and its base interpreter")
    if subprocess.run([str(base), "-c", "import typer"], capture_output=True, check=False).returncode == 0:
        pytest.skip("the base interpreter has the dependencies itself: nothing to re-exec")
    proc = subprocess.run([str(base), "cli.py", "synth", "--help"], cwd=ROOT, env=offline_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: jobwork-infra synth" in proc.stdout
