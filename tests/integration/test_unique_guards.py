"""The deploy step of `unique` on a table with data (issue 19): duplicates refuse it, else guards are written.

On DynamoDB Local: items stored before the attribute became unique (written with the plain API, as
an older application would have), then the step's functions as the deploy runs them.
"""

from __future__ import annotations

import uuid

import pytest

from jobwork_infra.deploy import unique_guards
from jobwork_infra.errors import Blocked
from jobwork_infra.project import check_project
from tests.codegen_support import FIXTURES, generate_package, import_package, schema_for_app
from tests.datalayer_support import create_tables, scan_all

pytestmark = [pytest.mark.slow, pytest.mark.local]

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
def stored(dynamodb_local, tmp_path):
    """writes.yaml deployed under a unique app name, with jobs and badges written before any guard."""
    app_name = f"ug{uuid.uuid4().hex[:10]}"
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_for_app(FIXTURES / "writes.yaml", app_name))
    client = dynamodb_local.client()
    create_tables(client, schema)
    for tenant, job, code in ((A, "J-1", "C-1"), (A, "J-2", "C-1"), (A, "J-3", "C-3"), (B, "J-1", "C-1")):
        client.put_item(TableName=f"{app_name}-dev-jobs", Item={
            "tenant_id": {"S": tenant}, "job_id": {"S": job}, "code": {"S": code}})
    client.put_item(TableName=f"{app_name}-dev-badges", Item={"badge_id": {"S": "b1"}, "serial": {"S": "S-1"}})
    return client, check_project(schema).resolve("dev"), schema, app_name


def test_values_held_twice_refuse_the_step_and_nothing_is_written(stored):
    client, resolved, _, app_name = stored
    steps = unique_guards.pending(client, resolved)
    assert {s.describe() for s in steps} == {"jobs.code (unique: tenant)", "badges.serial (unique: global)"}
    found = unique_guards.duplicates(client, resolved, steps)
    assert [(d.step.attribute, d.value, d.tenant, len(d.keys)) for d in found] == [("code", "C-1", A, 2)]
    with pytest.raises(Blocked) as refused:
        unique_guards.refuse_duplicates(found)
    assert "jobs.code = 'C-1' in tenant 11111111-1111-4111-8111-111111111111: held by 2 items" in refused.value.message
    assert "job_id=J-1" in refused.value.message and "job_id=J-2" in refused.value.message
    assert scan_all(client, f"{app_name}-dev-unique_guards") == []   # C-1 in tenant B is no duplicate


def test_without_duplicates_the_guards_are_written_once_and_the_layer_enforces_them(stored, tmp_path):
    client, resolved, schema, app_name = stored
    client.delete_item(TableName=f"{app_name}-dev-jobs", Key={"tenant_id": {"S": A}, "job_id": {"S": "J-2"}})
    steps = unique_guards.pending(client, resolved)
    assert unique_guards.duplicates(client, resolved, steps) == []
    assert unique_guards.write_guards(client, resolved, steps) == 4      # 3 codes and 1 serial
    assert unique_guards.pending(client, resolved) == []                  # the markers say it is done
    assert unique_guards.write_guards(client, resolved, steps) == 4      # resumable: same owners, no clash
    package = f"gen_{app_name}"
    generate_package(schema, tmp_path, package)
    gen = import_package(tmp_path, package)
    a = gen.TenantData(A, client=client, env="dev")
    with pytest.raises(gen.UniqueViolation):
        a.jobs.put(gen.JobsItem(job_id="J-9", code="C-1"))               # stored before `unique`: now guarded
    a.jobs.put(gen.JobsItem(job_id="J-9", code="C-9"))
    with pytest.raises(gen.UniqueViolation):
        gen.CrossTenantData(client=client, env="dev").badges.put(gen.BadgesItem(badge_id="b2", serial="S-1"))


def test_deploy_refuses_duplicates_of_a_new_unique_attribute_then_writes_the_guards(dynamodb_local, tmp_path,
                                                                                      monkeypatch):
    """`deploy --local`: unique added to a table with data is a step of the deploy (docs/deploy.md)."""
    from typer.testing import CliRunner

    from jobwork_infra.cli import app

    monkeypatch.setenv("JOBWORK_ROOT", str(dynamodb_local.root))
    app_name = f"ud{uuid.uuid4().hex[:10]}"
    unique = schema_for_app(FIXTURES / "writes.yaml", app_name)
    schema = tmp_path / "tables.yaml"
    schema.write_text(unique.replace("{type: string, unique: tenant}", "string").replace(
        "{type: string, unique: global}", "string"))

    def deploy(*extra: str):
        return CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema), "--yes", *extra])

    assert deploy().exit_code == 0
    client = dynamodb_local.client()
    jobs = f"{app_name}-dev-jobs"
    for job, code in (("J-1", "C-1"), ("J-2", "C-1"), ("J-3", "C-3")):
        client.put_item(TableName=jobs, Item={"tenant_id": {"S": A}, "job_id": {"S": job}, "code": {"S": code}})

    schema.write_text(unique)
    refused = deploy()
    assert refused.exit_code == 3, refused.output
    assert "values declared unique are held by more than one item; nothing was written" in refused.output
    assert "jobs.code = 'C-1' in tenant 11111111-1111-4111-8111-111111111111: held by 2 items" in refused.output
    assert f"{app_name}-dev-unique_guards" not in client.list_tables(ExclusiveStartTableName=app_name)["TableNames"]

    client.delete_item(TableName=jobs, Key={"tenant_id": {"S": A}, "job_id": {"S": "J-2"}})
    planned = deploy("--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "jobs.code (unique: tenant)" in planned.output and "2 stored values" in planned.output
    done = deploy()
    assert done.exit_code == 0, done.output
    assert "wrote 2 guard items for the stored values of jobs.code (unique: tenant)" in done.output
    again = deploy()
    assert again.exit_code == 0 and "guard item" not in again.output   # the markers say it is done
    package = f"gen_{app_name}"
    generate_package(schema, tmp_path, package)
    gen = import_package(tmp_path, package)
    with pytest.raises(gen.UniqueViolation):
        gen.TenantData(A, client=client, env="dev").jobs.put(gen.JobsItem(job_id="J-9", code="C-3"))


def test_the_cloudformation_deploy_takes_the_same_step_on_the_strict_double(strict_aws, fast_polls, tmp_path):
    """The project's schema (cognito_sub unique across tenants) over users stored before it said so."""
    from typer.testing import CliRunner

    from jobwork_infra.cli import app
    from tests.codegen_support import ROOT

    unique = (ROOT / "schema" / "tables.yaml").read_text()
    schema = tmp_path / "tables.yaml"
    schema.write_text(unique.replace(", unique: global}", "}").replace("{type: string, unique: tenant}", "string"))

    def deploy():
        return CliRunner().invoke(app, ["deploy", "--env", "dev", "--endpoint-url", strict_aws.endpoint,
                                        "--schema", str(schema), "--yes"])

    assert deploy().exit_code == 0
    client = strict_aws.client("dynamodb")
    for tenant, user, sub in ((A, "u-1", "sub-victim"), (B, "u-2", "sub-victim"), (B, "u-3", "sub-3")):
        client.put_item(TableName="jobwork-dev-users", Item={
            "tenant_id": {"S": tenant}, "user_id": {"S": user}, "cognito_sub": {"S": sub}})
    schema.write_text(unique)
    refused = deploy()
    assert refused.exit_code == 3, refused.output
    assert "users.cognito_sub = 'sub-victim': held by 2 items" in refused.output   # across tenants: global
    assert "jobwork-dev-unique_guards" not in client.list_tables()["TableNames"]
    client.delete_item(TableName="jobwork-dev-users", Key={"tenant_id": {"S": A}, "user_id": {"S": "u-1"}})
    done = deploy()
    assert done.exit_code == 0, done.output
    assert "wrote 2 guard items for the stored values of users.cognito_sub (unique: global)" in done.output
    guards = {(g["tenant_id"]["S"], g["guard"]["S"]) for g in scan_all(client, "jobwork-dev-unique_guards")}
    assert {("#global#users#cognito_sub#S:sub-victim", "#"), ("#global#users#cognito_sub#S:sub-3", "#")} <= guards
