"""Catalog table formats, fetching table files, header sniffing and all-string reading."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from findmatches.io import (
    CsvOptions,
    Storage,
    TableFormatError,
    csv_options,
    detect_format,
    fetch_table,
    read_columns,
    read_records,
)
from tests.fixtures_s3 import S3Server


@pytest.mark.parametrize(
    ("serde", "classification", "location", "expected"),
    [
        ("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", None, "s3://b/t/", "csv"),
        ("org.apache.hadoop.hive.serde2.OpenCSVSerde", None, "s3://b/t/", "csv"),
        ("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", None, "s3://b/t/", "parquet"),
        ("org.openx.data.jsonserde.JsonSerDe", None, "s3://b/t/", "json"),
        ("org.apache.hive.hcatalog.data.JsonSerDe", None, "s3://b/t/", "json"),
        ("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "parquet", "s3://b/t/", "parquet"),
        (None, "JSON", "s3://b/t.csv", "json"),
        (None, None, "s3://b/t/data.parquet", "parquet"),
        (None, None, "/d/t/data.jsonl.gz", "json"),
        (None, None, "/d/t/data.csv.gz", "csv"),
        (None, None, "s3://b/t/", "csv"),
        ("", "", "s3://b/t/x.ndjson", "json"),
    ],
)
def test_detect_format(serde: str | None, classification: str | None, location: str, expected: str) -> None:
    assert detect_format(serde, classification, location) == expected


@pytest.mark.parametrize(
    ("serde", "classification"),
    [("org.apache.hadoop.hive.ql.io.orc.OrcSerde", None), (None, "avro")],
)
def test_unsupported_formats(serde: str | None, classification: str | None) -> None:
    with pytest.raises(TableFormatError):
        detect_format(serde, classification, "s3://b/t/")


def test_csv_options_from_catalog() -> None:
    assert csv_options(None, None) == CsvOptions()
    opts = csv_options(
        {"separatorChar": "\t", "quoteChar": "'", "escapeChar": "\\"}, {"skip.header.line.count": "0"}
    )
    assert opts == CsvOptions("\t", "'", "\\", header=False)
    assert csv_options({"field.delim": "|"}, {"skip.header.line.count": "1"}).delimiter == "|"


@pytest.mark.parametrize(
    ("serde", "delimiter"),
    [
        ({"field.delim": "\\t"}, "\t"),  # an escape written out, as in DDL
        ({"separatorChar": "\\u0001"}, "\x01"),
        ({"field.delim": ";", "serialization.format": ";"}, ";"),
        ({"serialization.format": "|"}, "|"),
        ({"serialization.format": "1"}, None),  # Hive's legacy format code, not a delimiter
        ({"field.delim": "||"}, None),  # several characters: not stated (the engine detects it)
    ],
)
def test_csv_options_delimiter(serde: dict[str, str], delimiter: str | None) -> None:
    assert csv_options(serde, None).delimiter == delimiter


def test_csv_options_encoding_from_the_serde() -> None:
    assert csv_options(None, None).encoding is None
    assert csv_options({"serialization.encoding": " windows-1252 "}, None).encoding == "windows-1252"
    assert csv_options({"serialization.encoding": ""}, None).encoding is None
    with pytest.raises(TableFormatError, match=r"serialization\.encoding: Unknown text encoding 'ebcdic-x'"):
        csv_options({"serialization.encoding": "ebcdic-x"}, None)


def test_csv_options_headerless_names_from_columns() -> None:
    columns = ["id", "name"]
    assert csv_options(None, {"skip.header.line.count": "0"}, columns).column_names == ("id", "name")
    assert csv_options(None, {"skip.header.line.count": " 0 "}, columns).header is False
    for stated in ({}, {"skip.header.line.count": "1"}, {"skip.header.line.count": ""}):
        opts = csv_options(None, stated, columns)
        assert opts.header and opts.column_names == ()  # a header row names the fields


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    d = tmp_path / "table"
    (d / "part=1").mkdir(parents=True)
    (d / "a.csv").write_bytes(b'\xef\xbb\xbfid,name,zip\n007,"Doe, J",01234\n1e3,"multi\nline",\n')
    with gzip.open(d / "part=1" / "b.csv.gz", "wb") as f:
        f.write(b"id,name,zip\n0042,Z,99\n")
    (d / "_SUCCESS").write_bytes(b"")
    (d / "empty.csv").write_bytes(b"")
    return d


def test_csv_stays_text(csv_dir: Path) -> None:
    paths = fetch_table(Storage(None, [csv_dir]), str(csv_dir), "csv", csv_dir / "unused")
    assert [p.name for p in paths] == ["a.csv", "b.csv.gz"]
    assert read_columns(paths, "csv") == ["id", "name", "zip"]
    table = read_records(paths, "csv")
    assert table.schema == pa.schema([("id", pa.string()), ("name", pa.string()), ("zip", pa.string())])
    assert table.column("id").to_pylist() == ["007", "1e3", "0042"]
    assert table.column("zip").to_pylist() == ["01234", "", "99"]
    assert table.column("name").to_pylist()[1] == "multi\nline"
    assert read_records(paths, "csv", ["zip", "id"]).column_names == ["zip", "id"]


def test_csv_without_header_uses_catalog_columns(tmp_path: Path) -> None:
    f = tmp_path / "t.tsv"
    f.write_text("1\tA\n2\tB\n")
    t = read_records([f], "csv", ["id", "name"], CsvOptions(delimiter="\t", header=False))
    assert t.to_pylist() == [{"id": "1", "name": "A"}, {"id": "2", "name": "B"}]


def test_csv_without_header_reads_a_column_by_its_catalog_name(tmp_path: Path) -> None:
    f = tmp_path / "t.tsv"
    f.write_text("'x\ty'\t1\n'it''s'\t2\n")
    opts = CsvOptions(delimiter="\t", quote_char="'", header=False, column_names=("name", "id"))
    assert read_columns([f], "csv", opts) == ["name", "id"]
    assert read_records([f], "csv", ["id"], opts).column("id").to_pylist() == ["1", "2"]
    assert read_records([f], "csv", None, opts).column("name").to_pylist() == ["x\ty", "it's"]
    wide, narrow = tmp_path / "wide.tsv", tmp_path / "narrow.tsv"
    wide.write_text("x\t1\textra\n")
    narrow.write_text("y\n")
    both = read_records([wide, narrow], "csv", None, opts)
    assert both.to_pylist() == [
        {"name": "x", "id": "1", "column2": "extra"},
        {"name": "y", "id": None, "column2": None},
    ]
    assert read_records([wide, narrow], "csv", ["id"], opts).column("id").to_pylist() == ["1", None]


def test_parquet_cast_to_text(tmp_path: Path) -> None:
    f = tmp_path / "t.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([7, 8], pa.int64()),
                "score": [1.5, None],
                "ok": [True, False],
                "tags": [["a"], []],
                "name": ["x", "y"],
            }
        ),
        f,
    )
    assert read_columns([f], "parquet") == ["id", "score", "ok", "tags", "name"]
    t = read_records([f], "parquet")
    assert all(pa.types.is_string(c.type) for c in t.columns)
    assert t.to_pylist()[0] == {"id": "7", "score": "1.5", "ok": "true", "tags": '["a"]', "name": "x"}
    assert t.to_pylist()[1]["score"] is None
    assert read_records([f], "parquet", ["name", "missing"]).to_pylist()[0] == {"name": "x", "missing": None}


def test_json_lines_keep_number_text(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    f.write_text(
        '{"id": 12345678901234567890, "price": 1.10, "name": "a", "nested": {"k": 1}}\n\n{"id": "007", "x": null}\n'
    )
    assert read_columns([f], "json") == ["id", "price", "name", "nested", "x"]
    t = read_records([f], "json")
    assert t.column("id").to_pylist() == ["12345678901234567890", "007"]
    assert t.column("price").to_pylist() == ["1.10", None]
    assert json.loads(t.column("nested")[0].as_py()) == {"k": "1"}
    arr = tmp_path / "arr.json"
    arr.write_text('[{"id": 1}, {"id": 2}]')
    assert read_records([arr], "json").column("id").to_pylist() == ["1", "2"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json}\n")
    with pytest.raises(TableFormatError, match="invalid JSON"):
        read_records([bad], "json")


def test_fetch_from_s3_downloads(s3_env: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    s3 = s3_env.client()
    s3.put_object(Bucket=s3_bucket, Key="t/p1/a.csv", Body=b"id\n1\n")
    s3.put_object(Bucket=s3_bucket, Key="t/p2/a.csv", Body=b"id\n2\n")
    s3.put_object(Bucket=s3_bucket, Key="t/_SUCCESS", Body=b"")
    paths = fetch_table(Storage(), f"s3://{s3_bucket}/t/", "csv", tmp_path / "dl")
    assert all(p.is_relative_to(tmp_path / "dl") for p in paths)
    assert read_records(paths, "csv").column("id").to_pylist() == ["1", "2"]


def test_fetch_of_only_empty_files_fails(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(TableFormatError):
        fetch_table(Storage(None, [tmp_path]), str(tmp_path), "csv", tmp_path / "x")
