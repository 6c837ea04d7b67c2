"""StartImportLabelsTaskRun's checks at the Start call, in-process: an object that is found but cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from findmatches.aws.errors import InvalidInputException
from findmatches.config import Settings
from findmatches.io import storage as storage_module
from findmatches.service.context import RequestContext
from findmatches.service.provider import GlueProvider
from findmatches.store.database import Database

CTX = RequestContext("000000000000", "us-east-1")


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[GlueProvider]:
    settings = Settings(data_dir=tmp_path / "data")
    made = GlueProvider(Database(settings.data_dir), settings)
    yield made
    made.close()


def test_unreadable_label_file_is_refused_at_start(
    provider: GlueProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.create_database(CTX, {"Name": "db"})
    provider.create_table(
        CTX,
        "db",
        {"Name": "people", "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "string"}]}},
    )
    transform_id = provider.create_ml_transform(
        CTX,
        name="t",
        input_record_tables=[{"DatabaseName": "db", "TableName": "people"}],
        parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
        role="r",
    )["TransformId"]
    labels = tmp_path / "data" / "labels.csv"
    labels.write_text("labeling_set_id,label,id\ns1,A,1\n")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(storage_module, "open", denied, raising=False)
    with pytest.raises(InvalidInputException) as e:
        provider.start_import_labels_task_run(CTX, transform_id=transform_id, input_s3_path=str(labels))
    assert e.value.message.startswith(f"Cannot access the label file at {labels}.")
    assert "Permission denied" in e.value.message
    assert provider.get_ml_task_runs(CTX, transform_id=transform_id)["TaskRuns"] == []
