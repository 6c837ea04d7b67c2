"""``tables.check_files``: hostile table files are refused before a parser reads them, valid ones pass."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.io import CsvOptions, TableFormatError
from findmatches.io.tables import MAX_LINE_BYTES, check_files

GOOD = b'id,name\r\n1,ann\r\n2,"bob\r\nby"\r\n'


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        b"\xef\xbb\xbf" + GOOD,
        GOOD.replace(b"\r\n", b"\r"),  # old Mac line ends
        # the longest line allowed, across a chunk boundary
        b"id,name\n1," + b"x" * (MAX_LINE_BYTES - 10) + b"\n2,y\n" + b"3,z\n" * 1000,
    ],
)
def test_valid_csv_passes(tmp_path: Path, data: bytes) -> None:
    check_files([_file(tmp_path, "t.csv", data)], "csv")


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("t.csv", GOOD + b"3,a\x00b\r\n", r"t\.csv, line 5: a NUL byte"),
        ("t.csv.gz", GOOD + b"3,a\x00b\r\n", r"t\.csv\.gz, line 5: a NUL byte"),
        ("t.csv", GOOD.decode().encode("utf-16"), r"t\.csv is UTF-16 encoded"),
        ("t.csv", GOOD + b"x" * (2 * MAX_LINE_BYTES) + b"\n", r"line 5: a line longer than 2,097,152 bytes"),
        (
            "t.csv",
            b"a" + b";a" * 10_000 + b"\n1\n",
            r"line 1: 10,001 fields; a table may have at most 10,000",
        ),
    ],
)
def test_hostile_csv_is_refused(tmp_path: Path, name: str, data: bytes, error: str) -> None:
    with pytest.raises(TableFormatError, match=error):
        check_files([_file(tmp_path, name, data)], "csv")


def test_the_table_delimiter_counts_the_fields(tmp_path: Path) -> None:
    wide = _file(tmp_path, "t.csv", b"a" + b"|a" * 10_000 + b"\n")
    check_files([wide], "csv", CsvOptions(delimiter=","))  # one field, by the table's delimiter
    with pytest.raises(TableFormatError, match="10,001 fields"):
        check_files([wide], "csv", CsvOptions(delimiter="|"))


def test_json_lines_may_be_long_but_not_binary(tmp_path: Path) -> None:
    long_array = _file(tmp_path, "t.json", b"[" + b'{"id": "1"},' * 300_000 + b'{"id": "2"}]')
    check_files([long_array], "json")
    with pytest.raises(TableFormatError, match="NUL byte"):
        check_files([_file(tmp_path, "u.json", '{"id": "1"}\n'.encode("utf-16-le"))], "json")
    check_files(
        [_file(tmp_path, "t.parquet", b"\x00" * 10)], "parquet"
    )  # Parquet is binary: its reader checks


@pytest.mark.parametrize(
    ("data", "line", "byte"),
    [
        (GOOD + "3,José\r\n".encode("cp1252"), 5, 0xE9),
        ("id,café\n1,a\n".encode("latin-1"), 1, 0xE9),
        (GOOD + b"3,\xc3\x28\r\n", 5, 0xC3),  # a lead byte without its continuation
        (GOOD + b"3,\xe2\x82", 5, 0xE2),  # a file that ends inside a character
        (GOOD.replace(b"\r\n", b"\r") + b"3,\x96\r", 5, 0x96),  # old Mac line ends counted as lines
    ],
)
def test_bytes_that_are_not_utf8_are_refused_naming_line_and_byte(
    tmp_path: Path, data: bytes, line: int, byte: int
) -> None:
    for name in ("t.csv", "t.csv.gz"):
        with pytest.raises(
            TableFormatError,
            match=rf"{name.replace('.', '[.]')}, line {line}: not UTF-8 encoded \(byte 0x{byte:02X}\); save it as "
            r"UTF-8, or name its encoding as the table's serialization\.encoding",
        ):
            check_files([_file(tmp_path, name, data)], "csv")


@settings(max_examples=25, deadline=None)
@given(before=st.integers(0, 3 * MAX_LINE_BYTES // 80), width=st.integers(1, 79))
def test_the_line_of_a_bad_byte_is_named_across_chunks(
    tmp_path_factory: pytest.TempPathFactory, before: int, width: int
) -> None:
    """Multi-byte characters split between two chunks are valid; the line of the first bad byte is named
    wherever it falls (lines of two-byte characters, of up to 160 bytes, up to six chunks in all)."""
    row = ("é" * width + "a" * (width % 2) + "\n").encode()
    data = b"h\n" + row * before + b"\xff\n" + row * 10
    path = tmp_path_factory.mktemp("utf8") / "t.csv"
    path.write_bytes(data)
    with pytest.raises(
        TableFormatError, match=rf"t\.csv, line {before + 2}: not UTF-8 encoded \(byte 0xFF\)"
    ):
        check_files([path], "csv")


def test_a_declared_encoding_is_not_checked_as_utf8(tmp_path: Path) -> None:
    latin = _file(tmp_path, "t.csv", "id,name\n1,José\n".encode("latin-1"))
    check_files([latin], "csv", CsvOptions(encoding="ISO-8859-1"))
    with pytest.raises(TableFormatError, match="not UTF-8 encoded"):
        check_files([latin], "csv", CsvOptions(encoding="UTF-8"))


def test_files_no_table_describes_are_asked_for_utf8_alone(tmp_path: Path) -> None:
    """An incremental run's existing matches have no SerDe to declare an encoding in: the refusal does not
    point at one."""
    latin = _file(tmp_path, "t.csv", "id,name\n1,José\n".encode("latin-1"))
    with pytest.raises(
        TableFormatError, match=r"t\.csv, line 2: not UTF-8 encoded \(byte 0xE9\); save it as UTF-8\.$"
    ):
        check_files([latin], "csv", declarable=False)
    utf16 = _file(tmp_path, "u.csv", "id,name\n1,a\n".encode("utf-16"))
    with pytest.raises(TableFormatError, match=r"u\.csv is UTF-16 encoded; save it as UTF-8\.$"):
        check_files([utf16], "csv", declarable=False)
