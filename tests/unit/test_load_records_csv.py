"""The DuckDB backend reads CSV files as RecordSource.csv says: delimiter, quote, escape, no header row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from findmatches.engine.backends import DuckDBBackend
from findmatches.engine.types import CsvFormat, RecordSource


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[DuckDBBackend]:
    be = DuckDBBackend(threads=1, temp_dir=tmp_path / "engine")
    yield be
    be.close()


def rows(be: DuckDBBackend, table: str) -> list[dict[str, str | None]]:
    result: list[dict[str, str | None]] = be.query(f"SELECT * FROM {table} ORDER BY _rid").to_pylist()
    return result


def test_headerless_tab_separated_with_names(backend: DuckDBBackend, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("007\t'Doe\tJ'\t01234\n1e3\t'it''s'\t\n")
    b.write_text("42\tZ\n")  # a shorter file: the missing field reads as null
    csv = CsvFormat(delimiter="\t", quote="'", header=False, names=("id", "name", "zip"))
    columns = backend.load_records(RecordSource(paths=(a, b), csv=csv), "recs").columns
    assert columns == ["id", "name", "zip"]
    assert rows(backend, "recs") == [
        {"_rid": 0, "id": "007", "name": "Doe\tJ", "zip": "01234"},
        {"_rid": 1, "id": "1e3", "name": "it's", "zip": None},
        {"_rid": 2, "id": "42", "name": "Z", "zip": None},
    ]


def test_escape_and_delimiter_with_a_header(backend: DuckDBBackend, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text('id|name\n1|"say \\"hi\\""\n2|a,b\n')
    csv = CsvFormat(delimiter="|", quote='"', escape="\\")
    assert backend.load_records(RecordSource(paths=(f,), csv=csv), "recs")[0] == ["id", "name"]
    assert [r["name"] for r in rows(backend, "recs")] == ['say "hi"', "a,b"]


def test_default_is_a_sniffed_header_row(backend: DuckDBBackend, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("id;name\n007;x\n")
    assert backend.load_records(RecordSource(paths=(f,)), "recs")[0] == ["id", "name"]
    assert rows(backend, "recs") == [{"_rid": 0, "id": "007", "name": "x"}]
    headerless = RecordSource(paths=(f,), csv=CsvFormat(header=False, names=("a", "b")))
    assert backend.load_records(headerless, "raw")[0] == ["a", "b"]
    assert [r["a"] for r in rows(backend, "raw")] == ["id", "007"]  # the first line is a record


@pytest.mark.parametrize("typed", [False, True])
def test_the_counts_of_a_load_with_extras(backend: DuckDBBackend, tmp_path: Path, typed: bool) -> None:
    """The source's records and all records loaded, for text sources (the extras inserted into the one table)
    and typed ones (the extras a union beside it)."""
    source = pa.table({"id": ["a", "b", "c"], "n": [1, 2, 3] if typed else ["1", "2", "3"]})
    extras = [RecordSource(table=pa.table({"id": ["x"]})), RecordSource(table=pa.table({"id": ["y", "z"]}))]
    loaded = backend.load_records(RecordSource(table=source), "recs", extras)
    assert loaded == (["id", "n"], 3, 6)
    assert len(rows(backend, "recs")) == loaded.rows
