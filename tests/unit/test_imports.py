"""validate, diff and json-schema stay light: they never import aws_cdk or boto3 (DESIGN.md §1)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = """
import json
import sys
from typer.testing import CliRunner
from jobwork_infra.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("aws_cdk", "boto3", "botocore", "jsii"))
print(json.dumps({"exit": result.exit_code, "heavy": heavy, "output": result.output[-2000:]}))
"""

COMMANDS = [
    ["validate"],
    ["validate", "--format", "sarif"],
    ["json-schema"],
    ["docs"],
    ["codegen", "python", "--out", ".jobwork/test-imports/jobwork_data"],
    pytest.param(["diff", "--base", "schema/tables.yaml"], marks=pytest.mark.skipif(
        not (ROOT / "jobwork_infra" / "cli" / "diff.py").exists(),
        reason="the diff command (jobwork_infra/cli/diff.py) does not exist yet")),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_command_imports_neither_aws_cdk_nor_boto3(args):
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["exit"] in (0, 3), report["output"]  # diff may find changes; it must still run
    assert report["heavy"] == []


def test_the_probe_sees_a_heavy_import():
    out = subprocess.run([sys.executable, "-c", "import boto3\n" + PROBE, "validate"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "boto3" in json.loads(out.strip().splitlines()[-1])["heavy"]
