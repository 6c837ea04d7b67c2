"""Read a Data Catalog table's data (CSV, Parquet, JSON lines) as local files and as all-string Arrow."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from findmatches.engine.charsets import codec_name, is_utf8
from findmatches.engine.types import EngineError
from findmatches.io.errors import TableFormatError
from findmatches.io.storage import ObjectInfo, Storage

TableFormat = Literal["csv", "parquet", "json"]
_FORMATS: tuple[TableFormat, ...] = ("csv", "parquet", "json")
_EXTENSIONS: dict[str, TableFormat] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".parq": "parquet",
    ".pq": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json",
}  # fmt: skip
_COMPRESSION = (".gz", ".bz2", ".zst", ".snappy", ".lz4")
#: The longest CSV line read: DuckDB's default ``max_line_size`` (2 MiB), which the engine reads with.
MAX_LINE_BYTES = 2 * 1024 * 1024
#: The most fields a CSV header may have (a wider file is not a table of records to match).
MAX_COLUMNS = 10_000
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV table is written: delimiter, quoting and whether each file starts with a header.

    ``delimiter`` and ``quote_char`` are None when the table does not say (``,`` and ``"`` here; the engine
    detects them). Files without a header (``header`` False) name their fields ``column_names``, in order.
    ``encoding`` is None when the table does not say: UTF-8 (others are read through UTF-8 copies,
    `findmatches.engine.charsets`).
    """

    delimiter: str | None = None
    quote_char: str | None = None
    escape_char: str | None = None
    header: bool = True
    column_names: tuple[str, ...] = ()
    encoding: str | None = None


def detect_format(serde_library: str | None, classification: str | None, location: str) -> TableFormat:
    """The table's format: the ``classification`` parameter, else the SerDe library, else the extension.

    With no hint at all the answer is ``csv`` (Hive's default, LazySimpleSerDe). Formats this server cannot
    read (ORC, Avro, XML…) raise TableFormatError.
    """
    if classification and classification.strip():
        value = classification.strip().lower()
        if value in _FORMATS:
            return value
        raise TableFormatError(
            f"Unsupported table classification {classification!r}: use csv, parquet or json."
        )
    if serde_library and serde_library.strip():
        lib = serde_library.lower()
        if "parquet" in lib:
            return "parquet"
        if "json" in lib:
            return "json"
        if "lazysimpleserde" in lib or "opencsvserde" in lib or "csv" in lib:
            return "csv"
        raise TableFormatError(f"Unsupported SerDe {serde_library!r}: use a CSV, Parquet or JSON SerDe.")
    return format_from_extension(location) or "csv"


def format_from_extension(location: str) -> TableFormat | None:
    """The format that the file name at the end of ``location`` says (``.parquet``, ``.csv.gz`` …), if any."""
    name = location.rstrip("/").rsplit("/", 1)[-1].lower()
    for ext in _COMPRESSION:
        name = name.removesuffix(ext)
    for ext, fmt in _EXTENSIONS.items():
        if name.endswith(ext):
            return fmt
    return None


def _one_char(value: str | None) -> str | None:
    """A SerDe character parameter: one character, or a backslash escape of one (``\\t``, ``\\u0001``)."""
    if not value:
        return None
    if len(value) == 1:
        return value
    if value.startswith("\\"):
        try:
            decoded = value.encode("ascii").decode("unicode_escape")
        except (UnicodeError, ValueError):
            return None
        return decoded if len(decoded) == 1 else None
    return None


def csv_options(
    serde_parameters: Mapping[str, str] | None,
    table_parameters: Mapping[str, str] | None,
    columns: Sequence[str] = (),
) -> CsvOptions:
    """CsvOptions from a catalog table: OpenCSVSerde/LazySimpleSerDe parameters and skip.header.line.count.

    The delimiter is ``separatorChar`` (OpenCSVSerde) or ``field.delim`` (LazySimpleSerDe), else a one-character
    ``serialization.format`` (a digit there is Hive's legacy format code, not a delimiter). Files have a
    header row unless ``skip.header.line.count`` is 0; then ``columns`` (the StorageDescriptor's) name the
    fields. The files' encoding is ``serialization.encoding`` (as Hive's and Athena's SerDes read it), else
    UTF-8; TableFormatError where Python does not know the encoding named.
    """
    serde = dict(serde_parameters or {})
    table = dict(table_parameters or {})
    delimiter = _one_char(serde.get("separatorChar")) or _one_char(serde.get("field.delim"))
    legacy = _one_char(serde.get("serialization.format"))
    if delimiter is None and legacy is not None and not legacy.isdigit():
        delimiter = legacy
    try:
        header = int(table.get("skip.header.line.count", "1").strip() or "1") != 0
    except ValueError:
        header = True
    encoding = (serde.get("serialization.encoding") or "").strip() or None
    if encoding is not None:
        try:
            codec_name(encoding)
        except EngineError as e:
            raise TableFormatError(f"serialization.encoding: {e}") from e
    return CsvOptions(
        delimiter=delimiter,
        quote_char=_one_char(serde.get("quoteChar")),
        escape_char=_one_char(serde.get("escapeChar")),
        header=header,
        column_names=() if header else tuple(columns),
        encoding=encoding,
    )


def list_table(storage: Storage, location: str, exclude: str | None = None) -> list[ObjectInfo]:
    """The table's data objects: every visible, non-empty object under the location (Hive/Glue behaviour),
    except those at or under ``exclude`` (a run's own output: a folder, or a file and its ``.merges.csv``)."""
    own: tuple[str, ...] = ()
    if exclude:
        local = storage.local_path(exclude)
        base = (str(local) if local is not None else exclude).rstrip("/")
        own = (base, base + ".merges.csv")
    objects = [
        o
        for o in storage.list_objects(location)
        if o.size > 0 and not (own and (o.uri in own or o.uri.startswith(own[0] + "/")))
    ]
    if not objects:
        raise TableFormatError(f"The table location {location} holds only empty files.")
    return objects


def fetch_table(
    storage: Storage, location: str, fmt: TableFormat, dest_dir: Path | str, exclude: str | None = None
) -> list[Path]:
    """Local paths of the table's data files (`list_table`): local files as they are, S3 objects downloaded
    to ``dest_dir``."""
    del fmt  # every visible, non-empty object under the location is data
    return fetch_objects(storage, location, list_table(storage, location, exclude), dest_dir)


def fetch_objects(
    storage: Storage, location: str, objects: Sequence[ObjectInfo], dest_dir: Path | str
) -> list[Path]:
    """Local paths of ``objects`` listed under ``location`` (`list_table`): local files as they are, S3 objects
    downloaded to ``dest_dir``."""
    if storage.local_path(location) is not None:
        return [Path(o.uri) for o in objects]
    paths = []
    for index, obj in enumerate(objects):
        paths.extend(storage.download(obj.uri, Path(dest_dir) / f"{index:05d}"))
    return paths


def check_files(
    paths: Sequence[Path], fmt: TableFormat, options: CsvOptions | None = None, declarable: bool = True
) -> None:
    """Refuse, with TableFormatError naming the file and line, text files that cannot be a table of records:
    UTF-16, NUL bytes (binary files, or UTF-16 without a byte-order mark), and for CSV bytes that are not UTF-8
    (where ``options`` declare no other encoding), a line longer than MAX_LINE_BYTES or a first line of more
    than MAX_COLUMNS fields. ``declarable``: whether a table's SerDe can declare the files' encoding (the
    refusal says how); files that no table describes (an incremental run's existing matches) must be UTF-8.

    Why here: the parsers that read the files afterwards (DuckDB in the engine, pyarrow and ``csv`` here) take a
    50 MB line or a million columns into memory several times over before they fail (DuckDB: ~9 s and ~0.5 GB
    for a 50 MB line), or read NUL bytes as text. This pass reads each file once in MAX_LINE_BYTES chunks and
    holds one chunk at a time; a line longer than two chunks leaves a whole chunk without a line break.
    """
    if fmt == "parquet":
        return
    for path in paths:
        if path.suffix.lower() in _COMPRESSION and path.suffix.lower() != ".gz":
            continue  # no cheap way to look inside; the engine's reader reports what it finds
        try:
            with gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb") as f:
                _check_chunks(path.name, f, fmt, options or CsvOptions(), declarable)
        except (OSError, EOFError) as e:
            raise TableFormatError(f"Cannot read {fmt} file {path.name}: {e}") from e


def _check_chunks(
    name: str, f: io.BufferedIOBase, fmt: TableFormat, options: CsvOptions, declarable: bool
) -> None:
    lines = 0  # line breaks before the chunk
    first = True
    utf8 = codecs.getincrementaldecoder("utf-8")() if fmt == "csv" and is_utf8(options.encoding) else None
    while chunk := f.read(MAX_LINE_BYTES):
        if first and chunk.startswith(_UTF16_BOMS):
            raise TableFormatError(
                f"{name} is UTF-16 encoded; save it as UTF-8"
                + (f", or {_DECLARE} (UTF-16)." if declarable else ".")
            )
        nul = chunk.find(b"\x00")
        if nul >= 0:
            line = lines + chunk.count(b"\n", 0, nul) + 1
            raise TableFormatError(
                f"{name}, line {line}: a NUL byte (a binary file, or text in UTF-16 without a byte-order "
                "mark?); save it as UTF-8 text."
            )
        breaks = chunk.count(b"\n") or chunk.count(b"\r")
        if fmt == "csv" and not breaks and len(chunk) == MAX_LINE_BYTES:
            raise TableFormatError(
                f"{name}, line {lines + 1}: a line longer than {MAX_LINE_BYTES:,} bytes (the limit)."
            )
        if fmt == "csv" and first:
            header = chunk.split(b"\n", 1)[0].split(b"\r", 1)[0].decode("utf-8", errors="replace")
            delimiters = [options.delimiter] if options.delimiter else [",", "\t", ";", "|"]
            width = max(header.count(d) for d in delimiters) + 1
            if width > MAX_COLUMNS:
                raise TableFormatError(
                    f"{name}, line 1: {width:,} fields; a table may have at most {MAX_COLUMNS:,} columns."
                )
        if utf8 is not None:
            _check_utf8(name, utf8, chunk, lines, declarable)
        lines += breaks
        first = False
    if utf8 is not None:
        _check_utf8(name, utf8, b"", lines, declarable, final=True)


_DECLARE = "name its encoding as the table's serialization.encoding SerDe parameter"


def _check_utf8(
    name: str,
    decoder: codecs.IncrementalDecoder,
    chunk: bytes,
    lines: int,
    declarable: bool,
    final: bool = False,
) -> None:
    """TableFormatError naming the line and byte where ``chunk`` (after ``lines`` line breaks, following what
    ``decoder`` holds of the chunk before) stops being UTF-8. Chunks of ASCII are not decoded."""
    held = decoder.getstate()[0]
    if chunk.isascii() and not held and not final:
        return
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError as e:
        data = held + chunk
        end = b"\n" if b"\n" in chunk else b"\r"  # as `_check_chunks` counts lines
        line = lines + chunk.count(end, 0, max(0, e.start - len(held))) + 1
        raise TableFormatError(
            f"{name}, line {line}: not UTF-8 encoded (byte 0x{data[e.start]:02X}); save it as UTF-8"
            + (f", or {_DECLARE} (for example windows-1252 or ISO-8859-1)." if declarable else ".")
        ) from None


def _open_text(path: Path, encoding: str | None = None) -> IO[str]:
    """The text of ``path`` (``.gz`` decompressed) in ``encoding`` (UTF-8 where None, a BOM dropped)."""
    encoding = "utf-8-sig" if is_utf8(encoding) else encoding
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _csv_header(path: Path, options: CsvOptions) -> list[str]:
    try:
        with _open_text(path, options.encoding) as f:
            reader = csv.reader(
                f,
                delimiter=options.delimiter or ",",
                quotechar=options.quote_char or '"',
                escapechar=options.escape_char,
            )
            return [name.strip() for name in next(reader, [])]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TableFormatError(f"Cannot read the CSV header of {path.name}: {e}") from e


def _json_records(path: Path) -> Iterator[dict[str, Any]]:
    """Objects of a JSON-lines file (or of one JSON array), numbers kept as their text."""
    with _open_text(path) as f:
        text = f.read()
    try:
        if text.lstrip().startswith("["):
            items: Iterable[Any] = json.loads(text, parse_int=str, parse_float=str)
        else:
            items = (
                json.loads(line, parse_int=str, parse_float=str) for line in text.splitlines() if line.strip()
            )
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise TableFormatError(f"{path.name}: record {number} is not a JSON object.")
            yield item
    except json.JSONDecodeError as e:
        raise TableFormatError(f"{path.name}: invalid JSON: {e}") from e


def read_columns(paths: Sequence[Path], fmt: TableFormat, options: CsvOptions | None = None) -> list[str]:
    """Column names from the first file's header (CSV), schema (Parquet) or first records (JSON)."""
    if not paths:
        raise TableFormatError("The table has no data files.")
    if fmt == "csv":
        options = options or CsvOptions()
        return _csv_header(paths[0], options) if options.header else list(options.column_names)
    if fmt == "parquet":
        try:
            return list(pq.read_schema(paths[0]).names)
        except (OSError, pa.ArrowException) as e:
            raise TableFormatError(f"Cannot read the Parquet schema of {paths[0].name}: {e}") from e
    names: dict[str, None] = {}
    for number, record in enumerate(_json_records(paths[0])):
        names.update(dict.fromkeys(record))
        if number >= 1000:
            break
    return list(names)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _strings(table: pa.Table) -> pa.Table:
    """Every column cast to string (nested values as JSON text)."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type):
            columns.append(column)
            continue
        try:
            if pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
                raise pa.ArrowNotImplementedError("nested")
            columns.append(column.cast(pa.string()))
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            columns.append(pa.array([_as_text(v) for v in column.to_pylist()], pa.string()))
    return pa.table(columns, names=table.column_names)


def _headerless_names(path: Path, options: CsvOptions, columns: Sequence[str] | None) -> list[str]:
    """Names of a headerless file's fields: the catalog's (else those asked for), as many as the file's first
    line has fields; fields beyond them are ``column<N>`` (N counts from 0), as the engine names them."""
    names = list(options.column_names or columns or [])
    width = len(_csv_header(path, options))
    return names[:width] + [f"column{i}" for i in range(len(names), width)] if width else names


def _read_one(path: Path, fmt: TableFormat, columns: Sequence[str] | None, options: CsvOptions) -> pa.Table:
    if fmt == "csv":
        names = _csv_header(path, options) if options.header else _headerless_names(path, options, columns)
        if not names:
            raise TableFormatError(f"{path.name}: no header and no catalog columns to name the fields.")
        read = pa_csv.ReadOptions(
            column_names=names,
            skip_rows=1 if options.header else 0,
            encoding="utf8" if is_utf8(options.encoding) else str(options.encoding),
        )
        parse = pa_csv.ParseOptions(
            delimiter=options.delimiter or ",",
            quote_char=options.quote_char or '"',
            escape_char=options.escape_char or False,
            newlines_in_values=True,
        )
        convert = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=list(columns) if columns is not None else None,
            include_missing_columns=True,
        )
        return pa_csv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    if fmt == "parquet":
        if columns is None:
            return _strings(pq.read_table(path))
        present = set(pq.read_schema(path).names)
        table = _strings(pq.read_table(path, columns=[c for c in columns if c in present]))
        for name in columns:
            if name not in present:  # missing columns read as nulls, as for CSV and JSON
                table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
        return table
    rows = list(_json_records(path))
    names = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: pa.array([_as_text(r.get(n)) for r in rows], pa.string()) for n in names})


def read_records(
    paths: Sequence[Path],
    fmt: TableFormat,
    columns: Sequence[str] | None = None,
    options: CsvOptions | None = None,
) -> pa.Table:
    """All records of the files as one Arrow table of strings (``columns``: only these, in this order)."""
    options = options or CsvOptions()
    tables = []
    for path in paths:
        try:
            tables.append(_read_one(path, fmt, columns, options))
        except (OSError, pa.ArrowException, UnicodeDecodeError) as e:
            raise TableFormatError(f"Cannot read {fmt} file {path.name}: {e}") from e
    if not tables:
        raise TableFormatError("The table has no data files.")
    table = pa.concat_tables(tables, promote_options="default")
    return table.select(list(columns)) if columns is not None else table
