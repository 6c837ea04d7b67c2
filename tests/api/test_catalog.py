"""The Data Catalog subset through boto3 against the live server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.support import COLUMNS, error_of, make_table, region_client, unique
from tests.conftest import ServerProcess


@pytest.fixture
def cat(server: ServerProcess) -> Any:
    """A client in a region of its own, so listings see only this test's entries."""
    return region_client(server.url)


def test_create_get_delete_database(cat: Any) -> None:
    cat.create_database(
        DatabaseInput={
            "Name": "People",
            "Description": "d",
            "Parameters": {"k": "v"},
            "LocationUri": "s3://bucket/people/",
        }
    )
    db = cat.get_database(Name="people")["Database"]
    assert db["Name"] == "people"
    assert db["Description"] == "d"
    assert db["Parameters"] == {"k": "v"}
    assert db["LocationUri"] == "s3://bucket/people/"
    assert db["CatalogId"] == "000000000000"
    assert isinstance(db["CreateTime"], dt.datetime)
    assert cat.get_database(Name="PEOPLE", CatalogId="000000000000")["Database"]["Name"] == "people"
    cat.delete_database(Name="people")
    with pytest.raises(ClientError) as raised:
        cat.get_database(Name="people")
    assert error_of(raised) == ("EntityNotFoundException", "Database people not found.")
    assert cat.get_databases()["DatabaseList"] == []


def test_duplicate_database_leaves_the_first(cat: Any) -> None:
    cat.create_database(DatabaseInput={"Name": "dup", "Description": "first"})
    with pytest.raises(cat.exceptions.AlreadyExistsException) as raised:
        cat.create_database(DatabaseInput={"Name": "DUP", "Description": "second"})
    assert error_of(raised) == ("AlreadyExistsException", "Database dup already exists.")
    assert cat.get_database(Name="dup")["Database"]["Description"] == "first"
    assert len(cat.get_databases()["DatabaseList"]) == 1


def test_missing_database_errors(cat: Any) -> None:
    for call in (
        lambda: cat.get_database(Name="nope"),
        lambda: cat.delete_database(Name="nope"),
        lambda: cat.get_tables(DatabaseName="nope"),
        lambda: cat.get_table(DatabaseName="nope", Name="t"),
        lambda: cat.create_table(DatabaseName="nope", TableInput={"Name": "t"}),
    ):
        with pytest.raises(cat.exceptions.EntityNotFoundException):
            call()
    assert cat.get_databases()["DatabaseList"] == []


def test_another_catalog_id_is_refused(cat: Any) -> None:
    with pytest.raises(ClientError) as raised:
        cat.create_database(CatalogId="111111111111", DatabaseInput={"Name": "theirs"})
    assert error_of(raised)[0] == "AccessDeniedException"
    with pytest.raises(ClientError):
        cat.get_databases(CatalogId="111111111111")
    assert cat.get_databases()["DatabaseList"] == []


def test_get_databases_pages(cat: Any) -> None:
    names = sorted(unique("db") for _ in range(5))
    for name in names:
        cat.create_database(DatabaseInput={"Name": name})
    first = cat.get_databases(MaxResults=2)
    assert [d["Name"] for d in first["DatabaseList"]] == names[:2]
    second = cat.get_databases(MaxResults=2, NextToken=first["NextToken"])
    assert [d["Name"] for d in second["DatabaseList"]] == names[2:4]
    third = cat.get_databases(MaxResults=2, NextToken=second["NextToken"])
    assert [d["Name"] for d in third["DatabaseList"]] == names[4:]
    assert "NextToken" not in third
    pages = cat.get_paginator("get_databases").paginate(PaginationConfig={"PageSize": 3})
    assert [d["Name"] for p in pages for d in p["DatabaseList"]] == names


def test_bad_next_token(cat: Any) -> None:
    for token in ("garbage", "eyJvIjogMX0="):
        with pytest.raises(cat.exceptions.InvalidInputException):
            cat.get_databases(NextToken=token)


def test_create_get_update_delete_table(cat: Any) -> None:
    database, _table = make_table(cat, table="Persons")
    got = cat.get_table(DatabaseName=database, Name="persons")["Table"]
    assert got["Name"] == "persons"
    assert got["DatabaseName"] == database
    assert got["StorageDescriptor"]["Columns"] == COLUMNS
    assert got["StorageDescriptor"]["Location"] == "s3://bucket/people/"
    assert got["Parameters"] == {"classification": "csv"}
    assert got["CatalogId"] == "000000000000"
    assert isinstance(got["CreateTime"], dt.datetime)
    assert got["VersionId"] == "0"

    columns = [*COLUMNS, {"Name": "email", "Type": "string", "Comment": "new"}]
    cat.update_table(
        DatabaseName=database,
        TableInput={
            "Name": "persons",
            "StorageDescriptor": {"Columns": columns, "Location": "file:///tmp/p.parquet"},
            "Parameters": {"classification": "parquet"},
        },
    )
    updated = cat.get_table(DatabaseName=database, Name="persons")["Table"]
    assert updated["StorageDescriptor"]["Columns"] == columns
    assert updated["Parameters"] == {"classification": "parquet"}
    assert updated["VersionId"] == "1"
    assert updated["CreateTime"] == got["CreateTime"]
    assert updated["UpdateTime"] >= got["UpdateTime"]

    cat.delete_table(DatabaseName=database, Name="PERSONS")
    with pytest.raises(ClientError) as raised:
        cat.get_table(DatabaseName=database, Name="persons")
    assert error_of(raised) == ("EntityNotFoundException", "Table persons not found.")
    with pytest.raises(cat.exceptions.EntityNotFoundException):
        cat.delete_table(DatabaseName=database, Name="persons")


def test_table_errors_leave_state_unchanged(cat: Any) -> None:
    database, table = make_table(cat)
    before = cat.get_table(DatabaseName=database, Name=table)["Table"]
    with pytest.raises(cat.exceptions.AlreadyExistsException):
        cat.create_table(DatabaseName=database, TableInput={"Name": table, "Description": "again"})
    with pytest.raises(cat.exceptions.EntityNotFoundException):
        cat.update_table(DatabaseName=database, TableInput={"Name": "absent"})
    with pytest.raises(ClientError) as raised:
        cat.create_table(DatabaseName=database)
    assert error_of(raised)[0] == "InvalidInputException"
    assert cat.get_table(DatabaseName=database, Name=table)["Table"] == before
    assert [t["Name"] for t in cat.get_tables(DatabaseName=database)["TableList"]] == [table]


def test_create_table_with_top_level_name(cat: Any) -> None:
    database = unique("db")
    cat.create_database(DatabaseInput={"Name": database})
    cat.create_table(DatabaseName=database, Name="bare")
    assert cat.get_table(DatabaseName=database, Name="bare")["Table"]["Name"] == "bare"


def test_get_tables_expression_and_pages(cat: Any) -> None:
    database = unique("db")
    names = ["people_a", "people_b", "people_c", "places", "things"]
    for name in names:
        make_table(cat, database, name)
    listed = lambda **kw: [t["Name"] for t in cat.get_tables(DatabaseName=database, **kw)["TableList"]]  # noqa: E731
    assert listed() == names
    assert listed(Expression="people*") == ["people_a", "people_b", "people_c"]
    assert listed(Expression="people_.*") == ["people_a", "people_b", "people_c"]
    assert listed(Expression="places|things") == ["places", "things"]
    assert listed(Expression="PLACES") == ["places"]
    assert listed(Expression="nothing") == []
    first = cat.get_tables(DatabaseName=database, Expression="people*", MaxResults=2)
    assert [t["Name"] for t in first["TableList"]] == ["people_a", "people_b"]
    rest = cat.get_tables(
        DatabaseName=database, Expression="people*", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [t["Name"] for t in rest["TableList"]] == ["people_c"]
    assert "NextToken" not in rest
    with pytest.raises(cat.exceptions.InvalidInputException):  # a token from another listing
        cat.get_tables(DatabaseName=database, NextToken=first["NextToken"])
    pages = cat.get_paginator("get_tables").paginate(DatabaseName=database, PaginationConfig={"PageSize": 2})
    assert [t["Name"] for p in pages for t in p["TableList"]] == names


def test_invalid_expression(cat: Any) -> None:
    database, _ = make_table(cat)
    with pytest.raises(ClientError) as raised:
        cat.get_tables(DatabaseName=database, Expression="(unclosed")
    assert error_of(raised)[0] == "InvalidInputException"


def test_delete_database_takes_its_tables(cat: Any) -> None:
    database, table = make_table(cat)
    cat.delete_database(Name=database)
    cat.create_database(DatabaseInput={"Name": database})
    assert cat.get_tables(DatabaseName=database)["TableList"] == []
    with pytest.raises(cat.exceptions.EntityNotFoundException):
        cat.get_table(DatabaseName=database, Name=table)


def test_validation_reaches_the_server(cat: Any) -> None:
    database, _ = make_table(cat)
    with pytest.raises(ClientError) as raised:
        cat.get_tables(DatabaseName=database, Expression="x" * 2049)
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value 'xxx")
    assert message.endswith(
        "at 'expression' failed to satisfy constraint: Member must have length less than or equal to 2048"
    )
