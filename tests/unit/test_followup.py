"""Every command the tool prints runs as printed: it parses with the Typer app and names the same target.

Issue 23: `deploy --local --dry-run --plan-out F` said "apply with `jobwork-infra deploy --env dev --plan F`",
which, run exactly, targets CloudFormation; `import` suggested `aws dynamodb list-tables` without the
endpoint, which lists the real account. Hints are built by jobwork_infra/followup.py; these tests parse
them (the helper's, and those the CLI prints in real runs) and compare their target with the run's.
"""

from __future__ import annotations

import re
import shlex
import textwrap

import pytest
import typer

from jobwork_infra.cli import app
from jobwork_infra.followup import Invocation, aws_command, command, schema_command
from tests.helpers import run_cli as run

ROOT_COMMAND = typer.main.get_command(app)
TARGETED = {"deploy", "destroy", "drift", "import", "status"}


def parse(hint: str) -> tuple[str, dict]:
    """The command path and its parameters as the Typer app reads them (a usage error fails the test)."""
    words = shlex.split(hint)
    assert words[0] == "jobwork-infra", hint
    ctx = ROOT_COMMAND.make_context("jobwork-infra", words[1:])
    command_obj, path, rest = ROOT_COMMAND, [], _rest(ctx)
    while isinstance(command_obj, typer.core.TyperGroup):
        name, command_obj, rest = command_obj.resolve_command(ctx, rest)
        path.append(name)
        ctx = command_obj.make_context(name, rest, parent=ctx)
        rest = _rest(ctx)
    return " ".join(path), ctx.params


def _rest(ctx) -> list[str]:
    # A group keeps the subcommand and what follows it apart (click's protected args; typer's vendored
    # click names the attribute with an underscore).
    protected = getattr(ctx, "protected_args", None) or getattr(ctx, "_protected_args", [])
    return [*protected, *ctx.args]


def assert_same_target(hint: str, invocation: Invocation) -> None:
    verb, params = parse(hint)
    if verb in TARGETED:
        assert params["env"] == invocation.env, hint
        assert bool(params["local"]) == invocation.local, hint
        assert params["endpoint_url"] == invocation.endpoint_url, hint
        assert params["profile"] == (None if invocation.local else invocation.profile), hint
        assert params["region"] == (None if invocation.local else invocation.region), hint
    if "schema" in params and invocation.schema:
        assert params["schema"] == invocation.schema, hint


def hints_in(output: str) -> list[str]:
    """The jobwork-infra commands an output names, as the user would copy them (between backticks)."""
    flat = " ".join(output.split())  # rich may wrap a long hint
    return re.findall(r"`(jobwork-infra [^`]+)`", flat)


INVOCATIONS = [
    Invocation(env="dev", local=True),
    Invocation(env="dev", local=True, schema="infra/tables.yaml"),
    Invocation(env="prod", endpoint_url="http://127.0.0.1:4566", region="eu-west-1"),
    Invocation(env="prod", profile="prod-admin", region="ap-south-1", schema="my schema/tables.yaml"),
    Invocation(env="prod"),
]


@pytest.mark.parametrize("invocation", INVOCATIONS, ids=lambda i: " ".join(i.target_args()) or "aws")
@pytest.mark.parametrize("verb, args", [
    ("deploy", ("--dry-run", "--plan-out", "plan dev.json")),
    ("deploy", ("--plan", "plan.json")),
    ("deploy", ("--adopt",)),
    ("destroy", ()),
    ("drift", ()),
    ("import", ("users",)),
])
def test_every_targeted_follow_up_parses_and_names_the_same_target(invocation, verb, args):
    hint = command(invocation, verb, *args)
    assert_same_target(hint, invocation)
    _, params = parse(hint)
    if "--plan" in args:
        assert params["plan_file"] == "plan.json"
    if "--plan-out" in args:
        assert (params["dry_run"], params["plan_out"]) == (True, "plan dev.json")  # a space survives quoting


@pytest.mark.parametrize("invocation", INVOCATIONS, ids=lambda i: " ".join(i.target_args()) or "aws")
def test_schema_only_follow_ups_carry_the_schema_and_no_target(invocation):
    for hint in (schema_command(invocation, "diff"), schema_command(invocation, "validate"),
                 schema_command(invocation, "synth", "--print", env=True)):
        verb, params = parse(hint)
        assert params["schema"] == (invocation.schema or "schema/tables.yaml")
        assert "--local" not in hint and "--endpoint-url" not in hint
        if verb == "synth":
            assert params["env"] == invocation.env


def test_aws_cli_follow_ups_reach_the_same_endpoint():
    local = aws_command(Invocation(env="dev", local=True), "dynamodb", "list-tables",
                        local_endpoint="http://127.0.0.1:8000", local_region="us-east-1",
                        local_credentials={"aws_access_key_id": "local", "aws_secret_access_key": "local"})
    assert shlex.split(local) == ["AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "aws", "dynamodb",
                                  "list-tables", "--endpoint-url", "http://127.0.0.1:8000", "--region", "us-east-1"]
    emulator = aws_command(Invocation(env="prod", endpoint_url="http://127.0.0.1:4566", profile="p", region="r"),
                           "dynamodb", "list-tables")
    assert shlex.split(emulator)[-6:] == ["--endpoint-url", "http://127.0.0.1:4566", "--profile", "p", "--region", "r"]
    assert aws_command(Invocation(env="prod"), "dynamodb", "list-tables") == "aws dynamodb list-tables"


def test_the_parser_of_this_test_rejects_what_the_cli_rejects():
    """The check can fail: a hint with an unknown flag or a missing --env is a usage error."""
    with pytest.raises(Exception, match="No such option"):
        parse("jobwork-infra deploy --env dev --plan-file x")
    with pytest.raises(Exception, match="env"):
        parse("jobwork-infra drift --local")
    with pytest.raises(AssertionError):
        assert_same_target("jobwork-infra deploy --env dev --plan p.json", Invocation(env="dev", local=True))


# ---------------------------------------------------------------------------------------------
# The hints the CLI prints in real runs, on a real local engine

TABLES = """\
  tenant:
    attributes:
      tenant_id: uuid
      name: string
"""
MORE = """\
  users:
    sort_key: user_id
    attributes:
      tenant_id: uuid
      user_id: uuid
"""


def schema_text(app_name: str, tables: str) -> str:
    return textwrap.dedent(f"""\
        version: 1
        app: {app_name}
        environments:
          dev:
            removal_policy: destroy
        tables:
        """) + tables


@pytest.mark.slow
def test_hints_printed_on_the_local_engine_run_as_printed(local_engine, app_name, tmp_path):
    schema = tmp_path / "my tables.yaml"
    schema.write_text(schema_text(app_name, TABLES))
    target = Invocation(env="dev", local=True, schema=str(schema))
    common = ["--env", "dev", "--local", "--schema", str(schema)]
    assert run("deploy", *common, "--yes").exit_code == 0

    printed: list[str] = []
    schema.write_text(schema_text(app_name, TABLES + MORE))
    drifted = run("drift", *common)  # users is not deployed yet: "not deployed yet", with the dry run to see it
    assert drifted.exit_code == 0, drifted.output
    printed += hints_in(drifted.output)

    # import --write (of a table the schema lost) prints what to run next
    schema.write_text(schema_text(app_name, MORE))
    imported = run("import", *common, f"{app_name}-dev-tenant", "--write")
    assert imported.exit_code == 0, imported.output
    printed += hints_in(imported.output)

    assert len(printed) >= 3, printed
    assert {parse(h)[0] for h in printed} >= {"deploy", "diff"}
    for hint in printed:
        assert_same_target(hint, target)


@pytest.mark.slow
def test_the_help_example_of_import_runs(local_engine, app_name, tmp_path):
    """`import --help` shows `import --env dev --local users tenant`: with the schema's keys it works."""
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name, TABLES + MORE))
    assert run("deploy", "--env", "dev", "--local", "--schema", str(schema), "--yes").exit_code == 0
    example = next(line.split("Example: ", 1)[1] for line in run("import", "--help").output.splitlines()
                   if "Example: " in line).strip()
    assert example == "jobwork-infra import --env dev --local users tenant"
    result = run(*shlex.split(example)[1:], "--schema", str(schema))
    assert result.exit_code == 0, result.output
    assert re.search(r"^  users:\n", result.output, re.MULTILINE) and re.search(r"^  tenant:\n", result.output, re.MULTILINE)
    # a physical name still works, and a name that is neither says so
    assert run("import", "--env", "dev", "--local", "--schema", str(schema), f"{app_name}-dev-users").exit_code == 0
    missing = run("import", "--env", "dev", "--local", "--schema", str(schema), "nope")
    assert missing.exit_code == 1 and "no table named 'nope'" in missing.output


@pytest.mark.slow
def test_the_saved_plan_and_stale_plan_hints_run_as_printed(local_engine, app_name, tmp_path):
    """Issue 23: the saved-plan hint dropped --local, so run exactly it applied to CloudFormation (exit 3)."""
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name, TABLES))
    target = Invocation(env="dev", local=True, schema=str(schema))
    common = ["--env", "dev", "--local", "--schema", str(schema)]
    plan = tmp_path / "plan dev.json"
    dry = run("deploy", *common, "--dry-run", "--plan-out", str(plan))
    assert dry.exit_code == 0, dry.output
    [apply] = hints_in(dry.output)
    assert_same_target(apply, target)
    applied = run(*shlex.split(apply)[1:])  # exactly as printed
    assert applied.exit_code == 0, applied.output

    again = run(*shlex.split(apply)[1:])  # applied once: stale, with a hint that writes a new one
    assert again.exit_code == 3, again.output
    assert "write a new plan and review it: `jobwork-infra deploy " in again.output
    [rewrite] = hints_in(again.output)
    assert_same_target(rewrite, target)
    assert parse(rewrite)[1]["plan_out"] == str(plan)


@pytest.mark.slow
def test_import_of_a_missing_table_suggests_listing_the_same_engine(local_engine, app_name, tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text(app_name, TABLES))
    result = run("import", "--env", "dev", "--local", "--schema", str(schema), "zzzz-nothing-like-it")
    assert result.exit_code == 1
    listing = " ".join(result.output.split()).split("list them with `")[1].split("`")[0]
    words = shlex.split(listing)
    assert words[:3] == ["AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "aws"]
    assert words[3:5] == ["dynamodb", "list-tables"]
    assert words[words.index("--endpoint-url") + 1] == local_engine.endpoint  # never the real account


@pytest.mark.slow
def test_drift_of_an_undeployed_stack_suggests_a_deploy_to_the_same_endpoint(strict_aws, tmp_path):
    schema = tmp_path / "tables.yaml"
    schema.write_text(schema_text("shop", TABLES))
    result = run("drift", "--env", "dev", "--schema", str(schema), "--endpoint-url", strict_aws.endpoint)
    assert result.exit_code == 1, result.output
    [deploy] = hints_in(result.output)
    assert_same_target(deploy, Invocation(env="dev", endpoint_url=strict_aws.endpoint, schema=str(schema)))
