"""`kinesis_destination`, an entry of the table-option registry (table_options.py): a Kinesis streaming destination.

Schema (the stream's ARN, checked as CloudFormation does; the timestamp precision), diff kinds (every
change ONLINE: records start, move or stop), compile to KinesisStreamSpecification, read-back from a
template and from DescribeKinesisStreamingDestination, apply through Enable/Update/Disable, and
adoption (kept; a table streaming to two destinations is still refused by name). The CloudFormation
round trip is tests/unit/test_table_options_throughput.py::test_a_stack_with_table_settings_is_adopted_with_them_kept.
"""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from jobwork_infra.budgets import table_resource
from jobwork_infra.changes import Severity
from jobwork_infra.cli import app
from jobwork_infra.diff import diff_schemas
from jobwork_infra.model import SchemaFile, resolve
from jobwork_infra.table_options import BY_FIELD, KinesisDestination, options_from_template
from jobwork_infra.table_properties import refusals
from tests.helpers import schema_text

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
OTHER = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks-v2"
SCHEMA = schema_text(app="opts", environments={"dev": "{{removal_policy: destroy}}"}, tables="""\
  clicks:
    partition_key: tenant_id
    sort_key: click_id
    attributes: {{tenant_id: string, click_id: string}}
{extra}""")
KINESIS = BY_FIELD["kinesis_destination"]


def _line(arn: str | None, precision: str = "") -> str:
    if arn is None:
        return ""
    return f"    kinesis_destination: {{stream_arn: '{arn}'{', timestamp_precision: ' + precision if precision else ''}}}\n"


def _schema(extra: str = ""):
    return resolve(SchemaFile.model_validate(yaml.safe_load(SCHEMA.format(extra=extra))), "dev")


def test_a_destination_resolves_compiles_and_reads_back():
    table = _schema(_line(STREAM)).tables["clicks"]
    assert table.kinesis_destination == KinesisDestination(stream_arn=STREAM)
    props = table_resource(table)["Properties"]
    assert props["KinesisStreamSpecification"] == {"StreamArn": STREAM}        # AWS's default precision left out
    assert options_from_template(props)["kinesis_destination"] == table.kinesis_destination
    micro = table_resource(_schema(_line(STREAM, "microsecond")).tables["clicks"])["Properties"]
    assert micro["KinesisStreamSpecification"]["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    assert options_from_template(micro)["kinesis_destination"].timestamp_precision == "microsecond"
    assert "KinesisStreamSpecification" not in table_resource(_schema().tables["clicks"])["Properties"]


@pytest.mark.parametrize(("before", "after", "code"), [
    (_line(None), _line(STREAM), "D323"),
    (_line(STREAM), _line(OTHER), "D324"),
    (_line(STREAM), _line(STREAM, "microsecond"), "D324"),
    (_line(STREAM), _line(None), "D325"),
])
def test_every_destination_change_is_online(before, after, code):
    [change] = diff_schemas(_schema(before), _schema(after))
    assert (change.code, change.severity) == (code, Severity.ONLINE)
    assert "Kinesis" in change.statement


@pytest.mark.parametrize("value", ["{stream_arn: 'arn:aws:sqs:us-east-1:123456789012:q'}",
                                   f"{{stream_arn: '{STREAM}', timestamp_precision: nanosecond}}",
                                   "{timestamp_precision: millisecond}"])
def test_a_destination_cloudformation_would_refuse_is_a_located_error(tmp_path, value):
    path = tmp_path / "tables.yaml"
    path.write_text(SCHEMA.format(extra=f"    kinesis_destination: {value}\n"))
    result = CliRunner().invoke(app, ["validate", "--schema", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:10:" in result.output and "kinesis_destination" in result.output, result.output


def test_adoption_keeps_the_destination():
    assert refusals({"KinesisStreamSpecification": {"StreamArn": STREAM,
                                                    "ApproximateCreationDateTimePrecision": "MILLISECOND"}}) == []


def test_read_back_and_apply_on_a_live_table(strict_aws):
    from jobwork_infra.deploy.dynamodb import read_live_table
    from jobwork_infra.deploy.live_settings import read_live_settings

    ddb = strict_aws.client("dynamodb")
    ddb.create_table(TableName="clicks", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"}])
    assert read_live_table(ddb, "clicks", aws=True).options["kinesis_destination"] is None
    KINESIS.apply_live(ddb, "clicks", KinesisDestination(stream_arn=STREAM))
    assert read_live_table(ddb, "clicks", aws=True).options["kinesis_destination"] == KinesisDestination(
        stream_arn=STREAM)
    # The precision changed in place (UpdateKinesisStreamingDestination), then moved to another stream.
    KINESIS.apply_live(ddb, "clicks", KinesisDestination(stream_arn=STREAM, timestamp_precision="microsecond"))
    assert read_live_table(ddb, "clicks", aws=True).options["kinesis_destination"].timestamp_precision == "microsecond"
    KINESIS.apply_live(ddb, "clicks", KinesisDestination(stream_arn=OTHER))
    live = read_live_table(ddb, "clicks", aws=True)
    assert live.options["kinesis_destination"] == KinesisDestination(stream_arn=OTHER)
    assert read_live_settings(ddb, live.description).refusals == []
    # Two at once cannot be held by the schema: refused by name.
    ddb.enable_kinesis_streaming_destination(TableName="clicks", StreamArn=STREAM)
    [two] = read_live_settings(ddb, live.description).refusals
    assert two.path == "KinesisStreamSpecification" and "more than one" in two.property.reason
    KINESIS.apply_live(ddb, "clicks", None)
    assert read_live_table(ddb, "clicks", aws=True).options["kinesis_destination"] is None
