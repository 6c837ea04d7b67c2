"""`labelled_keys_present`: which labelled keys the transform's table holds, found by a scan that keeps only
those (an import of labels checks its keys with it, and the table's keys never gather in the server)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.types import CsvFormat, RecordSource
from findmatches.tasks.taught import labelled_keys_present

KEYS = st.text(alphabet="ab1 ,\"'é", min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(table_keys=st.lists(KEYS, max_size=30), labelled=st.lists(KEYS, min_size=1, max_size=10))
def test_the_found_keys_are_the_labelled_keys_the_table_holds(
    table_keys: list[str], labelled: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        pacsv.write_csv(
            pa.table({"id": pa.array(table_keys, pa.string()), "name": ["x"] * len(table_keys)}), path
        )
        source = RecordSource(
            paths=(path,), format="csv", csv=CsvFormat(header=True, delimiter=",", quote='"', escape='"')
        )
        found = labelled_keys_present(source, "id", labelled, Path(tmp) / "spill")
    assert found is not None
    assert sorted(found) == sorted(set(labelled) & set(table_keys))


def test_parquet_keys_of_any_type_are_compared_as_text(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    pq.write_table(pa.table({"id": pa.array([1, 2, 30], pa.int64()), "name": ["a", "b", "c"]}), path)
    source = RecordSource(paths=(path,), format="parquet")
    assert sorted(labelled_keys_present(source, "id", ["2", "30", "4"], tmp_path / "spill") or []) == [
        "2",
        "30",
    ]


def test_a_table_without_the_key_column_says_so(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    pq.write_table(pa.table({"name": ["a"]}), path)
    assert labelled_keys_present(RecordSource(paths=(path,), format="parquet"), "id", ["1"], tmp_path) is None


@pytest.mark.parametrize("header", [True, False])
def test_a_csv_table_is_read_with_its_layout(tmp_path: Path, header: bool) -> None:
    path = tmp_path / "table.csv"
    path.write_text(("id;name\n" if header else "") + "7;a\n8;b\n")
    layout = CsvFormat(header=header, delimiter=";", names=() if header else ("id", "name"))
    source = RecordSource(paths=(path,), format="csv", csv=layout)
    assert labelled_keys_present(source, "id", ["8", "9"], tmp_path / "spill") == ["8"]
