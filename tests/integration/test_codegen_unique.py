"""Unique values in the generated data layer (issue 19): the login hijack, exact guards, the race.

On DynamoDB Local and on the strict AWS double: the guard items go in the same TransactWriteItems as
the item, with attribute_not_exists, as AWS describes ("Simulating Amazon DynamoDB unique constraints
using transactions", https://aws.amazon.com/blogs/database/simulating-amazon-dynamodb-unique-constraints-using-transactions/).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from tests.codegen_support import ROOT
from tests.datalayer_support import on_dynamodb_local, on_strict_double, scan_all

pytestmark = [pytest.mark.slow]

PROJECT = ROOT / "schema" / "tables.yaml"
VICTIM_TENANT = "22222222-2222-4222-8222-222222222222"
ATTACKER_TENANT = "11111111-1111-4111-8111-111111111111"


@pytest.fixture(params=["dynamodb_local", "strict_double"])
def layer(request, tmp_path):
    """The project's schema (users: cognito_sub unique global, email unique per tenant), deployed."""
    if request.param == "dynamodb_local":
        return on_dynamodb_local(PROJECT, request.getfixturevalue("dynamodb_local"), tmp_path, "uq")
    return on_strict_double(PROJECT, request.getfixturevalue("strict_aws"), tmp_path, "uq")


def user(gen, **values):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return gen.UsersItem(user_id=uuid.uuid4(), name="someone", role="OPERATOR", created_at=now, updated_at=now,
                         **values)


def expected_guards(client, app_name: str) -> set[tuple[str, str]]:
    """The guard keys the users table calls for: one per email (in its tenant) and per cognito_sub."""
    keys = set()
    for item in scan_all(client, f"{app_name}-dev-users"):
        tenant = item["tenant_id"]["S"]
        if "email" in item:
            keys.add((tenant, f"users#email#S:{item['email']['S']}"))
        if "cognito_sub" in item:
            keys.add((f"#global#users#cognito_sub#S:{item['cognito_sub']['S']}", "#"))
    return keys


def guards(client, app_name: str) -> set[tuple[str, str]]:
    """The guard items (not the markers a deploy leaves: deploy/unique_guards.py)."""
    return {(g["tenant_id"]["S"], g["guard"]["S"]) for g in scan_all(client, f"{app_name}-dev-unique_guards")
            if not g["tenant_id"]["S"].startswith("#guarded#")}


def test_the_login_hijack_is_refused_in_any_tenant(layer):
    gen, client, app_name = layer
    victim = user(gen, cognito_sub="sub-victim", email="victim@b.example")
    gen.TenantData(VICTIM_TENANT, client=client, env="dev").users.put(victim)

    attacker = gen.TenantData(ATTACKER_TENANT, client=client, env="dev")
    with pytest.raises(gen.UniqueViolation) as refused:
        attacker.users.put(user(gen, cognito_sub="sub-victim", email="attacker@a.example"))
    assert (refused.value.attribute, refused.value.value) == ("cognito_sub", "sub-victim")
    assert refused.value.table == f"{app_name}-dev-users"
    # Nothing was written: not the attacker's user, not a guard for its email.
    assert attacker.users.list_users_of_a_tenant().items == []
    assert guards(client, app_name) == expected_guards(client, app_name)
    # Not in the victim's own tenant either, and not by changing an existing user's cognito_sub.
    same_tenant = gen.TenantData(VICTIM_TENANT, client=client, env="dev")
    with pytest.raises(gen.UniqueViolation):
        same_tenant.users.put(user(gen, cognito_sub="sub-victim"))
    mine = user(gen, cognito_sub="sub-attacker")
    attacker.users.put(mine)
    with pytest.raises(gen.UniqueViolation):
        attacker.users.update(mine.user_id, set={"cognito_sub": "sub-victim"})
    assert attacker.users.get(mine.user_id).cognito_sub == "sub-attacker"

    login = gen.CrossTenantData(client=client, env="dev").users.find_user_at_login("sub-victim")
    assert login is not None and (str(login.tenant_id), login.user_id) == (VICTIM_TENANT, victim.user_id)
    assert gen.CrossTenantData(client=client, env="dev").users.find_user_at_login("sub-nobody") is None


def test_put_update_and_delete_keep_the_guards_exact(layer):
    gen, client, app_name = layer
    a = gen.TenantData(ATTACKER_TENANT, client=client, env="dev")
    b = gen.TenantData(VICTIM_TENANT, client=client, env="dev")
    first = user(gen, cognito_sub="sub-1", email="one@x.example")
    a.users.put(first)
    b.users.put(user(gen, email="one@x.example"))          # unique per tenant: another tenant may hold it
    assert guards(client, app_name) == expected_guards(client, app_name)

    # put replacing the item: the old values' guards are released, the new ones claimed.
    a.users.put(first.model_copy(update={"cognito_sub": "sub-2", "email": "two@x.example"}))
    a.users.put(user(gen, cognito_sub="sub-1", email="one@x.example"))  # free again
    with pytest.raises(gen.UniqueViolation):
        a.users.put(user(gen, email="two@x.example"))
    assert guards(client, app_name) == expected_guards(client, app_name)

    # update changing, then removing, a unique attribute.
    a.users.update(first.user_id, set={"email": "three@x.example", "name": "renamed"})
    assert a.users.get(first.user_id).email == "three@x.example"
    with pytest.raises(gen.UniqueViolation):
        a.users.update(first.user_id, set={"email": "one@x.example"})
    assert a.users.get(first.user_id).email == "three@x.example"   # nothing written
    a.users.update(first.user_id, remove=["email"])
    assert a.users.get(first.user_id).email is None
    a.users.put(user(gen, email="three@x.example"))
    assert guards(client, app_name) == expected_guards(client, app_name)

    # re-putting the same values is no change at all; delete releases what the item held.
    a.users.put(a.users.get(first.user_id))
    a.users.delete(first.user_id)
    a.users.delete(first.user_id)  # nothing left: nothing happens
    a.users.put(user(gen, cognito_sub="sub-2"))
    assert guards(client, app_name) == expected_guards(client, app_name)


def test_guards_never_show_in_the_tables_queries_counts_or_scans(layer):
    gen, client, app_name = layer
    a = gen.TenantData(ATTACKER_TENANT, client=client, env="dev")
    people = [user(gen, cognito_sub=f"sub-{n}", email=f"{n}@x.example") for n in range(3)]
    for person in people:
        a.users.put(person)
    assert sorted(u.user_id for u in a.users.list_users_of_a_tenant().items) == sorted(p.user_id for p in people)
    table = f"{app_name}-dev-users"
    assert client.scan(TableName=table, Select="COUNT")["Count"] == 3
    counted = client.query(TableName=table, Select="COUNT", KeyConditionExpression="tenant_id = :t",
                           ExpressionAttributeValues={":t": {"S": ATTACKER_TENANT}})
    assert counted["Count"] == 3
    assert len(guards(client, app_name)) == 6   # in their own table


@pytest.mark.parametrize("backend", ["dynamodb_local"])
def test_eight_threads_racing_for_one_value_exactly_one_wins(backend, dynamodb_local, tmp_path):
    gen, client, app_name = on_dynamodb_local(PROJECT, dynamodb_local, tmp_path, "race")
    tenants = [str(uuid.UUID(int=n + 1, version=4)) for n in range(8)]
    start = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(tenant: str) -> None:
        data = gen.TenantData(tenant, client=dynamodb_local.client(), env="dev")
        start.wait()
        try:
            data.users.put(user(gen, cognito_sub="sub-contested"))
            outcome = "won"
        except gen.UniqueViolation:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=claim, args=(t,)) for t in tenants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    holders = [i for i in scan_all(client, f"{app_name}-dev-users") if i.get("cognito_sub", {}).get("S") == "sub-contested"]
    assert len(holders) == 1
    assert guards(client, app_name) == expected_guards(client, app_name)


def test_a_unique_lookup_that_finds_two_items_raises_integrity_error(dynamodb_local, tmp_path):
    """Items written behind the layer's back (no guards) that break the rule: the lookup says so, never guesses."""
    gen, client, app_name = on_dynamodb_local(PROJECT, dynamodb_local, tmp_path, "ie")
    for tenant, user in ((VICTIM_TENANT, "u-1"), (ATTACKER_TENANT, "u-2")):
        client.put_item(TableName=f"{app_name}-dev-users", Item={
            "tenant_id": {"S": tenant}, "user_id": {"S": str(uuid.uuid5(uuid.NAMESPACE_OID, user))},
            "cognito_sub": {"S": "sub-twice"}})
    with pytest.raises(gen.IntegrityError, match="more than one item for the unique value 'sub-twice'"):
        gen.CrossTenantData(client=client, env="dev").users.find_user_at_login("sub-twice")
