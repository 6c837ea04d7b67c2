"""Accounts and regions are walls: nothing of one is visible to or changeable by another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.support import error_of, make_table, make_transform, region_client, unique
from tests.conftest import ServerProcess, client


@pytest.fixture
def pair(server: ServerProcess) -> tuple[Any, Any]:
    """Two accounts' clients in one fresh region."""
    mine = region_client(server.url)
    theirs = client(
        server.url, access_key="AKIDOTHER", secret_key="other-secret", region=mine.meta.region_name
    )
    return mine, theirs


def _fails(call: Any, code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert error_of(raised)[0] == code


def test_other_account_sees_nothing(pair: tuple[Any, Any]) -> None:
    mine, theirs = pair
    database, table = make_table(mine)
    transform_id = make_transform(mine, database, table, Tags={"k": "v"})
    assert theirs.get_databases()["DatabaseList"] == []
    assert theirs.get_ml_transforms()["Transforms"] == []
    assert theirs.list_ml_transforms()["TransformIds"] == []
    assert theirs.list_ml_transforms(Tags={"k": "v"})["TransformIds"] == []
    _fails(theirs.get_database, "EntityNotFoundException", Name=database)
    _fails(theirs.get_tables, "EntityNotFoundException", DatabaseName=database)
    _fails(theirs.get_table, "EntityNotFoundException", DatabaseName=database, Name=table)
    _fails(theirs.get_ml_transform, "EntityNotFoundException", TransformId=transform_id)
    with pytest.raises(ClientError) as raised:
        theirs.get_ml_transform(TransformId=transform_id)
    assert "account 111111111111" in error_of(raised)[1]
    _fails(theirs.get_database, "AccessDeniedException", Name=database, CatalogId="000000000000")


def test_other_account_changes_nothing(pair: tuple[Any, Any]) -> None:
    mine, theirs = pair
    database, table = make_table(mine)
    transform_id = make_transform(mine, database, table, Name="guarded", Tags={"k": "v"})
    arn = f"arn:aws:glue:{mine.meta.region_name}:000000000000:mlTransform/{transform_id}"
    before = mine.get_ml_transform(TransformId=transform_id)
    table_before = mine.get_table(DatabaseName=database, Name=table)["Table"]

    _fails(theirs.update_ml_transform, "EntityNotFoundException", TransformId=transform_id, Name="stolen")
    _fails(theirs.delete_ml_transform, "EntityNotFoundException", TransformId=transform_id)
    _fails(theirs.tag_resource, "EntityNotFoundException", ResourceArn=arn, TagsToAdd={"x": "y"})
    _fails(theirs.untag_resource, "EntityNotFoundException", ResourceArn=arn, TagsToRemove=["k"])
    _fails(theirs.get_tags, "EntityNotFoundException", ResourceArn=arn)
    _fails(theirs.delete_table, "EntityNotFoundException", DatabaseName=database, Name=table)
    _fails(theirs.update_table, "EntityNotFoundException", DatabaseName=database, TableInput={"Name": table})
    _fails(theirs.delete_database, "EntityNotFoundException", Name=database)
    _fails(theirs.delete_database, "AccessDeniedException", Name=database, CatalogId="000000000000")
    _fails(
        theirs.create_table,
        "AccessDeniedException",
        CatalogId="000000000000",
        DatabaseName=database,
        TableInput={"Name": "planted"},
    )
    # their transform cannot read my table either
    _fails(
        theirs.create_ml_transform,
        "InvalidInputException",
        Name="reader",
        InputRecordTables=[{"DatabaseName": database, "TableName": table}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
        Role="r",
    )
    _fails(
        theirs.create_ml_transform,
        "AccessDeniedException",
        Name="reader2",
        InputRecordTables=[{"DatabaseName": database, "TableName": table, "CatalogId": "000000000000"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
        Role="r",
    )

    after = mine.get_ml_transform(TransformId=transform_id)
    for got in (before, after):
        got.pop("ResponseMetadata")
    assert after == before
    assert mine.get_tags(ResourceArn=arn)["Tags"] == {"k": "v"}
    assert mine.get_table(DatabaseName=database, Name=table)["Table"] == table_before
    assert [t["Name"] for t in mine.get_tables(DatabaseName=database)["TableList"]] == [table]


def test_other_account_cannot_see_start_or_cancel_task_runs(pair: tuple[Any, Any], files_root: Path) -> None:
    mine, theirs = pair
    database, table = make_table(mine)
    transform_id = make_transform(mine, database, table)
    out = str(files_root / unique("isolation"))
    run_id = mine.start_ml_labeling_set_generation_task_run(TransformId=transform_id, OutputS3Path=out)[
        "TaskRunId"
    ]
    ids = {"TransformId": transform_id}
    _fails(theirs.get_ml_task_run, "EntityNotFoundException", TaskRunId=run_id, **ids)
    _fails(theirs.get_ml_task_runs, "EntityNotFoundException", **ids)
    _fails(theirs.cancel_ml_task_run, "EntityNotFoundException", TaskRunId=run_id, **ids)
    _fails(
        theirs.start_ml_labeling_set_generation_task_run, "EntityNotFoundException", OutputS3Path=out, **ids
    )
    _fails(theirs.start_import_labels_task_run, "EntityNotFoundException", InputS3Path=out, **ids)
    _fails(theirs.start_export_labels_task_run, "EntityNotFoundException", OutputS3Path=out, **ids)
    _fails(theirs.start_ml_evaluation_task_run, "EntityNotFoundException", **ids)
    _fails(theirs.start_find_matches_task_run, "EntityNotFoundException", OutputS3Path=out, **ids)
    runs = mine.get_ml_task_runs(**ids)["TaskRuns"]
    assert [r["TaskRunId"] for r in runs] == [run_id]  # theirs started nothing on my transform
    assert mine.get_ml_task_run(TaskRunId=run_id, **ids)["Status"] not in (
        "STOPPING",
        "STOPPED",
    )  # nor cancelled


def test_same_names_in_both_accounts(pair: tuple[Any, Any]) -> None:
    mine, theirs = pair
    database, table = unique("db"), unique("tbl")
    make_table(mine, database, table)
    make_table(theirs, database, table)
    mine_id = make_transform(mine, database, table, Name="shared-name")
    theirs_id = make_transform(theirs, database, table, Name="shared-name")
    assert mine_id != theirs_id
    assert mine.list_ml_transforms()["TransformIds"] == [mine_id]
    assert theirs.list_ml_transforms()["TransformIds"] == [theirs_id]
    theirs.delete_database(Name=database)
    assert mine.get_table(DatabaseName=database, Name=table)["Table"]["Name"] == table
    theirs.delete_ml_transform(TransformId=theirs_id)
    assert mine.get_ml_transform(TransformId=mine_id)["Name"] == "shared-name"


def test_regions_are_walls(server: ServerProcess) -> None:
    here = region_client(server.url)
    database, table = make_table(here)
    transform_id = make_transform(here, database, table, Name="regional")
    there = client(server.url, region="eu-west-1")
    assert all(d["Name"] != database for d in there.get_databases()["DatabaseList"])
    assert transform_id not in there.list_ml_transforms()["TransformIds"]
    _fails(there.get_ml_transform, "EntityNotFoundException", TransformId=transform_id)
    _fails(there.get_table, "EntityNotFoundException", DatabaseName=database, Name=table)
    _fails(there.delete_ml_transform, "EntityNotFoundException", TransformId=transform_id)
    arn = f"arn:aws:glue:{here.meta.region_name}:000000000000:mlTransform/{transform_id}"
    _fails(there.get_tags, "EntityNotFoundException", ResourceArn=arn)
    assert here.get_ml_transform(TransformId=transform_id)["Name"] == "regional"
