"""Budgets: every AWS limit validate checks passes exactly at the limit and fails one past it; the
packing of the tenant policies; several stacks; and (slow) the estimates against real synth output.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
from typer.testing import CliRunner

from bench.generate import make_schema
from jobwork_infra import budgets
from jobwork_infra.cli import app
from jobwork_infra.errors import Severity
from jobwork_infra.model import parse_schema, resolve
from jobwork_infra.project import check_project

HEADER = "version: 1\napp: big\nenvironments:\n  dev: {}\n"
PLAIN = "{tenant_scoped: false, partition_key: id, attributes: {id: string}"


def findings(text: str, prefix: str = "B") -> list[tuple[str, Severity, int]]:
    """(code, severity, line) of the findings whose code starts with `prefix`."""
    project = check_project("inline.yaml", text)
    return [(d.code, d.severity, d.location.line) for d in project.diagnostics if d.code.startswith(prefix)]


def errors(text: str, code: str) -> list[int]:
    return [line for c, severity, line in findings(text) if c == code and severity is Severity.ERROR]


def plain_tables(n: int, extra: str = "") -> str:
    """n tables outside tenant isolation (no policy): exactly n resources; table i is on line 5 + i."""
    return HEADER + "tables:\n" + "".join(f"  t{i:03d}: {PLAIN}{extra}}}\n" for i in range(1, n + 1))


# --- each limit: pass at it, fail one past it --------------------------------------------------

def test_resources_at_the_limit_pass_and_one_past_fails_at_that_table():
    assert errors(plain_tables(500), "B001") == []
    assert ("B001", Severity.WARNING, 5 + 401) in findings(plain_tables(500))  # 401 > 80 % of 500
    assert errors(plain_tables(501), "B001") == [5 + 501]


def test_tenant_policies_count_as_resources():
    text = HEADER + "tables:\n" + "".join(f"  t{i:03d}: {{}}\n" for i in range(1, 501))
    [usage] = budgets.usage(resolve(check_project("x.yaml", text).schema, "dev"))
    assert usage.resources == 500 + 2 * len(usage.policies) > 500  # each policy and its read-only twin
    assert errors(text, "B001")


def test_outputs_at_the_limit_pass_and_one_past_fails():
    # TableArnPrefix + one stream ARN per table with a stream
    assert errors(plain_tables(199, ", stream: keys_only"), "B002") == []
    assert errors(plain_tables(200, ", stream: keys_only"), "B002") == [5 + 200]


def tagged(n: int) -> str:
    tags = "".join(f"      tag{i:02d}: v\n" for i in range(n))
    return HEADER + "tables:\n  t:\n    tags:\n" + tags


def test_tags_at_the_limit_pass_and_one_past_fails():
    assert errors(tagged(46), "B006") == []  # 46 + app, env, table, managed-by = 50
    assert ("B006", Severity.WARNING, 7) in findings(tagged(46))  # at `tags:` of the table
    assert errors(tagged(47), "B006") == [7]


def test_reserved_tag_prefix_in_any_layer():
    text = HEADER.replace("dev: {}", "dev: {tags: {AWS:team: x}}") + "tables:\n  t: {tags: {aws:cost: y, ok: z}}\n"
    assert errors(text, "B007") == [4, 6]


def test_policy_name_at_128_passes_and_129_fails():
    suffix = len("big--TenantDataAccess")
    for env_length, fails in ((128 - suffix, False), (129 - suffix, True)):
        text = f"version: 1\napp: big\nenvironments:\n  {'e' * env_length}: {{}}\ntables:\n  t: {{}}\n"
        assert bool(errors(text, "B005")) is fails


def test_stack_name_past_128_is_located_at_the_stack_option():
    text = HEADER + f"defaults:\n  stack: {'s' * 64}\n" + "tables:\n  t: {tenant_scoped: false, partition_key: id, " \
        "attributes: {id: string}}\n"
    assert errors(text, "B005") == []  # big-dev- + 64 = 72
    long_env = HEADER.replace("dev: {}", f"{'d' * 60}: {{}}")
    text = long_env + f"defaults:\n  stack: {'s' * 64}\n" + "tables:\n  t: {tenant_scoped: false, " \
        "partition_key: id, attributes: {id: string}}\n"
    assert errors(text, "B005") == [6]  # big- + 60 + - + 64 = 129


def index_name(i: int, pad: int) -> str:
    return f"g{i:02d}{'x' * (60 + (pad if i == 0 else 0))}"


def wide_table(name_length: int, pad: int = 0) -> str:
    """One tenant-scoped table with 20 tenant-scoped GSIs, its name `name_length` long (and the
    first index's name `pad` characters longer)."""
    gsis = "".join(f"      {index_name(i, pad)}: {{partition_key: tenant_id, sort_key: s}}\n" for i in range(20))
    return (HEADER.replace("dev: {}", "dev: {region: eu-west-1}") + "tables:\n  wide:\n    table_name: "
            + "w" * name_length + "\n    sort_key: s\n    attributes: {s: string}\n    global_indexes:\n" + gsis)


def by_hand_policy_characters(name_length: int, pad: int = 0) -> int:
    """The policy document written out by hand, as IAM stores it, counted without white space."""
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/" + "w" * name_length
    resources = [arn] + [f"{arn}/index/{index_name(i, pad)}" for i in range(20)]
    document = (
        '{ "Statement": [ { "Action": [ "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", '
        '"dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", '
        '"dynamodb:ConditionCheckItem" ], "Condition": { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": '
        '[ "${aws:PrincipalTag/tenant_id}" ] } }, "Effect": "Allow", "Resource": [ '
        + ", ".join(f'"{r}"' for r in resources) + ' ], "Sid": "TenantItemsOnly" } ], "Version": "2012-10-17" }')
    return len(re.sub(r"\s", "", document))


def test_policy_characters_are_counted_as_iam_does():
    for name_length in (100, 200):
        schema = check_project("x.yaml", wide_table(name_length)).schema
        [usage] = budgets.usage(resolve(schema, "dev"))
        [policy] = usage.policies
        assert policy.characters == by_hand_policy_characters(name_length)


def test_one_table_at_the_policy_limit_passes_and_one_character_more_fails():
    # 21 ARNs each carry the table name: 21 characters per character of the name
    fits = (budgets.MAX_POLICY_CHARS - by_hand_policy_characters(0)) // 21
    pad = budgets.MAX_POLICY_CHARS - by_hand_policy_characters(fits)  # the rest, on one index name
    assert by_hand_policy_characters(fits, pad) == budgets.MAX_POLICY_CHARS
    assert errors(wide_table(fits, pad), "B004") == []
    assert errors(wide_table(fits, pad + 1), "B004") == [6]


def test_template_bytes_past_the_inline_limit_warn_and_past_s3_fail():
    warned = findings(plain_tables(100))
    assert [(c, s) for c, s, _ in warned if c == "B003"] == [("B003", Severity.NOTE)]
    assert errors(plain_tables(100), "B003") == []
    tags = "".join(f"    {'k' * 124}{i:04d}: {'v' * 256}\n" for i in range(36))
    big = HEADER + "defaults:\n  tags:\n" + tags + "tables:\n" + "".join(
        f"  t{i:03d}: {PLAIN}}}\n" for i in range(1, 81))
    [line] = errors(big, "B003")
    [usage] = budgets.usage(resolve(check_project("x.yaml", big).schema, "dev"))
    crossing = next(i for i, (_, used) in enumerate(usage.running["template_bytes"]) if used > budgets.MAX_TEMPLATE_S3)
    assert line == 4 + 2 + 36 + 1 + crossing + 1  # header, defaults and tags, the tags, tables:


# --- packing ------------------------------------------------------------------------------------

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def tenant_tables(keys: list[str], encrypted: set[str] = frozenset()) -> dict:
    def options(k: str) -> str:
        return f", encryption: {{kms_key_arn: '{KEY}'}}" if k in encrypted else ""

    text = HEADER + "tables:\n" + "".join(
        f"  {k}: {{sort_key: s, attributes: {{s: string}}, global_indexes: {{by_s: {{partition_key: tenant_id, "
        f"sort_key: s}}}}{options(k)}}}\n" for k in keys)
    return resolve(check_project("x.yaml", text).schema, "dev").tables


def placement(tables: dict) -> dict[str, int]:
    policies = budgets.pack_tenant_policies("big-dev", tables, "tenant_id", None)
    assert all(p.characters <= budgets.MAX_POLICY_CHARS for p in policies)
    return {key: p.number for p in policies for key in p.tables}


def test_packing_is_deterministic_and_every_policy_fits():
    keys = [f"t{i:03d}" for i in range(120)]
    first = placement(tenant_tables(keys))
    assert first == placement(tenant_tables(keys))
    assert set(first) == set(keys) and max(first.values()) > 2


@pytest.mark.parametrize("position", [0, 1, 37, 60, 119, 120])
def test_adding_a_table_moves_tables_only_to_higher_numbered_policies(position):
    keys = [f"t{i:03d}" for i in range(120)]
    before = placement(tenant_tables(keys))
    after = placement(tenant_tables(keys[:position] + ["added"] + keys[position:]))
    assert all(after[key] >= before[key] for key in keys)
    if position == 120:  # appended: nothing moves at all
        assert all(after[key] == before[key] for key in keys)


@pytest.mark.parametrize("position", [0, 50, 120])
def test_adding_a_table_with_a_key_also_moves_tables_only_forward(position):
    keys = [f"t{i:03d}" for i in range(120)]
    encrypted = {k for i, k in enumerate(keys) if i % 4 == 0}
    for before_encrypted in (set(), encrypted):  # the stack's first key, and one more
        before = placement(tenant_tables(keys, before_encrypted))
        after = placement(tenant_tables(keys[:position] + ["added"] + keys[position:], before_encrypted | {"added"}))
        assert all(after[key] >= before[key] for key in keys)


def test_policies_are_granted_exactly_the_tenant_scoped_tables_and_indexes():
    text = HEADER + """tables:
  a: {sort_key: s, attributes: {s: string, o: string}, global_indexes: {by_o: {partition_key: o, tenant_scoped: false},
      by_s: {partition_key: tenant_id, sort_key: s}}, local_indexes: {l: {sort_key: o}}}
  shared: {tenant_scoped: false, partition_key: id, attributes: {id: string}}
"""
    tables = resolve(check_project("x.yaml", text).schema, "dev").tables
    assert budgets.tenant_resources(tables["a"]) == ["", "/index/by_s", "/index/l"]
    assert budgets.tenant_resources(tables["shared"]) == []


# --- lanes ------------------------------------------------------------------------------------

def test_tables_with_indexes_wait_in_lanes():
    keys = [f"t{i:03d}" for i in range(25)]
    lanes = budgets.index_lanes(tenant_tables(keys))
    lane = budgets.INDEX_CREATION_LANES
    assert lanes == {keys[i]: keys[i - lane] for i in range(lane, 25)}


# --- several stacks ---------------------------------------------------------------------------

STACKED = HEADER.replace("dev: {}", "dev: {}\n  prod: {stack: main}") + """defaults:
  stack: shared
tables:
  a: {}
  b: {stack: orders}
  c: {}
"""


def test_stack_option_from_table_environment_and_defaults():
    schema = check_project("x.yaml", STACKED).schema
    dev, prod = resolve(schema, "dev"), resolve(schema, "prod")
    # no table left in the main stack: it is not written (a template needs a resource)
    assert {name: list(t) for name, t in dev.stacks.items()} == {
        "big-dev-orders": ["b"], "big-dev-shared": ["a", "c"]}
    assert {name: list(t) for name, t in prod.stacks.items()} == {
        "big-prod-main": ["a", "c"], "big-prod-orders": ["b"]}


def test_all_tables_in_one_named_stack_is_not_the_main_stack():
    from jobwork_infra.compile import synth_template
    from jobwork_infra.errors import JobworkError

    resolved = check_project("x.yaml", HEADER + "defaults: {stack: data}\ntables:\n  t: {}\n").resolve("dev")
    assert list(resolved.stacks) == ["big-dev-data"]
    with pytest.raises(JobworkError, match="only the main stack big-dev"):
        synth_template(resolved)  # the single-stack deploy would deploy it under the wrong name


def test_a_bad_stack_name_is_located():
    [(code, _, line)] = findings(HEADER + "tables:\n  t: {stack: no_underscores}\n", "M")
    assert (code, line) == ("M002", 6)


def test_a_thousand_tables_without_stack_are_refused_with_where_to_split():
    project = check_project("tables.yaml", make_schema(1000))
    [resources] = [d for d in project.diagnostics if d.code == "B001"]
    assert resources.is_error and resources.path == ("tables", "table_00476")
    assert "`stack: part2`" in resources.hint and "table_00476" in resources.hint
    assert not project.ok


def test_the_same_thousand_tables_over_several_stacks_validate():
    project = check_project("tables.yaml", make_schema(1000, tables_per_stack=250))
    assert project.ok, [str(d.message) for d in project.diagnostics if d.is_error][:3]
    resolved = resolve(project.schema, "prod")
    assert list(resolved.stacks) == ["bench-prod", "bench-prod-part2", "bench-prod-part3", "bench-prod-part4"]
    for usage in budgets.usage(resolved):
        assert usage.resources <= budgets.MAX_RESOURCES and usage.outputs <= budgets.MAX_OUTPUTS
        assert usage.template_bytes <= budgets.MAX_TEMPLATE_S3
        assert usage.largest_policy <= budgets.MAX_POLICY_CHARS


def test_validate_json_shows_each_stacks_budgets(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(STACKED)
    result = CliRunner().invoke(app, ["validate", "--schema", str(path), "--format", "json"])
    stacks = json.loads(result.stdout)["stacks"]
    assert [s["stack"] for s in stacks["dev"]] == ["big-dev-orders", "big-dev-shared"]
    shared = stacks["dev"][1]
    assert shared["resources"] == {"used": 4, "limit": 500}  # two tables, their tenant policy and its twin
    assert shared["outputs"] == {"used": 3, "limit": 200}
    assert shared["tenant_policies"][0]["name"] == "big-dev-shared-TenantDataAccess"


def test_docs_show_each_stacks_budgets(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(STACKED)
    result = CliRunner().invoke(app, ["docs", "--schema", str(path)])
    assert result.exit_code == 0, result.output
    assert "| dev | `big-dev-shared` | 2 | 4 / 500 | 3 / 200 |" in result.stdout


def test_print_of_several_stacks_asks_which(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(STACKED)
    result = CliRunner().invoke(app, ["synth", "--env", "dev", "--schema", str(path), "--print"])
    assert result.exit_code == 2
    assert "--stack:big-dev-orders,big-dev-shared" in re.sub(r"[\s│]", "", result.output)  # rich wraps it


def test_the_model_has_the_stack_option_where_the_options_are():
    schema, found = parse_schema(check_project("x.yaml", STACKED).document)
    assert not found and schema.defaults.stack == "shared" and schema.environments["prod"].stack == "main"


# --- against real synth output (slow: CDK on Node) -----------------------------------------------

def resolve_tokens(value, template: dict, region: str = budgets.LONGEST_REGION,
                   partition: str = budgets.LONGEST_PARTITION):
    """A policy document as IAM stores it once CloudFormation resolved the template's intrinsics."""
    if isinstance(value, list):
        return [resolve_tokens(v, template, region, partition) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        name = template["Resources"][logical]["Properties"]["TableName"]
        return f"arn:{partition}:dynamodb:{region}:{budgets.ACCOUNT}:table/{name}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve_tokens(p, template, region, partition) for p in parts)
    if "Fn::Sub" in value:
        return value["Fn::Sub"].replace("${AWS::Region}", region)
    return {k: resolve_tokens(v, template, region, partition) for k, v in value.items()}


def policies_of(template: dict, prefix: str = "TenantDataAccess") -> dict[str, dict]:
    """The read-write tenant policies (prefix TenantDataRead: their read-only twins)."""
    return {lid: r for lid, r in template["Resources"].items()
            if r["Type"] == "AWS::IAM::ManagedPolicy" and lid.startswith(prefix)}


def lint_errors(template: dict, region: str = "us-east-1") -> list[str]:
    import cfnlint.api

    return [f"{m.rule.id}: {m.message}" for m in cfnlint.api.lint(json.dumps(template), regions=[region])
            if m.rule.id.startswith("E")]


SIXTY = HEADER + "tables:\n" + "".join(
    f"  table_{i:02d}:\n    sort_key: item_id\n    attributes: {{item_id: uuid, status: string}}\n"
    f"    global_indexes: {{by_status: {{partition_key: tenant_id, sort_key: status}}}}\n" for i in range(60))


@pytest.fixture(scope="module")
def sixty():
    """The issue's case: 60 tenant-scoped tables with a GSI each (one synth), and its stack object."""
    from jobwork_infra.compile import build_stacks, new_app

    resolved = check_project("sixty.yaml", SIXTY).resolve("dev")
    app_ = new_app()
    stacks = build_stacks(resolved, app_)
    assembly = app_.synth()
    template = assembly.get_stack_by_name("big-dev").template
    return resolved, stacks["big-dev"], json.loads(json.dumps(template))


@pytest.mark.slow
def test_sixty_tenant_tables_fit_iams_limit_in_every_policy(sixty):
    resolved, _, template = sixty
    policies = policies_of(template)
    assert len(policies) >= 2  # one policy could not hold them (9,865 characters before packing)
    [usage] = budgets.usage(resolved)
    counted = {}
    for policy in policies.values():
        document = resolve_tokens(policy["Properties"]["PolicyDocument"], template)
        counted[policy["Properties"]["ManagedPolicyName"]] = budgets.iam_characters(document)
        assert re.sub(r"\s", "", json.dumps(document)) == json.dumps(document, separators=(",", ":"))
    assert all(n <= budgets.MAX_POLICY_CHARS for n in counted.values())
    assert counted == {p.name: p.characters for p in usage.policies}  # validate's count is exact
    twins = {p["Properties"]["ManagedPolicyName"]: budgets.iam_characters(
        resolve_tokens(p["Properties"]["PolicyDocument"], template)) for p in policies_of(template, "TenantDataRead").values()}
    assert twins == {budgets.read_policy_name("big-dev", p.number): p.read_characters for p in usage.policies}
    # every tenant-scoped table and index granted, once
    granted = [r for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
               for r in resolve_tokens(s["Resource"], template)]
    assert len(granted) == len(set(granted)) == 120
    assert lint_errors(template) == []


@pytest.mark.slow
def test_sixty_tables_policy_order_and_creation_lanes(sixty):
    _, stack, template = sixty
    policies = list(policies_of(template))
    for lower, higher in itertools.pairwise(policies):
        assert template["Resources"][lower]["DependsOn"] == [higher]  # the new home exists first
    assert "DependsOn" not in template["Resources"][policies[-1]]
    waits = {lid: r.get("DependsOn", []) for lid, r in template["Resources"].items()
             if r["Type"] == "AWS::DynamoDB::Table"}
    starters = [lid for lid, deps in waits.items() if not deps]
    assert len(starters) == budgets.INDEX_CREATION_LANES  # at most 10 CREATING at once
    assert all(len(deps) == 1 for deps in waits.values() if deps)
    assert sorted(stack.tables) == sorted(f"table_{i:02d}" for i in range(60))  # for CDK users
    assert len(stack.tenant_policies) == len(policies)


@pytest.mark.slow
def test_template_size_estimate_is_within_three_percent(sixty):
    from tests.regenerate_golden import CASES, golden_path

    resolved, _, template = sixty
    cases = [(resolved, template)]
    for name, (schema, env) in CASES.items():
        cases.append((check_project(schema).resolve(env), json.loads(golden_path(name).read_text())))
    for resolved, real in cases:
        [usage] = budgets.usage(resolved)
        size = len(json.dumps(real, separators=(",", ":")))
        assert abs(usage.template_bytes - size) <= 0.03 * size, (resolved.stack_name, usage.template_bytes, size)
        assert usage.resources == len(real["Resources"]) and usage.outputs == len(real["Outputs"])


@pytest.mark.slow
def test_a_thousand_tables_over_several_stacks_synthesize_within_every_limit(tmp_path):
    """The issue's case, synthesized once: every stack in the assembly, each under every limit and
    clean under cfn-lint (linted in parallel: about 20 s a template)."""
    from concurrent.futures import ProcessPoolExecutor

    from jobwork_infra.compile import synth_assembly

    resolved = check_project("tables.yaml", make_schema(1000, tables_per_stack=250)).resolve("prod")
    paths = synth_assembly(resolved, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(paths) == set(resolved.stacks) <= set(manifest["artifacts"])
    templates = {name: json.loads(path.read_text()) for name, path in paths.items()}
    usages = {u.name: u for u in budgets.usage(resolved)}
    for name, template in templates.items():
        assert len(template["Resources"]) == usages[name].resources <= budgets.MAX_RESOURCES
        assert len(template["Outputs"]) == usages[name].outputs <= budgets.MAX_OUTPUTS
        assert len(template.get("Parameters", {})) == 0
        size = len(json.dumps(template, separators=(",", ":")))
        assert size <= budgets.MAX_TEMPLATE_S3 and abs(usages[name].template_bytes - size) <= 0.03 * size
        for policy in policies_of(template).values():
            document = resolve_tokens(policy["Properties"]["PolicyDocument"], template, "ap-south-1", "aws")
            assert budgets.iam_characters(document) <= budgets.MAX_POLICY_CHARS
    assert sum(len(t["Resources"]) - 2 * len(policies_of(t)) for t in templates.values()) == 1000  # and twins
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = dict(zip(templates, pool.map(lint_errors, templates.values(), ["ap-south-1"] * 4), strict=True))
    assert results == {name: [] for name in templates}


def test_one_template_of_several_stacks_is_a_clear_error():
    from jobwork_infra.compile import synth_template
    from jobwork_infra.errors import JobworkError

    resolved = check_project("x.yaml", STACKED).resolve("dev")
    with pytest.raises(JobworkError, match="big-dev-orders, big-dev-shared") as raised:
        synth_template(resolved)  # refused before any synth: deploy reports it, exit 1
    assert "jobwork-infra synth --env dev" in raised.value.hint


@pytest.mark.slow
def test_sixty_tables_template_deploys_to_cloudformation(sixty, moto_endpoint):
    """The packed template is accepted and created by CloudFormation (the moto server on 127.0.0.1):
    every table, every policy, and the policies as IAM stores them are each under 6,144 characters."""
    import boto3

    _, _, template = sixty
    cfn = boto3.client("cloudformation", endpoint_url=moto_endpoint, region_name="us-east-1")
    cfn.create_stack(StackName="big-dev", TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName="big-dev", WaiterConfig={"Delay": 1})
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    names = dynamodb.get_paginator("list_tables").paginate().build_full_result()["TableNames"]
    assert sorted(names) == sorted(f"big-dev-table_{i:02d}" for i in range(60))
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    stored = {p["PolicyName"]: p for p in iam.list_policies(Scope="Local")["Policies"]}
    assert sorted(stored) == sorted(r["Properties"]["ManagedPolicyName"] for r in [
        *policies_of(template).values(), *policies_of(template, "TenantDataRead").values()])
    for policy in stored.values():
        document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        text = document["PolicyVersion"]["Document"]
        text = text if isinstance(text, str) else json.dumps(text)
        assert "arn:aws:dynamodb:us-east-1:123456789012:table/big-dev-table_" in text  # resolved by CloudFormation
        assert len(re.sub(r"\s", "", text)) <= budgets.MAX_POLICY_CHARS


@pytest.mark.slow  # not CDK, but 10,000 tables take a few seconds to load
def test_ten_thousand_tables_are_refused_by_validate_without_a_synth():
    import subprocess
    import sys

    text = HEADER + "tables:\n" + "".join(f"  t{i:05d}: {{}}\n" for i in range(10_000))
    code = ("import json, sys; from jobwork_infra.project import check_project; "
            "p = check_project('big.yaml', sys.stdin.read()); "
            "print(json.dumps({'found': {d.code: d.location.line for d in p.diagnostics if d.is_error}, "
            "'cdk': 'aws_cdk' in sys.modules}))")
    result = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["cdk"] is False  # nothing was synthesized
    lines = report["found"]
    assert set(lines) == {"B001", "B003"}
    # B001 sits at the first table where tables + their tenant policies pass 500 (table i is on line 6 + i)
    crossing = lines["B001"] - 6
    tables = resolve(check_project("x.yaml", text).schema, "dev").tables
    def resources(n: int) -> int:
        return n + 2 * len(budgets.pack_tenant_policies("big-dev", dict(list(tables.items())[:n]), "tenant_id", None))

    assert resources(crossing) <= 500 < resources(crossing + 1)
