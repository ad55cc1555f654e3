"""`status` lists the migrations in progress, each with the command to run next, and every such
command runs as printed (parsed by the Typer app, same target) — issue 23, leftover of item 4.

Fast: the checkpoints are written as the migration engine writes them (migrate/checkpoint.py), no
engine is started; the deploy serial is checked where status reads it, in tests/integration/test_status.py.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from jobwork_infra.followup import Invocation
from jobwork_infra.migrate.checkpoint import Checkpoint, MigrationState, Segment, path_for
from jobwork_infra.migrate.keys import KeyAttr, KeySchema
from jobwork_infra.project import check_project
from jobwork_infra.report.status import render_status_text
from jobwork_infra.status import StatusReport, migrations_in_progress
from tests.helpers import schema_text
from tests.unit.test_followup import parse

SCHEMA = schema_text(tables="""\
  users:
    generation: 2
    sort_key: email
    attributes:
      user_id: string
      email: string
  orders:
    sort_key: order_id
    attributes:
      order_id: string
""")


def head(tmp_path: Path, env: str = "dev"):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA)
    return check_project(str(path)).resolve(env)


def checkpoint(root: Path, phase: str, *, table: str = "users", source: str = "shop-dev-users",
               target: str = "shop-dev-users-g2", env: str = "dev") -> None:
    done = phase != "copying"
    state = MigrationState(table=table, env=env, source=source, target=target, from_generation=1, to_generation=2,
                           key=KeySchema(KeyAttr("tenant_id", "S"), KeyAttr("email", "S")).to_json(), phase=phase,
                           total_segments=2, segments=[Segment(None, done, 7), Segment(None, done, 5)],
                           stream_arn="arn:aws:dynamodb:local:000000000000:table/x/stream/1")
    Checkpoint(path_for(root, env, target), state).save()


RERUNS = [Invocation(env="dev", local=True, schema="my schema/tables.yaml"),
          Invocation(env="dev", endpoint_url="http://127.0.0.1:4566", region="eu-west-1"),
          Invocation(env="dev", profile="admin", region="ap-south-1")]


@pytest.mark.parametrize("rerun", RERUNS, ids=lambda i: " ".join(i.target_args()))
@pytest.mark.parametrize("phase", ["copying", "copied", "caught_up", "verified"])
def test_every_next_command_of_a_migration_runs_as_printed_on_the_same_target(tmp_path, rerun, phase):
    checkpoint(tmp_path, phase)
    [migration] = migrations_in_progress(tmp_path, head(tmp_path), rerun)
    assert (migration.table, migration.phase, migration.items_copied) == ("users", phase, 12)
    verbs = []
    for _, hint in migration.next:
        verb, params = parse(hint)
        verbs.append(verb)
        assert params["env"] == "dev" and bool(params["local"]) == rerun.local, hint
        assert params["endpoint_url"] == rerun.endpoint_url, hint
        assert params.get("profile") == (None if rerun.local else rerun.profile), hint
        assert params.get("region") == (None if rerun.local else rerun.region), hint
        assert params["schema"] == (rerun.schema or "schema/tables.yaml"), hint
        if verb == "migrate finish":
            assert params["table"] == "users" and not params["allow_destructive"], hint  # never deletes unasked
    if phase == "copying":
        assert verbs == ["deploy"]  # the copy resumes from its checkpoint
    elif rerun.local:
        assert verbs == ["migrate sync", "migrate finish"]  # locally nothing replicates between runs
    else:
        assert verbs == ["migrate finish"]  # on AWS the stack's stream consumer replicates


def test_finished_other_environment_and_other_project_migrations_are_not_in_progress(tmp_path):
    checkpoint(tmp_path, "finished")
    checkpoint(tmp_path, "verified", env="prod", source="shop-prod-users", target="shop-prod-users-g2")
    checkpoint(tmp_path, "verified", table="users", source="other-dev-users", target="other-dev-users-g2")
    checkpoint(tmp_path, "copied", table="invoices", source="shop-dev-invoices", target="shop-dev-invoices-g2")
    assert migrations_in_progress(tmp_path, head(tmp_path), Invocation(env="dev", local=True)) == ()


def test_the_text_says_none_or_each_migration_with_its_commands_between_backticks(tmp_path):
    from io import StringIO

    from rich.console import Console

    def text(report: StatusReport) -> str:
        out = StringIO()
        render_status_text(report, Console(file=out, width=400))
        return out.getvalue()

    rerun = Invocation(env="dev", local=True)
    assert "migrations in progress: none" in text(StatusReport("dev", "environment dev on the local engine"))
    checkpoint(tmp_path, "verified")
    found = migrations_in_progress(tmp_path, head(tmp_path), rerun)
    shown = text(StatusReport("dev", "environment dev on the local engine", migrations=found))
    assert ("migration of users: generation 1 → 2 (shop-dev-users → shop-dev-users-g2): verified, 12 items copied"
            in shown)
    printed = [line.split("`")[1] for line in shown.splitlines() if line.startswith("  next: ")]
    assert printed == [hint for _, hint in found[0].next] and len(printed) == 2
    assert shlex.split(printed[1])[:3] == ["jobwork-infra", "migrate", "finish"]
