"""The embedded DuckDB backend: an in-memory database that spills to a private temp dir, bounded memory, all
cores.

In-memory rather than an on-disk scratch file: tables stay uncompressed in the buffer pool (queries over them
ran about twice as fast at a million records), and the buffer manager still writes blocks out to the temp dir
when the memory limit is reached, so memory stays bounded."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from findmatches.engine.backend import (
    LIST_SEPARATOR,
    BatchFn,
    LoadedRecords,
    map_on_threads,
    memory_limit_setting,
    output_files,
    quote_ident,
    quote_literal,
    typed_records,
)
from findmatches.engine.charsets import as_utf8
from findmatches.engine.types import Cancelled, CsvFormat, EngineError, RecordSource

# `map_batches`: the threads that apply the function while DuckDB streams the next batch (the function's
# rapidfuzz and NumPy work releases the GIL), and the batch length from which a batch is cut among them.
MAP_THREADS = 2
SLICE_MIN_ROWS = 5_000


#: The names DuckDB gives fields that no header names (a suffix where a header holds the name already).
_GENERATED = re.compile(r"column(\d+)(?:_\d+)?")


def csv_read_options(csv: CsvFormat, padded: bool = False) -> str:
    """``read_csv`` options for files written as ``csv`` says; options left at None are sniffed. ``padded``:
    every row padded with NULL to the widest (`csv_relation`)."""
    options = ["all_varchar = true", f"header = {'true' if csv.header else 'false'}"]
    if padded:
        # Not in parallel, which DuckDB refuses with quoted line breaks; not with skip = 0, under which its
        # sniffer does not pad.
        options += ["null_padding = true", "parallel = false"]
    else:
        # The first line is the header, as Spark reads it; DuckDB's sniffer would otherwise skip lines until
        # the rows agree, and take a row of records for the header where some rows have a field more.
        options.append("skip = 0")
    # The quote is '"' unless the table says otherwise, as Spark's reader (Glue's) has it: DuckDB's sniffer
    # picks no quote where that makes the rows of one width, and a row short of the header whose last field
    # is quoted and holds a comma then reads as two fields.
    quote = csv.quote if csv.quote is not None else '"'
    for name, value in (("delim", csv.delimiter), ("quote", quote), ("escape", csv.escape)):
        if value is not None:
            options.append(f"{name} = {quote_literal(value)}")
    if csv.names and not csv.header:
        options.append("names = [" + ", ".join(quote_literal(n) for n in csv.names) + "]")
    return ", ".join(options)


def csv_relation(con: duckdb.DuckDBPyConnection, files: Sequence[Path], csv: CsvFormat) -> str:
    """The relation reading the CSV ``files`` as ``csv`` says they are written, all text, in ``con``.

    Rows with fewer fields than the header read NULL for the missing ones and fields beyond the header are
    dropped, as Spark's permissive reader (Glue's) reads them. DuckDB's sniffer, given rows of several widths,
    finds no dialect, or takes the file for one column (whose name is the header line), or for the header's
    columns without its quoting (a quoted line break then splits a record); read with every row padded to
    the widest (``null_padding``) it sees them. So the padded reading is sniffed too, and used where it finds
    more columns than the plain one: a file whose sampled rows are of several widths. It is not parallel, so
    other files keep the plain one. It names the fields that
    no header names ``column<N>`` (N their position): such a column is dropped where N lies beyond every
    file's header and no header names it so itself; an empty name inside a header keeps its column."""
    paths = "[" + ", ".join(quote_literal(str(p)) for p in files) + "]"
    relation = f"read_csv({paths}, {csv_read_options(csv)}, union_by_name = true)"
    refused: duckdb.Error | None = None
    try:
        plain = _columns(con, relation)
    except duckdb.InvalidInputException as e:  # the sniffer found no dialect every row fits
        plain, refused = [], e
    padded = f"read_csv({paths}, {csv_read_options(csv, padded=True)}, union_by_name = true)"
    try:
        names = _columns(con, padded)
    except duckdb.InvalidInputException:
        names = []
    if len(names) <= max(1, len(plain)):
        if refused is not None:
            raise refused
        return relation
    generated = {n: int(m.group(1)) for n in names if (m := _GENERATED.fullmatch(n))}
    headers: set[str] = set()
    width = 0  # the widest header row, up to its last named field
    if csv.header:
        options = csv_read_options(dataclasses.replace(csv, header=False), padded=True)
        for f in files:
            rows = con.execute(f"SELECT * FROM read_csv({quote_literal(str(f))}, {options}) LIMIT 1")
            row = next(iter(rows.fetchall()), ())
            named = [i for i, v in enumerate(row) if v is not None]
            width = max(width, named[-1] + 1 if named else 0)
            headers |= {str(row[i]) for i in named}
    else:
        width = len(names)  # headerless: every field is the records', ``column<N>`` beyond the names
    beyond = {n for n, i in generated.items() if i >= width and n not in headers}
    if not beyond:
        return padded
    return f"(SELECT {', '.join(quote_ident(n) for n in names if n not in beyond)} FROM {padded})"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _as_text(column: str, kind: str) -> str:
    """``column`` (of DuckDB type ``kind``) as VARCHAR under its own name; a list's items joined by
    `LIST_SEPARATOR`."""
    q = quote_ident(column)
    if kind == "VARCHAR":
        return q
    if kind.endswith("]"):  # a LIST (``VARCHAR[]``) or an ARRAY (``INTEGER[3]``)
        return (
            f"array_to_string(list_transform({q}, lambda x: CAST(x AS VARCHAR)), {LIST_SEPARATOR!r}) AS {q}"
        )
    return f"CAST({q} AS VARCHAR) AS {q}"


class DuckDBBackend:
    """Runs the engine's SQL in DuckDB; spills to a private temp directory that `close` removes."""

    name = "duckdb"
    costly_stages = False
    python_functions = False

    def __init__(
        self,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_dir: Path | None = None,
    ) -> None:
        base = temp_dir or Path(os.environ.get("FINDMATCHES_ENGINE_TMP", tempfile.gettempdir()))
        base.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="findmatches-engine-", dir=base))
        self._con = duckdb.connect(":memory:")
        self._con.execute(f"SET memory_limit = {quote_literal(memory_limit or memory_limit_setting())}")
        self._con.execute(f"SET temp_directory = {quote_literal(str(self._dir / 'spill'))}")
        self._con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
        self._con.execute("SET preserve_insertion_order = true")
        self._tmp_seq = 0
        self._lock = threading.Lock()
        self._cursors: set[duckdb.DuckDBPyConnection] = set()
        self._interrupted = False
        self._utf8_files: dict[tuple[tuple[Path, ...], str | None], tuple[Path, ...]] = {}

    @contextmanager
    def _running(self) -> Iterator[None]:
        """Turn an interrupt (now or earlier) into `Cancelled`."""
        if self._interrupted:
            raise Cancelled()
        try:
            yield
        except duckdb.InterruptException as e:
            raise Cancelled() from e
        if self._interrupted:
            raise Cancelled()

    def interrupt(self) -> None:
        """Abort the running statements (streams run on their own cursors); later calls raise `Cancelled`."""
        with self._lock:
            self._interrupted = True
            for con in (self._con, *self._cursors):
                with contextlib.suppress(duckdb.Error):  # closed meanwhile: nothing left to stop
                    con.interrupt()

    def load_records(
        self, source: RecordSource, table: str, extras: Sequence[RecordSource] = ()
    ) -> LoadedRecords:
        """Load the records into ``table``: a view of every column as VARCHAR with a dense ``_rid`` in input
        order, the ``extras``' records following, one source after another, with the source's columns (NULL
        where they lack one). The source's own rows keep their own column types in ``typed_records(table)``,
        which the output reads."""
        with self._reading("Cannot read the input records") as registered:
            relation = self._relation(source, "_fm_src", registered)
            described = self._con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            columns = [str(r[0]) for r in described]
            if not columns:
                raise EngineError("The input has no columns.")
            raw = quote_ident(table + "_raw")
            # Insertion order is kept (DuckDB's preserve_insertion_order), so rowid is the input position.
            self._con.execute(f"CREATE OR REPLACE TABLE {raw} AS SELECT * FROM {relation}")
            # fetchall: a result left unfinished (fetchone) blocks the connection's next register.
            source_rows = int(self._con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0])
            kinds = [str(kind) for _, kind, *_ in described]
            is_text = [kind == "VARCHAR" for kind in kinds]
            text = ", ".join(_as_text(c, kind) for c, kind in zip(columns, kinds, strict=True))
            records = f"SELECT CAST(rowid AS BIGINT) AS _rid, {text} FROM {raw}"
            if extras and all(is_text):
                # All text (CSV): the extra records join the one table, which every query reads whole
                # (a union in the view cost a 1M apply about 0.7 CPU-s); the output reads the first rows.
                for i, extra in enumerate(extras):
                    cols = self._extra_columns(extra, f"_fm_extra{i}", columns, registered)
                    self._con.execute(f"INSERT INTO {raw} {cols}")
            elif extras:
                extra_raw = quote_ident(table + "_extra")
                selects = [
                    self._extra_columns(extra, f"_fm_extra{i}", columns, registered)
                    for i, extra in enumerate(extras)
                ]
                self._con.execute(f"CREATE OR REPLACE TABLE {extra_raw} AS {' UNION ALL '.join(selects)}")
                records += (
                    f" UNION ALL SELECT CAST(rowid AS BIGINT) + {source_rows} AS _rid, * FROM {extra_raw}"
                )
            self._con.execute(f"CREATE OR REPLACE VIEW {quote_ident(table)} AS {records}")
            self._con.execute(
                f"CREATE OR REPLACE VIEW {quote_ident(typed_records(table))} AS "
                f"SELECT CAST(rowid AS BIGINT) AS _rid, * FROM {raw} WHERE rowid < {source_rows}"
            )
            rows = int(self._con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchall()[0][0])
        return LoadedRecords(columns, source_rows, rows)

    @contextmanager
    def _reading(self, failure: str) -> Iterator[list[str]]:
        """Around a load: yields the list of names registered meanwhile (unregistered after); an interrupt
        becomes `Cancelled`, DuckDB's other errors `EngineError` after ``failure``."""
        registered: list[str] = []
        try:
            yield registered
        except duckdb.InterruptException as e:
            raise Cancelled() from e
        except duckdb.Error as e:
            raise EngineError(f"{failure}: {e}") from e
        finally:
            for name in registered:
                self._con.unregister(name)

    def _kinds(self, relation: str) -> dict[str, str]:
        """Each column of ``relation`` and its DuckDB type."""
        return {
            str(r[0]): str(r[1]) for r in self._con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        }

    def _extra_columns(
        self, extra: RecordSource, name: str, columns: list[str], registered: list[str]
    ) -> str:
        """A SELECT of ``extra``'s records with the source's ``columns`` as text (NULL where it lacks one)."""
        more = self._relation(extra, name, registered)
        have = self._kinds(more)
        cols = ", ".join(
            _as_text(c, have[c]) if c in have else f"CAST(NULL AS VARCHAR) AS {quote_ident(c)}"
            for c in columns
        )
        return f"SELECT {cols} FROM {more}"

    def load_columns(self, source: RecordSource, table: str, columns: Sequence[str]) -> None:
        """Load the named columns of ``source``, as text, into ``table``."""
        with self._reading("Cannot read the records") as registered:
            relation = self._relation(source, "_fm_cols", registered)
            have = self._kinds(relation)
            missing = [c for c in columns if c not in have]
            if missing:
                raise EngineError(f"The records lack the column(s): {', '.join(missing)}.")
            self._con.execute(
                f"CREATE OR REPLACE TABLE {quote_ident(table)} AS SELECT "
                + ", ".join(_as_text(c, have[c]) for c in columns)
                + f" FROM {relation}"
            )

    def load_parquet(self, path: Path, table: str) -> None:
        """A view of the Parquet file, or of the part files of the folder by that name (`output_files`; read
        where it is used, no copy)."""
        files = "[" + ", ".join(quote_literal(str(f)) for f in output_files(path)) + "]"
        with self._reading(f"Cannot read {path}"):
            self._con.execute(
                f"CREATE OR REPLACE VIEW {quote_ident(table)} AS SELECT * FROM read_parquet({files})"
            )

    def _relation(self, source: RecordSource, name: str, registered: list[str]) -> str:
        """The SQL relation reading ``source`` (an Arrow table is registered as ``name``)."""
        if source.table is not None:
            self._con.register(name, source.table)
            registered.append(name)
            return name
        if source.uris:
            raise EngineError(
                "The DuckDB engine reads local files; object URIs are read by the Spark engine."
            )
        if not source.paths:
            raise EngineError("No input files were given.")
        files = self._utf8(source.paths, source.csv.encoding) if source.format == "csv" else source.paths
        paths = "[" + ", ".join(quote_literal(str(p)) for p in files) + "]"
        if source.format == "csv":
            return csv_relation(self._con, files, source.csv)
        if source.format == "parquet":
            return f"read_parquet({paths}, union_by_name = true)"
        if source.format == "json":
            return f"read_json_auto({paths}, union_by_name = true)"
        raise EngineError(f"Unsupported input format: {source.format}")  # pragma: no cover - typed

    def _utf8(self, paths: Sequence[Path], encoding: str | None) -> tuple[Path, ...]:
        """CSV ``paths`` as DuckDB reads them, UTF-8 (`charsets.as_utf8`; copies made once a session)."""
        key = (tuple(paths), encoding)
        if key not in self._utf8_files:
            self._utf8_files[key] = as_utf8(paths, encoding, self._dir / "utf8")
        return self._utf8_files[key]

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing."""
        with self._running():
            self._con.execute(sql)

    def query(self, sql: str) -> pa.Table:
        """Run a query and return its whole result as Arrow."""
        with self._running():
            result: pa.Table = self._con.sql(sql).to_arrow_table()
        return result

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Yield the query's result in record batches of at most ``batch_rows`` rows."""
        with self._lock:
            cursor = self._con.cursor()
            self._cursors.add(cursor)
        try:
            with self._running():
                reader = cursor.sql(sql).to_arrow_reader(batch_rows)
                yield from reader
        finally:
            with self._lock:
                self._cursors.discard(cursor)
            cursor.close()

    def map_batches(
        self, sql: str, fn: BatchFn, schema: pa.Schema, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        """``fn`` of each streamed batch, on `MAP_THREADS` threads of this process (`map_on_threads`)."""
        return map_on_threads(self.stream(sql, batch_rows), fn, MAP_THREADS, SLICE_MIN_ROWS)

    def register(self, name: str, data: pa.Table) -> None:
        """Materialise an Arrow table as ``name``."""
        self._tmp_seq += 1
        view = f"_fm_arrow_{self._tmp_seq}"
        self._con.register(view, data)
        try:
            self._con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS SELECT * FROM {view}")
        finally:
            self._con.unregister(view)

    def write(self, sql: str, path: Path, file_format: Literal["csv", "parquet"]) -> None:
        """Write the query's result to ``path`` as CSV (with header) or Parquet."""
        path.parent.mkdir(parents=True, exist_ok=True)
        options = "FORMAT csv, HEADER true" if file_format == "csv" else "FORMAT parquet"
        with self._running():
            self._con.execute(f"COPY ({sql}) TO {quote_literal(str(path))} ({options})")

    def write_records(self, sql: str, path: Path | str, file_format: Literal["csv", "parquet"]) -> None:
        """One file, as `write`."""
        if isinstance(path, str):
            raise EngineError(
                "The DuckDB engine writes local files; object URIs are written by the Spark engine."
            )
        self.write(sql, path, file_format)

    def close(self) -> None:
        """Close the connection and remove the scratch directory."""
        try:
            self._con.close()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
