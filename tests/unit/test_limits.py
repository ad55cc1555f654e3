"""Every DynamoDB limit a schema can reach, exactly at the limit (passes) and one over (fails).

The fixtures are generated here rather than kept as files: a limit of 100 attributes is
clearer as `range(100)` than as a 200-line YAML file, and the limits come from the rules' own
constants, so a test cannot drift from what validate checks.
Limits: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
"""

from __future__ import annotations

import pytest
import yaml

from jobwork_infra.project import check_project
from jobwork_infra.rules.indexes import MAX_GSIS, MAX_LSIS, MAX_PROJECTED


def codes(tmp_path, tables: dict) -> list[str]:
    path = tmp_path / "tables.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "app": "lim", "environments": {"dev": {}}, "tables": tables},
                                   sort_keys=False))
    return sorted(d.code for d in check_project(path).diagnostics)


def with_gsis(count: int) -> dict:
    attributes = {f"a{n}": "string" for n in range(count)}
    return {"t": {"tenant_scoped": False, "attributes": attributes,
                  "global_indexes": {f"gsi{n}": {"partition_key": f"a{n}"}
                                     for n in range(count)}}}


def with_lsis(count: int) -> dict:
    attributes = {"sk": "string", **{f"a{n}": "string" for n in range(count)}}
    return {"t": {"tenant_scoped": False, "sort_key": "sk", "attributes": attributes,
                  "local_indexes": {f"lsi{n}": {"sort_key": f"a{n}"} for n in range(count)}}}


def with_projected(count: int) -> dict:
    attributes = {"k": "string", **{f"p{n}": "string" for n in range(count)}}
    return {"t": {"tenant_scoped": False, "attributes": attributes,
                  "global_indexes": {"gsi": {"partition_key": "k", "tenant_scoped": False,
                                           "projection": [f"p{n}" for n in range(count)]}}}}


def test_the_limits_are_dynamodbs():
    assert (MAX_GSIS, MAX_LSIS, MAX_PROJECTED) == (20, 5, 100)


@pytest.mark.parametrize("make, limit, code", [
    (with_gsis, MAX_GSIS, "I101"),
    (with_lsis, MAX_LSIS, "I102"),
    (with_projected, MAX_PROJECTED, "I106"),
], ids=["global indexes", "local indexes", "projected attributes"])
def test_at_the_limit_passes_and_one_over_fails(tmp_path, make, limit, code):
    assert codes(tmp_path, make(limit)) == []
    assert codes(tmp_path, make(limit + 1)) == [code]


def test_table_name_of_255_characters_passes_and_256_fails(tmp_path):
    assert codes(tmp_path, {"t": {"table_name": "n" * 255}}) == []
    assert codes(tmp_path, {"t": {"table_name": "n" * 256}}) == ["N101"]


def test_key_attribute_name_of_255_bytes_passes_and_256_fails(tmp_path):
    def table(name: str) -> dict:
        return {"t": {"sort_key": name, "attributes": {name: "string"}}}
    assert codes(tmp_path, table("k" * 255)) == []
    assert codes(tmp_path, table("k" * 256)) == ["N107"]
    # bytes, not characters: 128 two-byte characters are 256 bytes
    assert codes(tmp_path, table("é" * 127 + "k")) == []
    assert codes(tmp_path, table("é" * 128)) == ["N107"]
