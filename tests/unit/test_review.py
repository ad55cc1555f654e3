"""Review output a reviewer can trust (issue 23, item 5 and the text part of item 3).

A new table shows its keys, indexes, TTL and protections; every plan step names every change it
applies; `diff --plan` marks the steps deploy's gate refuses, per environment; the generated-API
notes are part of a Markdown review (stdout); a TTL rename says what becomes of the items that carry
only the old attribute.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from jobwork_infra.cli import app
from jobwork_infra.model import resolve
from jobwork_infra.plan import plan_changes
from jobwork_infra.project import check_project
from jobwork_infra.review import plan_refusals, refused_steps
from tests.helpers import schema_text

BASE = schema_text(environments={
    "dev": {"removal_policy": "destroy"},
    "prod": {"removal_policy": "retain", "point_in_time_recovery": True, "deletion_protection": True},
}, tables={
    "users": {"sort_key": "user_id", "attributes": {"tenant_id": "uuid", "user_id": "uuid", "email": "string"}},
    "jobs": {"sort_key": "job_id", "ttl": "expires_at", "attributes": {
        "tenant_id": "uuid", "job_id": "uuid", "code": "string", "expires_at": "epoch_seconds",
        "purge_at": "epoch_seconds"}},
})
ORDERS = """\
  orders:
    sort_key: order_id
    ttl: expires_at
    attributes:
      tenant_id: uuid
      order_id: string
      expires_at: epoch_seconds
    global_indexes:
      by_status: {partition_key: tenant_id, sort_key: status}
    local_indexes:
      by_time: {sort_key: at}
"""
WITH_ORDERS = BASE + ORDERS.replace("      expires_at: epoch_seconds\n",
                                    "      expires_at: epoch_seconds\n      status: string\n      at: datetime\n")


def diff(tmp_path, base: str, head: str, *args: str):
    (tmp_path / "base.yaml").write_text(base)
    (tmp_path / "head.yaml").write_text(head)
    return CliRunner().invoke(app, ["diff", "-s", str(tmp_path / "head.yaml"), "-b", str(tmp_path / "base.yaml"),
                                    "--fail-on", "never", *args])


def test_a_new_table_shows_keys_indexes_ttl_and_protections_per_environment(tmp_path):
    result = diff(tmp_path, BASE, WITH_ORDERS)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("orders")
    assert lines[start + 1] == "  safe         D401  table [dev: shop-dev-orders | prod: shop-prod-orders] is created"
    assert [line.strip() for line in lines[start + 2:start + 7]] == [
        "keys: tenant_id (S) + order_id (S)",
        ("indexes: by_status: tenant_id (S) + status (S), projection all | by_time (local): tenant_id (S) + at (S), "
         "projection all"),
        "ttl: expires_at",
        "billing: on_demand",
        ("protections: dev: removal_policy destroy, point-in-time recovery off, deletion protection off; "
         "prod: removal_policy retain, point-in-time recovery on, deletion protection on"),
    ]
    markdown = diff(tmp_path, BASE, WITH_ORDERS, "--env", "prod", "-f", "markdown").stdout
    row = next(line for line in markdown.splitlines() if "`D401`" in line)
    assert ("table shop-prod-orders is created<br>keys: tenant_id (S) + order_id (S)<br>indexes: by_status: "
            in row)
    assert "<br>protections: removal_policy retain, point-in-time recovery on, deletion protection on |" in row
    document = json.loads(diff(tmp_path, BASE, WITH_ORDERS, "--env", "dev", "-f", "json").stdout)
    [added] = [c for c in document["changes"] if c["code"] == "D401"]
    assert added["after"]["keys"] == "tenant_id (S) + order_id (S)" and added["after"]["ttl"] == "expires_at"


def test_every_step_names_every_change_it_applies():
    """Issue 23: `1. apply 4 other changes; jobs: create index by_code` hid the new users.by_email."""
    two_indexes = BASE.replace("      code: string\n", "      code: string\n      state: string\n") + \
        "    global_indexes:\n      by_code: {partition_key: tenant_id, sort_key: code}\n" \
        "      by_state: {partition_key: tenant_id, sort_key: state}\n"
    head_text = two_indexes.replace("      email: string\n", "      email: string\n    global_indexes:\n"
                                    "      by_email: {partition_key: tenant_id, sort_key: email}\n", 1)
    head_text = head_text.replace("  users:\n", "  users:\n    description: people\n", 1)
    base = resolve(check_project("b.yaml", text=BASE).require_valid().schema, "dev")
    head = resolve(check_project("h.yaml", text=head_text).require_valid().schema, "dev")
    plan = plan_changes(base, head)
    assert [s.summary for s in plan.steps] == [
        "users: create index by_email, D406 description; jobs: D407 attributes, create index by_code",
        "jobs: create index by_state",
    ]
    named = " ".join(s.summary for s in plan.steps)
    for change in plan.changes:
        if change.kind != "gsi_updates_staged":  # the staging note is about the steps themselves
            assert change.table in named and (change.index or change.code) in named, change


def test_diff_plan_marks_the_steps_deploy_refuses_per_environment(tmp_path):
    """A sort-key change on prod is not `1. apply 3 changes in one update`: deploy refuses it."""
    head = BASE.replace("    sort_key: job_id\n", "    sort_key: code\n")
    result = diff(tmp_path, BASE, head, "--plan")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for env in ("dev", "prod"):
        section = text.split(f"Plan for shop-{env} if ")[1].split("\nPlan for ")[0]
        assert "  1. apply 1 change in one update: jobs: D105 sort key  [refused by deploy]\n" \
            in section
        assert ("  deploy refuses it (even with --allow-destructive): cannot replace "
                f"shop-{env}-jobs under the same name") in section
    markdown = diff(tmp_path, BASE, head, "--plan", "--env", "prod", "-f", "markdown").stdout
    assert "1. apply 1 change in one update: jobs: D105 sort key — **refused by deploy**\n" in markdown
    assert "> ⛔ deploy refuses it (even with --allow-destructive): cannot replace shop-prod-jobs" in markdown


def test_a_plan_deploy_accepts_is_not_marked(tmp_path):
    result = diff(tmp_path, BASE, WITH_ORDERS, "--plan", "--env", "prod")
    assert "  1. apply 1 change in one update: orders: create table\n" in result.stdout
    assert "refused" not in result.stdout


def test_refusals_are_the_gates_own_and_say_what_lifts_them():
    """A table removed under destroy: refused unless --allow-destructive (the gate's words); a key change
    of a named table: refused on CloudFormation even so, allowed on the local engine with the flag."""
    base = resolve(check_project("b.yaml", text=BASE).require_valid().schema, "dev")
    removed = plan_changes(base, base.model_copy(update={"tables": {"users": base.tables["users"]}}))
    [refusal] = plan_refusals(removed)
    assert refusal.lifted_by == "--allow-destructive" and refusal.tables == ("jobs",)
    assert refusal.message.startswith("refusing 1 destructive change(s) to jobs")
    assert refused_steps(removed, [refusal]) == {1: [refusal]}
    rekeyed_text = BASE.replace("    sort_key: job_id\n", "    sort_key: code\n")
    rekeyed = plan_changes(base, resolve(check_project("h.yaml", text=rekeyed_text).require_valid().schema, "dev"))
    assert [r.lifted_by for r in plan_refusals(rekeyed)] == [None, "--allow-destructive"]
    assert [r.lifted_by for r in plan_refusals(rekeyed, replaces_in_place=True)] == ["--allow-destructive"]


def test_markdown_carries_the_generated_api_notes_on_stdout_and_a_ttl_rename_says_what_expires(tmp_path):
    head = BASE.replace("    ttl: expires_at\n", "    ttl: purge_at\n")
    result = diff(tmp_path, BASE, head, "-f", "markdown", "--env", "prod")
    assert result.exit_code == 0
    out = result.stdout
    assert "#### Generated API (codegen python): code using it must change" in out
    assert ("- `JobsItem`: TTL moves from 'expires_at' to 'purge_at': 'expires_at' no longer makes an item expire; "
            "code must write 'purge_at'") in out
    assert "generated API" not in result.stderr.lower()
    assert ("the items that carry only expires_at (every item written before; how many is not known here: "
            "a deploy --dry-run counts them) never expire afterwards unless purge_at is written on them") in out
    text = diff(tmp_path, BASE, head, "--plan", "--env", "dev").stdout
    assert "  2. jobs: enable TTL on purge_at (AWS needs at least 1 h" in text
    assert "items carrying only expires_at do not expire)" in text
