"""The loader: marks on every key and value, and every failure a located diagnostic."""

from __future__ import annotations

import time

import pytest

from jobwork_infra.errors import Location
from jobwork_infra.load import MAX_BYTES, did_you_mean, format_path, load_document
from tests.conftest import FIXTURES


def codes(diagnostics):
    return [(d.code, d.location.line, d.location.col) for d in diagnostics]


def test_marks_of_keys_and_values():
    text = "version: 1\ntables:\n  users:\n    sort_key: user_id\n    access_patterns:\n      - {name: a, key: [x, y]}\n"
    document, diagnostics = load_document("t.yaml", text=text)
    assert diagnostics == []
    path = ("tables", "users", "sort_key")
    assert document.locate(path, at="key") == Location("t.yaml", 4, 5)
    assert document.locate(path) == Location("t.yaml", 4, 15)
    assert document.locate(("tables", "users", "access_patterns", 0, "key", 1)) == Location("t.yaml", 6, 28)
    # A missing path points at its nearest existing parent's key.
    assert document.locate(("tables", "users", "ttl")) == Location("t.yaml", 3, 3)
    assert document.source_line(4) == "    sort_key: user_id"


def test_missing_top_level_key_points_at_the_document_not_a_comment():
    document, _ = load_document("t.yaml", text="# comment\n\nversion: 1\n")
    assert document.locate(("app",), at="key") == Location("t.yaml", 3, 1)


def test_missing_file(tmp_path):
    document, diagnostics = load_document(tmp_path / "nope.yaml")
    assert document is None
    assert codes(diagnostics) == [("Y001", 1, 1)]
    assert "--schema" in diagnostics[0].hint


def test_a_directory_is_not_a_file(tmp_path):
    document, [d] = load_document(tmp_path)
    assert document is None and d.code == "Y001"


def test_file_over_5_mb_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("w") as f:
        f.write("version: 1\n")
        f.write("# padding\n" * (MAX_BYTES // 10 + 1))
    document, diagnostics = load_document(big)
    assert document is None
    assert codes(diagnostics) == [("Y002", 1, 1)]
    assert "5,242,880" in diagnostics[0].message


def test_text_over_5_mb_is_refused():
    _, [d] = load_document("big.yaml", text="#" * (MAX_BYTES + 1))
    assert d.code == "Y002"


def test_not_utf8_is_located_at_the_bad_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\napp: caf\xe9\n".encode("latin-1"))
    document, diagnostics = load_document(path)
    assert document is None
    assert codes(diagnostics) == [("Y003", 2, 9)]


def test_python_tag_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = f'version: 1\napp: !!python/object/apply:os.system ["touch {marker}"]\n'
    document, diagnostics = load_document("t.yaml", text=text)
    assert codes(diagnostics) == [("Y009", 2, 6)]
    assert not marker.exists()
    assert document.data["app"] is None


def test_billion_laughs_stops_quickly():
    start = time.perf_counter()
    document, diagnostics = load_document(FIXTURES / "bad" / "y007_billion_laughs.yaml")
    assert time.perf_counter() - start < 5
    assert document is None and [d.code for d in diagnostics] == ["Y007"]


def test_small_aliases_are_fine():
    document, diagnostics = load_document("t.yaml", text="a: &x {k: 1}\nb: *x\nc:\n  <<: *x\n  j: 2\n")
    assert diagnostics == []
    assert document.data == {"a": {"k": 1}, "b": {"k": 1}, "c": {"j": 2, "k": 1}}


def test_merge_does_not_override_explicit_keys():
    document, _ = load_document("t.yaml", text="a: &x {k: 1}\nc:\n  k: 2\n  <<: *x\n")
    assert document.data["c"] == {"k": 2}


@pytest.mark.parametrize("text, expected", [
    ("a: 1\na: 2\n", [("Y011", 2, 1)]),
    ("1: a\n", [("Y010", 1, 1)]),
    ("? [a, b]\n: c\n", [("Y010", 1, 3)]),
    ("a:\n\tb: 1\n", [("Y006", 2, 1)]),
    ("a: [1, 2\n", [("Y005", 2, 1)]),
    ("a: !custom 1\n", [("Y009", 1, 4)]),
    ("a: !!set {x}\n", [("Y009", 1, 4)]),
    ("a: 2024-13-45\n", [("Y005", 1, 4)]),
])
def test_loader_failures_are_located(text, expected):
    _, diagnostics = load_document("t.yaml", text=text)
    assert codes(diagnostics) == expected


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_documents(text):
    document, diagnostics = load_document("t.yaml", text=text)
    assert document is None or document.data is None
    if document is None:
        assert [d.code for d in diagnostics] == ["Y004"]


def test_several_documents_are_an_error():
    document, [d] = load_document("t.yaml", text="a: 1\n---\nb: 2\n")
    assert document is None and d.code == "Y005"


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    document, diagnostics = load_document(path)
    assert diagnostics == [] and document.data == {"version": 1}


def test_format_path_and_did_you_mean():
    assert format_path(("tables", "users", "global_indexes", 0)) == "tables.users.global_indexes[0]"
    assert did_you_mean("atributes", ["attributes", "sort_key"]) == "did you mean 'attributes'?"
    assert did_you_mean("zzz", ["attributes"]) is None
