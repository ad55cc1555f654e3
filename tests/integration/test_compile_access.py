"""Least privilege in the compiled policies (issue 23, item 7): tenant_access, the read-only twin, the
tenant roles' trust policy, and descriptions that say "(part N)" only when there are several parts."""

from __future__ import annotations

import json

import pytest

from jobwork_infra import budgets
from jobwork_infra.budgets import READ_ACTIONS, TENANT_ACTIONS
from jobwork_infra.project import check_project
from tests.integration.test_compile import arn_of, templates  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.slow

WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def statements(resource: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in resource["Properties"]["PolicyDocument"]["Statement"]}


def test_a_read_table_gets_read_actions_only_in_the_read_write_policy(templates):  # noqa: F811
    access = statements(templates["rich"]["Resources"]["TenantDataAccess"])
    assert "PricesTable" not in json.dumps(access["TenantItemsOnly"]["Resource"])
    assert access["TenantItemsReadOnly"]["Resource"] == arn_of("PricesTable")
    assert access["TenantItemsReadOnly"]["Action"] == list(READ_ACTIONS)
    assert not WRITE_ACTIONS & set(READ_ACTIONS)
    assert access["TenantItemsOnly"]["Action"] == list(TENANT_ACTIONS)


@pytest.mark.parametrize("case", ["dev", "rich"])
def test_the_read_only_twin_grants_no_write_on_the_same_tables(templates, case):  # noqa: F811
    resources = templates[case]["Resources"]
    access, read = resources["TenantDataAccess"], resources["TenantDataRead"]
    granted = [json.dumps(r, sort_keys=True) for s in statements(access).values() if s["Sid"] != "TableEncryptionKeys"
               for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    read_statements = statements(read)
    only = read_statements["TenantItemsReadOnly"]
    assert sorted(json.dumps(r, sort_keys=True) for r in only["Resource"]) == sorted(granted)
    assert only["Condition"] == statements(access)[next(iter(statements(access)))]["Condition"]
    for statement in read_statements.values():
        assert not WRITE_ACTIONS & set(statement["Action"])
        assert not {"kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"} & set(statement["Action"])
    assert read["Properties"]["ManagedPolicyName"].endswith("-TenantDataRead")


def test_descriptions_say_part_only_when_there_are_several(templates):  # noqa: F811
    description = templates["dev"]["Resources"]["TenantDataAccess"]["Properties"]["Description"]
    assert "(part" not in description
    assert description == ("Item access to tenant-scoped tables of jobwork-dev, limited to the caller's own "
                           "tenant_id (principal tag).")
    assert budgets.policy_description("s", 2, 3, "tenant_id", read_only=False).startswith(
        "Item access to tenant-scoped tables of s (part 2),")


def test_the_tenant_roles_trust_only_the_given_role_with_a_tenant_session_tag(templates):  # noqa: F811
    resources = templates["rich"]["Resources"]
    for role_id, policy_id in (("TenantDataRole", "TenantDataAccess"), ("TenantDataReadRole", "TenantDataRead")):
        role = resources[role_id]["Properties"]
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/shop-api"}
        assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        assert trust["Condition"] == {"StringLike": {"aws:RequestTag/tenant_id": "?*"}}
        assert role["ManagedPolicyArns"] == [{"Ref": policy_id}]
    # Without tenancy.assumed_by there is no role (the project's schema names no application role yet).
    assert not any(r["Type"] == "AWS::IAM::Role" for r in templates["dev"]["Resources"].values())


def test_tenant_access_defaults_to_write_and_a_bad_value_is_located(tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text("version: 1\napp: acc\nenvironments:\n  dev: {}\ntables:\n  t:\n    tenant_access: admin\n")
    [finding] = check_project(schema).diagnostics
    assert (finding.code, finding.location.line) == ("M002", 7)
    schema.write_text("version: 1\napp: acc\nenvironments:\n  dev: {}\ntables:\n  t: {}\n")
    assert check_project(schema).resolve("dev").tables["t"].tenant_access == "write"
