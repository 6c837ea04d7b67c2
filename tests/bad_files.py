"""A catalogue of hostile and unusual files (issue 17): label files and input tables that a run must refuse
with a named error and no change, and valid but unusual ones that it must read correctly.

Each generator takes a good file's text (or, for the large ones, a path to stream into) and returns the
bytes of its variant; ``error`` is a regular expression that the run's ErrorString (or the Start call's
error message) must match. Nothing here is random between runs: the binary garbage has a fixed seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

#: The size of the "billion laughs" line: far beyond every line and field limit, and still quick to write.
HUGE_LINE_BYTES = 50 * 1024 * 1024
MILLION = 1_000_000
#: Spreadsheet formulas as found in CSV-injection payloads (OWASP): ``=``, ``+``, ``-`` and ``@`` prefixes.
FORMULAS = (
    "=cmd|' /C calc'!A0",
    "+41+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|'/C calc'!A0",
)


@dataclass(frozen=True)
class BadFile:
    """A hostile file: its ``parts`` (object name, bytes; several for a prefix) and the error it must give."""

    name: str
    parts: tuple[tuple[str, bytes], ...]
    error: str


def garbage(size: int = 4096, seed: int = 17) -> bytes:
    """Binary garbage (it holds NUL bytes and invalid UTF-8, as real binary files do)."""
    data = random.Random(seed).randbytes(size)
    assert b"\x00" in data
    return data


def _second_line_cell(text: str, value: str) -> str:
    """``text`` with the last cell of its second line replaced by ``value``."""
    lines = text.split("\n")
    head, _, _ = lines[1].rpartition(",")
    lines[1] = f"{head},{value}"
    return "\n".join(lines)


def bad_label_files(good: str) -> list[BadFile]:
    """Label files derived from ``good`` (a valid label file, ``\\n`` line ends, first_name and last_name last)
    that an import must refuse, each with the error it must name."""
    header, first, second, *rest = good.rstrip("\n").split("\n")
    columns = header.split(",")
    one = lambda body: ((f"{'labels'}.csv", body),)  # noqa: E731 - a one-object label "prefix"
    long_cell = _second_line_cell(good, "x" * 9_000_000)  # under the 10 MB limit of a label file
    return [
        BadFile("binary", one(garbage()), r"line \d+: a NUL byte|not valid UTF-8"),
        BadFile("zip", one(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + garbage(2048, 3)), r"a NUL byte"),
        BadFile("utf16_bom", one(good.encode("utf-16")), r"line 1, column 1: the file is UTF-16 encoded"),
        BadFile("utf16_no_bom", one(good.encode("utf-16-le")), r"line 1: a NUL byte.*UTF-16"),
        BadFile(
            "latin1",
            one(_second_line_cell(good, "Jos\xe9").encode("latin-1")),
            r'line 2, column \d+ \("last_name"\): not valid UTF-8 \(byte 0xE9\)',
        ),
        BadFile(
            "invalid_utf8",
            one(good.encode().replace(b"\n", b"\n\xc3\x28", 1)),  # a lead byte without its continuation
            r"line 2, column 1 \(\"labeling_set_id\"\): not valid UTF-8 \(byte 0xC3\)",
        ),
        BadFile("nul_in_cell", one(_second_line_cell(good, "ann\x00").encode()), r"line 2: a NUL byte"),
        BadFile(
            "long_cell",
            one(long_cell.encode()),
            r'line 2, column \d+ \("last_name"\): a value longer than the limit of 131,072 characters',
        ),
        BadFile(
            "million_columns_header",
            one((header + "".join(f",c{i}" for i in range(MILLION)) + "\n" + first + "\n").encode()),
            r"line 1: the header has 1,000,005 columns; a label file may have at most 10,000",
        ),
        BadFile(
            "million_fields_row",
            one((header + "\n" + first + ",x" * MILLION + "\n").encode()),
            rf"line 2, column {len(columns) + 1}: expected {len(columns)} fields as in the header, "
            rf"found {len(columns) + MILLION}",
        ),
        BadFile(
            "unterminated_quote",
            one((header + "\n" + first + '\n"' + second + "\n" + "\n".join(rest) + "\n").encode()),
            r"line 3, column 1 .*unterminated quoted field",
        ),
        BadFile(
            "duplicate_key_in_set",
            one((good + first + "\n").encode()),
            r'line \d+, column 3 \("id"\): primary key "\w+" appears twice in labeling set "set0" '
            r"\(first on line 2\)",
        ),
        BadFile(
            "duplicate_key_in_set_across_files",
            (("a.csv", good.encode()), ("b.csv", (header + "\n" + first + "\n").encode())),
            r'b\.csv: line 2, column 3 \("id"\): primary key "\w+" appears twice in labeling set "set0" '
            r"\(also in .*a\.csv\)",
        ),
        BadFile("whitespace_only", one(b" \r\n\r\n\t\n"), r"line 1: the file is empty"),
        BadFile("bom_only", one(b"\xef\xbb\xbf\r\n"), r"line 1: the file is empty"),
        BadFile(
            "header_only", one((header + "\r\n").encode()), r"line 2: the file has a header but no label rows"
        ),
        BadFile(
            "formula_key",  # a formula is text like any other: a key that is not in the data is refused
            one((header + "\n" + f"set0,A,{FORMULAS[0].replace(',', '')},ann,lee\n").encode()),
            r"line 2, column 3 \(\"id\"\): primary key \"=cmd\|' /C calc'!A0\" is not in the transform's data",
        ),
    ]


def unusual_label_file(good: str) -> bytes:
    """A valid label file as spreadsheets write them: BOM, CRLF, and a quoted value with line breaks in it."""
    text = _second_line_cell(good, '"lee\nmarie ""the second"",\njr"')
    return ("\ufeff" + text.replace("\n", "\r\n")).encode()


def huge_line_csv(path: Path, header: str, prefix: str) -> Path:
    """A CSV file whose second line holds a ~50 MB value, streamed to disk 1 MB at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = b"x" * (1024 * 1024)
    with open(path, "wb") as f:
        f.write((header + "\n" + prefix).encode())
        for _ in range(HUGE_LINE_BYTES // len(block)):
            f.write(block)
        f.write(b"\n")
    return path


def bad_input_tables(good: str) -> list[BadFile]:
    """Input tables (CSV; ``good`` a valid one with ``\\n`` line ends) that a run must refuse, each with the
    error it must name. The oversized line is ``huge_line_csv`` (written once per session)."""
    header = good.split("\n", 1)[0]
    one = lambda body: (("part-00000.csv", body),)  # noqa: E731
    return [
        BadFile("binary", one(garbage(64 * 1024)), r"part-00000\.csv, line \d+: a NUL byte"),
        BadFile("utf16_bom", one(good.encode("utf-16")), r"part-00000\.csv is UTF-16 encoded"),
        BadFile("utf16_no_bom", one(good.encode("utf-16-le")), r"line 1: a NUL byte .*UTF-16"),
        BadFile(
            "latin1",
            one(good.replace("\n", "\nP99999,Jos\xe9,x,,,,,\n", 1).encode("latin-1")),
            r"part-00000\.csv, line 2: not UTF-8 encoded \(byte 0xE9\); .*serialization\.encoding",
        ),
        BadFile(
            "invalid_utf8",
            one(good.encode() + b"P99999,\xc3\x28,x,,,,,\n"),
            rf"line {good.count(chr(10)) + 1}: not UTF-8 encoded \(byte 0xC3\)",
        ),
        BadFile(  # under the line limit: the error names the line, never quotes it
            "latin1_long_line",
            one(good.encode() + b"P99999," + b"x" * 1_500_000 + b"\xe9,x,,,,,\n"),
            rf"line {good.count(chr(10)) + 1}: not UTF-8 encoded \(byte 0xE9\)",
        ),
        BadFile("nul_in_cell", one(good.encode() + b"P99999,a\x00b,x,,,,,\n"), r"line \d+: a NUL byte"),
        BadFile(
            "million_columns",  # 2 MB of header: under the line limit, so the column count names it
            one((header + ",x" * (MILLION - header.count(",") - 1) + "\n").encode()),
            r"line 1: 1,000,000 fields; a table may have at most 10,000 columns",
        ),
        BadFile("empty", one(b""), r"holds only empty files"),
    ]


def unusual_input_table(good: str) -> tuple[bytes, str]:
    """A valid CSV table as spreadsheets write it (BOM, CRLF, a quoted value with line breaks), and the value."""
    value = 'ann\r\nmarie "the second", jr'
    lines = good.rstrip("\n").split("\n")
    cells = lines[1].split(",")
    cells[1] = '"' + value.replace('"', '""') + '"'
    lines[1] = ",".join(cells)
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode(), value
