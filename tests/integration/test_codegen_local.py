"""The generated data layer against DynamoDB Local: types, access patterns, tenant isolation, cursors."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jobwork_infra.cli import app
from tests.codegen_support import EVERY_TYPE, ROOT, generate_package, schema_for_app
from tests.datalayer_support import on_dynamodb_local

pytestmark = [pytest.mark.slow, pytest.mark.local]

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"


@pytest.fixture(scope="module")
def deployed(dynamodb_local, tmp_path_factory):
    """every_type.yaml under a unique app name: deployed to DynamoDB Local, its package imported."""
    return on_dynamodb_local(EVERY_TYPE, dynamodb_local, tmp_path_factory.mktemp("codegen"), "cg")


@pytest.fixture(scope="module")
def seeded(deployed):
    """Two tenants with jobs of every status, due date, machine and cost; the tenants; readings; a catalogue."""
    gen, client, _ = deployed
    jobs = []
    for tenant in (A, B):
        data = gen.TenantData(tenant, client=client, env="dev")
        data.tenant.put(gen.TenantItem(name=f"tenant {tenant[:4]}"))
        for n in range(7):
            job = gen.JobsItem(
                job_id=f"J-{n:03d}", status=("OPEN", "RUNNING", "DONE")[n % 3], priority=1 + n % 3,
                machine=f"M{n % 2}-{tenant[:1]}" if n < 6 else "SHARED", due=date(2024, 5, 1 + n),
                started_at=datetime(2024, 4 + n % 2, 10 + n, 8, 0, tzinfo=UTC), cost=Decimal(n * 10) + Decimal("0.5"),
                blueprint=f"bp-{tenant[:1]}-{n}".encode())
            data.jobs.put(job)
            jobs.append((tenant, job))
        for seq in range(6):
            data.readings.put(gen.ReadingsItem(seq=seq, value=Decimal(seq) / 4))
    shared = gen.CrossTenantData(client=client, env="dev")
    for version in (1, 2, 3):
        shared.catalog.put(gen.CatalogItem(sku="sku-1", version=1_700_000_000 + version, price=Decimal("9.99")))
    return jobs


def every_page(method, *args, **kwargs):
    """All items of an access pattern, two at a time, following the cursors."""
    items, cursor = [], None
    while True:
        page = method(*args, limit=2, cursor=cursor, **kwargs)
        items += page.items
        if page.cursor is None:
            return items
        cursor = page.cursor


def job_ids(items) -> list[tuple[str, str]]:
    return sorted((str(i.tenant_id), i.job_id) for i in items)


def expected(jobs, tenant=None, **where) -> list[tuple[str, str]]:
    return sorted((t, j.job_id) for t, j in jobs if (tenant is None or t == tenant)
                  and all(test(getattr(j, name)) for name, test in where.items()))


def test_every_type_round_trips(deployed):
    gen, client, _ = deployed
    data = gen.TenantData(uuid.UUID(A), client=client, env="dev")
    job = gen.JobsItem(
        tenant_id=uuid.UUID(A), job_id="RT-1", status="RUNNING", priority=2, machine="M9", due=date(2024, 2, 29),
        started_at=datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC), expires_at=1_900_000_000,
        cost=Decimal("1234.5678"), blueprint=b"\x00\xffbinary", urgent=True,
        steps=["cut", 2, Decimal("2.5"), {"nested": [True, None]}], settings={"speed": 3, "mode": "fast", "x": b"\x01"},
        tags=frozenset({"red", "blue"}), batch_sizes=frozenset({1, Decimal("2.5")}),
        signatures=frozenset({b"a", b"\x00"}), operator_id=uuid.UUID(B), class_="A", shift_code="night")
    data.jobs.put(job)
    got = data.jobs.get("RT-1", consistent=True)
    assert got == job
    assert isinstance(got.cost, Decimal) and isinstance(got.priority, int) and isinstance(got.started_at, datetime)
    raw = client.get_item(TableName=data.jobs._table, Key={"tenant_id": {"S": A}, "job_id": {"S": "RT-1"}})["Item"]
    assert raw["due"] == {"S": "2024-02-29"} and raw["operator_id"] == {"S": B}
    assert raw["class"] == {"S": "A"} and raw["shift-code"] == {"S": "night"}
    assert raw["started_at"] == {"S": "2024-02-29T23:59:58.123456+00:00"}
    assert raw["tags"]["SS"] and raw["batch_sizes"]["NS"] and raw["signatures"]["BS"]

    sparse = gen.JobsItem(job_id="RT-2", tags=frozenset())  # an empty set is not stored (DynamoDB has none)
    data.jobs.put(sparse)
    assert data.jobs.get("RT-2") == gen.JobsItem(tenant_id=uuid.UUID(A), job_id="RT-2")
    data.jobs.delete("RT-1")
    data.jobs.delete("RT-2")
    assert data.jobs.get("RT-1") is None and data.jobs.get("RT-2") is None


def test_every_access_pattern_returns_exactly_its_items(deployed, seeded):
    gen, client, _ = deployed
    jobs = seeded
    for tenant in (A, B):
        data = gen.TenantData(tenant, client=client, env="dev")
        assert job_ids(every_page(data.jobs.jobs_of_a_tenant)) == expected(jobs, tenant)
        # The whole primary key is an exact lookup (issue 19): the item or None, not a page.
        assert job_ids([data.jobs.one_job("J-003")]) == [(tenant, "J-003")]
        assert data.jobs.one_job("J-999") is None
        assert job_ids(every_page(data.jobs.jobs_of_a_tenant, job_id="J-003")) == [(tenant, "J-003")]
        assert job_ids(every_page(data.jobs.jobs_of_a_tenant, job_id_begins_with="J-00")) == expected(jobs, tenant)
        assert job_ids(every_page(data.jobs.jobs_of_a_tenant, job_id_between=("J-002", "J-004"))) == [
            (tenant, "J-002"), (tenant, "J-003"), (tenant, "J-004")]

        open_jobs = every_page(data.jobs.open_jobs_of_a_tenant, status="OPEN")
        assert job_ids(open_jobs) == expected(jobs, tenant, status=lambda s: s == "OPEN")
        assert all(type(i).__name__ == "JobsByStatusItem" for i in open_jobs)  # keys only

        due = every_page(data.jobs.jobs_due, due_between=(date(2024, 5, 2), date(2024, 5, 4)))
        assert job_ids(due) == expected(jobs, tenant, due=lambda d: date(2024, 5, 2) <= d <= date(2024, 5, 4))
        assert {type(i).__name__ for i in due} == {"JobsByDueItem"} and all(i.machine for i in due)

        costly = every_page(data.jobs.jobs_by_cost, cost_between=(Decimal(20), 45))
        assert job_ids(costly) == expected(jobs, tenant, cost=lambda c: 20 <= c <= 45)
        assert all(type(i).__name__ == "JobsItem" for i in costly)  # projection all: the whole item

        in_may = every_page(data.jobs.jobs_started, started_at_begins_with="2024-05")
        assert job_ids(in_may) == expected(jobs, tenant, started_at=lambda s: s.month == 5)

        assert data.tenant.get_a_tenant().name == f"tenant {tenant[:4]}"
        assert data.tenant.get().name == f"tenant {tenant[:4]}"
        readings = every_page(data.readings.readings_in_a_range, seq_between=(2, 4))
        assert [(str(r.tenant_id), r.seq) for r in readings] == [(tenant, 2), (tenant, 3), (tenant, 4)]
        assert readings[0].value == Decimal("0.5")

    shared = gen.CrossTenantData(client=client, env="dev")
    on_shared = every_page(shared.jobs.jobs_on_a_machine, "SHARED")
    assert job_ids(on_shared) == expected(jobs, None, machine=lambda m: m == "SHARED")  # both tenants
    bounded = every_page(shared.jobs.jobs_on_a_machine, "M0-1", started_at_between=(
        datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 4, 30, tzinfo=UTC)))
    assert job_ids(bounded) == expected(jobs, A, machine=lambda m: m == "M0-1", started_at=lambda s: s.month == 4)
    found = shared.jobs.job_by_blueprint(b"bp-2-3").items
    assert [(str(i.tenant_id), i.job_id, i.status) for i in found] == [(B, "J-003", "OPEN")]
    versions = every_page(shared.catalog.versions_of_a_sku, "sku-1", version_between=(1_700_000_002, 1_700_000_003))
    assert [v.version for v in versions] == [1_700_000_002, 1_700_000_003]
    assert shared.catalog.get("sku-1", 1_700_000_001).price == Decimal("9.99")


def test_tenant_bound_and_cross_tenant_apis_are_apart(deployed):
    gen, _, _ = deployed
    assert not hasattr(gen.data.JobsRepository, "jobs_on_a_machine")
    assert not hasattr(gen.data.JobsRepository, "job_by_blueprint")
    assert not hasattr(gen.data.JobsRepository, "scan")
    assert {"jobs_on_a_machine", "job_by_blueprint"} <= set(vars(gen.data.JobsCrossTenant))
    assert not {"get", "put", "delete", "jobs_of_a_tenant"} & set(vars(gen.data.JobsCrossTenant))
    assert not hasattr(gen.TenantData(A, client=None, env="dev"), "catalog")


class NoCalls:
    """A client that fails the test if the repository reaches it."""

    def __getattr__(self, name):
        raise AssertionError(f"DynamoDB was called ({name}) before the isolation check")


def test_another_tenants_item_is_refused_before_any_call(deployed):
    gen, _, _ = deployed
    data = gen.TenantData(A, client=NoCalls(), env="dev")
    with pytest.raises(gen.TenantIsolationError, match=f"tenant {B}"):
        data.jobs.put(gen.JobsItem(tenant_id=uuid.UUID(B), job_id="X"))
    with pytest.raises(gen.TenantIsolationError):
        data.tenant.put(gen.TenantItem(tenant_id=uuid.UUID(B), name="not mine"))
    with pytest.raises(gen.TenantIsolationError):
        gen.TenantData("not-a-uuid", client=NoCalls(), env="dev")
    with pytest.raises(ValueError, match="unknown environment 'qa'"):
        gen.TenantData(A, client=NoCalls(), env="qa")


def test_cursors_cannot_cross_tenants_or_patterns(deployed, seeded):
    gen, client, _ = deployed
    a = gen.TenantData(A, client=client, env="dev")
    b = gen.TenantData(B, client=client, env="dev")
    cursor = a.jobs.jobs_of_a_tenant(limit=2).cursor
    assert cursor is not None
    assert len(a.jobs.jobs_of_a_tenant(limit=2, cursor=cursor).items) == 2  # A may go on

    refuses = gen.TenantData(B, client=NoCalls(), env="dev")
    with pytest.raises(gen.TenantIsolationError):
        refuses.jobs.jobs_of_a_tenant(cursor=cursor)
    # Rewriting the tenant inside the cursor does not help: its key still names A's partition.
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["t"] = B
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    with pytest.raises(gen.TenantIsolationError):
        refuses.jobs.jobs_of_a_tenant(cursor=forged)
    with pytest.raises(gen.InvalidCursor, match="belongs to jobs.jobs_of_a_tenant"):
        a.jobs.open_jobs_of_a_tenant(cursor=cursor)
    with pytest.raises(gen.InvalidCursor):
        a.jobs.jobs_of_a_tenant(cursor="not a cursor")
    assert b.jobs.jobs_of_a_tenant(limit=2).cursor != cursor

    signed = gen.TenantData(A, client=client, env="dev", cursor_secret=b"s3cret")
    signed_cursor = signed.jobs.jobs_of_a_tenant(limit=2).cursor
    assert len(signed.jobs.jobs_of_a_tenant(limit=2, cursor=signed_cursor).items) == 2
    with pytest.raises(gen.InvalidCursor, match="signature"):
        signed.jobs.jobs_of_a_tenant(cursor=cursor)  # unsigned
    with pytest.raises(gen.InvalidCursor, match="signature"):
        gen.TenantData(A, client=client, env="dev", cursor_secret=b"other").jobs.jobs_of_a_tenant(cursor=signed_cursor)


def test_conditional_put_and_dynamodb_errors_name_table_and_pattern(deployed, seeded):
    gen, client, app_name = deployed
    data = gen.TenantData(A, client=client, env="dev")
    with pytest.raises(gen.ConditionFailed) as failed:
        data.jobs.put(gen.JobsItem(job_id="J-001"), if_not_exists=True)
    assert failed.value.code == "ConditionalCheckFailedException"
    assert failed.value.table == f"{app_name}-dev-jobs"
    data.jobs.put(gen.JobsItem(job_id="NEW-1"), if_not_exists=True)
    data.jobs.delete("NEW-1")

    prod = gen.TenantData(A, client=client, env="prod")  # never deployed
    with pytest.raises(gen.DataAccessError, match=rf"^{app_name}-prod-jobs: jobs.open_jobs_of_a_tenant failed: "
                       "ResourceNotFoundException") as error:
        prod.jobs.open_jobs_of_a_tenant(status="OPEN")
    assert error.value.operation == "jobs.open_jobs_of_a_tenant"
    with pytest.raises(ValueError, match="give one of job_id, job_id_begins_with or job_id_between"):
        data.jobs.jobs_of_a_tenant(job_id="J-1", job_id_begins_with="J")


TENANTS = [A, B, "33333333-3333-4333-8333-333333333333"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(TENANTS), st.text("abcdef0123", min_size=1, max_size=6),
                          st.sampled_from(["OPEN", "RUNNING", "DONE"])), min_size=1, max_size=12))
def test_a_tenant_bound_repository_never_returns_another_tenants_item(deployed, items):
    gen, client, _ = deployed
    run = uuid.uuid4().hex[:8]  # the items of this example, apart from every other example's
    written: dict[str, dict[str, str]] = {t: {} for t in TENANTS}
    for tenant, suffix, status in items:
        job_id = f"P-{run}-{suffix}"
        gen.TenantData(tenant, client=client, env="dev").jobs.put(gen.JobsItem(job_id=job_id, status=status))
        written[tenant][job_id] = status  # a later put of the same key replaces the item
    for tenant in TENANTS:
        data = gen.TenantData(tenant, client=client, env="dev", cursor_secret=b"k")
        mine = every_page(data.jobs.jobs_of_a_tenant, job_id_begins_with=f"P-{run}-")
        assert {str(i.tenant_id) for i in mine} <= {tenant}
        assert {i.job_id: i.status for i in mine} == written[tenant]
        for status in ("OPEN", "DONE"):
            by_status = every_page(data.jobs.open_jobs_of_a_tenant, status=status)
            assert {str(i.tenant_id) for i in by_status} <= {tenant}
            assert {i.job_id for i in by_status if i.job_id.startswith(f"P-{run}-")} == {
                j for j, s in written[tenant].items() if s == status}


def test_tenant_client_assumes_a_role_with_the_tenant_session_tag(deployed, moto_server):
    import boto3

    gen, _, _ = deployed
    sts = boto3.client("sts", endpoint_url=moto_server, region_name="us-east-1")
    calls = []
    sts.meta.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(params))
    client = gen.tenant_client(A, role_arn="arn:aws:iam::123456789012:role/tenant-app", sts_client=sts,
                               region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    assert calls[0]["Tags"] == [{"Key": "tenant_id", "Value": A}]
    assert calls[0]["RoleArn"] == "arn:aws:iam::123456789012:role/tenant-app"
    credentials = client._request_signer._credentials
    assert credentials.access_key != "testing" and credentials.token  # the assumed role's, not the caller's


DOCS_MARK = "<!-- tests/integration/test_codegen_local.py runs this block against DynamoDB Local -->\n```python\n"


def test_the_example_in_the_docs_runs(dynamodb_local, tmp_path, monkeypatch):
    """docs/codegen.md's tenant-bound query, as written, on the project's schema (under a unique app name)."""
    app_name = f"doc{uuid.uuid4().hex[:10]}"
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_for_app(ROOT / "schema" / "tables.yaml", app_name))
    monkeypatch.setenv("JOBWORK_ROOT", str(dynamodb_local.root))
    result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema), "--yes"])
    assert result.exit_code == 0, result.output
    generate_package(schema, tmp_path, "jobwork_data")
    block = (ROOT / "docs" / "codegen.md").read_text().split(DOCS_MARK)[1].split("```")[0]
    local = f'boto3.client("dynamodb", endpoint_url="{dynamodb_local.endpoint}", region_name="us-east-1")'
    code = block.replace('boto3.client("dynamodb")', local, 1)
    assert code != block
    example = tmp_path / "example.py"
    example.write_text(code)
    # A process of its own, as an application would run it: the package from PYTHONPATH.
    done = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
