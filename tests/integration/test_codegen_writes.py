"""The data layer's writes beyond put/get/delete (issue 23, item 6), on DynamoDB Local, across two tenants.

Conditional update, optimistic versions, batch get/put bounded to the tenant, transactions across one
tenant's tables, and local_client().
"""

from __future__ import annotations

import pytest

from tests.codegen_support import FIXTURES
from tests.datalayer_support import on_dynamodb_local, scan_all

pytestmark = [pytest.mark.slow, pytest.mark.local]

WRITES = FIXTURES / "writes.yaml"
A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"


@pytest.fixture(scope="module")
def layer(dynamodb_local, tmp_path_factory):
    return on_dynamodb_local(WRITES, dynamodb_local, tmp_path_factory.mktemp("writes"), "wr")


def test_a_conditional_update_loses_no_concurrent_write(layer):
    gen, client, _ = layer
    a = gen.TenantData(A, client=client, env="dev")
    a.jobs.put(gen.JobsItem(job_id="J-1", status="RUNNING", note="started"))
    # Two workers read RUNNING; each moves the job on only if it is still RUNNING.
    a.jobs.update("J-1", set={"status": "DONE"}, if_={"status": "RUNNING"})
    with pytest.raises(gen.ConditionFailed):
        a.jobs.update("J-1", set={"status": "OPEN", "note": "reopened"}, if_={"status": "RUNNING"})
    job = a.jobs.get("J-1")
    assert (job.status, job.note) == ("DONE", "started")   # the second write changed nothing
    # An attribute name that is not a Python name goes through its Python name (shift_code).
    a.jobs.update("J-1", set={"shift_code": "night"}, remove=["note"])
    job = a.jobs.get("J-1")
    assert (job.shift_code, job.note) == ("night", None)
    # update never creates an item, and never reaches another tenant's item of the same key.
    with pytest.raises(gen.ConditionFailed):
        a.jobs.update("J-404", set={"status": "OPEN"})
    assert a.jobs.get("J-404") is None
    b = gen.TenantData(B, client=client, env="dev")
    with pytest.raises(gen.ConditionFailed):
        b.jobs.update("J-1", set={"status": "OPEN"})
    assert a.jobs.get("J-1").status == "DONE"


def test_optimistic_versions_refuse_a_stale_write(layer):
    gen, client, _ = layer
    a = gen.TenantData(A, client=client, env="dev")
    a.jobs.put(gen.JobsItem(job_id="V-1", status="OPEN"))
    first = a.jobs.get("V-1")
    assert first.version == 1
    with pytest.raises(gen.ConditionFailed):
        a.jobs.put(gen.JobsItem(job_id="V-1", status="DONE"))       # no version: create only
    a.jobs.put(first.model_copy(update={"status": "RUNNING"}))       # replaces version 1 only
    assert a.jobs.get("V-1").version == 2
    with pytest.raises(gen.ConditionFailed):
        a.jobs.put(first.model_copy(update={"status": "DONE"}))      # stale: still version 1
    a.jobs.update("V-1", set={"status": "DONE"}, expected_version=2)
    assert (a.jobs.get("V-1").status, a.jobs.get("V-1").version) == ("DONE", 3)
    with pytest.raises(gen.ConditionFailed):
        a.jobs.update("V-1", set={"status": "OPEN"}, expected_version=2)
    with pytest.raises(gen.ConditionFailed):
        a.jobs.delete("V-1", expected_version=2)
    a.jobs.delete("V-1", expected_version=3)
    assert a.jobs.get("V-1") is None


def test_unique_values_are_per_tenant_and_updates_claim_them(layer):
    gen, client, app_name = layer
    a, b = (gen.TenantData(t, client=client, env="dev") for t in (A, B))
    a.jobs.put(gen.JobsItem(job_id="U-1", code="C-1"))
    b.jobs.put(gen.JobsItem(job_id="U-1", code="C-1"))             # another tenant: allowed
    with pytest.raises(gen.UniqueViolation) as refused:
        a.jobs.put(gen.JobsItem(job_id="U-2", code="C-1"))
    assert (refused.value.attribute, refused.value.value) == ("code", "C-1")
    a.jobs.put(gen.JobsItem(job_id="U-2", code="C-2"))
    with pytest.raises(gen.UniqueViolation):
        a.jobs.update("U-2", set={"code": "C-1"}, expected_version=1)
    a.jobs.update("U-1", set={"code": "C-3"})
    a.jobs.update("U-2", set={"code": "C-1"})
    shared = gen.CrossTenantData(client=client, env="dev")
    shared.badges.put(gen.BadgesItem(badge_id="b1", serial="S-1"))
    with pytest.raises(gen.UniqueViolation):
        shared.badges.put(gen.BadgesItem(badge_id="b2", serial="S-1"))
    guards = {(g["tenant_id"]["S"], g["guard"]["S"]) for g in scan_all(client, f"{app_name}-dev-unique_guards")}
    assert {(A, "jobs#code#S:C-3"), (A, "jobs#code#S:C-1"), (B, "jobs#code#S:C-1"),
            ("#global#badges#serial#S:S-1", "#")} <= guards
    assert (A, "jobs#code#S:C-2") not in guards


def test_batches_are_bounded_to_the_tenant(layer):
    gen, client, _ = layer
    a, b = (gen.TenantData(t, client=client, env="dev") for t in (A, B))
    ids = [f"M-{n:03d}" for n in range(60)]                          # three BatchWriteItem calls of 25
    a.machines.batch_put([gen.MachinesItem(machine_id=i, name=f"a {i}", hours=n) for n, i in enumerate(ids)])
    b.machines.batch_put([gen.MachinesItem(machine_id=i, name=f"b {i}") for i in ids[:10]])
    got = a.machines.batch_get([*reversed(ids), "M-404", ids[0]])   # order kept, missing and repeats left out
    assert [m.machine_id for m in got] == list(reversed(ids))
    assert {str(m.tenant_id) for m in got} == {A} and got[-1].name == "a M-000"
    assert [m.name for m in b.machines.batch_get(ids[:3])] == ["b M-000", "b M-001", "b M-002"]
    with pytest.raises(gen.TenantIsolationError):
        a.machines.batch_put([gen.MachinesItem(machine_id="X-1"), gen.MachinesItem(tenant_id=B, machine_id="X-2")])
    assert a.machines.get("X-1") is None                           # refused before any call
    with pytest.raises(ValueError, match="two items with the key"):
        a.machines.batch_put([gen.MachinesItem(machine_id="D-1"), gen.MachinesItem(machine_id="D-1")])


def test_a_transaction_spans_one_tenants_tables_all_or_nothing(layer):
    gen, client, _ = layer
    a, b = (gen.TenantData(t, client=client, env="dev") for t in (A, B))
    a.machines.put(gen.MachinesItem(machine_id="T-M", hours=0))
    with a.transaction() as tx:
        a.jobs.put(gen.JobsItem(job_id="T-1", code="T-CODE", status="RUNNING"), transaction=tx)
        a.machines.update("T-M", set={"hours": 8}, transaction=tx)
    assert a.jobs.get("T-1").status == "RUNNING" and a.machines.get("T-M").hours == 8
    # One failing condition: nothing of the transaction is written.
    with pytest.raises(gen.ConditionFailed), a.transaction() as tx:
        a.machines.update("T-M", set={"hours": 16}, transaction=tx)
        a.jobs.update("T-1", set={"status": "DONE"}, if_={"status": "OPEN"}, transaction=tx)
    assert a.machines.get("T-M").hours == 8 and a.jobs.get("T-1").status == "RUNNING"
    # A unique violation inside a transaction: UniqueViolation, nothing written.
    with pytest.raises(gen.UniqueViolation), a.transaction() as tx:
        a.machines.update("T-M", set={"hours": 24}, transaction=tx)
        a.jobs.put(gen.JobsItem(job_id="T-2", code="T-CODE"), transaction=tx)
    assert a.machines.get("T-M").hours == 8 and a.jobs.get("T-2") is None
    # Another tenant's repository cannot join: refused before any call.
    with pytest.raises(gen.TenantIsolationError), a.transaction() as tx:
        b.machines.update("T-M", set={"hours": 1}, transaction=tx)
    # An exception in the block: nothing is sent.
    with pytest.raises(RuntimeError), a.transaction() as tx:
        a.machines.update("T-M", set={"hours": 99}, transaction=tx)
        raise RuntimeError("changed my mind")
    assert a.machines.get("T-M").hours == 8


def test_local_client_reads_the_endpoint_of_the_running_engine(layer, dynamodb_local, monkeypatch, tmp_path):
    gen, _, app_name = layer
    monkeypatch.setenv("JOBWORK_ROOT", str(dynamodb_local.root))
    client = gen.local_client()
    assert client.meta.endpoint_url == dynamodb_local.endpoint
    assert f"{app_name}-dev-jobs" in client.list_tables(ExclusiveStartTableName=app_name)["TableNames"]
    gen.TenantData(A, client=client, env="dev").machines.put(gen.MachinesItem(machine_id="L-1"))
    monkeypatch.setenv("JOBWORK_ROOT", str(tmp_path))
    with pytest.raises(RuntimeError, match="jobwork-infra local start"):
        gen.local_client()


LOCAL_MARK = "<!-- tests/integration/test_codegen_writes.py runs this block against DynamoDB Local (local client) -->\n```python\n"


def test_the_local_client_snippet_in_the_docs_runs(dynamodb_local, tmp_path):
    """docs/codegen.md's local_client() block, as written, in a process of its own: no region, no credentials."""
    import os
    import subprocess
    import sys

    from tests.codegen_support import ROOT

    work = tmp_path / "app"
    work.mkdir()
    on_dynamodb_local(ROOT / "schema" / "tables.yaml", dynamodb_local, work, "doc")
    generated = next(p for p in work.iterdir() if p.name.startswith("gen_"))
    generated.rename(work / "jobwork_data")
    block = (ROOT / "docs" / "codegen.md").read_text().split(LOCAL_MARK)[1].split("```")[0]
    (work / "example.py").write_text(block)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=str(work), JOBWORK_ROOT=str(dynamodb_local.root), AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    done = subprocess.run([sys.executable, str(work / "example.py")], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "[]"
