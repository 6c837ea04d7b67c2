"""Labels against the transform's table: which labelled records a table holds, scanned without the table's
records gathering in this process.

Labels name records of the transform's table by primary key. An import of labels checks that the table holds
every key it names (`labelled_keys_present`). When a FIND_MATCHES run reads other records (``InputS3Path``:
new data, a bigger file), the labelled records the input lacks are read from the table and matched along with
the input (for training and clustering) but not written, so every input row appears once
(`missing_labelled_records`). Each has a twin for Spark, whose executors scan the objects (``s3a://``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from findmatches.engine.backend import quote_ident, quote_literal
from findmatches.engine.backends.duckdb import csv_relation
from findmatches.engine.types import RecordSource, find_column


def _scan(con: duckdb.DuckDBPyConnection, source: RecordSource) -> str:
    """The DuckDB relation reading ``source`` in ``con``, CSV as the engine reads it (layout, all text)."""
    paths = "[" + ", ".join(quote_literal(str(p)) for p in source.paths) + "]"
    if source.format == "csv":
        return csv_relation(con, source.paths, source.csv)
    if source.format == "parquet":
        return f"read_parquet({paths})"
    return f"read_json_auto({paths})"


def missing_labelled_records(
    input_records: RecordSource,
    table_records: RecordSource,
    key: str,
    labelled: list[str],
    dest: Path,
    also: RecordSource | None = None,
    also_key: str | None = None,
) -> tuple[RecordSource | None, list[str]]:
    """The labelled records of the table that the input (and ``also``: an incremental run's existing
    matches, keyed by ``also_key`` where not by ``key``: kept snapshots' ``_pk``) lacks, as Parquet at
    ``dest`` (None when there are none), and their primary keys. The engine matches them with the input and
    leaves them out of the output."""
    # An in-memory DuckDB spills to ``.tmp`` under the server's working directory unless told otherwise: spill
    # into the run's work dir instead (``dest``'s folder), which the runner removes when the attempt ends.
    con = duckdb.connect(config={"temp_directory": str(dest.parent / "spill")})
    try:
        con.execute(f"CREATE VIEW input AS SELECT * FROM {_scan(con, input_records)}")
        columns = [row[0] for row in con.execute("DESCRIBE input").fetchall()]
        con.execute(f"CREATE VIEW source AS SELECT * FROM {_scan(con, table_records)}")
        available = [row[0] for row in con.execute("DESCRIBE source").fetchall()]
        in_input, in_table = find_column(columns, key), find_column(available, key)
        if in_input is None or in_table is None:
            return None, []
        con.execute("CREATE TABLE labelled AS SELECT DISTINCT unnest(?::VARCHAR[]) AS k", [labelled])
        k, t = quote_ident(in_input), quote_ident(in_table)
        # Only the labelled keys are looked for (the few labelled keys are the hash table, not the input's).
        labelled_only = "IN (SELECT k FROM labelled)"
        known = f"SELECT CAST({k} AS VARCHAR) FROM input WHERE CAST({k} AS VARCHAR) {labelled_only}"
        if also is not None:
            con.execute(f"CREATE VIEW also AS SELECT * FROM {_scan(con, also)}")
            found = find_column([row[0] for row in con.execute("DESCRIBE also").fetchall()], also_key or key)
            if found is not None:
                other = quote_ident(found)
                known += (
                    f" UNION ALL SELECT CAST({other} AS VARCHAR) FROM also "
                    f"WHERE CAST({other} AS VARCHAR) {labelled_only}"
                )
        con.execute(
            f"CREATE TABLE extra AS SELECT * FROM source WHERE CAST({t} AS VARCHAR) IN (SELECT k FROM labelled) "
            f"AND CAST({t} AS VARCHAR) NOT IN ({known})"
        )
        added = [str(row[0]) for row in con.execute(f"SELECT CAST({t} AS VARCHAR) FROM extra").fetchall()]
        if not added:
            return None, []
        # The table's columns under the input's names (a table's header may write them in another case).
        table_names = {c.casefold(): c for c in available}
        as_text = ", ".join(
            f"CAST({quote_ident(table_names[c.casefold()])} AS VARCHAR) AS {quote_ident(c)}"
            for c in columns
            if c.casefold() in table_names
        )
        target = str(dest).replace("'", "''")
        con.execute(f"COPY (SELECT {as_text} FROM extra) TO '{target}' (FORMAT parquet)")
        return RecordSource(paths=(dest,), format="parquet"), added
    finally:
        con.close()


SCAN_KEY = "_fm_scan_key"


def labelled_keys_present(
    records: RecordSource, key: str, labelled: list[str], spill: Path
) -> list[str] | None:
    """The ``labelled`` keys that ``records`` hold in their column ``key`` (read as the engine reads them),
    found by a scan that keeps only those; None where the records have no such column. DuckDB spills under
    ``spill``."""
    con = duckdb.connect(config={"temp_directory": str(spill)})
    try:
        con.execute(f"CREATE VIEW source AS SELECT * FROM {_scan(con, records)}")
        found = find_column([row[0] for row in con.execute("DESCRIBE source").fetchall()], key)
        if found is None:
            return None
        con.execute("CREATE TABLE labelled AS SELECT DISTINCT unnest(?::VARCHAR[]) AS k", [labelled])
        k = quote_ident(found)
        present = con.execute(
            f"SELECT DISTINCT CAST({k} AS VARCHAR) FROM source "
            f"WHERE CAST({k} AS VARCHAR) IN (SELECT k FROM labelled)"
        ).fetchall()
        return [str(row[0]) for row in present]
    finally:
        con.close()


def labelled_keys_present_on_spark(records: RecordSource, key: str, labelled: list[str]) -> list[str] | None:
    """`labelled_keys_present` for records that Spark's executors read (``s3a://``): only the labelled keys
    found come to this process."""
    from pyspark.sql import functions as F

    from findmatches.engine.backends.spark import SparkBackend

    backend = SparkBackend()
    try:
        source = backend.dataframe(records)
        if find_column(source.columns, key) is None:  # Spark resolves names regardless of case
            return None
        keys = backend.spark.createDataFrame([(k,) for k in sorted(set(labelled))], f"{SCAN_KEY} string")
        by_key = source.select(F.col(key).cast("string").alias(SCAN_KEY))
        found = by_key.join(F.broadcast(keys), SCAN_KEY, "left_semi").distinct().toArrow()
        return [str(k) for k in found.column(SCAN_KEY).to_pylist()]
    finally:
        backend.close()


def missing_labelled_records_on_spark(
    input_records: RecordSource,
    table_records: RecordSource,
    key: str,
    labelled: list[str],
    dest: Path,
    also: RecordSource | None = None,
    also_key: str | None = None,
) -> tuple[RecordSource | None, list[str]]:
    """`missing_labelled_records` for a run on Spark whose records are objects its executors read
    (``s3a://``): the input and the table are scanned there, and only the labelled records the input lacks
    (a few) come to this process, written to ``dest`` with their own types."""
    from pyspark.sql import functions as F

    from findmatches.engine.backends.spark import SparkBackend

    backend = SparkBackend()
    try:
        given, source = backend.dataframe(input_records), backend.dataframe(table_records)
        if find_column(given.columns, key) is None or find_column(source.columns, key) is None:
            return None, []
        keys = backend.spark.createDataFrame([(k,) for k in sorted(set(labelled))], f"{SCAN_KEY} string")
        known = given.select(F.col(key).cast("string").alias(SCAN_KEY))
        if also is not None:
            more = backend.dataframe(also)
            if find_column(more.columns, also_key or key) is not None:
                known = known.unionByName(more.select(F.col(also_key or key).cast("string").alias(SCAN_KEY)))
        by_key = source.withColumn(SCAN_KEY, F.col(key).cast("string"))
        extra = by_key.join(F.broadcast(keys), SCAN_KEY, "left_semi").join(known, SCAN_KEY, "left_anti")
        shared = {c.casefold() for c in source.columns}
        # The table's columns under the input's names (a table's header may write them in another case).
        picked = [F.col(c).alias(c) for c in given.columns if c.casefold() in shared]
        table = extra.select(SCAN_KEY, *picked).toArrow()
        if not table.num_rows:
            return None, []
        pq.write_table(table.drop_columns([SCAN_KEY]), dest)
        return RecordSource(paths=(dest,), format="parquet"), [
            str(k) for k in table.column(SCAN_KEY).to_pylist()
        ]
    finally:
        backend.close()
