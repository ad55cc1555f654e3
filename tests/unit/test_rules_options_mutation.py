"""C101's hint and C103 (capacity that applies nowhere), where mutation testing found them unpinned (issue 21): a
capacity that no table takes is an error, not silently ignored, and one that some table takes is not."""

from __future__ import annotations

import yaml

from jobwork_infra.project import check_project


def diagnostics(tables: dict, *, env: dict | None = None, defaults: dict | None = None, code: str = "C103"):
    data = {"version": 1, "app": "rules", **({"defaults": defaults} if defaults else {}),
            "environments": {"dev": env or {}, "prod": env or {}}, "tables": tables}
    project = check_project("rules.yaml", text=yaml.safe_dump(data, sort_keys=False))
    return [(d.path, d.hint) for d in project.diagnostics if d.code == code]


CAPACITY = {"read": 5, "write": 5}
ON_DEMAND = {"sort_key": "s", "attributes": {"s": "string"}}
PROVISIONED = {**ON_DEMAND, "billing": "provisioned"}


def test_an_environments_capacity_with_only_on_demand_tables_applies_nowhere():
    found = diagnostics({"t": ON_DEMAND}, env={"capacity": CAPACITY})
    assert [p for p, _ in found] == [("environments", "dev", "capacity"), ("environments", "prod", "capacity")]


def test_an_environments_capacity_a_provisioned_table_takes_is_used():
    assert diagnostics({"t": PROVISIONED}, env={"capacity": CAPACITY}) == []


def test_a_default_capacity_every_environment_overrides_applies_nowhere():
    found = diagnostics({"t": PROVISIONED}, env={"capacity": CAPACITY}, defaults={"capacity": CAPACITY})
    assert [p for p, _ in found] == [("defaults", "capacity")]


def test_a_default_capacity_a_provisioned_table_takes_is_used():
    assert diagnostics({"t": PROVISIONED}, defaults={"capacity": CAPACITY}) == []


def test_an_undeclared_ttl_attribute_hints_the_near_name_or_how_to_declare_it():
    near = diagnostics({"t": {**ON_DEMAND, "attributes": {"s": "string", "expires_at": "epoch_seconds"},
                              "ttl": "expire_at"}}, code="C101")
    assert len(near) == 1 and "expires_at" in near[0][1] and "declare it under" not in near[0][1]
    far = diagnostics({"t": {**ON_DEMAND, "ttl": "zzz"}}, code="C101")
    assert far == [(("tables", "t", "ttl"), "declare it under tables.t.attributes: zzz: epoch_seconds")]


def test_a_schema_without_tables_has_no_capacity_finding():
    # The tables come later (a first schema): C103 waits for them rather than flag every capacity.
    assert diagnostics({}, env={"capacity": CAPACITY}, defaults={"capacity": CAPACITY}) == []
