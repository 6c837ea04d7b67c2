"""The FindMatches label file (CSV: ``labeling_set_id``, ``label``, then the source columns) and label sets.

Labels live in an Arrow table of strings: ``labeling_set_id``, ``label``, ``primary_key`` and ``record`` (the
row's source columns, primary key included, as a JSON object) so that an export reproduces what was imported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc

from findmatches.engine.types import find_column
from findmatches.io.errors import LabelFileError

SET_ID = "labeling_set_id"
LABEL = "label"
LABEL_SCHEMA = pa.schema(
    [(SET_ID, pa.string()), (LABEL, pa.string()), ("primary_key", pa.string()), ("record", pa.string())]
)
_BAD_BYTE = re.compile("[\udc80-\udcff]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')
_FIELD = re.compile(r'"[^"]*(?:""[^"]*)*"?|[^,"\r\n]*')
#: The most columns a label file may have: wider is not a label file (a million-column header would become a
#: million-entry record per row).
MAX_COLUMNS = 10_000


@dataclass(frozen=True)
class ParsedLabels:
    """A parsed label file: ``table`` (LABEL_SCHEMA) and the source ``columns`` in file order."""

    table: pa.Table
    columns: tuple[str, ...]
    primary_key: str
    #: Where each row's primary key stands (line, 1-based column, file), for errors found after parsing.
    key_lines: tuple[int, ...] = field(default=(), compare=False)
    key_column: int = field(default=0, compare=False)
    key_sources: tuple[str | None, ...] = field(default=(), compare=False)


def empty_labels() -> pa.Table:
    """A label table with no rows."""
    return LABEL_SCHEMA.empty_table()


# -- parsing ---------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, bool]:
    """Text without a BOM, and whether invalid UTF-8 bytes were kept as surrogates."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LabelFileError("the file is UTF-16 encoded; save it as UTF-8 (in Excel: 'CSV UTF-8')", 1, 1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="surrogateescape"), True


def _line_starts(text: str) -> list[int]:
    """Offsets of physical line starts (``\\n``, ``\\r\\n`` or ``\\r`` end a line, as for the csv module)."""
    starts, offset = [0], 0
    for line in io.StringIO(text, newline=""):
        offset += len(line)
        starts.append(offset)
    return starts


def _locate_csv_error(text: str, start: int, line: int) -> tuple[int, int, str]:
    """Scan one record from ``start`` and return (line, 1-based field, problem) of its quoting error."""
    field, quoted, quote_line, i = 1, False, line, start
    at_field_start = True
    while i < len(text):
        c = text[i]
        if quoted:
            if c == '"':
                if text.startswith('"', i + 1):
                    i += 1
                else:
                    quoted = False
                    nxt = text[i + 1 : i + 2]
                    if nxt not in ("", ",", "\r", "\n"):
                        return line, field, f"unexpected character {nxt!r} after a closing quote"
        elif c == '"' and at_field_start:
            quoted, quote_line = True, line
        elif c == ",":
            field += 1
            at_field_start = True
            i += 1
            continue
        elif c in "\r\n":
            return line, field, "malformed CSV"
        if c == "\n" or (c == "\r" and not text.startswith("\n", i + 1)):
            line += 1
        at_field_start = False
        i += 1
    return quote_line, field, "unterminated quoted field (a '\"' opens a value that never closes)"


def _long_field(text: str, start: int) -> int:
    """The 1-based field of the record at ``start`` that is longer than ``csv.field_size_limit()``."""
    column, i, limit = 1, start, csv.field_size_limit()
    while (match := _FIELD.match(text, i)) is not None and match.end() - i <= limit:
        if not text.startswith(",", match.end()):
            break
        column, i = column + 1, match.end() + 1
    return column


def _records(text: str, names: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) for each record; LabelFileError (column named from ``names``)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        first = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            starts = _line_starts(text)
            start = starts[min(first, len(starts)) - 1]
            if "field larger than field limit" in str(e):  # csv.field_size_limit(): memory stays bounded
                # (found by the regex engine: a character loop over a 10 MB line takes seconds)
                line, column = first, _long_field(text, start)
                problem = f"a value longer than the limit of {csv.field_size_limit():,} characters"
            else:
                line, column, problem = _locate_csv_error(text, start, first)
            name = names[column - 1] if column <= len(names) else None
            raise LabelFileError(f"{problem} ({e})", line, column, name) from e
        yield first, row


def _field_line(first: int, row: Sequence[str], index: int) -> int:
    """Physical line on which field ``index`` of a record starting at ``first`` begins."""
    return first + sum(len(_LINE_BREAK.findall(v)) for v in row[:index])


def _find_column(header: list[str], name: str) -> int | None:
    found = find_column(header, name)
    return None if found is None else header.index(found)


def _check_encoding(first: int, row: Sequence[str], header: Sequence[str] | None) -> None:
    for j, value in enumerate(row):
        bad = _BAD_BYTE.search(value)
        if bad:
            byte = ord(bad.group()) - 0xDC00
            name = header[j] if header is not None and j < len(header) else None
            raise LabelFileError(
                f"not valid UTF-8 (byte 0x{byte:02X}); save the file as UTF-8 (in Excel: 'CSV UTF-8')",
                _field_line(first, row, j) + len(_LINE_BREAK.findall(value[: bad.start()])),
                j + 1,
                name,
            )


def parse_label_file(data: bytes, primary_key: str) -> ParsedLabels:
    """Parse and validate a label file; LabelFileError names the line and column of the first problem."""
    text, has_bad_bytes = _decode(data)
    if not text.strip():
        raise LabelFileError("the file is empty", 1)
    nul = text.find("\x00")
    if nul >= 0:  # the csv module reads NUL as text: a binary file (or UTF-16 without a BOM) would be stored
        raise LabelFileError(
            "a NUL byte: the file is binary, or UTF-16 without a byte-order mark; save it as UTF-8 CSV",
            len(_LINE_BREAK.findall(text, 0, nul)) + 1,
        )
    header: list[str] = []
    records = _records(text, header)
    header_line, raw_header = next(((n, r) for n, r in records if any(v.strip() for v in r)), (1, []))
    if has_bad_bytes:
        _check_encoding(header_line, raw_header, None)
    if len(raw_header) > MAX_COLUMNS:
        raise LabelFileError(
            f"the header has {len(raw_header):,} columns; a label file may have at most {MAX_COLUMNS:,}",
            header_line,
        )
    header.extend(h.strip() for h in raw_header)
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if not name:
            raise LabelFileError("empty column name in the header", header_line, j + 1)
        if name in seen:
            raise LabelFileError(
                f"duplicate column name (also column {seen[name] + 1})", header_line, j + 1, name
            )
        seen[name] = j
    indices = {}
    for name in (SET_ID, LABEL, primary_key):
        found = _find_column(header, name)
        if found is None:
            what = "primary key column" if name == primary_key else "required column"
            raise LabelFileError(
                f'missing {what} "{name}" (the header has: {", ".join(header)})', header_line, None, name
            )
        indices[name] = found
    i_set, i_label, i_key = indices[SET_ID], indices[LABEL], indices[primary_key]
    data_idx = [j for j in range(len(header)) if j not in (i_set, i_label)]
    columns = tuple(header[j] for j in data_idx)
    width = len(header)

    set_ids: list[str] = []
    labels: list[str] = []
    keys: list[str] = []
    rows: list[str] = []
    key_lines: list[int] = []
    first_seen: dict[tuple[str, str], int] = {}
    for first, row in records:
        if not any(row):  # blank line or a row of empty cells (spreadsheets leave them)
            continue
        if has_bad_bytes:
            _check_encoding(first, row, header)
        if len(row) != width:
            j = min(len(row), width)
            raise LabelFileError(
                f"expected {width} fields as in the header, found {len(row)}",
                _field_line(first, row, j),
                j + 1,
                header[j] if j < width else None,
            )
        for j in (i_set, i_label, i_key):
            if not row[j].strip():
                what = "primary key" if j == i_key else header[j]
                raise LabelFileError(f"empty {what} value", _field_line(first, row, j), j + 1, header[j])
        set_id, key = row[i_set], row[i_key]
        earlier = first_seen.setdefault((set_id, key), first)
        if earlier != first:
            raise LabelFileError(
                f'primary key "{key}" appears twice in labeling set "{set_id}" (first on line {earlier})',
                _field_line(first, row, i_key),
                i_key + 1,
                header[i_key],
            )
        set_ids.append(set_id)
        labels.append(row[i_label])
        keys.append(key)
        key_lines.append(_field_line(first, row, i_key))
        rows.append(json.dumps({header[j]: row[j] for j in data_idx}, ensure_ascii=False))
    if not keys:
        after_header = _field_line(header_line, raw_header, len(raw_header)) + 1
        raise LabelFileError("the file has a header but no label rows", after_header)
    table = pa.table(
        [
            pa.array(set_ids, pa.string()),
            pa.array(labels, pa.string()),
            pa.array(keys, pa.string()),
            pa.array(rows, pa.string()),
        ],
        schema=LABEL_SCHEMA,
    )
    return ParsedLabels(table, columns, header[i_key], tuple(key_lines), i_key + 1, (None,) * len(keys))


def parse_label_files(files: Sequence[tuple[str, bytes]], primary_key: str) -> ParsedLabels:
    """Parse several label files (``(name, content)``, e.g. the objects under a prefix) as one.

    Errors name the file; a primary key twice in one labeling set across files is an error too.
    """
    if len(files) == 1:
        name, data = files[0]
        try:
            return parse_label_file(data, primary_key)
        except LabelFileError as e:
            raise LabelFileError(e.detail, e.line, e.column, e.column_name, name) from e
    parts: list[ParsedLabels] = []
    first_seen: dict[tuple[str, str], str] = {}
    for name, data in files:
        try:
            part = parse_label_file(data, primary_key)
        except LabelFileError as e:
            raise LabelFileError(e.detail, e.line, e.column, e.column_name, name) from e
        ids = part.table.column(SET_ID).to_pylist()
        for row, (set_id, key) in enumerate(
            zip(ids, part.table.column("primary_key").to_pylist(), strict=True)
        ):
            earlier = first_seen.setdefault((set_id, key), name)
            if earlier != name:
                raise LabelFileError(
                    f'primary key "{key}" appears twice in labeling set "{set_id}" (also in {earlier})',
                    part.key_lines[row],
                    part.key_column,
                    part.primary_key,
                    name,
                )
        parts.append(replace(part, key_sources=(name,) * part.table.num_rows))
    if not parts:
        raise LabelFileError("no label files", 1)
    columns = tuple(dict.fromkeys(c for p in parts for c in p.columns))
    return ParsedLabels(
        pa.concat_tables([p.table for p in parts]).combine_chunks(),
        columns,
        parts[0].primary_key,
        tuple(line for p in parts for line in p.key_lines),
        parts[0].key_column,
        tuple(s for p in parts for s in p.key_sources),
    )


def check_known_keys(parsed: ParsedLabels, known: Collection[str] | pa.Array | pa.ChunkedArray) -> None:
    """Raise LabelFileError at the first labelled primary key that is not in ``known`` (the source data)."""
    values = known if isinstance(known, pa.Array | pa.ChunkedArray) else pa.array(list(known), pa.string())
    keys = parsed.table.column("primary_key")
    missing = pc.invert(pc.is_in(keys, value_set=pc.unique(values.cast(pa.string()))))
    if not pc.any(missing).as_py():
        return
    row = pc.index(missing, True).as_py()
    line = parsed.key_lines[row] if row < len(parsed.key_lines) else row + 2
    source = parsed.key_sources[row] if row < len(parsed.key_sources) else None
    raise LabelFileError(
        f'primary key "{keys[row].as_py()}" is not in the transform\'s data',
        line,
        parsed.key_column or None,
        parsed.primary_key,
        source,
    )


# -- writing ---------------------------------------------------------------------------------------


def _csv_field(value: str) -> str:
    return f'"{value.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(value) else value


def write_label_file(labels: pa.Table, columns: Sequence[str]) -> bytes:
    """The label file for ``labels`` (LABEL_SCHEMA): UTF-8 without BOM, ``\\n`` line ends, minimal quoting."""
    out = io.StringIO()
    out.write(",".join(_csv_field(c) for c in (SET_ID, LABEL, *columns)) + "\n")
    for set_id, label, record in zip(
        labels.column(SET_ID).to_pylist(),
        labels.column(LABEL).to_pylist(),
        labels.column("record").to_pylist(),
        strict=True,
    ):
        values = json.loads(record) if record else {}
        fields = [set_id, label, *(str(values.get(c) or "") for c in columns)]
        out.write(",".join(_csv_field(v) for v in fields) + "\n")
    return out.getvalue().encode("utf-8")
