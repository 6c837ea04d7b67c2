"""CSV rows of any width read as Spark's permissive reader (Glue's) reads them: a row short of the header reads
empty (NULL) for its missing fields, and fields beyond the header are dropped; quoted commas, quotes and line
breaks, a byte-order mark and CRLF line ends read as written (`csv_relation`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findmatches.engine.backends import DuckDBBackend
from findmatches.engine.types import RecordSource

CELLS = ["alpha", "beta gamma", "a, comma", 'a "quote"', "line\nbreak", "naïve café", "12", "-7.5", ""]


@st.composite
def files(draw: st.DrawFn) -> tuple[str, list[str], list[list[str | None]]]:
    """A CSV text, its header and the rows a permissive reader gives: some rows written without their empty
    trailing fields, some full rows with one field more."""
    width = draw(st.integers(2, 6))
    header = ["id"] + [f"col_{i}" for i in range(1, width)]
    cells = st.lists(st.sampled_from(CELLS), min_size=width - 1, max_size=width - 1)
    rows = [[str(i), *cells_] for i, cells_ in enumerate(draw(st.lists(cells, min_size=3, max_size=40)))]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=eol)
    writer.writerow(header)
    for row in rows:
        how = draw(st.sampled_from(["whole", "whole", "short", "long"]))
        written = list(row)
        if how == "short":
            while written[-1] == "":
                written.pop()
        elif how == "long":
            written.append("beyond the header")
        writer.writerow(written)
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + out.getvalue(), header, [[v or None for v in row] for row in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=files())
def test_rows_of_any_width_read_as_a_permissive_reader_reads_them(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, list[str], list[list[str | None]]]
) -> None:
    text, header, expected = case
    path: Path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text(text, encoding="utf-8", newline="")
    backend = DuckDBBackend(threads=2)
    try:
        backend.load_records(RecordSource(paths=(path,), format="csv"), "t")
        got = backend.query("SELECT * FROM t ORDER BY _rid").to_pydict()
    finally:
        backend.close()
    assert list(got) == ["_rid", *header]
    assert [[got[c][i] or None for c in header] for i in range(len(got["_rid"]))] == expected
