"""C106: which environment is production-like and must name its account (issue 23's leftover: the rule
fired only for deletion protection or retain with PITR).

Decided from DESIGN.md ("Nothing is lost"; `removal_policy` defaults to retain so that forgetting it never
loses data): an environment is production-like when it *declares* a protection of its data — deletion
protection, point-in-time recovery, or a written retain/snapshot — under `environments.E` or in
`defaults:`. The built-in retain and a protection on one table (a retained audit table, an imported one)
do not make the environment production-like.
"""

from __future__ import annotations

import pytest

from jobwork_infra.project import check_project

BASE = """\
version: 1
app: shop
{defaults}environments:
  dev: {{removal_policy: destroy}}
  prod: {prod}
tables:
  orders:
    sort_key: order_id
{table}    attributes:
      order_id: uuid
"""


def c106(prod: str, defaults: str = "", table: str = "") -> list[str]:
    text = BASE.format(prod=prod, defaults=defaults, table=table)
    project = check_project("tables.yaml", text=text)
    return sorted(d.path[1] for d in project.diagnostics if d.code == "C106")


@pytest.mark.parametrize("prod", [
    "{removal_policy: retain}",
    "{removal_policy: snapshot}",
    "{point_in_time_recovery: true}",
    "{deletion_protection: true}",
    "{removal_policy: retain, point_in_time_recovery: true, deletion_protection: true}",
])
def test_each_declared_protection_alone_makes_the_environment_production_like(prod):
    assert c106(prod) == ["prod"]
    assert c106(prod.replace("{", '{account: "123456789012", ')) == []  # named: nothing to warn about


@pytest.mark.parametrize("prod, table", [
    ("{}", ""),                                                     # the built-in retain says nothing
    ("{removal_policy: destroy}", "    removal_policy: retain\n"),   # one retained table (audit, imported)
    ("{removal_policy: destroy}", "    deletion_protection: true\n"),
    ("{removal_policy: destroy}", "    point_in_time_recovery: true\n"),
    ("{point_in_time_recovery: false, deletion_protection: false}", ""),
])
def test_the_default_and_a_single_table_protection_do_not(prod, table):
    assert c106(prod, table=table) == []


def test_defaults_declare_for_every_environment_that_does_not_override_them():
    defaults = "defaults:\n  deletion_protection: true\n"
    assert c106("{}", defaults) == ["dev", "prod"]      # dev says destroy, but inherits deletion protection
    assert c106("{}", defaults.replace("true", "false")) == []
    assert c106("{deletion_protection: false}", defaults) == ["dev"]
    assert c106("{}", "defaults:\n  removal_policy: snapshot\n") == ["prod"]  # dev's own destroy wins


def test_the_finding_names_what_the_environment_declared():
    text = BASE.format(prod="{removal_policy: retain, point_in_time_recovery: true}", defaults="", table="")
    [finding] = [d for d in check_project("tables.yaml", text=text).diagnostics if d.code == "C106"]
    assert ("environment 'prod' declares its tables protected (point-in-time recovery, removal_policy retain) "
            "but names no account") in finding.message
