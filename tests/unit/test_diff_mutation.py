"""diff.py's decisions left unpinned after issues 17, 19 and 20 landed (issue 21, third measurement).

Each test names the decision it pins: a kept table renamed onto a removed table's name (D109, refused
even with --allow-destructive, through the flow), a table option switched, and what a generation
bump reports of its keys and stream.
"""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.gate import Refused
from jobwork_infra.diff import diff_schemas
from jobwork_infra.model import resolve
from tests.unit.test_diff import S, diff, users, verdicts
from tests.unit.test_diff import schema as schema_file
from tests.unit.test_flow import deploy, fixed_clock, schema  # noqa: F401  (fixed_clock: the autouse fixture)
from tests.unit.test_gate_flow import with_orders

# -- a physical name taken by a kept table ---------------------------------------------------------

BOTH = resolve(with_orders(), "dev")
# orders leaves the schema; users keeps its key but takes orders' physical name.
USERS_AS_ORDERS = resolve(schema(table_name="flow-dev-orders"), "dev")


def test_a_kept_table_renamed_onto_a_removed_tables_name_is_name_taken_beside_its_replacement():
    # CloudFormation replaces users by creating flow-dev-orders, and deletes the removed orders (which holds
    # that name) only in the update's cleanup: the create fails, as for a new key reusing the name (D109).
    # Sources: AWS CloudFormation User Guide, "Update behaviors of stack resources" (Replacement: "creates
    # the replacement resource first ... and then deletes the old resource"); the D109 comment in diff.py.
    changes = diff_schemas(BOTH, USERS_AS_ORDERS)
    assert sorted((c.code, c.table) for c in changes) == [("D101", "orders"), ("D103", "users"), ("D109", "users")]
    [taken] = [c for c in changes if c.code == "D109"]
    assert taken.statement == ("table flow-dev-orders cannot be created under key users: table flow-dev-orders of "
                               "key orders still holds the name when it is created (deleted with its data), so "
                               "the update fails; deploy refuses it")
    assert taken.advice == ("keep the YAML key orders if users is meant to be that table (a table's key cannot be "
                            "renamed), or give users another table_name")


def test_a_kept_table_renamed_onto_a_removed_tables_name_is_refused_even_when_allowed():
    for allowed in (False, True):
        with pytest.raises(Refused) as error:
            deploy(BOTH, USERS_AS_ORDERS, allow_destructive=allowed)
        assert error.value.code == "R001"
        assert error.value.message.startswith("table flow-dev-orders cannot be created under key users")
    # Renamed onto a name nobody holds: a replacement, allowed with the flag.
    code, target, _ = deploy(BOTH, resolve(with_orders(table_name="flow-users-2"), "dev"), allow_destructive=True)
    assert code == 0 and target.applied


# -- table options ---------------------------------------------------------------------------------------

def test_a_table_option_switched_is_its_own_change():
    def insights(data):
        users(data)["contributor_insights"] = True
    assert verdicts(diff(insights)) == [("D412", "contributor insights", S)]


# -- a generation bump: its keys and stream are the migration's ---------------------------------------------

BUMPED = {"generation": 2, "sort_key": "email"}


def _codes(base_users: dict, head_users: dict) -> list[str]:
    return [c.code for c in diff_schemas(resolve(schema(**base_users), "dev"), resolve(schema(**head_users), "dev"))]


def test_a_key_change_in_a_generation_bump_is_the_migration_not_a_replacement():
    assert _codes({}, BUMPED) == ["D207"]
    assert _codes({}, {"generation": 2, "partition_key": "email"}) == ["D207"]
    assert "D104" in _codes({}, {"partition_key": "email"})


def test_a_generation_bump_reports_a_new_stream_but_not_the_catch_ups():
    # Generation 1's stream, on for the migration's catch-up, is not generation 2's change.
    assert _codes({"stream": "new_and_old_images"}, BUMPED) == ["D207"]
    # A stream the new generation has and the old one had not: its consumers get a new stream.
    assert _codes({}, {**BUMPED, "stream": "new_image"}) == ["D207", "D306"]
    # Without a bump, turning that stream off is a change.
    assert _codes({"stream": "new_and_old_images"}, {}) == ["D306"]


# -- tenant access ----------------------------------------------------------------------------------------

def test_tenant_access_of_a_cross_tenant_table_is_no_change():
    # A cross-tenant table is not in the TenantDataAccess policy at all: D316 ("tenant principals may now
    # read ...") would announce a policy change that does not happen.
    def cross_tenant(data):
        users(data)["tenant_scoped"] = False

    def read_only(data):
        cross_tenant(data)
        users(data)["tenant_access"] = "read"
    assert diff_schemas(resolve(schema_file(cross_tenant), "dev"), resolve(schema_file(read_only), "dev")) == []
    assert [c.code for c in diff(lambda d: users(d).update(tenant_access="read"))] == ["D316"]


def test_a_new_table_beside_a_deployed_one_is_no_generation_going_down():
    # R028's check against what is deployed (gate.refuse_generation_down) must not trip over a table that is
    # new in the schema: it has no deployed generation to compare with (a KeyError mid-deploy otherwise).
    from jobwork_infra.deploy.gate import refuse_generation_down
    from jobwork_infra.diff import generation_decreases

    base = resolve(schema(), "dev")
    head = resolve(with_orders(generation=2), "dev")   # orders is new, at generation 2
    assert generation_decreases(base, head) == []
    refuse_generation_down(base, head)
