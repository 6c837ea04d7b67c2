"""ML transform management (glue-api.md §5) through boto3 against the live server."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.support import (
    COLUMNS,
    PARAMETERS,
    ROLE,
    all_transform_ids,
    error_of,
    make_table,
    make_transform,
    region_client,
    transform_args,
    unique,
)
from tests.conftest import ServerProcess


class Catalog:
    """A client in a region of its own with one table, so listings see only this test's transforms."""

    def __init__(self, url: str) -> None:
        self.glue = region_client(url)
        self.database, self.table = make_table(self.glue)
        self.region = self.glue.meta.region_name

    def args(self, **extra: Any) -> dict[str, Any]:
        return transform_args(self.database, self.table, **extra)

    def create(self, **extra: Any) -> str:
        return make_transform(self.glue, self.database, self.table, **extra)

    def arn(self, transform_id: str, account: str = "000000000000") -> str:
        return f"arn:aws:glue:{self.region}:{account}:mlTransform/{transform_id}"

    def snapshot(self) -> dict[str, Any]:
        """Everything stored about this region's transforms, to check that an error changed nothing."""
        return {
            t["TransformId"]: (t, self.glue.get_tags(ResourceArn=self.arn(t["TransformId"]))["Tags"])
            for t in self.glue.get_ml_transforms()["Transforms"]
        }

    def fails(self, call: Any, code: str, message: str | None = None, **kwargs: Any) -> str:
        before = self.snapshot()
        with pytest.raises(ClientError) as raised:
            call(**kwargs)
        got_code, got_message = error_of(raised)
        assert got_code == code, got_message
        if message is not None:
            assert got_message == message
        assert self.snapshot() == before
        return got_message


@pytest.fixture
def cat(server: ServerProcess) -> Catalog:
    return Catalog(server.url)


def test_create_and_get(cat: Catalog) -> None:
    tags = {"team": "data"}
    transform_id = cat.create(Name="people", Description="find people", Tags=tags)
    assert re.fullmatch(r"tfm-[0-9a-f]{40}", transform_id)
    got = cat.glue.get_ml_transform(TransformId=transform_id)
    got.pop("ResponseMetadata")
    assert got["TransformId"] == transform_id
    assert got["Name"] == "people"
    assert got["Description"] == "find people"
    assert got["Status"] == "NOT_READY"
    assert got["LabelCount"] == 0
    assert got["Schema"] == [{"Name": c["Name"], "DataType": c["Type"]} for c in COLUMNS]
    assert got["InputRecordTables"] == [{"DatabaseName": cat.database, "TableName": cat.table}]
    assert got["Parameters"] == PARAMETERS
    assert got["Role"] == ROLE
    assert got["MaxCapacity"] == 10.0
    assert got["Timeout"] == 2880
    assert got["MaxRetries"] == 0
    assert isinstance(got["CreatedOn"], dt.datetime)
    assert isinstance(got["LastModifiedOn"], dt.datetime)
    assert "WorkerType" not in got
    assert cat.glue.get_tags(ResourceArn=cat.arn(transform_id))["Tags"] == tags


def test_create_with_workers_and_options(cat: Catalog) -> None:
    transform_id = cat.create(
        WorkerType="G.2X", NumberOfWorkers=3, GlueVersion="4.0", Timeout=60, MaxRetries=2
    )
    got = cat.glue.get_ml_transform(TransformId=transform_id)
    assert (got["WorkerType"], got["NumberOfWorkers"], got["MaxCapacity"]) == ("G.2X", 3, 6.0)
    assert (got["GlueVersion"], got["Timeout"], got["MaxRetries"]) == ("4.0", 60, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"InputRecordTables": []}, "Exactly one input record table must be provided."),
        ({"Parameters": {"TransformType": "FIND_MATCHES"}}, "Find Matches parameters have not been set."),
        (
            {"Parameters": {"TransformType": "FIND_MATCHES", "FindMatchesParameters": {}}},
            "A primary key must be specified in Find Matches parameters.",
        ),
        (
            {
                "Parameters": {
                    "TransformType": "FIND_MATCHES",
                    "FindMatchesParameters": {"PrimaryKeyColumnName": "nope"},
                }
            },
            "Schema should contain given primary key: nope.",
        ),
        (
            {"MaxCapacity": 5.0, "WorkerType": "G.1X", "NumberOfWorkers": 2},
            "Cannot set Max Capacity and Worker Num/Type at the same time.",
        ),
        ({"WorkerType": "G.1X"}, "Both WorkerType and NumberOfWorkers should be set."),
        ({"NumberOfWorkers": 2}, "Both WorkerType and NumberOfWorkers should be set."),
        ({"MaxRetries": -1}, "Max retries should be non-negative."),
    ],
)
def test_create_checks(cat: Catalog, change: dict[str, Any], message: str) -> None:
    cat.fails(cat.glue.create_ml_transform, "InvalidInputException", message, **cat.args(**change))


def test_create_needs_exactly_one_table(cat: Catalog) -> None:
    two = [{"DatabaseName": cat.database, "TableName": cat.table}] * 2
    cat.fails(
        cat.glue.create_ml_transform,
        "InvalidInputException",
        "Exactly one input record table must be provided.",
        **cat.args(InputRecordTables=two),
    )


@pytest.mark.parametrize("capacity", [1.0, 100.5])
def test_create_capacity_bounds(cat: Catalog, capacity: float) -> None:
    cat.fails(cat.glue.create_ml_transform, "InvalidInputException", **cat.args(MaxCapacity=capacity))


def test_create_needs_the_table(cat: Catalog) -> None:
    missing = [{"DatabaseName": cat.database, "TableName": "absent"}]
    message = cat.fails(
        cat.glue.create_ml_transform, "InvalidInputException", **cat.args(InputRecordTables=missing)
    )
    assert message.startswith("Problem fetching the data catalog schema:")
    missing_db = [{"DatabaseName": "absent", "TableName": cat.table}]
    message = cat.fails(
        cat.glue.create_ml_transform, "InvalidInputException", **cat.args(InputRecordTables=missing_db)
    )
    assert message.startswith("Problem fetching the data catalog schema:")


def test_create_needs_a_schema(cat: Catalog) -> None:
    _, bare = make_table(cat.glue, cat.database, columns=[])
    cat.fails(
        cat.glue.create_ml_transform,
        "InvalidInputException",
        "Schema is not defined on the transform.",
        **cat.args(InputRecordTables=[{"DatabaseName": cat.database, "TableName": bare}]),
    )
    _, untyped = make_table(cat.glue, cat.database, columns=[{"Name": "id", "Type": "string"}, {"Name": "c"}])
    cat.fails(
        cat.glue.create_ml_transform,
        "InvalidInputException",
        "Input source column c has an invalid data type defined in the catalog.",
        **cat.args(InputRecordTables=[{"DatabaseName": cat.database, "TableName": untyped}]),
    )


def test_create_refuses_too_many_columns(cat: Catalog) -> None:
    columns = [{"Name": "id", "Type": "string"}] + [{"Name": f"c{i}", "Type": "string"} for i in range(100)]
    _, wide = make_table(cat.glue, cat.database, columns=columns)
    message = cat.fails(
        cat.glue.create_ml_transform,
        "InvalidInputException",
        **cat.args(InputRecordTables=[{"DatabaseName": cat.database, "TableName": wide}]),
    )
    assert message.startswith("Problem fetching the data catalog schema:")


def test_create_validation_errors(cat: Catalog) -> None:
    too_precise = {
        "TransformType": "FIND_MATCHES",
        "FindMatchesParameters": {"PrimaryKeyColumnName": "id", "PrecisionRecallTradeoff": 1.5},
    }
    message = cat.fails(
        cat.glue.create_ml_transform, "ValidationException", **cat.args(Parameters=too_precise)
    )
    assert message.startswith(
        "1 validation error detected: Value '1.5' at "
        "'parameters.findMatchesParameters.precisionRecallTradeoff'"
    )
    cat.fails(
        cat.glue.create_ml_transform, "ValidationException", **cat.args(WorkerType="Huge", NumberOfWorkers=1)
    )
    cat.fails(cat.glue.create_ml_transform, "ValidationException", **cat.args(Name="x" * 256))


def test_names_are_unique(cat: Catalog) -> None:
    cat.create(Name="taken")
    cat.fails(
        cat.glue.create_ml_transform,
        "AlreadyExistsException",
        "Transform with name taken already exists.",
        **cat.args(Name="taken"),
    )
    with pytest.raises(cat.glue.exceptions.AlreadyExistsException):
        cat.glue.create_ml_transform(**cat.args(Name="taken"))


def test_at_most_100_transforms(server: ServerProcess) -> None:
    cat = Catalog(server.url)
    for i in range(100):
        cat.create(Name=f"t{i:03d}")
    cat.fails(
        cat.glue.create_ml_transform,
        "ResourceNumberLimitExceededException",
        "ML Transforms count (101) has exceeded the limit of 100 transforms.",
        **cat.args(),
    )
    assert len(all_transform_ids(cat.glue)) == 100
    other_region = Catalog(server.url)  # the limit counts per account and region
    other_region.create()
    cat.glue.delete_ml_transform(TransformId=all_transform_ids(cat.glue)[0])
    cat.create()


def test_update(cat: Catalog) -> None:
    transform_id = cat.create(Name="before", Tags={"k": "v"})
    created = cat.glue.get_ml_transform(TransformId=transform_id)
    parameters = {
        "TransformType": "FIND_MATCHES",
        "FindMatchesParameters": {
            "PrimaryKeyColumnName": "last_name",
            "PrecisionRecallTradeoff": 0.9,
            "AccuracyCostTradeoff": 0.2,
            "EnforceProvidedLabels": True,
        },
    }
    answer = cat.glue.update_ml_transform(
        TransformId=transform_id,
        Name="after",
        Description="new",
        Parameters=parameters,
        Role="other-role",
        GlueVersion="3.0",
        Timeout=30,
        MaxRetries=1,
    )
    assert answer["TransformId"] == transform_id
    got = cat.glue.get_ml_transform(TransformId=transform_id)
    assert (got["Name"], got["Description"], got["Role"], got["GlueVersion"]) == (
        "after",
        "new",
        "other-role",
        "3.0",
    )
    assert got["Parameters"] == parameters
    assert (got["Timeout"], got["MaxRetries"], got["MaxCapacity"]) == (30, 1, 10.0)
    assert got["CreatedOn"] == created["CreatedOn"]
    assert got["LastModifiedOn"] >= created["LastModifiedOn"]
    assert got["Schema"] == created["Schema"]
    assert got["Status"] == "NOT_READY"
    assert cat.glue.get_tags(ResourceArn=cat.arn(transform_id))["Tags"] == {"k": "v"}

    cat.glue.update_ml_transform(TransformId=transform_id, WorkerType="G.1X", NumberOfWorkers=4)
    got = cat.glue.get_ml_transform(TransformId=transform_id)
    assert (got["WorkerType"], got["NumberOfWorkers"], got["MaxCapacity"]) == ("G.1X", 4, 4.0)
    cat.glue.update_ml_transform(TransformId=transform_id, MaxCapacity=20.0)
    got = cat.glue.get_ml_transform(TransformId=transform_id)
    assert got["MaxCapacity"] == 20.0
    assert "WorkerType" not in got and "NumberOfWorkers" not in got


def test_update_checks(cat: Catalog) -> None:
    cat.create(Name="first")
    transform_id = cat.create(Name="second")
    update = cat.glue.update_ml_transform
    cat.fails(
        update,
        "InvalidInputException",
        "Another transform with name first already exists.",
        TransformId=transform_id,
        Name="first",
    )
    cat.fails(
        update,
        "InvalidInputException",
        "Schema should contain given primary key: nope.",
        TransformId=transform_id,
        Parameters={
            "TransformType": "FIND_MATCHES",
            "FindMatchesParameters": {"PrimaryKeyColumnName": "nope"},
        },
    )
    cat.fails(
        update,
        "InvalidInputException",
        "Cannot set Max Capacity and Worker Num/Type at the same time.",
        TransformId=transform_id,
        MaxCapacity=4.0,
        WorkerType="G.1X",
        NumberOfWorkers=2,
    )
    cat.fails(
        update,
        "InvalidInputException",
        "Both WorkerType and NumberOfWorkers should be set.",
        TransformId=transform_id,
        WorkerType="G.1X",
    )
    cat.fails(
        update,
        "InvalidInputException",
        "Max retries should be non-negative.",
        TransformId=transform_id,
        MaxRetries=-3,
    )
    missing = "tfm-" + "0" * 40
    cat.fails(
        update,
        "EntityNotFoundException",
        f"Cannot find MLTransform in account 000000000000 with handle {missing}.",
        TransformId=missing,
        Name="whatever",
    )
    cat.glue.update_ml_transform(TransformId=transform_id, Name="second")  # its own name is fine


def test_get_ml_transforms_filter_sort_page(cat: Catalog) -> None:
    ids = {name: cat.create(Name=name) for name in ("charlie", "alpha", "bravo")}
    other_db, other_table = make_table(cat.glue, columns=[{"Name": "id", "Type": "string"}])
    ids["delta"] = make_transform(cat.glue, other_db, other_table, Name="delta", GlueVersion="4.0")

    def names(**kwargs: Any) -> list[str]:
        return [t["Name"] for t in cat.glue.get_ml_transforms(**kwargs)["Transforms"]]

    assert names() == ["charlie", "alpha", "bravo", "delta"]  # creation order
    assert names(Sort={"Column": "NAME", "SortDirection": "ASCENDING"}) == [
        "alpha",
        "bravo",
        "charlie",
        "delta",
    ]
    assert names(Sort={"Column": "NAME", "SortDirection": "DESCENDING"}) == [
        "delta",
        "charlie",
        "bravo",
        "alpha",
    ]
    assert names(Sort={"Column": "CREATED", "SortDirection": "DESCENDING"}) == [
        "delta",
        "bravo",
        "alpha",
        "charlie",
    ]
    assert len(names(Sort={"Column": "TRANSFORM_TYPE", "SortDirection": "ASCENDING"})) == 4
    assert len(names(Sort={"Column": "STATUS", "SortDirection": "ASCENDING"})) == 4
    cat.glue.update_ml_transform(TransformId=ids["alpha"], Description="touched")
    assert names(Sort={"Column": "LAST_MODIFIED", "SortDirection": "DESCENDING"})[0] == "alpha"

    assert names(Filter={"Name": "bravo"}) == ["bravo"]
    assert names(Filter={"Status": "NOT_READY"}) == ["charlie", "alpha", "bravo", "delta"]
    assert names(Filter={"Status": "READY"}) == []
    assert names(Filter={"TransformType": "FIND_MATCHES"}) == ["charlie", "alpha", "bravo", "delta"]
    assert names(Filter={"GlueVersion": "4.0"}) == ["delta"]
    assert names(Filter={"Schema": [{"Name": "first_name", "DataType": "string"}]}) == [
        "charlie",
        "alpha",
        "bravo",
    ]
    assert names(Filter={"Schema": [{"Name": "first_name", "DataType": "int"}]}) == []
    created = {n: cat.glue.get_ml_transform(TransformId=i)["CreatedOn"] for n, i in ids.items()}
    assert names(Filter={"CreatedAfter": created["alpha"]}) == ["bravo", "delta"]
    assert names(Filter={"CreatedBefore": created["alpha"]}) == ["charlie"]
    assert names(Filter={"CreatedAfter": created["charlie"], "Name": "delta"}) == ["delta"]
    assert names(Filter={"LastModifiedAfter": dt.datetime(2100, 1, 1, tzinfo=dt.UTC)}) == []

    first = cat.glue.get_ml_transforms(MaxResults=3, Sort={"Column": "NAME", "SortDirection": "ASCENDING"})
    assert [t["Name"] for t in first["Transforms"]] == ["alpha", "bravo", "charlie"]
    assert first["Transforms"][0]["Status"] == "NOT_READY"
    rest = cat.glue.get_ml_transforms(
        MaxResults=3, NextToken=first["NextToken"], Sort={"Column": "NAME", "SortDirection": "ASCENDING"}
    )
    assert [t["Name"] for t in rest["Transforms"]] == ["delta"]
    assert "NextToken" not in rest
    cat.fails(cat.glue.get_ml_transforms, "InvalidInputException", NextToken="not-a-token")
    cat.fails(cat.glue.get_ml_transforms, "ValidationException", MaxResults=1001)
    cat.fails(
        cat.glue.get_ml_transforms,
        "ValidationException",
        Sort={"Column": "BOGUS", "SortDirection": "ASCENDING"},
    )


def test_list_ml_transforms_with_tags_and_pages(cat: Catalog) -> None:
    blue = cat.create(Name="b1", Tags={"colour": "blue", "size": "s"})
    blue2 = cat.create(Name="b2", Tags={"colour": "blue"})
    red = cat.create(Name="r1", Tags={"colour": "red"})
    plain = cat.create(Name="p1")
    assert cat.glue.list_ml_transforms()["TransformIds"] == [blue, blue2, red, plain]
    assert cat.glue.list_ml_transforms(Tags={"colour": "blue"})["TransformIds"] == [blue, blue2]
    assert cat.glue.list_ml_transforms(Tags={"colour": "blue", "size": "s"})["TransformIds"] == [blue]
    assert cat.glue.list_ml_transforms(Tags={"colour": "green"})["TransformIds"] == []
    assert cat.glue.list_ml_transforms(Tags={"colour": "red"}, Filter={"Name": "r1"})["TransformIds"] == [red]
    by_name = cat.glue.list_ml_transforms(Sort={"Column": "NAME", "SortDirection": "DESCENDING"})
    assert by_name["TransformIds"] == [red, plain, blue2, blue]
    first = cat.glue.list_ml_transforms(MaxResults=2)
    assert first["TransformIds"] == [blue, blue2]
    rest = cat.glue.list_ml_transforms(MaxResults=2, NextToken=first["NextToken"])
    assert rest["TransformIds"] == [red, plain]
    assert "NextToken" not in rest


def test_tags(cat: Catalog) -> None:
    transform_id = cat.create(Tags={"a": "1"})
    arn = cat.arn(transform_id)
    cat.glue.tag_resource(ResourceArn=arn, TagsToAdd={"b": "2", "a": "one"})
    assert cat.glue.get_tags(ResourceArn=arn)["Tags"] == {"a": "one", "b": "2"}
    cat.glue.untag_resource(ResourceArn=arn, TagsToRemove=["a", "absent"])
    assert cat.glue.get_tags(ResourceArn=arn)["Tags"] == {"b": "2"}
    cat.glue.untag_resource(ResourceArn=arn, TagsToRemove=["b"])
    assert cat.glue.get_tags(ResourceArn=arn)["Tags"] == {}


def test_tag_errors(cat: Catalog) -> None:
    transform_id = cat.create(Tags={"a": "1"})
    missing = cat.arn("tfm-" + "0" * 40)
    cat.fails(cat.glue.tag_resource, "EntityNotFoundException", ResourceArn=missing, TagsToAdd={"x": "y"})
    cat.fails(cat.glue.get_tags, "EntityNotFoundException", ResourceArn=missing)
    other_account = cat.arn(transform_id, account="111111111111")
    cat.fails(
        cat.glue.tag_resource, "EntityNotFoundException", ResourceArn=other_account, TagsToAdd={"x": "y"}
    )
    other_region = f"arn:aws:glue:eu-west-1:000000000000:mlTransform/{transform_id}"
    cat.fails(
        cat.glue.untag_resource, "EntityNotFoundException", ResourceArn=other_region, TagsToRemove=["a"]
    )
    not_a_transform = f"arn:aws:glue:{cat.region}:000000000000:database/x"
    cat.fails(
        cat.glue.tag_resource, "InvalidInputException", ResourceArn=not_a_transform, TagsToAdd={"x": "y"}
    )
    cat.fails(cat.glue.get_tags, "ValidationException", ResourceArn="not-an-arn")
    too_many = {f"k{i}": "v" for i in range(50)}
    cat.fails(
        cat.glue.tag_resource, "InvalidInputException", ResourceArn=cat.arn(transform_id), TagsToAdd=too_many
    )


def test_delete(cat: Catalog) -> None:
    transform_id = cat.create(Name="doomed", Tags={"a": "1"})
    keep = cat.create()
    assert cat.glue.delete_ml_transform(TransformId=transform_id)["TransformId"] == transform_id
    message = f"Cannot find MLTransform in account 000000000000 with handle {transform_id}."
    for call in (cat.glue.get_ml_transform, cat.glue.delete_ml_transform):
        with pytest.raises(cat.glue.exceptions.EntityNotFoundException) as raised:
            call(TransformId=transform_id)
        assert error_of(raised)[1] == message
    with pytest.raises(cat.glue.exceptions.EntityNotFoundException):
        cat.glue.get_tags(ResourceArn=cat.arn(transform_id))
    assert cat.glue.list_ml_transforms()["TransformIds"] == [keep]
    cat.create(Name="doomed")  # the name is free again


def test_get_unknown_transform(cat: Catalog) -> None:
    for transform_id in ("tfm-" + "1" * 40, "whatever"):
        with pytest.raises(ClientError) as raised:
            cat.glue.get_ml_transform(TransformId=transform_id)
        assert error_of(raised) == (
            "EntityNotFoundException",
            f"Cannot find MLTransform in account 000000000000 with handle {transform_id}.",
        )


def test_schema_is_a_snapshot_of_the_table(cat: Catalog) -> None:
    transform_id = cat.create()
    cat.glue.update_table(
        DatabaseName=cat.database,
        TableInput={"Name": cat.table, "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}]}},
    )
    assert cat.glue.get_ml_transform(TransformId=transform_id)["Schema"][0] == {
        "Name": "id",
        "DataType": "string",
    }
    assert unique()  # keep the helper import honest
