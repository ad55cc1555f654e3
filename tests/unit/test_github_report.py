"""`diff --format github`: one annotation per change on the YAML line of what changed; removals in the base."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobwork_infra.changes import Change, Severity
from jobwork_infra.cli import app
from jobwork_infra.report.github import ChangePlace, change_place
from tests.unit.test_diff_cli import BASE, HEAD

runner = CliRunner()


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "head.yaml").write_text(HEAD)
    return tmp_path


def annotations(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["diff", "-s", "head.yaml", "--base", "base.yaml", "-f", "github", *args])
    return result.exit_code, result.stdout.splitlines()


def test_one_annotation_per_change_on_the_changed_line(files):
    """One line per change; the subject is left out where the statement starts with it."""
    code, lines = annotations()
    assert code == 3  # --fail-on destructive still decides the exit
    assert lines == [
        ("::warning file=head.yaml,line=15,col=7,title=D202 multi-step (users)::D202 multi-step: "
        "index by_email's projection changes from keys_only to all: it is deleted, then created again and "
        "backfilled; queries on it fail in between%0Aadvice: add an index with the new projection under a new "
        "name, move the readers, then remove the old one"),
        ("::warning file=head.yaml,line=10,col=5,title=D306 online (users)::D306 online: stream: the stream changes "
        "from none to new_image: item changes start being recorded for 24 h"),
        ("::notice file=head.yaml,line=8,col=5,title=D406 safe (users)::D406 safe: description: the description "
        "changes (metadata only)"),
        ("::error file=head.yaml,line=17,col=5,title=D105 destructive (orders)::D105 destructive: sort key: the sort "
        "key changes from order_id (S) to order_id (N): DynamoDB cannot change a key, so the table is replaced "
        "and its data is lost%0Aadvice: bump `generation` on the table to keep the data (deploy copies every item "
        "into a new table under the new key; docs/migrate.md), or add a global index with the new key instead"),
    ]
    head = (files / "head.yaml").read_text().splitlines()
    assert head[15 - 1].strip().startswith("by_email:")
    assert head[10 - 1].strip() == "stream: new_image"
    assert head[8 - 1].strip() == "description: Everyone."
    assert head[17 - 1].strip() == "sort_key: order_id"


def test_a_removed_table_is_annotated_at_its_line_in_the_base_and_says_so(files):
    orders_at = BASE.splitlines().index("  orders:") + 1
    (files / "head.yaml").write_text(BASE.split("  orders:\n")[0])
    code, [line] = annotations()
    assert code == 3
    assert line.startswith(f"::error file=head.yaml,line={orders_at},col=3,title=D101 destructive (orders)::")
    assert f"(table orders is removed: line {orders_at} is where it was in base.yaml)" in line


def test_a_removed_index_is_annotated_on_its_tables_indexes(files):
    head = BASE.replace("      by_email: {partition_key: email, projection: keys_only, tenant_scoped: false}\n",
                        "      by_mail: {partition_key: email, projection: all, tenant_scoped: false}\n")
    (files / "head.yaml").write_text(head)
    _, lines = annotations("--fail-on", "never")
    [added] = [line for line in lines if "D301" in line]
    [removed] = [line for line in lines if "D302" in line]
    assert added.startswith("::warning file=head.yaml,line=14,col=7,title=D301 online (users)::")
    assert removed.startswith("::warning file=head.yaml,line=13,col=5,title=D302 online (users)::")
    assert removed.endswith("(removed: shown on the table's global_indexes)%0Aadvice: move its readers off "
                            "it before deploying")


def test_an_option_set_in_an_environment_is_annotated_there(files):
    head = BASE.replace("    removal_policy: destroy\n", "    removal_policy: destroy\n    billing: provisioned\n"
                        "    capacity: {read: 5, write: 5}\n")
    (files / "head.yaml").write_text(head)
    _, lines = annotations("--fail-on", "never")
    billing = [line for line in lines if "D305" in line]
    assert billing and all(line.startswith("::warning file=head.yaml,line=6,col=5,") for line in billing)


def test_no_changes_print_nothing(files):
    (files / "head.yaml").write_text(BASE)
    assert annotations() == (0, [])


def _change(kind: str, table: str = "users", **fields) -> Change:
    # The subject is deliberately unhelpful: change_place reads the structured fields only.
    return Change(code="D000", kind=kind, severity=Severity.SAFE, table=table, subject="(display text)",
                  statement="", **fields)


@pytest.mark.parametrize("change, place", [
    (_change("gsi_added", index="by_email"), ChangePlace("users", index="by_email")),
    (_change("gsi_removed", index="by_email"), ChangePlace("users", index="by_email", removed=True)),
    (_change("gsi_renamed", index="by_mail", before="by_email", after="by_mail"), ChangePlace("users", index="by_mail")),
    (_change("gsi_projection_changed", index="by_email"), ChangePlace("users", index="by_email")),
    (_change("lsi_removed", index="by_date"),
     ChangePlace("users", index="by_date", index_kind="local_indexes", removed=True)),
    (_change("capacity_changed", index="by_email"), ChangePlace("users", index="by_email", option="capacity")),
    (_change("capacity_changed"), ChangePlace("users", option="capacity")),
    (_change("ttl_renamed"), ChangePlace("users", option="ttl")),
    (_change("gsi_updates_staged"), ChangePlace("users", option="global_indexes")),
    (_change("table_removed"), ChangePlace("users", removed=True)),
    (_change("table_added"), ChangePlace("users")),
    (_change("environment_removed", table="", env="prod"), ChangePlace(None, option="prod", removed=True)),
])
def test_change_place_reads_what_a_change_is_about(change, place):
    assert change_place(change) == place


def test_markdown_escapes_raw_html_and_mentions_from_the_schema(files):
    head = BASE.replace("      status: string\n", "      status: string\n    access_patterns:\n"
                        "      - {name: \"notify @ops-team <img src=x onerror=alert(1)>\", key: [tenant_id]}\n")
    (files / "head.yaml").write_text(head)
    result = runner.invoke(app, ["diff", "-s", "head.yaml", "--base", "base.yaml", "-f", "markdown"])
    assert result.exit_code == 0
    assert "+notify @&#8203;ops-team &lt;img src=x onerror=alert(1)&gt;" in result.stdout
    assert "<img" not in result.stdout and "@ops-team" not in result.stdout


def test_escape_text_keeps_plain_text_and_emails_readable():
    from jobwork_infra.report.markdown import escape_text

    assert escape_text("a & b < c") == "a &amp; b &lt; c"
    assert escape_text("@here and x@y") == "@&#8203;here and x@&#8203;y"
    assert escape_text("plain text") == "plain text"


def test_diff_plan_shows_the_staged_steps_per_environment(files):
    head = BASE.replace("      by_email: {partition_key: email, projection: keys_only, tenant_scoped: false}\n",
                        "      by_mail: {partition_key: email, projection: all, tenant_scoped: false}\n"
                        "      by_id: {partition_key: tenant_id, sort_key: email}\n")
    (files / "head.yaml").write_text(head)
    result = runner.invoke(app, ["diff", "-s", "head.yaml", "--base", "base.yaml", "-f", "markdown", "--plan"])
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "\n#### Plan for `shop-dev`: 3 steps (if `base.yaml` is what is deployed)\n\n"
        "1. users: delete index by_email\n2. users: create index by_mail\n3. users: create index by_id\n")
    text = runner.invoke(app, ["diff", "-s", "head.yaml", "--base", "base.yaml", "--plan"])
    assert text.stdout.endswith("Plan for shop-dev if base.yaml is deployed:\n  1. users: delete index by_email\n"
                                "  2. users: create index by_mail\n  3. users: create index by_id\n")


def test_diff_plan_without_changes_adds_nothing(files):
    (files / "head.yaml").write_text(BASE)
    result = runner.invoke(app, ["diff", "-s", "head.yaml", "--base", "base.yaml", "-f", "markdown", "--plan"])
    assert result.stdout == "### Schema diff\n\n**No changes.**\n"
