"""Helpers for the functional tests: unique names, per-test regions, a catalog table to build transforms on."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from tests.conftest import client

COLUMNS = [
    {"Name": "id", "Type": "string"},
    {"Name": "first_name", "Type": "string"},
    {"Name": "last_name", "Type": "string"},
    {"Name": "birth_date", "Type": "date"},
]
PARAMETERS = {"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}}
ROLE = "arn:aws:iam::000000000000:role/findmatches"


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def region_client(url: str, **kwargs: Any) -> Any:
    """A client in a region of its own: a namespace no other test touches."""
    return client(url, region=f"test-{uuid.uuid4().hex[:12]}", **kwargs)


def make_table(
    glue: Any,
    database: str | None = None,
    table: str | None = None,
    columns: list[dict[str, str]] | None = None,
) -> tuple[str, str]:
    """A database (created if needed) and a CSV table in it; returns (database, table)."""
    database = database or unique("db")
    table = table or unique("tbl")
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": table,
            "StorageDescriptor": {
                "Columns": COLUMNS if columns is None else columns,
                "Location": "s3://bucket/people/",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde"},
            },
            "Parameters": {"classification": "csv"},
        },
    )
    return database, table


def transform_args(database: str, table: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name or unique("tfm"),
        "InputRecordTables": [{"DatabaseName": database, "TableName": table}],
        "Parameters": PARAMETERS,
        "Role": ROLE,
        **extra,
    }


def make_transform(glue: Any, database: str, table: str, **extra: Any) -> str:
    transform_id: str = glue.create_ml_transform(**transform_args(database, table, **extra))["TransformId"]
    return transform_id


def all_transform_ids(glue: Any) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = glue.list_ml_transforms(**({"NextToken": token} if token else {}))
        ids += page["TransformIds"]
        token = page.get("NextToken")
        if not token:
            return ids


def error_of(raised: Any) -> tuple[str, str]:
    """(code, message) of a botocore ClientError."""
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]
