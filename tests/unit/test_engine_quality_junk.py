"""`bench/engine_quality.py --junk`: each set with four columns that say nothing about identity."""

from __future__ import annotations

import pyarrow as pa

from bench.engine_quality import JUNK_COLUMNS, Dataset, with_junk


def _data() -> Dataset:
    table = pa.table({"id": [str(i) for i in range(200)], "name": [f"n{i // 2}" for i in range(200)]})
    return Dataset("toy", table, "id", {str(i): str(i // 2) for i in range(200)})


def test_junk_columns_are_added_and_know_nothing_of_the_truth() -> None:
    data = with_junk(_data())
    assert data.name == "toy+junk"
    assert data.table.column_names == ["id", "name", *JUNK_COLUMNS]
    assert data.truth == _data().truth
    refs = data.table.column("internal_ref").to_pylist()
    assert len(set(refs)) == len(refs)  # an opaque id: every record its own
    assert set(data.table.column("batch").to_pylist()) <= set("ABCDE")
    notes = data.table.column("notes").to_pylist()
    assert 0 < notes.count(None) < len(notes)
    # The same columns every run, so that runs compare.
    assert with_junk(_data()).table.equals(data.table)
