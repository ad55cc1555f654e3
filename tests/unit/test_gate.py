"""The safety gate (deploy/gate.py) and `replaces_table`, without any server: fast and exact."""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.gate import approve, refuse_destructive, refuse_replacement_in_place
from jobwork_infra.diff import replaces_table
from jobwork_infra.errors import Blocked
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.plan import plan_changes


def schema(policy: str = "destroy", **users) -> SchemaFile:
    return SchemaFile.model_validate({
        "version": 1, "app": "gate", "environments": {"dev": {"removal_policy": policy}},
        "tables": {"users": {"sort_key": "user_id",
                             "attributes": {"user_id": "uuid", "email": "string", "at": "datetime"}, **users},
                   "notes": {}},
    })


def plan(base: SchemaFile, head: SchemaFile):
    return plan_changes(resolve(base, "dev"), resolve(head, "dev"))


LSI = {"local_indexes": {"by_at": {"sort_key": "at"}}}


@pytest.mark.parametrize("edit", [
    {"table_name": "people"},
    LSI,
    {"attributes": {"user_id": "number", "email": "string", "at": "datetime"}},
], ids=["physical name", "local index", "key type"])
def test_replaces_table_sees_name_lsi_and_key_changes(edit):
    before, after = resolve(schema(), "dev").tables["users"], resolve(schema(**edit), "dev").tables["users"]
    assert replaces_table(before, after)
    assert not replaces_table(before, before)


def test_replaces_table_sees_an_lsi_projection_change():
    before = resolve(schema(**LSI), "dev").tables["users"]
    after = resolve(schema(local_indexes={"by_at": {"sort_key": "at", "projection": "keys_only"}}), "dev")
    assert replaces_table(before, after.tables["users"])


def test_a_gsi_added_does_not_replace_the_table():
    before = resolve(schema(), "dev").tables["users"]
    after = resolve(schema(global_indexes={"by_email": {"partition_key": "email"}}), "dev").tables["users"]
    assert not replaces_table(before, after)


def test_destructive_plan_is_refused_naming_the_tables_unless_allowed():
    p = plan(schema(**LSI), schema())
    with pytest.raises(Blocked) as caught:
        refuse_destructive(p, allow_destructive=False)
    assert caught.value.message == ("refusing 1 destructive change(s) to users: "
                                    "the data in these tables would be lost")
    assert "--allow-destructive" in caught.value.hint
    refuse_destructive(p, allow_destructive=True)  # allowed: no exception


def test_online_plan_passes_the_destructive_gate():
    refuse_destructive(plan(schema(), schema(global_indexes={"by_email": {"partition_key": "email"}})), False)


def test_replacement_in_place_is_refused_on_cloudformation_whatever_the_policy():
    for policy in ("destroy", "retain"):
        with pytest.raises(Blocked) as caught:
            refuse_replacement_in_place(plan(schema(policy), schema(policy, **LSI)), retained_only=False)
        assert caught.value.message.startswith("cannot replace gate-dev-users under the same name")
        assert "CloudFormation cannot replace a named table in place" in caught.value.message


def test_replacement_in_place_locally_is_refused_only_under_retain():
    refuse_replacement_in_place(plan(schema(), schema(**LSI)), retained_only=True)
    with pytest.raises(Blocked) as caught:
        refuse_replacement_in_place(plan(schema("retain"), schema("retain", **LSI)), retained_only=True)
    assert "the old table is retained" in caught.value.message


def test_a_renamed_table_is_not_a_replacement_in_place():
    # a new physical name: CloudFormation creates the new table, then deletes the old one
    refuse_replacement_in_place(plan(schema(), schema(table_name="people")), retained_only=False)


def test_nothing_deployed_passes_every_gate():
    p = plan_changes(None, resolve(schema(), "dev"))
    refuse_destructive(p, False)
    refuse_replacement_in_place(p, retained_only=False)


def test_approve_asks_unless_yes_and_says_how_many_steps():
    p = plan(schema(), schema(global_indexes={"by_email": {"partition_key": "email"},
                                              "by_at": {"partition_key": "at"}}))
    asked = []
    assert approve(p, yes=True, confirm=lambda q: asked.append(q) or False)
    assert asked == []
    assert not approve(p, yes=False, confirm=lambda q: asked.append(q) or False)
    assert asked == ["Apply 2 step(s) to gate-dev?"]
