"""cdk.json sets every feature flag `cdk init` sets today, so `npx cdk synth` has nothing to warn about,
and no template changes: the CDK CLI's synth of the richest fixture equals its golden file."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT
from tests.integration.test_cdk_cli import CDK, offline_env
from tests.regenerate_golden import CASES, golden_path

RECOMMENDED = ROOT / "node_modules" / "aws-cdk" / "lib" / "init-templates" / ".recommended-feature-flags.json"
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]
# Flags set against `cdk init`'s value, because the recommended value would change the templates
# (docs/synth.md): minimizePolicies sorts and merges policy actions, rewriting TenantDataAccess.
KEPT_AS_BEFORE = {"@aws-cdk/aws-iam:minimizePolicies": False}


@pytest.mark.skipif(not RECOMMENDED.exists(), reason="the CDK CLI is not installed: make setup")
def test_every_recommended_flag_is_set_as_cdk_init_sets_it():
    recommended = json.loads(RECOMMENDED.read_text())
    assert len(recommended) > 50
    missing = sorted(set(recommended) - set(CONTEXT))
    assert missing == []
    differing = {flag: CONTEXT[flag] for flag, value in recommended.items() if CONTEXT[flag] != value}
    assert differing == KEPT_AS_BEFORE


@pytest.mark.slow
@pytest.mark.skipif(not CDK.exists(), reason="node_modules/.bin/cdk is missing: make setup")
def test_cdk_cli_synth_warns_of_no_flag_and_matches_the_golden_template(tmp_path):
    schema, env = CASES["rich"]
    proc = subprocess.run([str(CDK), "synth", "-c", f"env={env}", "--no-notices", "-o", str(tmp_path)],
                          cwd=ROOT, env={**offline_env(), "JOBWORK_SCHEMA": str(schema)},
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "feature flags are not configured" not in proc.stderr + proc.stdout
    [template] = tmp_path.glob("*.template.json")
    assert json.loads(template.read_text()) == json.loads(golden_path("rich").read_text())
