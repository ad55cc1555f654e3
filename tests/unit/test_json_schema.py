"""The committed JSON Schema equals what the models produce, and accepts what validate accepts."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from jobwork_infra.model import SchemaFile
from tests.conftest import FIXTURES, ROOT

COMMITTED = ROOT / "schema" / "tables.schema.json"


def test_committed_schema_is_up_to_date():
    generated = json.dumps(SchemaFile.model_json_schema(), indent=2) + "\n"
    assert COMMITTED.read_text() == generated, "regenerate: jobwork-infra json-schema --out schema/tables.schema.json"


def test_it_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(COMMITTED.read_text()))


def test_the_project_schema_points_at_it():
    first = (ROOT / "schema" / "tables.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./tables.schema.json"


@pytest.mark.parametrize("path", [ROOT / "schema" / "tables.yaml", *sorted((FIXTURES / "good").glob("*.yaml"))],
                         ids=lambda p: p.stem)
def test_valid_schemas_pass_the_json_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), json.loads(COMMITTED.read_text()))


@pytest.mark.parametrize("name", ["m001_unknown_key", "m002_bad_value", "m003_missing_key"])
def test_model_errors_fail_the_json_schema_too(name):
    data = yaml.safe_load((FIXTURES / "bad" / f"{name}.yaml").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(COMMITTED.read_text()))
