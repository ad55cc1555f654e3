"""Deploy a schema and import its generated data layer, on DynamoDB Local or on the strict AWS double.

DynamoDB Local gets the tables through the tool's own local deploy. The strict double gets them
through CreateTable, from the same resolved schema (what the CloudFormation template declares): the
tests that use it are about the data layer's calls (transactions, conditions), not about deploying.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from bench.unique import create_tables
from jobwork_infra.cli import app
from tests.codegen_support import generate_package, import_package, schema_for_app


def on_dynamodb_local(source: Path, dynamodb_local, work: Path, prefix: str) -> tuple[ModuleType, object, str]:
    """`source` under a unique app name, deployed with `deploy --local`; (package, client, app name)."""
    app_name = f"{prefix}{uuid.uuid4().hex[:10]}"
    schema = work / "tables.yaml"
    schema.write_text(schema_for_app(source, app_name))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOBWORK_ROOT", str(dynamodb_local.root))
        result = CliRunner().invoke(app, ["deploy", "--env", "dev", "--local", "--schema", str(schema), "--yes"])
    assert result.exit_code == 0, result.output
    package = f"gen_{app_name}"
    generate_package(schema, work, package)
    return import_package(work, package), dynamodb_local.client(), app_name


def on_strict_double(source: Path, strict_aws, work: Path, prefix: str) -> tuple[ModuleType, object, str]:
    app_name = f"{prefix}{uuid.uuid4().hex[:10]}"
    schema = work / "tables.yaml"
    schema.write_text(schema_for_app(source, app_name))
    client = strict_aws.client("dynamodb")
    create_tables(client, schema)
    package = f"gen_{app_name}"
    generate_package(schema, work, package)
    return import_package(work, package), client, app_name


def scan_all(client, table: str) -> list[dict]:
    items, start = [], None
    while True:
        page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items
