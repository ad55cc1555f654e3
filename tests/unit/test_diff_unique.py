"""diff explains the data layer's schema options (issues 19 and 23): unique, tenant_access, version."""

from __future__ import annotations

from jobwork_infra.changes import Severity
from tests.unit.test_diff import diff, users, verdicts

O, S = Severity.ONLINE, Severity.SAFE


def test_an_attribute_made_unique_is_an_online_step_that_says_its_scan_and_cost():
    def edit(data):
        users(data)["attributes"]["email"] = {"type": "string", "unique": "tenant"}

    changes = diff(edit)
    assert verdicts(changes) == [("D315", "attribute email", O), ("D401", "", S)]
    [unique, guards] = changes
    assert "scans shop-dev-users for values held twice" in unique.statement
    assert "refused (exit 3, nothing written, the duplicates listed by key)" in unique.statement
    assert "one write capacity unit each" in unique.statement
    assert guards.table == "unique_guards"   # the compiler adds the guard table with the first unique attribute


def test_unique_scope_changes_and_removal():
    def tenant(data):
        users(data)["attributes"]["email"] = {"type": "string", "unique": True}

    def scoped_global(data):
        users(data)["attributes"]["email"] = {"type": "string", "unique": "global"}

    from jobwork_infra.diff import diff_environments
    from tests.unit.test_diff import schema

    widened = diff_environments(schema(tenant), schema(scoped_global), "dev")
    assert verdicts(widened) == [("D315", "attribute email", O)]
    removed = diff_environments(schema(tenant), schema(), "dev")
    assert ("D410", "attribute email", S) in verdicts(removed)
    assert not any(c.code == "D407" for c in removed)   # not also reported as an attribute change


def test_tenant_access_and_version_changes():
    def edit(data):
        users(data)["tenant_access"] = "read"
        users(data)["version"] = True

    assert verdicts(diff(edit)) == [("D316", "tenant access", O), ("D411", "version", S)]
