"""YAML → plain data, with the marks of every key and value kept for locating findings.

PyYAML's composer gives nodes with marks; we build the Python values ourselves from those nodes so
that only safe scalar tags are constructed, duplicate and non-string keys are reported, and alias
expansion is bounded (a billion-laughs document stops at MAX_NODES instead of eating memory).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Diagnostic, Location, Severity

MAX_BYTES = 5 * 1024 * 1024
# A regular file of at most MAX_BYTES reads in milliseconds; a network or FUSE mount that stalls
# must not hold validate (or a CI job) forever.
READ_TIMEOUT = 10.0
_READ_CHUNK = 256 * 1024
# Values built after alias expansion; the largest real schema is far below this.
MAX_NODES = 200_000
MAX_DEPTH = 64

_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

Path_ = tuple[str | int, ...]


def format_path(path: Path_) -> str:
    """("tables", "users", "global_indexes", 0) → "tables.users.global_indexes[0]"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Document:
    """A loaded YAML file: its data, and where each path's key and value start."""

    file: str
    text: str
    data: Any
    # path → (line, col) of the key and of the value, 1-based.
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path_, at: str = "value") -> Location:
        """The location of `path`; a missing path points at its nearest existing parent's key."""
        marks = self.key_marks if at == "key" else self.value_marks
        path = tuple(path)
        if path in marks:
            return Location(self.file, *marks[path])
        while path:
            path = path[:-1]
            if path in self.key_marks:
                return Location(self.file, *self.key_marks[path])
        # A key missing at the top level: the document's first node, not a comment above it.
        return Location(self.file, *self.value_marks.get((), (1, 1)))

    def source_line(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def _diag(code: str, message: str, file: str, line: int, col: int, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, Location(file, line, col), hint)


class _Abort(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


class _Builder:
    """Turns a composed node tree into Python values, recording marks and problems."""

    def __init__(self, file: str, constructor: yaml.SafeLoader):
        self.file = file
        self.constructor = constructor
        self.nodes = 0
        self.diagnostics: list[Diagnostic] = []
        self.key_marks: dict[Path_, tuple[int, int]] = {}
        self.value_marks: dict[Path_, tuple[int, int]] = {}

    def _at(self, node: Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def build(self, node: Node, path: Path_ = (), depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Abort(_diag("Y007", f"the document expands to more than {MAX_NODES} values "
                               "(aliases nested in aliases?)", self.file, *self._at(node),
                               "expand aliases by hand; tables.yaml never needs nested aliases"))
        if depth > MAX_DEPTH:
            raise _Abort(_diag("Y008", f"nesting deeper than {MAX_DEPTH} levels (a recursive alias?)",
                               self.file, *self._at(node)))
        self.value_marks.setdefault(path, self._at(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                return self._bad_tag(node)
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        if node.tag != _MAP_TAG:
            return self._bad_tag(node)
        return self._mapping(node, path, depth)

    def _bad_tag(self, node: Node) -> None:
        self.diagnostics.append(_diag(
            "Y009", f"the tag {node.tag!r} is not allowed", self.file, *self._at(node),
            "tables.yaml is loaded safely: only plain strings, numbers, booleans, lists and maps"))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _SAFE_SCALAR_TAGS:
            return self._bad_tag(node)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self.diagnostics.append(_diag("Y005", f"cannot read this value: {exc}", self.file, *self._at(node)))
            return None

    def _mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        merged: list[dict[str, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node, path, depth))
                continue
            key = self._scalar(key_node) if isinstance(key_node, ScalarNode) else None
            line, col = self._at(key_node)
            if not isinstance(key, str):
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.diagnostics.append(_diag(
                    "Y010", f"the key {shown!r} is not a string", self.file, line, col,
                    f"quote it: '{shown}' (YAML reads yes/no/on/off as booleans and digits as numbers)"
                    if isinstance(key_node, ScalarNode) else "keys are plain names"))
                continue
            if key in first_seen:
                self.diagnostics.append(_diag(
                    "Y011", f"duplicate key {key!r}", self.file, line, col,
                    f"the first {key!r} is on line {first_seen[key]}; keep one"))
                continue
            first_seen[key] = line
            self.key_marks[path + (key,)] = (line, col)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        for source in merged:
            for key, value in source.items():
                result.setdefault(key, value)
        return result

    def _merge_sources(self, node: Node, path: Path_, depth: int) -> list[dict[str, Any]]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for item in items:
            value = self.build(item, path, depth + 1)
            if isinstance(value, dict):
                sources.append(value)
            else:
                self.diagnostics.append(_diag("Y012", "a merge key (<<) needs a map or a list of maps",
                                              self.file, *self._at(item)))
        return sources


# The C0 controls, DEL and the C1 controls by their usual abbreviations; YAML allows only tab,
# line feed, carriage return and NEL among them (YAML 1.1 §5.1, https://yaml.org/spec/1.1/#id868524).
_CONTROL_NAMES = dict(enumerate((
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR", "SO", "SI",
    "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US",
))) | {0x7F: "DEL"}
# What YAML's reader refuses: PyYAML's own Reader.NON_PRINTABLE.
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")
_TAB_PROBLEM = re.compile(r"'\\t'|\btab\b")


def describe_character(char: str) -> str:
    """U+0007 (BEL, a control character), U+FFFE (a noncharacter), U+00E9 (LATIN SMALL LETTER E WITH ACUTE)."""
    code = ord(char)
    if code in _CONTROL_NAMES:
        return f"U+{code:04X} ({_CONTROL_NAMES[code]}, a control character)"
    if 0x80 <= code <= 0x9F:
        return f"U+{code:04X} (a C1 control character)"
    if 0xD800 <= code <= 0xDFFF:
        return f"U+{code:04X} (a lone surrogate)"
    name = unicodedata.name(char, "")
    return f"U+{code:04X} ({name})" if name else f"U+{code:04X} (a noncharacter)"


def _line_col(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _non_printable(file: str, text: str) -> Diagnostic | None:
    """The first character YAML refuses, named and located; None when there is none."""
    match = _NON_PRINTABLE.search(text)
    if match is None:
        return None
    line, col = _line_col(text, match.start())
    return _diag("Y013", f"the character {describe_character(match.group())} is not allowed in YAML",
                 file, line, col, "delete it (it is often pasted in by accident); inside a double-quoted "
                 "string, write it as an escape such as \"\\x07\" if it is really meant")


def _yaml_error(file: str, exc: yaml.YAMLError, text: str) -> Diagnostic:
    if isinstance(exc, yaml.reader.ReaderError):
        found = _non_printable(file, text)
        if found is not None:
            return found
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{context}, {problem}" if context else problem
    # libyaml does not name the character, so look at it.
    lines = text.splitlines()
    at_mark = lines[line - 1][col - 1: col] if mark and line <= len(lines) else ""
    if at_mark == "\t" or _TAB_PROBLEM.search(message):
        return _diag("Y006", "a tab character where YAML expects indentation", file, line, col,
                     "indent with spaces, never tabs")
    return _diag("Y005", f"invalid YAML: {message}", file, line, col)


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _not_regular(file: str, mode: int) -> Diagnostic:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return _diag("Y001", f"the schema is {kind}, not a regular file", file, 1, 1,
                 "pass the path of the YAML file itself (--schema PATH); special files are never read")


def read_schema_file(path: str | Path) -> bytes | Diagnostic:
    """A regular file's bytes, bounded in size (MAX_BYTES) and time (READ_TIMEOUT); a finding otherwise.

    Only regular files are opened for reading: /dev/zero would never end, a FIFO would block forever.
    O_NONBLOCK keeps even a file swapped for a FIFO after the check from blocking the open.
    """
    file = str(path)
    try:
        before = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return _diag("Y001", "no such file", file, 1, 1, "pass --schema PATH or set $JOBWORK_SCHEMA")
    except OSError as exc:
        return _diag("Y001", f"cannot read the file: {exc.strerror}", file, 1, 1)
    if not stat.S_ISREG(before.st_mode):
        return _not_regular(file, before.st_mode)
    too_big = _diag("Y002", f"the file is over {MAX_BYTES:,} bytes; the limit is {MAX_BYTES:,}", file, 1, 1,
                    "split the schema or remove generated content")
    if before.st_size > MAX_BYTES:
        return _diag("Y002", f"the file is {before.st_size:,} bytes; the limit is {MAX_BYTES:,}", file, 1, 1,
                     "split the schema or remove generated content")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return _diag("Y001", f"cannot read the file: {exc.strerror}", file, 1, 1)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            return _not_regular(file, opened.st_mode)
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + READ_TIMEOUT
        while True:
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:
                return too_big  # it grew after the stat
            if time.monotonic() > deadline:
                return _diag("Y001", f"reading the file took over {READ_TIMEOUT:.0f} s", file, 1, 1,
                             "copy it to a local disk and pass that path")
    except OSError as exc:
        return _diag("Y001", f"cannot read the file: {exc.strerror}", file, 1, 1)
    finally:
        os.close(fd)


def load_document(path: str | Path, text: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read and parse a schema file. Returns the document (None when unusable) and the findings.

    `text` gives the content directly (a file from `git show`); `path` then only names it.
    """
    file = str(path)
    if text is None:
        raw = read_schema_file(path)
        if isinstance(raw, Diagnostic):
            return None, [raw]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            return None, [_diag("Y003", "the file is not UTF-8", file, line, col, "save it as UTF-8")]
    elif len(text.encode("utf-8")) > MAX_BYTES:
        return None, [_diag("Y002", f"the file is over {MAX_BYTES:,} bytes", file, 1, 1)]

    # libyaml says only "unacceptable character #x0007": name it and locate it ourselves.
    refused = _non_printable(file, text)
    if refused is not None:
        return None, [refused]
    # libyaml's parser is ~10x faster on large schemas; the marks and the safe constructor are the same.
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [_diag("Y004", "the file is empty", file, 1, 1,
                                "start from the example in the README (version: 1, app:, tables:)")]
        builder = _Builder(file, loader)
        data = builder.build(node)
    except _Abort as abort:
        return None, [abort.diagnostic]
    except yaml.YAMLError as exc:
        return None, [_yaml_error(file, exc, text)]
    except RecursionError:
        return None, [_diag("Y008", "the document nests too deeply", file, 1, 1)]
    finally:
        loader.dispose()
    document = Document(file, text, data, builder.key_marks, builder.value_marks)
    return document, builder.diagnostics


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """A 'did you mean' hint for a misspelt key or value, or None."""
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
