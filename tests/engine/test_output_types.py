"""The output of `find_matches` is the input's own records: every column keeps its type and its nulls."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from findmatches.engine.api import find_matches
from findmatches.engine.types import MatchParams, RecordSource
from tests.engine.conftest import no_labels, oracle_labels


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _typed(people: pa.Table) -> pa.Table:
    """The generated people with a BIGINT key, an INT postcode, a DOUBLE, a DATE and a BOOLEAN column, and
    nulls in each of those that are not the key."""
    n = people.num_rows
    every_7th = [i % 7 == 0 for i in range(n)]
    postcode = pa.array(
        [
            None if gap else _int(v)
            for v, gap in zip(people.column("postcode").to_pylist(), every_7th, strict=True)
        ],
        pa.int32(),
    )
    born = pa.array(
        [None if i % 5 == 0 else _date(v) for i, v in enumerate(people.column("dob").to_pylist())],
        pa.date32(),
    )
    return pa.table(
        {
            "pk": pa.array(range(1_000_000, 1_000_000 + n), pa.int64()),
            "given_name": people.column("given_name"),
            "surname": people.column("surname"),
            "born": born,
            "street": people.column("street"),
            "postcode": postcode,
            "score": pa.array([None if i % 3 == 0 else i / 4 for i in range(n)], pa.float64()),
            "member": pa.array([None if i % 11 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
        }
    )


def _labels(typed: pa.Table, truth: dict[str, str], ids: list[str]) -> pa.Table:
    """Labels for the first 60 records, in two labeling sets, naming them by the BIGINT key's text."""
    rows = pa.table(
        {
            "labeling_set_id": ["s1"] * 30 + ["s2"] * 30,
            "pk": [str(v) for v in typed.column("pk").to_pylist()[:60]],
        }
    )
    by_key = {str(k): truth[i] for k, i in zip(typed.column("pk").to_pylist(), ids, strict=True)}
    return oracle_labels(rows, by_key, pk="pk")


def _write_json_lines(table: pa.Table, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in table.to_pylist():
            out.write(
                json.dumps({k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}) + "\n"
            )


@pytest.mark.parametrize("out_format", ["parquet", "csv"])
def test_parquet_input_keeps_its_types_and_nulls(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path, out_format: Literal["csv", "parquet"]
) -> None:
    table, truth = people
    typed = _typed(table)
    source = tmp_path / "part-00000-3f1c-c000.snappy.parquet"
    pq.write_table(typed, source)
    out = tmp_path / f"out.{out_format}"
    labels = _labels(typed, truth, table.column("id").to_pylist())
    n = find_matches(
        RecordSource(paths=(source,), format="parquet"),
        MatchParams(primary_key="pk"),
        labels,
        out_path=out,
        out_format=out_format,
        compute_confidence=True,
    )
    assert n == typed.num_rows
    if out_format == "csv":
        got = pa_csv.read_csv(out, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
        # CSV carries text: the numbers and dates read back as what they were.
        assert got.column("pk").to_pylist() == typed.column("pk").to_pylist()
        assert got.column("postcode").null_count == typed.column("postcode").null_count
        return
    got = pq.read_table(out)
    assert got.column_names == [*typed.column_names, "match_id", "match_confidence_score"]
    for field in typed.schema:
        assert got.schema.field(field.name) == field, field.name  # the same type, optional as it was
    assert got.schema.field("match_id").type == pa.int64()
    assert got.schema.field("match_confidence_score").type == pa.float64()
    assert got.select(typed.column_names).equals(typed)  # the same rows, in input order, nulls and all


def test_json_lines_input_keeps_its_types_and_nulls(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, _ = people
    typed = _typed(table)
    source = tmp_path / "part-00000.json"
    _write_json_lines(typed, source)
    out = tmp_path / "out.parquet"
    n = find_matches(
        RecordSource(paths=(source,), format="json"),
        MatchParams(primary_key="pk"),
        no_labels(),
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
    )
    got = pq.read_table(out)
    assert n == got.num_rows == typed.num_rows
    assert got.column_names == [*typed.column_names, "match_id"]
    kinds = {f.name: f.type for f in got.schema}
    assert kinds["pk"] == pa.int64() and kinds["postcode"] == pa.int64()  # JSON numbers stay numbers
    assert kinds["score"] == pa.float64() and kinds["member"] == pa.bool_()
    assert kinds["given_name"] == pa.string() and kinds["match_id"] == pa.int64()
    assert got.column("pk").to_pylist() == typed.column("pk").to_pylist()
    for name in ("postcode", "score", "member", "born"):
        assert got.column(name).null_count == typed.column(name).null_count, name
    assert got.column("postcode").to_pylist() == typed.column("postcode").to_pylist()


def test_csv_input_is_written_back_as_the_text_it_was(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, _ = people
    text = pa.table(
        {
            "id": table.column("id"),
            "given_name": table.column("given_name"),
            "surname": table.column("surname"),
            # Text that a type-guessing reader would change: leading zeros, a number-like code, a gap.
            "postcode": pa.array(
                [
                    None if i % 6 == 0 or v is None else "0" + v
                    for i, v in enumerate(table.column("postcode").to_pylist())
                ]
            ),
            "phone": table.column("phone"),
        }
    )
    source = tmp_path / "part-00000.csv"
    pa_csv.write_csv(text, source)
    out = tmp_path / "out.parquet"
    find_matches(
        RecordSource(paths=(source,), format="csv"),
        MatchParams(primary_key="id"),
        no_labels(),
        out_path=out,
        out_format="parquet",
        compute_confidence=True,
    )
    got = pq.read_table(out)
    assert all(got.schema.field(c).type == pa.string() for c in text.column_names)
    assert got.select(text.column_names).equals(text)
    assert got.schema.field("match_id").type == pa.int64()
    assert got.schema.field("match_confidence_score").type == pa.float64()


@pytest.mark.parametrize("typed_input", [True, False])
def test_extra_records_are_matched_but_not_written(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path, typed_input: bool
) -> None:
    """The labelled records an input lacks (``extra``, text as the engine reads the table) take part in
    matching, typed input or not, and the output is the input's records alone, with their own types."""
    table, truth = people
    typed = _typed(table)
    source_table = typed if typed_input else typed.select(["pk", "given_name", "surname", "street"])
    if not typed_input:
        source_table = source_table.set_column(0, "pk", source_table.column("pk").cast(pa.string()))
    source, extra_rows = source_table.slice(60), source_table.slice(0, 60)
    path = tmp_path / "part-00000.parquet"
    pq.write_table(source, path)
    extra = pa.table({name: extra_rows.column(name).cast(pa.string()) for name in extra_rows.column_names})
    out = tmp_path / "out.parquet"
    n = find_matches(
        RecordSource(paths=(path,), format="parquet"),
        MatchParams(primary_key="pk"),
        _labels(typed, truth, table.column("id").to_pylist()),
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
        extra=RecordSource(table=extra),
    )
    got = pq.read_table(out)
    assert n == got.num_rows == source.num_rows
    assert got.select(source.column_names).equals(source)


def _discs() -> pa.Table:
    """Discs whose track lists are lists (as Parquet and JSON hold them), items with commas inside; two
    submissions of each disc, the second with a track missing and the list in another order."""
    albums = [[f"Song {d}-{t}, part {t % 2 + 1}" for t in range(8)] for d in range(40)]
    tracks: list[list[str] | None] = []
    for songs in albums:
        tracks += [songs, songs[:0:-1]]
    tracks[-1] = None
    return pa.table(
        {
            "id": [f"d{i:03d}" for i in range(len(tracks))],
            "tracks": pa.array(tracks, pa.list_(pa.string())),
        }
    )


def test_a_list_column_is_read_item_by_item_and_written_back_as_a_list(tmp_path: Path) -> None:
    """A list's items are joined by the separator of parts (`LIST_SEPARATOR`), so that the engine compares a
    track list item by item whatever commas its items hold; the output keeps the list as it was."""
    from findmatches.engine.backend import LIST_SEPARATOR
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.profile import profile_columns

    discs = _discs()
    backend = DuckDBBackend()
    try:
        backend.load_records(RecordSource(table=discs), "t")
        text = backend.query("SELECT tracks FROM t ORDER BY _rid").column("tracks").to_pylist()
        profiles = profile_columns(backend, "t", ["id", "tracks"], {"id"})
    finally:
        backend.close()
    assert text[0] == LIST_SEPARATOR.join(discs.column("tracks")[0].as_py())
    assert text[0].startswith("Song 0-0, part 1 | Song 0-1, part 2")
    assert text[-1] is None
    assert profiles[0].compares_segments  # compared part by part, as the same list in a CSV's text is
    source = tmp_path / "discs.parquet"
    pq.write_table(discs, source)
    out = tmp_path / "out.parquet"
    truth = {f"d{i:03d}": f"a{i // 2}" for i in range(discs.num_rows)}
    rows = pa.table({"labeling_set_id": ["s1"] * 20, "id": [f"d{i:03d}" for i in range(20)]})
    find_matches(
        RecordSource(paths=(source,), format="parquet"),
        MatchParams(primary_key="id"),
        oracle_labels(rows, truth),
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
    )
    got = pq.read_table(out)
    assert got.select(discs.column_names).equals(discs)
    ids = dict(zip(got.column("id").to_pylist(), got.column("match_id").to_pylist(), strict=True))
    # The submissions of a disc beyond the labelled ones are found by their items, whatever their order.
    assert all(ids[f"d{i:03d}"] == ids[f"d{i + 1:03d}"] for i in range(20, 78, 2))
