"""Names and tenant ids the generated code used to get wrong (issue 19, items 4 and 5)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jobwork_infra.project import check_project
from tests.codegen_support import FIXTURES, ROOT, generate_package, import_package

HEAD = "version: 1\napp: names\nenvironments:\n  dev: {}\ntables:\n"


def codes(tmp_path, tables: str, tenancy: str = "") -> set[str]:
    path = tmp_path / "tables.yaml"
    path.write_text(HEAD.replace("tables:\n", tenancy + "tables:\n") + textwrap.indent(textwrap.dedent(tables), "  "))
    return {d.code for d in check_project(path).diagnostics if d.is_error}


@pytest.mark.parametrize(("tables", "code"), [
    # tenant-id would become the Python name of the tenant field (A's put accepting tenant_id="tenantB").
    ("jobs:\n  sort_key: job_id\n  attributes:\n    job_id: string\n    tenant-id: string\n", "N111"),
    ("jobs:\n  sort_key: job_id\n  attributes:\n    job_id: string\n    shift-code: string\n    shift_code: string\n",
     "N110"),
    (("a:\n  sort_key: x\n  attributes:\n    x: string\n    y: string\n  local_indexes:\n    bbb: {sort_key: y}\n"
     "a_bbb: {}\n"), "N112"),
    *[(f"jobs:\n  sort_key: {name}\n  attributes:\n    {name}: string\n", "N113")
      for name in ("self", "cursor", "limit", "consistent", "sort_condition", "class")],
])
def test_names_the_generated_code_would_get_wrong_are_refused_by_validate(tmp_path, tables, code):
    assert code in codes(tmp_path, tables)


def test_attributes_named_like_the_types_are_mapped_and_import(tmp_path):
    tables = ("jobs:\n  sort_key: job_id\n  attributes:\n    job_id: string\n    UUID: uuid\n    datetime: datetime\n"
              "    str: string\n    date: date\n")
    assert codes(tmp_path, tables) == set()
    generate_package(tmp_path / "tables.yaml", tmp_path, "typed_names")
    gen = import_package(tmp_path, "typed_names")
    item = gen.JobsItem(job_id="J", UUID_=uuid.uuid4(), datetime_=datetime(2026, 1, 1, tzinfo=UTC), str_="s")
    assert item.model_dump(by_alias=True, exclude_none=True)["datetime"] == datetime(2026, 1, 1, tzinfo=UTC)


# -- tenant ids ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("tenants")
    generate_package(ROOT / "schema" / "tables.yaml", out, "uuid_tenancy")    # tenant_id: uuid
    generate_package(FIXTURES / "edge_names.yaml", out, "text_tenancy")       # org: string
    return import_package(out, "uuid_tenancy"), import_package(out, "text_tenancy")


@pytest.mark.parametrize("bad", [None, b"t1", 5, 5.0, "", "t#1", "t" * 257, "a\nb", ["t1"]])
def test_a_string_tenancy_takes_only_a_tenant_id_a_session_tag_can_carry(packages, bad):
    _, text = packages
    with pytest.raises(text.TenantIsolationError):
        text.TenantData(bad, client=object(), env="dev")


@pytest.mark.parametrize("bad", [None, 5, b"11111111-1111-4111-8111-111111111111", "not-a-uuid", ""])
def test_a_uuid_tenancy_takes_only_a_uuid(packages, bad):
    ids, _ = packages
    with pytest.raises(ids.TenantIsolationError):
        ids.TenantData(bad, client=object(), env="dev")


def test_good_tenant_ids_are_normalized(packages):
    ids, text = packages
    upper = "7F1C2A3E-0D4B-4C5E-9F60-1A2B3C4D5E6F"
    assert ids.TenantData(upper, client=object(), env="dev").tenant_id == upper.lower()
    assert ids.TenantData(uuid.UUID(upper), client=object(), env="dev").tenant_id == upper.lower()
    # Spaces, letters of any script and _ . : / = + - @ are what an IAM session tag value may hold:
    # pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*, at most 256 (https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html)
    for good in ("acme", "acme corp", "Zürich-1", "a:b/c=d+e@f", "t" * 256):
        assert text.TenantData(good, client=object(), env="dev").tenant_id == good


class RecordingSts:
    def __init__(self):
        self.calls = []

    def assume_role(self, **params):
        self.calls.append(params)
        return {"Credentials": {"AccessKeyId": "AKIA", "SecretAccessKey": "s", "SessionToken": "t"}}


@pytest.mark.parametrize("bad", ["t#1", "t" * 257, "", "a\tb"])
def test_tenant_client_refuses_ids_a_session_tag_cannot_carry(packages, bad):
    _, text = packages
    sts = RecordingSts()
    with pytest.raises(text.TenantIsolationError):
        text.tenant_client(bad, role_arn="arn:aws:iam::123456789012:role/t", sts_client=sts, region_name="us-east-1")
    assert sts.calls == []   # refused before STS is asked


def test_tenant_client_tags_the_session_with_the_tenant(packages):
    _, text = packages
    sts = RecordingSts()
    text.tenant_client("acme corp", role_arn="arn:aws:iam::123456789012:role/t", sts_client=sts,
                       region_name="us-east-1")
    [call] = sts.calls
    assert call["Tags"] == [{"Key": "org", "Value": "acme corp"}]
    assert call["RoleSessionName"] == "tenant-acme-corp"   # [\w+=,.@-]* only (API_AssumeRole.html)


# -- hostile but valid names ------------------------------------------------------------------

HOSTILE = ["class", "def", "UUID", "datetime", "date", "Decimal", "Any", "Literal", "str", "int", "list",
           "model_dump", "model_config", "schema", "json", "copy", "dict", "self", "cursor", "limit", "item",
           "set", "remove", "if_", "transaction", "version", "9lives", "a-b", "a.b", "_x", "x__", "Field",
           "BaseModel", "ConfigDict", "TypedDict", "Page", "Repository", "None", "True", "match", "type"]
NAMES = st.one_of(st.sampled_from(HOSTILE), st.from_regex(r"[a-zA-Z][a-zA-Z0-9_.-]{0,12}", fullmatch=True))
TYPES = st.sampled_from(["string", "number", "uuid", "datetime", "date", "boolean", "binary", "string_set"])
SAMPLES = {"string": "s", "number": 7, "uuid": uuid.UUID(int=7), "datetime": datetime(2026, 1, 2, tzinfo=UTC),
           "date": datetime(2026, 1, 2).date(), "boolean": True, "binary": b"\x00\x01",
           "string_set": frozenset({"a", "b"})}


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=st.dictionaries(NAMES, TYPES, min_size=1, max_size=6), sort_key=NAMES)
def test_hostile_but_valid_names_import_type_check_and_round_trip(tmp_path_factory, attributes, sort_key):
    out = tmp_path_factory.mktemp("hostile")
    attributes = {k: v for k, v in attributes.items() if k not in (sort_key, "tenant_id")}
    lines = [f"    {sort_key!r}: string"] + [f"    {name!r}: {kind}" for name, kind in attributes.items()]
    schema = out / "tables.yaml"
    schema.write_text(HEAD + f"  jobs:\n    sort_key: {sort_key!r}\n    attributes:\n" + "\n".join(
        "  " + line for line in lines) + f"\n    access_patterns:\n      - {{name: jobs, key: [tenant_id, {sort_key!r}]}}\n")
    project = check_project(schema)
    assume(project.ok)   # valid names only: the rest is refused by validate (tested above)
    package = f"hostile_{uuid.uuid4().hex[:8]}"
    generate_package(schema, out, package)
    gen = import_package(out, package)
    typed = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
                            str(out / ".mypy"), "-p", package], cwd=out, capture_output=True, text=True,
                           timeout=300, check=False)
    assert typed.returncode == 0, typed.stdout + typed.stderr
    fields = {}
    for name, field in gen.JobsItem.model_fields.items():
        stored = field.serialization_alias or name
        kind = attributes.get(stored, "string")
        fields[name] = SAMPLES[kind]
    fields.pop("tenant_id", None)
    item = gen.JobsItem(**fields)
    runtime = sys.modules[f"{package}._runtime"]
    stored = runtime.serialize_item(item.model_dump(by_alias=True, exclude_none=True))
    back = gen.JobsItem.model_validate(runtime.deserialize_item(stored, runtime.stored_names(gen.JobsItem)))
    assert back == item
