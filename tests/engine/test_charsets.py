"""CSV files in a declared encoding other than UTF-8: copied as UTF-8 exactly, and read so by both backends."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine import charsets
from findmatches.engine.backends.duckdb import DuckDBBackend
from findmatches.engine.charsets import as_utf8, codec_name, is_utf8, utf8_copy
from findmatches.engine.types import CsvFormat, EngineError, RecordSource

# Windows-1252 beyond Latin-1: the euro sign, dashes and curly quotes (0x80-0x9F), as exported files hold them.
WINDOWS_TEXT = "id,name\n1,José – “Café” €5\n2,Zoë Ærøskøbing ‰\n"


def _write(path: Path, data: bytes) -> Path:
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix)
    if opener is not None:
        with opener(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.csv.bz2"])
@pytest.mark.parametrize("encoding", ["windows-1252", "UTF-16", "utf_16_le", "ISO-8859-15"])
def test_a_copy_holds_the_text_as_utf8(tmp_path: Path, name: str, encoding: str) -> None:
    text = WINDOWS_TEXT if encoding != "ISO-8859-15" else WINDOWS_TEXT.replace("“", '"').replace("”", '"')
    text = text.replace("–", "-").replace("‰", "%") if encoding == "ISO-8859-15" else text
    source = _write(tmp_path / name, text.encode(encoding))
    copy = utf8_copy(source, encoding, tmp_path / "utf8")
    assert copy.read_bytes() == text.encode("utf-8")  # no byte-order mark, nothing changed
    assert copy.name == "t.csv"  # errors name the file as its owner knows it


def test_bytes_the_encoding_leaves_undefined_read_as_replacement_characters(tmp_path: Path) -> None:
    source = _write(tmp_path / "t.csv", b"id,name\n1,a\x81b\n")  # 0x81 is undefined in Windows-1252
    assert utf8_copy(source, "cp1252", tmp_path / "utf8").read_text("utf-8") == "id,name\n1,a\ufffdb\n"


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300),
    encoding=st.sampled_from(["utf-16", "utf-16-be", "utf-32", "gb18030"]),
    chunk=st.integers(1, 7),
)
def test_characters_across_chunk_boundaries_are_kept(
    tmp_path_factory: pytest.TempPathFactory, text: str, encoding: str, chunk: int
) -> None:
    """Multi-byte characters split between two reads decode whole (`_CHUNK` shrunk to a few bytes)."""
    folder = tmp_path_factory.mktemp("chunks")
    source = _write(folder / "t.csv", text.encode(encoding))
    original = charsets._CHUNK
    charsets._CHUNK = chunk
    try:
        copy = utf8_copy(source, encoding, folder / "utf8")
    finally:
        charsets._CHUNK = original
    assert copy.read_bytes().decode("utf-8") == text.removeprefix("\ufeff")


def test_utf8_and_undeclared_files_are_read_in_place(tmp_path: Path) -> None:
    paths = (tmp_path / "a.csv", tmp_path / "b.csv")
    for encoding in (None, "utf-8", "UTF8", "U8"):
        assert as_utf8(paths, encoding, tmp_path / "utf8") == paths
    assert not (tmp_path / "utf8").exists()


def test_an_unknown_encoding_is_a_named_error() -> None:
    with pytest.raises(EngineError, match=r"Unknown text encoding 'klingon'"):
        codec_name("klingon")
    assert is_utf8(None) and is_utf8("utf_8") and not is_utf8("latin-1")


def test_a_compression_the_copy_cannot_open_is_refused(tmp_path: Path) -> None:
    source = _write(tmp_path / "t.csv.zst", b"\x28\xb5\x2f\xfd")
    with pytest.raises(
        EngineError, match=r"t\.csv\.zst as latin-1: files compressed with \.zst are read as UTF-8"
    ):
        utf8_copy(source, "latin-1", tmp_path / "utf8")


def test_a_broken_gzip_file_is_a_named_error(tmp_path: Path) -> None:
    source = tmp_path / "t.csv.gz"
    source.write_bytes(b"\x1f\x8b\x08\x00broken")  # a gzip header, then no deflate stream
    with pytest.raises(EngineError, match=r"Cannot read t\.csv\.gz"):
        as_utf8([source], "cp1252", tmp_path / "utf8")


def _names(backend: DuckDBBackend, source: RecordSource) -> list[str | None]:
    backend.load_records(source, "fm_records")
    return backend.query("SELECT name FROM fm_records ORDER BY _rid").column("name").to_pylist()


def test_duckdb_reads_a_declared_encoding_and_refuses_undeclared_bytes(tmp_path: Path) -> None:
    source = _write(tmp_path / "t.csv", WINDOWS_TEXT.encode("cp1252"))
    backend = DuckDBBackend(temp_dir=tmp_path / "engine")
    try:
        declared = RecordSource(paths=(source,), csv=CsvFormat(encoding="windows-1252"))
        assert _names(backend, declared) == ["José – “Café” €5", "Zoë Ærøskøbing ‰"]
        with pytest.raises(EngineError, match=r"(?i)not utf-8 encoded"):
            _names(backend, RecordSource(paths=(source,)))
    finally:
        backend.close()
