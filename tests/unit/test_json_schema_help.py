"""The JSON Schema editors show on hover: every option described, every default valid against its own schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.conftest import ROOT

SCHEMA = json.loads((ROOT / "schema" / "tables.schema.json").read_text())


def _properties():
    definitions = {"SchemaFile": SCHEMA, **SCHEMA["$defs"]}
    for model, definition in definitions.items():
        for name, prop in definition.get("properties", {}).items():
            yield f"{model}.{name}", prop


PROPERTIES = dict(_properties())


def test_every_option_carries_a_description():
    missing = [name for name, prop in PROPERTIES.items() if not prop.get("description")]
    assert missing == []
    assert len(PROPERTIES) > 50


@pytest.mark.parametrize("name", [n for n, p in PROPERTIES.items() if "default" in p])
def test_every_default_passes_its_own_schema(name):
    prop = dict(PROPERTIES[name])
    default = prop.pop("default")
    # Resolve $refs against the whole document, as an editor does.
    jsonschema.validate(default, {**prop, "$defs": SCHEMA["$defs"]})


def test_the_projection_default_is_written_as_in_yaml():
    assert PROPERTIES["GlobalIndex.projection"]["default"] == "all"
    assert PROPERTIES["LocalIndex.projection"]["default"] == "all"
    assert PROPERTIES["LocalIndex.acknowledge"]["description"].startswith("Warnings accepted on purpose")
