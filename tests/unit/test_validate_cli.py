"""`validate`, `json-schema` and `docs` through the CLI: exact output and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.rules import REGISTRY
from tests.conftest import FIXTURES, ROOT

runner = CliRunner()
K101 = str(FIXTURES / "bad" / "k101_undeclared_key.yaml")
SARIF_SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "sarif-2.1.0.trimmed.json").read_text())


@pytest.fixture
def in_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("JOBWORK_SCHEMA", raising=False)


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_validate_the_project_schema(in_root):
    result = invoke("validate")
    assert result.exit_code == 0
    assert result.stdout == (
        "schema/tables.yaml:59:24: note T002: the index 'by_cognito_sub' is partitioned by 'cognito_sub' "
        "and crosses tenants (tenant_scoped: false): it bypasses tenant isolation (acknowledged: login looks "
        "the user up before the tenant is known; granted to the auth service only)\n"
        "   59 |         tenant_scoped: false      # crosses tenants on purpose: see rule T002\n"
        "      |                        ^\n"
        "schema/tables.yaml: valid (2 tables, 1 index; 0 errors, 0 warnings, 1 note)\n"
    )


def test_strict_passes_on_the_project_schema_with_its_acknowledged_finding(in_root):
    result = invoke("validate", "--strict")
    assert result.exit_code == 0
    assert "note T002" in result.stdout


def test_strict_fails_on_warnings():
    result = invoke("validate", "--strict", "-s", str(FIXTURES / "good" / "every_option.yaml"))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].endswith("; --strict: warnings fail)")


def test_schema_from_the_environment(in_root, monkeypatch):
    monkeypatch.setenv("JOBWORK_SCHEMA", K101)
    assert invoke("validate").exit_code == 1


def test_invalid_schema_text():
    result = invoke("validate", "--schema", K101)
    assert result.exit_code == 1
    assert result.stdout == (
        f"{K101}:9:15: error K101: the sort key 'order_id' of table 'orders' is not declared\n"
        "    9 |     sort_key: order_id\n"
        "      |               ^\n"
        "  hint: did you mean 'orderid'? or declare it under tables.orders.attributes, e.g. order_id: string\n"
        f"{K101}:16:19: error K101: the sort key 'state' of global index 'by_status' of 'orders' is not declared\n"
        "   16 |         sort_key: state\n"
        "      |                   ^\n"
        "  hint: did you mean 'status'? or declare it under tables.orders.attributes, e.g. state: string\n"
        f"{K101}: invalid (1 table, 1 index; 2 errors, 0 warnings)\n"
    )


def test_loader_failure_has_no_counts(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    result = invoke("validate", "-s", missing)
    assert result.exit_code == 1
    assert result.stdout == (f"{missing}:1:1: error Y001: no such file\n"
                             "  hint: pass --schema PATH or set $JOBWORK_SCHEMA\n"
                             f"{missing}: invalid (1 error, 0 warnings)\n")


def test_loader_failures_show_the_source_line_with_tabs_expanded():
    path = str(FIXTURES / "bad" / "y006_tab.yaml")
    lines = invoke("validate", "-s", path).stdout.splitlines()
    assert lines[1:3] == ["    7 |     orders: {}", "      | ^"]


def test_usage_error_exits_2():
    result = runner.invoke(app, ["validate", "--format", "xml"])
    assert result.exit_code == 2
    assert "'xml' is not one of" in result.stderr


@pytest.mark.parametrize("path", sorted((FIXTURES / "bad").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bad_fixture_exits_1_without_traceback(path):
    result = runner.invoke(app, ["validate", "--strict", "-s", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_json_format():
    result = invoke("validate", "-s", K101, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and (report["tables"], report["indexes"], report["errors"]) == (1, 1, 2)
    assert report["diagnostics"][0] == {
        "code": "K101", "severity": "error", "file": K101, "line": 9, "col": 15,
        "message": "the sort key 'order_id' of table 'orders' is not declared",
        "hint": "did you mean 'orderid'? or declare it under tables.orders.attributes, e.g. order_id: string",
        "path": "tables.orders.sort_key",
    }
    assert result.stderr == f"{K101}: invalid (1 table, 1 index; 2 errors, 0 warnings)\n"


def test_github_format(in_root):
    result = invoke("validate", "--format", "github")
    assert result.exit_code == 0
    assert result.stdout == (
        "::notice file=schema/tables.yaml,line=59,col=24::T002 the index 'by_cognito_sub' is partitioned by "
        "'cognito_sub' and crosses tenants (tenant_scoped: false): it bypasses tenant isolation (acknowledged: "
        "login looks the user up before the tenant is known; granted to the auth service only)\n")


def test_github_format_errors_and_escaping(tmp_path):
    path = tmp_path / "a,b.yaml"
    shutil.copy(K101, path)
    lines = invoke("validate", "-s", str(path), "-f", "github").stdout.splitlines()
    escaped = str(path).replace(",", "%2C")
    assert lines[0] == (f"::error file={escaped},line=9,col=15::K101 the sort key 'order_id' of table 'orders' "
                        "is not declared%0Ahint: did you mean 'orderid'? or declare it under "
                        "tables.orders.attributes, e.g. order_id: string")
    assert len(lines) == 2


def test_github_format_prints_nothing_for_a_clean_schema():
    result = invoke("validate", "-s", str(FIXTURES / "good" / "minimal.yaml"), "-f", "github")
    assert (result.exit_code, result.stdout) == (0, "")


@pytest.mark.parametrize("path", [K101, str(ROOT / "schema" / "tables.yaml"),
                                  str(FIXTURES / "bad" / "y009_python_tag.yaml")])
def test_sarif_format_is_valid_sarif(path):
    result = invoke("validate", "-s", path, "--format", "sarif")
    log = json.loads(result.stdout)
    jsonschema.validate(log, SARIF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(REGISTRY)
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        region = r["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_sarif_marks_an_acknowledged_finding_suppressed_in_source(in_root):
    log = json.loads(invoke("validate", "-f", "sarif").stdout)
    jsonschema.validate(log, SARIF_SCHEMA)
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("T002", "note")
    assert result["suppressions"] == [{
        "kind": "inSource",
        "justification": "login looks the user up before the tenant is known; granted to the auth service only",
    }]


def test_sarif_result_for_k101():
    log = json.loads(invoke("validate", "-s", K101, "-f", "sarif").stdout)
    first = log["runs"][0]["results"][0]
    assert first["ruleId"] == "K101" and first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 9, "startColumn": 15}


def test_json_schema_to_stdout_and_file(tmp_path):
    result = invoke("json-schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "jobwork-infra tables.yaml"
    out = tmp_path / "sub" / "s.json"
    result = invoke("json-schema", "--out", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text() == (ROOT / "schema" / "tables.schema.json").read_text()
    assert result.stderr == f"wrote the JSON Schema to {out}\n"


def test_docs_of_the_project_schema(in_root):
    result = invoke("docs")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("# jobwork: DynamoDB tables\n")
    assert "```mermaid\nerDiagram\n    tenant {\n        uuid tenant_id PK \"partition key\"\n" in text
    assert '        string cognito_sub "by_cognito_sub partition key"\n' in text
    assert ("| `by_cognito_sub` | global | `cognito_sub` (string, S) | — | keys_only | no |") in text
    assert "- physical name: `jobwork-dev-users` (dev), `jobwork-prod-users` (prod)" in text
    assert "| find user at login | `by_cognito_sub` | `cognito_sub` |" in text


def test_docs_of_every_option():
    result = invoke("docs", "-s", str(FIXTURES / "good" / "every_option.yaml"))
    assert result.exit_code == 0
    assert "| `by_due` | local | `tenant_id` (uuid, S) | `due` (date, S) | total | yes |" in result.stdout
    assert "`MachineCatalogue` (dev)" in result.stdout


def test_docs_of_an_invalid_schema_prints_findings():
    result = runner.invoke(app, ["docs", "-s", K101])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{K101}:9:15: error K101:")


def test_every_command_has_help_with_an_example():
    for command in ("validate", "json-schema", "docs"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "Example: jobwork-infra " + command in result.stdout


def test_model_errors_are_said_in_words_not_regexes(tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text("version: 1\napp: X\nenvironments:\n  dev: {account: 123456789012}\n")
    result = invoke("validate", "-s", str(path))
    assert result.exit_code == 1
    assert f"{path}:2:6: error M002: 'X' is not a valid app: 2–31 characters, a lowercase letter first" in result.stdout
    assert f"{path}:4:18: error M002: expected text, got the int 123456789012" in result.stdout
    assert "hint: quote it in YAML" in result.stdout
    assert "pattern" not in result.stdout
