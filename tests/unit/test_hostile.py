"""The hostile-input corpus (tests/fixtures/hostile/, plus special files made here): every command that
reads a schema — validate, diff (as head and as base), docs, synth's load stage — ends with a message
and an exit code, never a traceback, an internal error or a hang (issue 14, items 5–7)."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.load import MAX_BYTES, load_document
from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "hostile"
CORPUS = sorted(p for p in HOSTILE.iterdir() if p.suffix == ".yaml")
GOOD = FIXTURES / "good" / "minimal.yaml"
LOCATED = re.compile(r"^.+:\d+:\d+: (error|warning) [A-Z]\d{3}: ", re.MULTILINE)


def special_files(tmp: Path) -> dict[str, Path]:
    """Files that cannot live in git: made at test time."""
    fifo = tmp / "fifo.yaml"
    os.mkfifo(fifo)
    sock = tmp / "socket.yaml"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock))  # closed with the process; the path stays a socket
    (tmp / "directory.yaml").mkdir()
    big = tmp / "over_limit.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: st_size says too big without writing 5 MB
    (tmp / "loop.yaml").symlink_to(tmp / "loop.yaml")
    (tmp / "to_dev_zero.yaml").symlink_to("/dev/zero")
    (tmp / "dangling.yaml").symlink_to(tmp / "nowhere" / "x.yaml")
    (tmp / "to_fifo.yaml").symlink_to(fifo)
    special_files.keep = listener  # keep the socket bound for the test's duration
    return {
        "dev_zero": Path("/dev/zero"), "dev_null": Path("/dev/null"), "dev_urandom": Path("/dev/urandom"),
        "fifo": fifo, "socket": sock, "directory": tmp / "directory.yaml", "over_limit": big,
        "symlink_loop": tmp / "loop.yaml", "symlink_to_dev_zero": tmp / "to_dev_zero.yaml",
        "dangling_symlink": tmp / "dangling.yaml", "symlink_to_fifo": tmp / "to_fifo.yaml",
        "file_as_directory": GOOD / "x.yaml", "proc_self_mem": Path("/proc/self/mem"),
    }


SPECIAL = ["dev_zero", "dev_null", "dev_urandom", "fifo", "socket", "directory", "over_limit", "symlink_loop",
           "symlink_to_dev_zero", "dangling_symlink", "symlink_to_fifo", "file_as_directory", "proc_self_mem"]


@pytest.fixture
def fake_compile(monkeypatch):
    """synth's load stage only: the compiler is replaced, so no CDK synth runs for a schema that loads."""
    module = types.ModuleType("jobwork_infra.compile")
    module.synth_templates = lambda resolved: {name: {"loaded": name} for name in resolved.stacks}
    module.synth_assembly = lambda resolved, out: {}
    monkeypatch.setitem(sys.modules, "jobwork_infra.compile", module)


def commands(schema: Path) -> dict[str, list[str]]:
    return {
        "validate": ["validate", "--schema", str(schema)],
        "validate-json": ["validate", "--schema", str(schema), "--format", "json"],
        "diff-head": ["diff", "--schema", str(schema), "--base", str(GOOD), "--fail-on", "never"],
        "diff-base": ["diff", "--schema", str(GOOD), "--base", str(schema), "--fail-on", "never"],
        "docs": ["docs", "--schema", str(schema)],
        "synth-load": ["synth", "--env", "dev", "--print", "--schema", str(schema)],
    }


def assert_handled(name: str, args: list[str]) -> int:
    result = CliRunner().invoke(app, args)
    output = result.output
    where = f"{name}: {' '.join(args)}\n{output[-2000:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), where
    assert result.exit_code in (0, 1, 3), where
    assert "Traceback" not in output and "internal error" not in output, where
    if result.exit_code == 1 and "json" in args:
        report, _ = json.JSONDecoder().raw_decode(output)
        errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
        assert errors and all(d["line"] >= 1 and d["col"] >= 1 for d in errors), where
    elif result.exit_code == 1:
        # A finding with FILE:LINE:COL and a code, or a stopping error with its fix.
        assert LOCATED.search(output) or output.lstrip().startswith("error: "), where
    return result.exit_code


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_hostile_file_never_crashes_or_hangs(path, fake_compile):
    for name, args in commands(path).items():
        assert_handled(name, args)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", SPECIAL)
def test_special_file_is_refused_quickly_with_a_located_error(kind, tmp_path, fake_compile):
    path = special_files(tmp_path)[kind]
    for name, args in commands(path).items():
        assert_handled(name, args)
    _, diagnostics = load_document(path)
    assert [d.code for d in diagnostics] in (["Y001"], ["Y002"]), diagnostics


def test_the_corpus_is_large_and_committed_as_generated():
    sys.path.insert(0, str(HOSTILE))
    try:
        import generate
    finally:
        sys.path.remove(str(HOSTILE))
    expected = generate.corpus()
    assert len(expected) >= 60
    assert {p.name: p.read_bytes() for p in CORPUS} == expected, "regenerate: python tests/fixtures/hostile/generate.py"


# -- each special kind names itself (item 5) --------------------------------------------------------

@pytest.mark.timeout(30)
@pytest.mark.parametrize(("kind", "message"), [
    ("dev_zero", "the schema is a character device, not a regular file"),
    ("fifo", "the schema is a named pipe (FIFO), not a regular file"),
    ("socket", "the schema is a socket, not a regular file"),
    ("directory", "the schema is a directory, not a regular file"),
    ("symlink_to_fifo", "the schema is a named pipe (FIFO), not a regular file"),
    ("over_limit", f"the file is {MAX_BYTES + 1:,} bytes; the limit is {MAX_BYTES:,}"),
])
def test_special_files_are_named(kind, message, tmp_path):
    path = special_files(tmp_path)[kind]
    result = CliRunner().invoke(app, ["validate", "--schema", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:1:1: error Y00")
    assert message in result.output


# -- control characters are named (item 7) -----------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("ctl_nul_in_value", "2:8: error Y013: the character U+0000 (NUL, a control character) is not allowed in YAML"),
    ("ctl_bel_in_key", "6:5: error Y013: the character U+0007 (BEL, a control character) is not allowed in YAML"),
    ("ctl_esc_sequence", "6:24: error Y013: the character U+001B (ESC, a control character) is not allowed in YAML"),
    ("ctl_del", "6:8: error Y013: the character U+007F (DEL, a control character) is not allowed in YAML"),
    ("ctl_c1_csi", "6:25: error Y013: the character U+009B (a C1 control character) is not allowed in YAML"),
    ("ctl_nonchar_fffe", "6:24: error Y013: the character U+FFFE (a noncharacter) is not allowed in YAML"),
])
def test_control_characters_are_named_not_called_tabs(name, expected):
    result = CliRunner().invoke(app, ["validate", "--schema", str(HOSTILE / f"{name}.yaml")])
    assert result.exit_code == 1
    assert f"{HOSTILE / name}.yaml:{expected}" in result.output
    assert "tab" not in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output  # shown as U+FFFD, never sent to the terminal


def test_a_real_tab_is_still_called_a_tab():
    result = CliRunner().invoke(app, ["validate", "--schema", str(HOSTILE / "ctl_tab_indent.yaml")])
    assert "error Y006: a tab character where YAML expects indentation" in result.output


# -- internal errors that are now messages (item 7) ------------------------------------------------

def test_an_empty_tenancy_attribute_is_a_located_error():
    result = CliRunner().invoke(app, ["validate", "--schema", str(HOSTILE / "shape_empty_names.yaml")])
    assert result.exit_code == 1
    assert f"{HOSTILE / 'shape_empty_names.yaml'}:3:22: error M002: attribute is empty" in result.output
    assert "hint: name an attribute or a table here, or remove the attribute key to use the default" in result.output


def test_a_reserved_table_name_is_a_located_error():
    result = CliRunner().invoke(app, ["validate", "--schema", str(HOSTILE / "shape_reserved_table.yaml")])
    assert result.exit_code == 1
    assert (f"{HOSTILE / 'shape_reserved_table.yaml'}:6:26: error N109: the table name '_jobwork-infra.registry' "
            "starts with '_jobwork-infra', which jobwork-infra reserves for its own tables") in result.output


@pytest.mark.parametrize("command", [
    ["validate", "--schema", str(GOOD)],
    ["docs", "--schema", str(GOOD)],
    ["diff", "--schema", str(GOOD), "--base", str(GOOD)],
])
def test_output_to_a_full_device_is_a_message(command):
    import subprocess

    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-c", "from jobwork_infra.cli import main; main()", *command],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    assert (result.returncode, result.stderr) == (1, (
        "error: could not write the output: the device is full\n"
        "  hint: free some space or redirect the output elsewhere (e.g. > file.txt), then rerun\n"))


@pytest.mark.slow
def test_synth_print_to_a_full_device_is_a_message():
    import subprocess

    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-c", "from jobwork_infra.cli import main; main()",
                                 "synth", "--env", "dev", "--print", "--schema", str(GOOD)],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr) == (1, (
        "error: could not write the output: the device is full\n"
        "  hint: free some space or redirect the output elsewhere (e.g. > file.txt), then rerun\n"))


def test_a_region_with_a_space_is_a_message(monkeypatch):
    result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--schema", str(GOOD), "--region", "us east",
                                      "--dry-run"])
    assert result.exit_code == 1
    assert result.output == ("error: the region 'us east' is not an AWS region name\n"
                             "  hint: use a region code such as eu-west-1 or us-east-1 (--region, or the "
                             "environment's region:)\n")
