"""The execution backend interface: the few primitives the engine's SQL pipeline needs.

Algorithm steps build SQL text (DuckDB dialect, kept to the portable core) and hand it to a backend; a
backend loads the records, runs statements, streams results in Arrow batches, maps a function over a
result's batches where the data is, and writes output files. The embedded DuckDB backend is the default; a
Spark backend implements the same Protocol.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import pyarrow as pa

from findmatches.engine.types import RecordSource

#: The working memory a run's engine may hold before it spills, unless ``FINDMATCHES_ENGINE_MEMORY_LIMIT`` says.
DEFAULT_MEMORY_LIMIT = "2GB"
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)\s*", re.IGNORECASE)


def memory_limit_setting() -> str:
    """The engine's working memory, as DuckDB writes a size: ``FINDMATCHES_ENGINE_MEMORY_LIMIT`` (read when a
    backend opens, so that a task run's worker can set it) or ``DEFAULT_MEMORY_LIMIT``."""
    return os.environ.get("FINDMATCHES_ENGINE_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT


def size_bytes(size: str) -> int | None:
    """Bytes of a size written as DuckDB takes it ("2GB", "1.5 GiB", "512MB"); None where it is
    not one. KB, MB, … are powers of 1000, KiB, MiB, … of 1024, as DuckDB reads them."""
    m = _SIZE.fullmatch(size)
    if m is None:
        return None
    unit = m.group(2).upper()
    power = "BKMGT".index(unit[0])
    return int(float(m.group(1)) * (1024 if "I" in unit else 1000) ** power)


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (column or table name), doubling embedded quotes."""
    return '"' + name.replace('"', '""') + '"'


def broadcast_hint(tables: Sequence[str]) -> str:
    """A join hint that ``tables`` (relations a SELECT joins) are small enough to send whole to every worker,
    in the comment form that follows ``SELECT`` (Spark's hint syntax); empty for no tables. DuckDB reads it
    as a comment; the Spark backend as the hint."""
    return f"/*+ BROADCAST({', '.join(tables)}) */ " if tables else ""


def partition_hint(column: str) -> str:
    """A hint that a SELECT's rows be kept partitioned by ``column`` (hashed), in the comment form that follows
    ``SELECT``: a table that other statements join by that column (the records by ``_rid``) then meets each
    join's other side where it lies, with no shuffle of its own. DuckDB reads it as a comment; the Spark
    backend as Spark's REPARTITION hint."""
    return f"/*+ REPARTITION({column}) */ "


def quote_literal(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def typed_records(table: str) -> str:
    """The relation beside ``table`` (loaded by `Backend.load_records`) that holds the source's records with
    their own column types, and ``_rid``: what the output is written from."""
    return table + "_typed"


#: What a list column's items are joined by in its text: the separator of the parts that the engine compares
#: part by part (`profile.LIST_ITEM_SEPARATORS`), so that a list of tracks, authors or co-inventors read from
#: Parquet or JSON is compared item by item, as the same list in a CSV's text is. (A cast would give
#: ``[a, b, c]``, whose commas no one can tell from those inside the items.)
LIST_SEPARATOR = " | "

#: `sample_hash` values lie in ``[0, SAMPLE_HASH_RANGE)``: the prime 2^31 - 1.
SAMPLE_HASH_RANGE = 2_147_483_647


def sample_hash(*values: str, seed: int = 0) -> str:
    """SQL for a pseudo-random integer in ``[0, SAMPLE_HASH_RANGE)`` from non-negative integer expressions
    (record ids), the same on every backend: the samples that choose blocking keys, profile columns and
    calibrate the pre-filter must not depend on the backend, and each backend's ``hash`` is its own (DuckDB's
    against Spark's ``xxhash64``). Plain 64-bit arithmetic: the values folded modulo the prime, one affine
    step, then a square, whose differences between neighbouring ids are themselves spread (neighbours, often
    duplicates, are drawn independently, as a Bernoulli sample assumes)."""
    p = SAMPLE_HASH_RANGE
    folded = f"(CAST({values[0]} AS BIGINT) % {p})"
    for value in values[1:]:
        folded = f"(({folded} * 65599 + CAST({value} AS BIGINT) % {p}) % {p})"
    affine = f"(({folded} * 48271 + {11 + seed % p}) % {p})"
    return f"(({affine} * {affine} + 7) % {p})"


def sample_share(share: float) -> str:
    """SQL condition keeping about ``share`` of the records, by their ``_rid`` (`sample_hash`)."""
    return f"{sample_hash('_rid')} < {round(share * SAMPLE_HASH_RANGE)}"


def output_files(path: Path) -> list[Path]:
    """The files `Backend.write_records` wrote at ``path``: the file itself, or the part files of the folder by
    that name in order (the writer's marker and checksum files left out)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.name.startswith("part-"))
    return [path]


#: A function of one Arrow batch that `Backend.map_batches` applies: Spark ships it to the executors with
#: cloudpickle, and what it refers to by module (findmatches' own functions and classes) is imported there.
BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]


def rebatched(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` cut and joined into batches of ``rows`` rows (the last one fewer), empty ones left out."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield from table.slice(0, rows).combine_chunks().to_batches()
            pending = table.slice(rows).to_batches()
            held -= rows
    if held:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def map_on_threads(
    batches: Iterator[pa.RecordBatch], fn: BatchFn, threads: int, slice_min: int
) -> Iterator[pa.RecordBatch]:
    """``fn`` of each batch on a pool of ``threads`` while the next batches arrive, in the batches' order; a
    batch of at least twice ``slice_min`` rows is cut into ``threads`` slices first, so that few batches (an
    incremental run's tens of thousands of pairs come in one) still keep every thread busy."""
    pending: deque[Future[pa.RecordBatch]] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                for piece in slices(batch, threads, slice_min):
                    pending.append(pool.submit(fn, piece))
                while len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # a stop does not wait for work not yet started
            for future in pending:
                future.cancel()


def slices(batch: pa.RecordBatch, parts: int, slice_min: int) -> list[pa.RecordBatch]:
    """``batch`` in ``parts`` consecutive slices when it holds at least twice ``slice_min`` rows, else whole."""
    if batch.num_rows < 2 * slice_min:
        return [batch]
    size = -(-batch.num_rows // parts)
    return [batch.slice(start, size) for start in range(0, batch.num_rows, size)]


class LoadedRecords(NamedTuple):
    """What `Backend.load_records` loaded: the source's column names in source order, the source's number of
    records, and the number of records loaded in all, the extras' included (counted while loading: a count
    of the loaded table afterwards was a Spark job of its own, 2.6 s of a 200k-record run on ``local[2]``)."""

    columns: list[str]
    source_rows: int
    rows: int


class Backend(Protocol):
    """What the engine asks of an execution backend."""

    #: The engine's name, as ``FINDMATCHES_ENGINE`` spells it.
    name: str
    #: Whether each aggregate, join or window of a query is a stage with a fixed cost of its own (a shuffle
    #: on Spark): the engine then asks for one query over a union of like relations instead of one query per
    #: relation (DuckDB runs those side by side at no such cost).
    costly_stages: bool
    #: Whether the engine's own SQL functions (`jaro_winkler_similarity`, `strip_accents`) run as Python
    #: functions beside the query (Spark's Arrow UDFs): each sends its rows out and back, so the engine then
    #: computes what it can in the function it maps over the rows anyway (`map_batches`).
    python_functions: bool

    def load_records(
        self, source: RecordSource, table: str, extras: Sequence[RecordSource] = ()
    ) -> LoadedRecords:
        """Load the records as all-VARCHAR columns plus a dense BIGINT ``_rid`` (input order), then the
        ``extras``' records, source after source, with the same columns; keep the source's records with their
        own column types as `typed_records` (``table``)."""
        ...

    def load_columns(self, source: RecordSource, table: str, columns: Sequence[str]) -> None:
        """Load the named columns of ``source`` as VARCHAR into ``table`` (`EngineError` if one is missing)."""
        ...

    def load_parquet(self, path: Path, table: str) -> None:
        """Make a Parquet file that `write` wrote readable as ``table``, with its own column types."""
        ...

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (CREATE TABLE … AS, DROP …)."""
        ...

    def query(self, sql: str) -> pa.Table:
        """Run a query whose (small) result comes back whole."""
        ...

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Run a query and yield its result in batches of at most ``batch_rows`` rows."""
        ...

    def map_batches(
        self, sql: str, fn: BatchFn, schema: pa.Schema, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        """Run a query and yield ``fn`` of each batch of its result (at most ``batch_rows`` rows each), whose
        results have ``schema``, in no particular order: computed where the data is (DuckDB: on a few threads of
        this process while the next batches stream; Spark: on its executors, which must have findmatches
        installed), so that only ``fn``'s results travel."""
        ...

    def register(self, name: str, data: pa.Table) -> None:
        """Make an Arrow table available to SQL as a table named ``name`` (materialised)."""
        ...

    def write(self, sql: str, path: Path, file_format: Literal["csv", "parquet"]) -> None:
        """Write a query's (small or engine-internal) result to one local file."""
        ...

    def write_records(self, sql: str, path: Path | str, file_format: Literal["csv", "parquet"]) -> None:
        """Write a run's output records at ``path``: one file, or a folder of that name holding part files
        written where the data is (Spark's executors), in the query's order; `output_files` lists them. A
        ``path`` given as text is an object URI (``s3a://``), which only the Spark backend writes."""
        ...

    def interrupt(self) -> None:
        """Abort the statements running now (called from another thread): they raise `Cancelled`, and so
        does every later one."""
        ...

    def close(self) -> None:
        """Release connections and temporary files."""
        ...
