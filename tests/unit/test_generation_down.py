"""A generation only goes up (rule G101), checked by deploy against what is deployed (R028).

The deployed generation is read back from the stack's logical ids on CloudFormation (DynamoDB keeps
no generation) and from the registry locally; without it, a schema set back from generation 3 to 2
planned a copy from `…-g3` into the retired `…-g2`.
"""

from __future__ import annotations

import pytest

from jobwork_infra.deploy.cloudformation.read import schema_from_template
from jobwork_infra.deploy.gate import Refused, refuse_generation_down
from jobwork_infra.model import resolve
from tests.unit.test_flow import deploy, fixed_clock, schema  # noqa: F401  (fixed_clock: the flow's clock and lock root)


def table_resource(name: str, sort_key: str = "user_id") -> dict:
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "tenant_id", "AttributeType": "S"},
                                 {"AttributeName": sort_key, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "tenant_id", "KeyType": "HASH"},
                      {"AttributeName": sort_key, "KeyType": "RANGE"}]}}


def test_the_deployed_generation_is_read_from_the_logical_id_and_the_newest_is_the_table_of_record():
    head = resolve(schema(generation=3), "dev")
    users = head.tables["users"]
    template = {"Resources": {
        "UsersTable": table_resource("flow-dev-users"),                 # generation 1, retained
        "UsersG3Table": table_resource("flow-dev-users-g3", "email"),   # the table of record
    }}
    deployed = schema_from_template(template, head)
    assert users.logical_id == "UsersTable"
    assert deployed.tables["users"].generation == 3
    assert deployed.tables["users"].physical_name == "flow-dev-users-g3"
    # The same, listed the other way round.
    template["Resources"] = dict(reversed(template["Resources"].items()))
    assert schema_from_template(template, head).tables["users"].generation == 3


def test_a_table_whose_own_name_ends_in_g2_is_generation_1():
    head = resolve(schema().model_copy(update={"tables": {"users_g2": schema().tables["users"]}}), "dev")
    assert head.tables["users_g2"].logical_id == "UsersG2Table"
    template = {"Resources": {"UsersG2Table": table_resource("flow-dev-users_g2")}}
    assert schema_from_template(template, head).tables["users_g2"].generation == 1


@pytest.mark.parametrize("deployed, wanted, refused", [(3, 2, True), (2, 1, True), (2, 2, False), (2, 3, False)])
def test_refuse_generation_down_compares_each_table(deployed, wanted, refused):
    base = resolve(schema(generation=deployed), "dev")
    head = resolve(schema(generation=wanted), "dev")
    if not refused:
        refuse_generation_down(base, head)
        return
    with pytest.raises(Refused) as caught:
        refuse_generation_down(base, head)
    assert caught.value.refusal.code == "R028"
    assert f"users (deployed generation {deployed}, the schema says {wanted})" in str(caught.value)
    refuse_generation_down(None, head)  # nothing deployed: nothing to compare


def test_a_deploy_back_to_a_lower_generation_is_refused_before_anything_is_applied():
    base = resolve(schema(generation=3, sort_key="email"), "dev")
    head = resolve(schema(generation=2, sort_key="email"), "dev")
    with pytest.raises(Refused) as caught:
        deploy(base, head)
    assert caught.value.refusal.code == "R028"
    code, target, _ = deploy(base, base)
    assert code == 0 and target.applied == []
