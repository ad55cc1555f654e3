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

from jobwork_infra.cli import app
from jobwork_infra.project import check_project
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


def create_tables(client, schema_path: Path, env: str = "dev") -> list[str]:
    """Every table of the resolved schema (guard table included), created with CreateTable."""
    resolved = check_project(schema_path).require_valid().resolve(env)
    names = []
    for table in resolved.tables.values():
        keys = [k for k in (table.partition_key, table.sort_key) if k]
        definitions = {k.name: k.type for k in keys}
        indexes = []
        for index in table.global_indexes:
            index_keys = [k for k in (index.partition_key, index.sort_key) if k]
            definitions.update({k.name: k.type for k in index_keys})
            projection = {"ProjectionType": {"all": "ALL", "keys_only": "KEYS_ONLY", "include": "INCLUDE"}[
                index.projection.type]}
            if index.projection.type == "include":
                projection["NonKeyAttributes"] = list(index.projection.attributes)
            indexes.append({"IndexName": index.name, "Projection": projection,
                            "KeySchema": [{"AttributeName": k.name, "KeyType": t}
                                          for k, t in zip(index_keys, ("HASH", "RANGE"), strict=False)]})
        request = {"TableName": table.physical_name, "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()],
                   "KeySchema": [{"AttributeName": k.name, "KeyType": t}
                                 for k, t in zip(keys, ("HASH", "RANGE"), strict=False)]}
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        client.create_table(**request)
        names.append(table.physical_name)
    for name in names:
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    return names


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
