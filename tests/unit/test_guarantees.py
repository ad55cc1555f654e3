"""docs/guarantees.md, the promise register: every test it names exists, and every row names one.

A promise whose proof was renamed or deleted would otherwise still read as proved. Names are
`path::name` (a parametrized id in brackets is allowed and ignored); a name is found when the file
defines it as a test function, at module level or in a class.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

REGISTER = ROOT / "docs" / "guarantees.md"
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)(?:\[[^\]\s|]*\])?")


def rows(text: str) -> list[tuple[int, list[str]]]:
    """The register's table rows (line number, cells), headers and separators left out."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "promise" or set("".join(cells)) <= set("- :"):
            continue
        found.append((number, cells))
    return found


def problems(text: str, root: Path) -> list[str]:
    """What is wrong with a register: a row without a test, a named test that does not exist."""
    out = []
    sources: dict[str, str | None] = {}
    for number, cells in rows(text):
        if len(cells) != 3:
            out.append(f"line {number}: a row has three cells (promise | proved by | hostile attempts)")
            continue
        if not REFERENCE.search(cells[1]):
            out.append(f"line {number}: no test named for: {cells[0]}")
        for path, name in REFERENCE.findall(" ".join(cells)):
            if path not in sources:
                file = root / path
                sources[path] = file.read_text(encoding="utf-8") if file.is_file() else None
            source = sources[path]
            if source is None:
                out.append(f"line {number}: {path} does not exist")
            elif not re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", source, re.MULTILINE):
                out.append(f"line {number}: {path} has no test {name}")
    return out


def test_every_test_the_register_names_exists():
    text = REGISTER.read_text(encoding="utf-8")
    assert len(rows(text)) >= 40, "the register lost its rows"
    assert problems(text, ROOT) == []


@pytest.mark.parametrize("row, problem", [
    ("| p | tests/unit/test_fsio.py::test_no_such_test | h |", "tests/unit/test_fsio.py has no test test_no_such_test"),
    ("| p | tests/test_no_such_file.py::test_x | h |", "tests/test_no_such_file.py does not exist"),
    ("| p | (none yet) | h |", "no test named for: p"),
    ("| p | tests/unit/test_fsio.py::test_refuses_a_symlink | tests/unit/test_fsio.py::test_gone |",
     "tests/unit/test_fsio.py has no test test_gone"),
    ("| p | tests/unit/test_fsio.py::test_refuses_a_symlink |", "a row has three cells"),
], ids=["missing test", "missing file", "no test", "missing test among the hostile attempts", "two cells"])
def test_the_check_fails_on_a_broken_row(row, problem):
    text = "| promise | proved by | hostile attempts |\n| --- | --- | --- |\n" + row + "\n"
    [found] = problems(text, ROOT)
    assert problem in found


def test_a_name_that_is_only_mentioned_is_not_a_test(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("# test_a is not written yet\ndef helper_test_a():\n    pass\n")
    [found] = problems("| p | tests/test_x.py::test_a | h |\n", tmp_path)
    assert "has no test test_a" in found
    (tmp_path / "tests" / "test_x.py").write_text("class TestX:\n    def test_a(self):\n        pass\n")
    assert problems("| p | tests/test_x.py::test_a[one] | h |\n", tmp_path) == []
