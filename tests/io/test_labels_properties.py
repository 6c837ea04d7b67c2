"""Property tests: valid label tables round-trip; every broken file fails naming its line and column."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from findmatches.io import LABEL_SCHEMA, LabelFileError, ParsedLabels, parse_label_file, write_label_file

_BREAK = re.compile(r"\r\n|\r|\n")
RESERVED = {"labeling_set_id", "label"}

# Any text but NUL, which a label file may not hold (the mark of a binary or UTF-16 file: tests/bad_files.py).
TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
column_names = st.text(TEXT, min_size=1, max_size=8).filter(
    lambda s: s == s.strip() and s.casefold() not in RESERVED
)
values = st.text(TEXT, max_size=10)
nonblank = st.text(TEXT, min_size=1, max_size=6).filter(lambda s: s.strip() != "")


@dataclass
class LabelFile:
    """A valid label file's content: source columns, primary key and rows (set id, label, values)."""

    columns: list[str]
    primary_key: str
    rows: list[tuple[str, str, dict[str, str]]]

    def parsed(self) -> ParsedLabels:
        table = pa.table(
            [
                pa.array([r[0] for r in self.rows], pa.string()),
                pa.array([r[1] for r in self.rows], pa.string()),
                pa.array([r[2][self.primary_key] for r in self.rows], pa.string()),
                pa.array([json.dumps(r[2], ensure_ascii=False) for r in self.rows], pa.string()),
            ],
            schema=LABEL_SCHEMA,
        )
        return ParsedLabels(table, tuple(self.columns), self.primary_key)

    def csv(self) -> bytes:
        p = self.parsed()
        return write_label_file(p.table, p.columns)

    def record_lines(self) -> list[int]:
        """The physical line on which each row starts (header is line 1)."""
        starts, line = [], 2 + sum(len(_BREAK.findall(c)) for c in self.columns)
        for set_id, label, record in self.rows:
            starts.append(line)
            line += sum(len(_BREAK.findall(v)) for v in [set_id, label, *record.values()]) + 1
        return starts

    def field_line(self, index: int, column: int) -> int:
        """Line on which field ``column`` (0-based, file order) of row ``index`` starts."""
        set_id, label, record = self.rows[index]
        fields = [set_id, label, *(record[c] for c in self.columns)]
        return self.record_lines()[index] + sum(len(_BREAK.findall(v)) for v in fields[:column])


@st.composite
def label_files(draw: st.DrawFn, min_rows: int = 1) -> LabelFile:
    columns = draw(st.lists(column_names, min_size=1, max_size=4, unique=True))
    primary_key = draw(st.sampled_from(columns))
    set_ids = draw(st.lists(nonblank, min_size=1, max_size=3, unique=True))
    keys = draw(
        st.lists(st.tuples(st.sampled_from(set_ids), nonblank), min_size=min_rows, max_size=8, unique=True)
    )
    rows = []
    for set_id, key in keys:
        record = {c: key if c == primary_key else draw(values) for c in columns}
        rows.append((set_id, draw(nonblank), record))
    return LabelFile(columns, primary_key, rows)


@given(label_files())
@settings(max_examples=200, deadline=None)
def test_valid_files_round_trip(f: LabelFile) -> None:
    expected = f.parsed()
    assert parse_label_file(f.csv(), f.primary_key) == expected
    assert parse_label_file(b"\xef\xbb\xbf" + f.csv(), f.primary_key) == expected  # with a BOM too


MUTATIONS = ["blank_set", "blank_label", "blank_key", "duplicate_key", "drop_field", "extra_field",
             "unterminated", "bad_utf8", "drop_label_header", "no_rows"]  # fmt: skip


@given(label_files(min_rows=2), st.sampled_from(MUTATIONS), st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_invalid_files_name_line_and_column(f: LabelFile, mutation: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(1, len(f.rows) - 1), label="row")
    set_id, label, record = f.rows[index]
    key_col = 2 + f.columns.index(f.primary_key)
    line: int
    column: int | None
    if mutation in ("blank_set", "blank_label", "blank_key"):
        column = {"blank_set": 0, "blank_label": 1, "blank_key": key_col}[mutation]
        blank = data.draw(st.sampled_from(["", " ", "\t"]))
        if column == 0:
            f.rows[index] = (blank, label, record)
        elif column == 1:
            f.rows[index] = (set_id, blank, record)
        else:
            f.rows[index] = (set_id, label, {**record, f.primary_key: blank})
        line, column = f.field_line(index, column), column + 1
        content = f.csv()
    elif mutation == "duplicate_key":
        earlier_set, _, earlier = f.rows[0]
        f.rows[index] = (earlier_set, label, {**record, f.primary_key: earlier[f.primary_key]})
        line, column = f.field_line(index, key_col), key_col + 1
        content = f.csv()
    elif mutation in ("drop_field", "extra_field", "unterminated", "no_rows"):
        f.rows = f.rows[: index + 1]
        content = f.csv()
        end = f.field_line(index, 2 + len(f.columns) - 1)
        end += len(_BREAK.findall(list(record.values())[-1] if mutation != "no_rows" else ""))
        if mutation == "drop_field":
            cut = "\u00a7CUT\u00a7"
            assume(all(cut not in v for r in f.rows for v in (r[0], r[1], *r[2].values())))
            f.rows[index] = (set_id, label, {**record, f.columns[-1]: cut})
            content = f.csv().replace(f",{cut}\n".encode(), b"\n")
            line, column = f.field_line(index, 2 + len(f.columns) - 1), 2 + len(f.columns)
        elif mutation == "extra_field":
            content = content[:-1] + b",extra\n"
            line, column = end, 2 + len(f.columns) + 1
        elif mutation == "unterminated":
            content += b'x,y,"never closed\n'
            line, column = end + 1, 3
        else:
            content = LabelFile(f.columns, f.primary_key, []).csv()
            line, column = 2 + sum(len(_BREAK.findall(c)) for c in f.columns), None
    elif mutation == "bad_utf8":
        column_name = data.draw(st.sampled_from(f.columns))
        marker = "\u00a7BAD\u00a7"
        assume(all(marker not in v for r in f.rows for v in (r[0], r[1], *r[2].values())))
        f.rows[index] = (set_id, label, {**record, column_name: record[column_name] + marker})
        content = f.csv().replace(marker.encode(), b"\xff", 1)
        col = 2 + f.columns.index(column_name)
        line = f.field_line(index, col) + len(_BREAK.findall(record[column_name]))
        column = col + 1
    else:  # drop_label_header
        content = f.csv()
        content = b"labeling_set_id,zz_" + content[len(b"labeling_set_id,") :]
        line, column = 1, None
    with pytest.raises(LabelFileError) as e:
        parse_label_file(content, f.primary_key)
    assert (e.value.line, e.value.column) == (line, column), str(e.value)
    assert str(e.value).startswith(f"line {line}")
