"""Label files as people write them, errors with line and column, merge and pair helpers."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from findmatches.io import (
    LABEL_SCHEMA,
    LabelFileError,
    check_known_keys,
    parse_label_file,
    parse_label_files,
    write_label_file,
)

DOC_EXAMPLE = b"""labeling_set_id,label,id,first_name,last_name,birthday
ABC123,A,1,John,Doe,04/01/1980
ABC123,A,2,Jon,Doe,04/01/1980
ABC123,A,3,Johnny,Doe,04/01/1980
ABC123,B,4,Jane,Smith,04/03/1980
GHI678,C,21,Richard,Jones,05/11/1972
GHI678,C,22,Rich,Jones,05/11/1972
XYZABC,E,41,Sarah,Jones,06/07/1981
XYZABC,F,42,Sarah,Jones-Walker,06/07/1981
"""


def test_doc_example() -> None:
    parsed = parse_label_file(DOC_EXAMPLE, "id")
    assert parsed.columns == ("id", "first_name", "last_name", "birthday")
    assert parsed.primary_key == "id"
    assert parsed.table.schema == LABEL_SCHEMA
    assert parsed.table.column("primary_key").to_pylist() == ["1", "2", "3", "4", "21", "22", "41", "42"]
    first = json.loads(parsed.table.column("record")[0].as_py())
    assert first == {"id": "1", "first_name": "John", "last_name": "Doe", "birthday": "04/01/1980"}
    assert write_label_file(parsed.table, parsed.columns) == DOC_EXAMPLE


def test_as_people_write_them() -> None:
    data = (
        "\ufeffid,Labeling_Set_Id , LABEL,name,extra\r\n"
        '007,s1,A,"Doe, John ""JD""\r\nSr.",x\r\n'
        "0042,s1,B,Jane,\r\n"
        "\r\n"
        ",,,,\r\n"
        "1.0e3,s2,A,Zed,y\r\n"
    ).encode()
    parsed = parse_label_file(data, "id")
    t = parsed.table
    assert t.column("primary_key").to_pylist() == ["007", "0042", "1.0e3"]  # text, never numbers
    assert t.column("labeling_set_id").to_pylist() == ["s1", "s1", "s2"]
    assert json.loads(t.column("record")[0].as_py())["name"] == 'Doe, John "JD"\r\nSr.'
    assert parsed.columns == ("id", "name", "extra")
    again = parse_label_file(write_label_file(t, parsed.columns), "id")
    assert again.table == t
    out = write_label_file(t, parsed.columns)
    assert not out.startswith(b"\xef\xbb\xbf") and out.startswith(b"labeling_set_id,label,id,name,extra\n")


def test_primary_key_column_matched_case_insensitively() -> None:
    parsed = parse_label_file(b"labeling_set_id,label,ID\n1,a,x\n", "id")
    assert parsed.primary_key == "ID"


def _error(data: bytes, pk: str = "id") -> LabelFileError:
    with pytest.raises(LabelFileError) as e:
        parse_label_file(data, pk)
    return e.value


H = b"labeling_set_id,label,id,name\n"


@pytest.mark.parametrize(
    ("data", "line", "column", "text"),
    [
        (b"", 1, None, "empty"),
        (b"label,id\n1,2\n", 1, None, 'missing required column "labeling_set_id"'),
        (b"labeling_set_id,id\n1,2\n", 1, None, 'missing required column "label"'),
        (b"labeling_set_id,label,key\n1,2,3\n", 1, None, 'missing primary key column "id"'),
        (b"labeling_set_id,label,id,id\n", 1, 4, "duplicate column"),
        (b"labeling_set_id,label,,id\n", 1, 3, "empty column name"),
        (H, 2, None, "header but no label rows"),
        (H + b"s,a,1,x\ns,,2,y\n", 3, 2, "empty label"),
        (H + b"s,a,1,x\n ,a,2,y\n", 3, 1, "empty labeling_set_id"),
        (H + b"s,a,1,x\ns,a,  ,y\n", 3, 3, "empty primary key"),
        (
            H + b"s,a,1,x\ns,b,1,y\n",
            3,
            3,
            'primary key "1" appears twice in labeling set "s" (first on line 2)',
        ),
        (H + b"s,a,1,x\ns,b,2\n", 3, 4, "expected 4 fields as in the header, found 3"),
        (H + b"s,a,1,x\ns,b,2,y,z\n", 3, 5, "found 5"),
        (H + b's,a,1,"x\nx"\ns,b,2,"y\n', 4, 4, "unterminated quoted field"),
        (H + b's,a,1,"x"y\n', 2, 4, "after a closing quote"),
        (H + b's,a,1,"multi\nline",extra\n', 3, 5, "found 5"),
        (H + b"s,a,1,caf\xe9\n", 2, 4, "not valid UTF-8 (byte 0xE9); save the file as UTF-8"),
        (b"\xff\xfel\x00a\x00", 1, 1, "UTF-16"),
    ],
)
def test_errors_name_line_and_column(data: bytes, line: int, column: int | None, text: str) -> None:
    err = _error(data)
    assert (err.line, err.column) == (line, column)
    assert text in str(err)
    assert str(err).startswith(f"line {line}")


def test_error_message_names_the_column() -> None:
    assert str(_error(H + b"s,,1,x\n")) == 'line 2, column 2 ("label"): empty label value'


def test_same_record_in_two_sets_is_fine() -> None:
    parsed = parse_label_file(H + b"s,a,1,x\nt,a,1,x\n", "id")
    assert parsed.table.num_rows == 2


def _labels(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "labeling_set_id": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "primary_key": [r[2] for r in rows],
            "record": [json.dumps({"id": r[2]}) for r in rows],
        },
        schema=LABEL_SCHEMA,
    )


def test_several_files_parse_as_one_and_errors_name_the_file() -> None:
    parsed = parse_label_files(
        [("a.csv", H + b"s,a,1,x\n"), ("b.csv", b'labeling_set_id,label,id,more\nt,a,"2",m\n')], "id"
    )
    assert parsed.table.column("primary_key").to_pylist() == ["1", "2"]
    assert parsed.columns == ("id", "name", "more")
    assert parsed.key_sources == ("a.csv", "b.csv")
    with pytest.raises(
        LabelFileError, match=r'^b\.csv: line 2, column 3 \("id"\): primary key "1" appears twice'
    ):
        parse_label_files([("a.csv", H + b"s,a,1,x\n"), ("b.csv", H + b"s,b,1,y\n")], "id")
    with pytest.raises(LabelFileError, match=r"^b\.csv: line 2, column 2"):
        parse_label_files([("a.csv", H + b"s,a,1,x\n"), ("b.csv", H + b"s,,1,y\n")], "id")


def test_unknown_primary_keys_are_located() -> None:
    parsed = parse_label_file(b'id,labeling_set_id,label\n1,s,a\n"2\n",s,b\n3,s,c\n', "id")
    check_known_keys(parsed, ["1", "2\n", "3", "4"])
    with pytest.raises(LabelFileError) as e:
        check_known_keys(parsed, pa.array(["1", "2\n"]))
    assert str(e.value) == 'line 5, column 1 ("id"): primary key "3" is not in the transform\'s data'
