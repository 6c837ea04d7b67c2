"""The Spark backend (issue 18): the engine's SQL rendered for Spark, and the same answers as DuckDB.

The translation tests need only sqlglot. The others run Spark ``local[2]`` (one session for the test process)
and need PySpark and Java; they are skipped, saying so, where either is missing.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from findmatches import sample
from findmatches.engine.api import evaluate, find_matches, generate_labeling_set
from findmatches.engine.backend import output_files
from findmatches.engine.snapshot import META_FILE, RECORDS_FILE
from findmatches.engine.types import CsvFormat, ExistingMatches, KeepSnapshots, MatchParams, RecordSource

sqlglot = pytest.importorskip("sqlglot")

from findmatches.engine.backends.spark import (  # noqa: E402
    PARTITION_ROWS,
    PARTITIONS_ENV,
    _driver_conf,
    _glob_regex,
    _java_time_format,
    shuffle_partitions,
    to_spark_sql,
)

PARAMS = MatchParams(primary_key="id")


@pytest.fixture
def no_spark_memory_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment where nothing but the engine's own memory limit sets the driver's memory."""
    for name in ("SPARK_DRIVER_MEMORY", "PYSPARK_SUBMIT_ARGS", "SPARK_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    monkeypatch.setenv("FINDMATCHES_ENGINE_MEMORY_LIMIT", "1GB")
    return monkeypatch


def test_a_local_driver_gets_the_engines_working_memory_unless_spark_is_told_otherwise(
    no_spark_memory_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = no_spark_memory_settings
    # 1 GB of working memory is 60 % of the heap past Spark's 300 MiB reserve.
    assert _driver_conf("local[2]") == {"spark.driver.memory": "1890m"}
    assert _driver_conf("local[*]") == {"spark.driver.memory": "1890m"}
    env.setenv("FINDMATCHES_ENGINE_MEMORY_LIMIT", "200MB")
    assert _driver_conf("local[2]") == {"spark.driver.memory": "1024m"}  # never below Spark's own default
    env.setenv("FINDMATCHES_ENGINE_MEMORY_LIMIT", "plenty")
    assert _driver_conf("local[2]") == {}
    env.setenv("FINDMATCHES_ENGINE_MEMORY_LIMIT", "1GB")
    # A cluster's driver is the server's engine process; its executors' memory is the transform's capacity.
    assert _driver_conf("spark://127.0.0.1:7077") == {}
    assert _driver_conf("yarn") == {}
    # Whatever the user gave Spark itself wins.
    env.setenv("SPARK_DRIVER_MEMORY", "6g")
    assert _driver_conf("local[2]") == {}
    env.delenv("SPARK_DRIVER_MEMORY")
    env.setenv("PYSPARK_SUBMIT_ARGS", "--driver-memory 6g pyspark-shell")
    assert _driver_conf("local[2]") == {}
    env.delenv("PYSPARK_SUBMIT_ARGS")
    (tmp_path / "spark-defaults.conf").write_text("spark.driver.memory   6g\n", encoding="utf-8")
    assert _driver_conf("local[2]") == {}


def test_hash_is_a_non_negative_64_bit_hash() -> None:
    sql = to_spark_sql("SELECT hash(_rid) % 1000000 AS h FROM t")
    assert "XXHASH64(_rid) & 9223372036854775807" in sql


def test_a_hash_inside_a_hash_is_the_64_bit_hash_too() -> None:
    # Blocking keys over two columns hash the pair, then the key: the inner hash had stayed Spark's own.
    sql = to_spark_sql(
        "SELECT hash(CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN hash(a, b) END) AS k FROM t"
    )
    assert sql.count("XXHASH64(") == 2 and "HASH(a" not in sql.replace("XXHASH64(a", "")


def test_materialised_ctes_are_plain() -> None:
    sql = to_spark_sql("WITH b AS MATERIALIZED (SELECT * FROM t) SELECT * FROM b")
    assert "MATERIALIZED" not in sql and "WITH b AS (SELECT" in sql


def test_nested_ctes_get_names_of_their_own() -> None:
    sql = to_spark_sql(
        "SELECT l FROM (WITH v AS (SELECT 1 AS l) SELECT v.l FROM v) UNION ALL "
        "SELECT l FROM (WITH v AS (SELECT 2 AS l) SELECT v.l FROM v)"
    )
    assert "v__w0" in sql and "v__w1" in sql and "AS v" in sql


def test_a_broadcast_hint_comment_is_spark_s_hint() -> None:
    # The engine writes Spark's hint syntax as a comment after SELECT (`broadcast_hint`), which DuckDB
    # ignores and sqlglot keeps as a comment; other comments stay comments.
    sql = to_spark_sql(
        "SELECT x FROM (WITH m AS (SELECT 1 AS a) SELECT /*+ BROADCAST(m, g) */ /* why */ b.x "
        "FROM b LEFT JOIN m ON m.a = b.x LEFT JOIN g ON g.a = b.x)"
    )
    assert "SELECT /*+ BROADCAST(m, g) */ b.x" in sql and "/* why */" in sql
    assert "/*+" not in to_spark_sql("SELECT /* BROADCAST(m) */ x FROM m")
    # `partition_hint`'s beside it: one hint of both.
    sql = to_spark_sql(
        "SELECT /*+ BROADCAST(m) */ /*+ REPARTITION(_rid) */ b._rid FROM b JOIN m ON m.a = b.x"
    )
    assert "SELECT /*+ BROADCAST(m), REPARTITION(_rid) */ b._rid" in sql


def test_globs_dates_and_renamed_functions() -> None:
    assert _glob_regex("*[!0-9]*") == "^.*[^0-9].*$"
    assert _glob_regex("a?.b") == "^a.\\.b$"
    assert _java_time_format("%Y-%m-%d") == "yyyy-MM-dd"
    assert _java_time_format("%q") is None
    sql = to_spark_sql("SELECT try_strptime(x, '%d/%m/%Y'), x GLOB '*[0-9]', list_intersect(a, b) FROM t")
    assert sql == (
        "SELECT TRY_TO_TIMESTAMP(x, 'dd/MM/yyyy'), x RLIKE '^.*[0-9]$', ARRAY_INTERSECT(a, b) FROM t"
    )


def test_the_engines_own_functions_are_its_udfs() -> None:
    # sqlglot 30 parses jaro_winkler_similarity into a class of its own and wrote it JAROWINKLER_SIMILARITY,
    # which no Spark session knew (every run with the pre-filter on failed); and Spark 4.3's own function of
    # the engine's name answers otherwise, so the engine's run under names of their own.
    sql = to_spark_sql("SELECT jaro_winkler_similarity(x, y) >= 0.9, strip_accents(lower(x)) FROM t")
    assert sql == "SELECT FM_JARO_WINKLER_SIMILARITY(x, y) >= 0.9, FM_STRIP_ACCENTS(LOWER(x)) FROM t"


# -- on Spark ------------------------------------------------------------------------------------------


@pytest.mark.spark
def test_the_local_session_runs_on_the_heap_the_engine_asks_for(spark: Any) -> None:
    asked = _driver_conf("local[2]").get("spark.driver.memory")
    if asked is None or spark.sparkContext.master != "local[2]":
        pytest.skip("this environment sets the driver's memory itself, or another test started the session")
    assert spark.sparkContext.getConf().get("spark.driver.memory") == asked
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert heap > 0.85 * int(asked.rstrip("m")) * (1 << 20) > 1 << 30  # more than Spark's default of 1 GiB


def test_records_are_numbered_densely_in_input_order_across_partitions(spark: Any) -> None:
    from findmatches.engine.backend import typed_records
    from findmatches.engine.backends.spark import SparkBackend

    records = pa.table({"id": [f"r{i:05d}" for i in range(12_000)], "n": list(range(12_000))})
    assert spark.createDataFrame(records).rdd.getNumPartitions() > 1  # the numbering crosses partitions
    extra = RecordSource(table=pa.table({"id": ["x0", "x1"]}))
    backend = SparkBackend(spark)
    try:
        columns, count, loaded = backend.load_records(RecordSource(table=records), "t", [extra])
        rows = backend.query("SELECT _rid, id, n FROM t ORDER BY _rid").to_pydict()
        typed = backend.query(f"SELECT _rid, n FROM {typed_records('t')} ORDER BY _rid").to_pydict()
    finally:
        backend.close()
    assert columns == ["id", "n"] and count == 12_000 and loaded == 12_002
    assert rows["_rid"] == list(range(12_002))
    assert rows["id"] == [f"r{i:05d}" for i in range(12_000)] + ["x0", "x1"]
    assert rows["n"][-2:] == [None, None]
    assert typed == {"_rid": list(range(12_000)), "n": list(range(12_000))}


def test_shuffles_have_a_partition_per_core_or_per_so_many_records() -> None:
    assert shuffle_partitions(1_000_000, 2) == 2  # a task per core: their starts cost at 1M (docs/spark.md)
    assert shuffle_partitions(10_000_000, 2) == 8 == 10_000_000 // PARTITION_ROWS
    assert shuffle_partitions(10_000_001, 2) == 9
    assert shuffle_partitions(50_000, 16) == 16
    assert shuffle_partitions(0, 0) == 1


@pytest.mark.spark
def test_a_run_sizes_its_shuffles_by_the_records_it_loads(
    spark: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """All the records a run loads (the source's, the extras', a kept snapshot's) set its shuffles'
    partitions, and the records are kept in that many; ``FINDMATCHES_SPARK_PARTITIONS`` overrides it."""
    from findmatches.engine.backend import typed_records
    from findmatches.engine.backends import spark as spark_module
    from findmatches.engine.backends.spark import SparkBackend

    monkeypatch.delenv(PARTITIONS_ENV, raising=False)
    monkeypatch.setattr(spark_module, "PARTITION_ROWS", 1000)
    cores = int(spark.sparkContext.defaultParallelism)
    records = RecordSource(table=pa.table({"id": [f"r{i}" for i in range(2500)]}))
    extra = RecordSource(table=pa.table({"id": [f"x{i}" for i in range(600)]}))
    snapshot = tmp_path / "snapshot.parquet"
    pq.write_table(pa.table({"id": [f"s{i}" for i in range(2000)]}), snapshot)

    def partitions(backend: SparkBackend) -> int:
        return int(backend.spark.conf.get("spark.sql.shuffle.partitions") or 0)

    backend = SparkBackend(spark)
    try:
        backend.load_records(records, "t", [extra])
        assert partitions(backend) == max(cores, 4)  # 3,100 records
        kept = [backend._views[name].rdd.getNumPartitions() for name in (typed_records("t"), "t_extra0")]
        assert kept == [partitions(backend)] * 2
        backend.load_parquet(snapshot, "s")
        assert partitions(backend) == max(cores, 6)  # 5,100 records
    finally:
        backend.close()
    monkeypatch.setenv(PARTITIONS_ENV, "3")
    backend = SparkBackend(spark)
    try:
        backend.load_records(records, "t")
        assert partitions(backend) == 3
        assert backend._views[typed_records("t")].rdd.getNumPartitions() == 3
    finally:
        backend.close()


@pytest.mark.spark
def test_a_list_column_is_read_item_by_item_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    lists = [["Hey, Jude", "Let It Be"], None, [], ["x", None, "y"]]
    records = pa.table(
        {
            "id": ["a", "b", "c", "d"],
            "tracks": pa.array(lists, pa.list_(pa.string())),
            "years": pa.array([[1968, 1970], None, [], [1, 2]], pa.list_(pa.int64())),
        }
    )
    extra = RecordSource(table=records.slice(0, 1))
    got = []
    for backend in (SparkBackend(spark), DuckDBBackend()):
        try:
            backend.load_records(RecordSource(table=records), "t", [extra])
            got.append(backend.query("SELECT _rid, tracks, years FROM t ORDER BY _rid").to_pydict())
        finally:
            backend.close()
    assert got[0] == got[1]
    assert got[0]["tracks"] == ["Hey, Jude | Let It Be", None, "", "x | y", "Hey, Jude | Let It Be"]
    assert got[0]["years"] == ["1968 | 1970", None, "", "1 | 2", "1968 | 1970"]


@pytest.mark.spark
def test_rows_of_fewer_or_more_fields_than_the_header_are_read_as_spark_reads_them(
    spark: Any, tmp_path: Path
) -> None:
    """Missing trailing fields read NULL and fields beyond the header are dropped (Spark's permissive
    reader, Glue's): DuckDB's sniffer had read such a file as one column, and the run failed on a key column
    it said was missing. A header's empty name, or a name like the ones DuckDB makes up, keeps its column."""
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    files = {
        "ragged.csv": "id,name,city\n1,ann,paris\n2,anne,paris,extra,more\n3,bob\n",
        "named.csv": "id,column3,city\n1,ann,paris\n2,anne,paris,extra\n3\n",
        "empty_name.csv": "id,,city\n1,ann,paris\n2,anne,paris,extra\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        got = []
        for backend in (SparkBackend(spark), DuckDBBackend()):
            try:
                backend.load_records(RecordSource(paths=(path,), format="csv"), "t")
                got.append(backend.query("SELECT * FROM t ORDER BY _rid").to_pydict())
            finally:
                backend.close()
        spark_got, duckdb_got = got
        header = text.split("\n", 1)[0].split(",")
        assert list(duckdb_got)[1] == "id" and len(duckdb_got) == len(header) + 1, (name, duckdb_got)
        assert list(duckdb_got.values())[1:] == list(spark_got.values())[1:], (name, spark_got, duckdb_got)
        assert duckdb_got["id"] == [str(i) for i in range(1, text.count("\n"))]
        if name != "empty_name.csv":
            assert list(duckdb_got) == list(spark_got) == ["_rid", *header], (name, spark_got, duckdb_got)
    assert duckdb_got["city"] == ["paris", "paris"]


@pytest.mark.spark
def test_records_of_several_files_are_numbered_in_the_files_order_as_on_duckdb(
    spark: Any, tmp_path: Path
) -> None:
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    # Spark packs the files' splits into partitions biggest first; the numbering must follow the order given.
    sizes = {"small": 3, "big": 60_000, "medium": 500}
    paths = []
    for name, size in sizes.items():
        paths.append(tmp_path / f"{name}.parquet")
        ids = [f"{name}{i:05d}" for i in range(size)]
        pq.write_table(
            pa.table({"id": ids, "v": [i * 7919 % 10007 for i in range(size)]}),
            paths[-1],
            row_group_size=5000,
        )
    source = RecordSource(paths=tuple(paths), format="parquet")
    on_spark, on_duckdb = SparkBackend(spark), DuckDBBackend()
    try:
        on_spark._spark.conf.set("spark.sql.files.maxPartitionBytes", "32k")  # the big file in several splits
        on_spark.load_records(source, "t")
        scanned = on_spark._spark.read.parquet(*map(str, paths))
        assert (
            scanned.rdd.getNumPartitions() > 2 and scanned.first()["id"] != "small00000"
        )  # Spark's own order
        got = on_spark.query("SELECT _rid, id FROM t ORDER BY _rid").to_pydict()
        on_duckdb.load_records(source, "t")
        want = on_duckdb.query("SELECT _rid, id FROM t ORDER BY _rid").to_pydict()
    finally:
        on_spark.close()
        on_duckdb.close()
    assert got == want
    assert got["id"][:4] == ["small00000", "small00001", "small00002", "big00000"]
    assert got["id"][-1] == "medium00499"


@pytest.mark.spark
def test_a_stream_comes_in_batches_of_the_size_asked(spark: Any, tmp_path: Path) -> None:
    from findmatches.engine.backends.spark import SparkBackend

    backend = SparkBackend(spark, temp_dir=tmp_path)
    try:
        backend.register("ids", pa.table({"id": list(range(25_000))}))
        # Written by the executors as part files, read back in the partitions' order (the registered rows are
        # sliced in order), re-batched across the files.
        batches = list(backend.stream("SELECT id FROM ids", 12_000))
        partitions = backend.query(
            "SELECT count(*) AS n FROM (SELECT DISTINCT p FROM (SELECT spark_partition_id() AS p FROM ids))"
        )
        none = list(backend.stream("SELECT id FROM ids WHERE id < 0", 12_000))
        left = list(tmp_path.iterdir())
        # A consumer that stops early (a cancelled run) leaves nothing behind either.
        stream = backend.stream("SELECT id FROM ids", 1_000)
        first = next(stream)
        stream.close()
    finally:
        backend.close()
    assert [b.num_rows for b in batches] == [12_000, 12_000, 1_000]
    assert [v for b in batches for v in b.column(0).to_pylist()] == list(range(25_000))
    assert partitions.column("n").to_pylist()[0] > 1 and none == []
    assert left == [] and first.num_rows == 1_000 and list(tmp_path.iterdir()) == []


def _doubled_where(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The ids doubled, beside the process that doubled them and the length of the batch it was given."""
    import os

    ids = pc.multiply(batch.column("id"), 2)
    n = batch.num_rows
    return pa.record_batch(
        [ids, pa.array([os.getpid()] * n, pa.int64()), pa.array([n] * n, pa.int64())],
        names=["id", "pid", "n"],
    )


@pytest.mark.spark
@pytest.mark.parametrize("engine", ["spark", "duckdb"])
def test_map_batches_applies_the_function_where_the_data_is(spark: Any, tmp_path: Path, engine: str) -> None:
    import os

    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    schema = pa.schema([("id", pa.int64()), ("pid", pa.int64()), ("n", pa.int64())])
    backend = SparkBackend(spark, temp_dir=tmp_path) if engine == "spark" else DuckDBBackend()
    try:
        backend.register("ids", pa.table({"id": pa.array(range(25_000), pa.int64())}))
        got = pa.Table.from_batches(
            list(backend.map_batches("SELECT id FROM ids WHERE id % 5 <> 0", _doubled_where, schema, 6_000)),
            schema=schema,
        )
        none = list(backend.map_batches("SELECT id FROM ids WHERE id < 0", _doubled_where, schema, 6_000))
    finally:
        backend.close()
    assert sorted(got.column("id").to_pylist()) == [2 * i for i in range(25_000) if i % 5]
    assert max(got.column("n").to_pylist()) <= 6_000 and none == []
    pids = set(got.column("pid").to_pylist())
    # Spark's executors (Python workers of their own) apply it; DuckDB's batches are mapped in this process.
    assert (os.getpid() not in pids) if engine == "spark" else (pids == {os.getpid()})
    assert list(tmp_path.iterdir()) == []


def _answers(spark: Any, sql: str) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The query's answer on Spark and on DuckDB, as columns."""
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    on_spark, on_duckdb = SparkBackend(spark), DuckDBBackend()
    try:
        return on_spark.query(sql).to_pydict(), on_duckdb.query(sql).to_pydict()
    finally:
        on_spark.close()
        on_duckdb.close()


def _each_value(
    spark: Any, values: Sequence[str], expr: str
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """`_answers` for the SQL expression ``expr`` of ``a`` (as ``out``) over the ``values`` (in SQL quotes)."""
    rows = ", ".join(f"('{v}')" for v in values)
    return _answers(spark, f"SELECT a, {expr} AS out FROM (VALUES {rows}) AS v(a) ORDER BY a")


@pytest.mark.spark
def test_the_engines_functions_answer_on_spark_as_on_duckdb(spark: Any) -> None:

    sql = (
        "SELECT a, jaro_winkler_similarity(a, b) AS s, strip_accents(a) AS plain FROM (VALUES "
        "('martha', 'marhta'), ('dwayne', 'duane'), ('zoë', 'zoe'), ('x', NULL), ('19990526', '19920526'), "
        "('kaowelley', 'kalwelely'), ('ﬁne ①² ｆｕｌｌ', NULL), ('नमस्ते x\u034fy', NULL)) AS v(a, b) ORDER BY a"
    )
    got, want = _answers(spark, sql)
    assert got["a"] == want["a"] and got["plain"] == want["plain"]
    # DuckDB strips the marks of the canonical decomposition only: a ligature, a circled digit, a superscript
    # and full-width letters stay; a Devanagari vowel sign and a grapheme joiner go.
    assert want["plain"] == [
        "19990526",
        "dwayne",
        "kaowelley",
        "martha",
        "x",
        "zoe",
        "नमसत xy",
        "ﬁne ①² ｆｕｌｌ",
    ]
    # Spark 4.3's own jaro_winkler_similarity gives the last two 0.892 and 0.891 (DuckDB: 0.908, 0.907).
    assert got["s"] == want["s"]  # to the last bit: a threshold (0.9) must cut both alike
    assert got["s"][4] is None  # x and a missing value: no similarity


@pytest.mark.spark
def test_values_split_into_the_same_parts_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.profile import segments_sql

    sql = (
        f"SELECT a, {segments_sql('a')} AS s FROM (VALUES ('dept. of physics, univ. of bristol; uk'), "
        "('song one | song two (live) [disc 1] / x - y'), ('a-b - c'), (',;|'), ('ünï, ö'), "
        "('smith john**doe jane**lee ann'), ('one\ntwo\tthree')) AS v(a) ORDER BY a"
    )
    got, want = _answers(spark, sql)
    assert got == want
    assert want["s"] == [
        "|",
        "a b|c",
        "dept of physics|univ of bristol|uk",
        "one|two|three",
        "smith john|doe jane|lee ann",
        "song one|song two|live|disc 1|x|y",
        "ünï|ö",
    ]


@pytest.mark.spark
def test_numbered_lists_lose_their_numbers_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.profile import unnumbered_sql

    values = (
        "01. a b | 02.  | 03. c",
        "1 - x; 2 - y",
        "1. p\n2. q",
        "128 mill lane | bristol",
        "2. a | 3. b",
    )
    got, want = _each_value(spark, values, unnumbered_sql("a"))
    assert got == want
    assert dict(zip(want["a"], want["out"], strict=True))["1 - x; 2 - y"] == "x | y"


@pytest.mark.spark
def test_a_whole_record_s_words_are_counted_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.features import record_sql, word_counts_sql
    from findmatches.engine.profile import ColumnKind, ColumnProfile

    profiles = [
        ColumnProfile("title", 0, ColumnKind.TEXT, 0.0, 1.0, 1.0, 4.0),
        ColumnProfile("maker", 1, ColumnKind.NAME, 0.0, 1.0, 1.0, 1.0),
    ]
    rows = (
        "(0, 'lg 55uk6380 tv', NULL), (1, '55uk6380 smart tv', 'lg'), (2, NULL, NULL), (3, 'tv tv', 'sony')"
    )
    relation = f"(SELECT * FROM (VALUES {rows}) AS v(_rid, c0, c1))"
    counts = word_counts_sql(f"nullif({record_sql(profiles, 'r')}, '')", f"{relation} r")
    got, want = _answers(spark, f"SELECT * FROM ({counts}) ORDER BY word")
    assert got == want
    assert dict(zip(want["word"], want["df"], strict=True)) == {
        "55uk6380": 2,
        "lg": 2,
        "smart": 1,
        "sony": 1,
        "tv": 3,
    }
    assert set(want["n"]) == {3}


@pytest.mark.spark
def test_codes_are_found_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.profile import codes_sql

    rows = (
        "('epson et-3340 20 ppm', 'et3340 printer'), ('rt-ac72u ac1200', 'rtac72u'), ('no code', 'e5-556'), "
        "('a1b2 c3d4 e5f6', 'e5f6 a1b2 x9y9'), (NULL, 'x')"
    )
    sql = (
        f"SELECT a, {codes_sql('a')} AS ka, {codes_sql('b')} AS kb FROM (VALUES {rows}) AS v(a, b) "
        "ORDER BY a NULLS LAST"
    )
    got, want = _answers(spark, sql)
    assert got == want
    assert want["ka"] == ["a1b2 c3d4 e5f6", "et3340", None, "ac1200 rtac72u", None]
    assert want["kb"] == ["a1b2 e5f6 x9y9", "et3340", "e5556", "rtac72u", None]


@pytest.mark.spark
def test_codes_and_numbers_weigh_alike_on_spark_and_on_duckdb(spark: Any, tmp_path: Path) -> None:
    """The codes' and digit runs' weights are counted by each backend's SQL, and the pairs' codes, numbers and
    rarest codes computed from them are the same."""
    import numpy as np

    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.features import feature_spec, features_for, word_weights
    from findmatches.engine.session import LABEL_COLUMNS, open_session

    others = [f"Brand{chr(97 + i)} Laser Printer {100 + i} 22 ppm 1080p" for i in range(20)]
    titles = [
        "HP OfficeJet Pro 8710 22 ppm Printer",
        "OfficeJet Pro 8710",
        "Canon PowerShot ELPH 280 HS Camera",
        "Canon ELPH280HS 20MP camera",
        "Samsung UN43NU7900 1080p 60Hz TV",
        "NEW UN43NU7900 43-inch Television",
        *others,
    ]
    table = pa.table({"id": [str(i) for i in range(len(titles))], "title": titles})
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    left, right = np.array([0, 2, 4, 0, 4, 6]), np.array([1, 3, 5, 6, 7, 7])
    got = {}
    for engine, backend in (("duckdb", None), ("spark", SparkBackend(spark, temp_dir=tmp_path))):
        with open_session(RecordSource(table=table), PARAMS, labels, None, None, backend=backend) as session:
            profiles = session.feature_profiles
            spec = feature_spec(profiles, word_weights(session, profiles))
            got[engine] = (spec.names, features_for(session, spec, left, right))
    names, x = got["duckdb"]
    assert got["spark"][0] == names
    assert {"title:codes", "title:rarest_code", "title:numbers"} <= set(names)
    np.testing.assert_allclose(got["spark"][1], x, rtol=1e-5)
    codes, numbers = x[:, names.index("title:codes")], x[:, names.index("title:numbers")]
    assert np.isnan(codes[0]) and numbers[0] > 0.85  # no code in the printers' titles; their 8710 is rare
    assert (codes[1:3] > 0.4).all()  # the camera's and the TV's model codes found, beside a code not found


@pytest.mark.spark
def test_words_weigh_by_entities_alike_on_spark_and_on_duckdb(spark: Any, tmp_path: Path) -> None:
    """`grouped_words` counts each group once in each backend's SQL, for a column's words and the whole
    record's."""
    import numpy as np

    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.features import grouped_words, session_spec, word_keys
    from findmatches.engine.session import LABEL_COLUMNS, open_session

    names = [f"dumont {('n v', 'b v', 'lighting b v')[i % 3]} research labs" for i in range(12)]
    names += [f"general {w} holding b v" for w in ("paper", "digital", "energy", "motors")]
    table = pa.table(
        {
            "id": [str(i) for i in range(len(names))],
            "name": names,
            "city": [f"{('north', 'south')[i % 2]} town of eindhoven nl" for i in range(len(names))],
        }
    )
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    group = np.arange(len(names))
    group[:12] = 3
    got = {}
    for engine, backend in (("duckdb", None), ("spark", SparkBackend(spark, temp_dir=tmp_path))):
        with open_session(RecordSource(table=table), PARAMS, labels, None, None, backend=backend) as session:
            spec = grouped_words(session, session_spec(session), group)
            got[engine] = {
                key: dict(
                    zip(spec.words[key].words.to_pylist(), spec.words[key].weights.tolist(), strict=True)
                )
                for key in word_keys(spec)
            }
    assert len(got["duckdb"]) == 3  # both columns and the whole record
    assert got["spark"].keys() == got["duckdb"].keys()
    for key, weights in got["duckdb"].items():
        assert got["spark"][key] == pytest.approx(weights)
        assert weights.get("dumont", np.log(5)) == pytest.approx(np.log(5))  # one of five entities
    assert sum("dumont" in weights for weights in got["duckdb"].values()) == 2  # the name's and the record's


@pytest.mark.spark
def test_numbers_and_amounts_normalise_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.profile import ColumnKind, ColumnProfile, normalized_sql

    profile = ColumnProfile("a", 0, ColumnKind.NUMBER, 0.0, 1.0, 1.0, 6.0)
    values = (
        "$1,299.00",
        "USD 282.96",
        "1.299,00 €",
        "EUR 12,50",
        "us$ 7",
        "1,5",
        "-3",
        "1e5",
        "n/a",
        "7.14,",
    )
    got, want = _each_value(spark, values, normalized_sql(profile))
    assert got == want
    assert dict(zip(want["a"], want["out"], strict=True))["$1,299.00"] == "1299.00"


@pytest.mark.spark
def test_a_number_s_placeholder_is_missing_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.profile import ColumnKind, ColumnProfile, normalized_sql

    profile = ColumnProfile("a", 0, ColumnKind.NUMBER, 0.0, 1.0, 1.0, 6.0, placeholder=0.0)
    rows = ", ".join(f"('{v}')" for v in ("0", "0.0", "0.00", "52.1", "0.5", "x"))
    sql = f"SELECT a, {normalized_sql(profile)} AS n FROM (VALUES {rows}) AS v(a) ORDER BY a"
    got, want = _answers(spark, sql)
    assert got == want
    assert want["n"][:3] == [None, None, None] and "52.1" in want["n"]


@pytest.mark.spark
def test_columns_of_two_schemas_join_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.profile import ColumnKind, ColumnProfile, records_relation

    joined = ColumnProfile("f+l+n", 3, ColumnKind.NAME, 0.0, 1.0, 2.0, 12.0, joins=("f", "l", "n"))
    rows = (
        "(1, 'Ann', ' Lee ', NULL), (2, NULL, NULL, 'Lee, Ann'), (3, 'n/a', 'Lee', ''), (4, NULL, NULL, NULL)"
    )
    table = f"(SELECT * FROM (VALUES {rows}) AS v(_rid, f, l, n))"
    got, want = _answers(
        spark, f'SELECT _rid, "f+l+n" AS j FROM {records_relation([joined], table)} ORDER BY _rid'
    )
    assert got == want
    assert want["j"] == ["Ann Lee", "Lee, Ann", "Lee", None]


@pytest.mark.spark
def test_two_schemas_are_the_sources_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.session import open_session
    from findmatches.engine.sources import detect_schemas
    from tests.engine.test_sources import _renamed, _shops

    table, pairs = _shops(with_duplicate=False)
    codes = {}
    for name, backend in (("spark", SparkBackend(spark)), ("duckdb", DuckDBBackend())):
        with open_session(
            RecordSource(table=_renamed(table)), PARAMS, pairs, None, None, backend=backend
        ) as session:
            found = detect_schemas(session)
            assert found is not None and found.column == "title+name"
            codes[name] = found.codes.tolist()
        backend.close()
    assert codes["spark"] == codes["duckdb"] == [0, 1] * 12


@pytest.mark.spark
def test_keys_of_two_columns_that_spark_s_32_bit_hash_confuses_stay_apart(spark: Any) -> None:
    from findmatches.engine.backends.spark import SparkBackend

    # Two records of the 1M bench whose (dob, street) collide under Spark's Murmur3 hash.
    sql = (
        "SELECT count(DISTINCT hash(CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN hash(a, b) END)) AS n "
        "FROM (VALUES ('20070226', '875 lake court'), ('19391209', '970 park street')) AS v(a, b)"
    )
    backend = SparkBackend(spark)
    try:
        assert backend.query(sql).column("n").to_pylist() == [2]
    finally:
        backend.close()


@pytest.mark.spark
def test_key_cost_estimates_from_a_sample_are_rounded_alike(spark: Any) -> None:
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.blocking import BlockingKey, _estimate_sql

    # A block of 3 sampled records at rate 0.6 stands for 3 / 0.36 = 8.33 pairs, one of 2 for 2.78: 11.1 in
    # all, which a cast truncated on Spark (11) and rounded on DuckDB (11), and 2.78 alone to 2 and 3.
    key = BlockingKey("exact:v", "v", "v", window=50)
    table = pa.table({"_rid": [0, 1, 2, 3, 4], "v": ["a", "a", "b", "b", "b"]})
    only_a = pa.table({"_rid": [0, 1], "v": ["a", "a"]})
    on_spark, on_duckdb = SparkBackend(spark), DuckDBBackend()
    try:
        got, want = [], []
        for name, data in (("est_all", table), ("est_one", only_a)):
            for backend, out in ((on_spark, got), (on_duckdb, want)):
                backend.register(name, data)
                out.append(backend.query(_estimate_sql(key, name, 0.6)).column("pairs").to_pylist()[0])
    finally:
        on_spark.close()
        on_duckdb.close()
    assert got == want == [11, 3]


@pytest.mark.spark
def test_keys_paired_by_one_window_on_spark_pair_as_each_key_on_duckdb(spark: Any) -> None:
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.blocking import BASE, BlockingKey, _framed_pairs_sql, _key_pairs_sql

    # Spark pairs the by-value keys by one window (`costly_stages`), DuckDB key by key. Block "a"
    # of the first key is beyond the window of 2, and the second key's values are the first key's.
    table = pa.table(
        {
            "_rid": list(range(8)),
            "k1": ["a", "a", "a", "a", "b", "b", None, "c"],
            "k2": ["b", None, "a", "c", "a", "b", "a", "c"],
            "s": [4, 3, 2, 1, 0, 0, 0, 0],
        }
    )
    keys = [BlockingKey("exact:k1", "k1", "s", 2), BlockingKey("exact:k2", "k2", "s", 2)]
    on_spark, on_duckdb = SparkBackend(spark), DuckDBBackend()
    try:
        on_spark.register(BASE, table)
        on_duckdb.register(BASE, table)
        got = on_spark.query(f"SELECT DISTINCT l, r FROM ({_framed_pairs_sql(keys)})")
        want = on_duckdb.query(" UNION ".join(f"SELECT l, r FROM ({_key_pairs_sql(k)})" for k in keys))
    finally:
        on_spark.close()
        on_duckdb.close()
    pairs = [set(zip(t.column("l").to_pylist(), t.column("r").to_pylist(), strict=True)) for t in (got, want)]
    assert pairs[0] == pairs[1]
    assert (0, 3) not in pairs[0] and (2, 6) in pairs[0]  # beyond the window; the second key's block


@pytest.mark.spark
def test_the_normalised_table_sends_its_small_tables_to_every_worker(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from findmatches.engine import normalised_table
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.profile import ColumnKind, ColumnProfile

    # Two by-value columns (a name; a code of 3 values) and a counted per-row one (unique values): joined
    # by a shuffle of the records each, the records moved once per column (docs/spark.md).
    n = 40
    table = pa.table(
        {
            "_rid": list(range(n)),
            "name": [f"name {i % 10}" for i in range(n)],
            "code": [f"c{i % 3}" for i in range(n)],
            "email": [f"e{i}@x.org" for i in range(n)],
        }
    )
    profiles = [
        ColumnProfile("name", 0, ColumnKind.NAME, 0.0, 0.25, 2.0, 6.0),
        ColumnProfile("code", 1, ColumnKind.CODE, 0.0, 0.1, 1.0, 2.0),
        ColumnProfile("email", 2, ColumnKind.EMAIL, 0.0, 1.0, 1.0, 9.0),
    ]
    be = SparkBackend(spark)
    try:
        # Spark would send these tiny tables by itself; the hint must do it for tables of millions of records.
        be.spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
        be.register("fm_records", table)

        plans: list[str] = []
        checkpoint = be._checkpoint

        def planned(df: Any) -> Any:
            plans.append(df._jdf.queryExecution().executedPlan().toString())
            return checkpoint(df)

        monkeypatch.setattr(be, "_checkpoint", planned)

        def joins(budget: int) -> list[str]:
            # As a run makes it: a statement that creates the table (whose text sqlglot writes with the
            # hint's comment before the SELECT, where Spark ignores it, if the backend lets it).
            monkeypatch.setattr(normalised_table, "BROADCAST_ROWS", budget)
            lay = normalised_table.layout(be, profiles, n, "fm_records")
            sql = normalised_table.normalised_table_sql(lay, [("_rid", "_rid")], "fm_records")
            be.execute(f"CREATE OR REPLACE TABLE fm_n AS {sql}")
            plan = plans[-1]
            return [j for j in ("BroadcastHashJoin", "SortMergeJoin") for _ in range(plan.count(j + " "))]

        # Every table fits: three broadcast joins. The counted column's table may hold as many rows as
        # records repeat (none here); the name's, 10 rows, is the largest and left out first.
        assert joins(1000).count("SortMergeJoin") == 0
        assert joins(12).count("SortMergeJoin") == 1
        assert joins(-1).count("SortMergeJoin") == 3
    finally:
        be.close()


@pytest.mark.spark
def test_a_table_partitioned_by_its_key_is_joined_on_it_where_it_lies(spark: Any) -> None:
    from findmatches.engine.backend import partition_hint
    from findmatches.engine.backends.spark import SparkBackend

    # The records' table (`partition_hint` on ``_rid``) meets each pair join's other side where it lies:
    # of a join of the pairs with it on both ends, only the pairs are shuffled (by l, then by r) and
    # sorted; the table is neither, however many partitions the session's shuffles make.
    n = 300
    records = pa.table({"id": list(range(n)), "v": [f"v{i}" for i in range(n)]})
    pairs = pa.table(
        {
            "l": [i for i in range(n) for _ in range(2)],
            "r": [(i * 7 + k) % n for i in range(n) for k in (1, 2)],
        }
    )
    be = SparkBackend(spark)
    try:
        be.spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
        before = be.spark.conf.get("spark.sql.adaptive.enabled")
        be.register("src", records)
        be.register("fm_p", pairs)
        be.execute(f"CREATE TABLE fm_x AS SELECT {partition_hint('_rid')}id AS _rid, v FROM src")
        assert be.spark.conf.get("spark.sql.adaptive.enabled") == before
        join = "SELECT q.l, q.r, a.v AS lv, b.v AS rv FROM fm_p q JOIN fm_x a ON a._rid = q.l JOIN fm_x b ON b._rid = q.r"
        plan = be._sql(join)._jdf.queryExecution().executedPlan().toString()
        assert plan.count("Exchange hashpartitioning") == 2 and plan.count("SortMergeJoin") == 2
        assert plan.count("Sort [") == 2, plan
        got = be.query(join + " ORDER BY q.l, q.r").to_pylist()
        assert got == [
            {"l": a, "r": b, "lv": f"v{a}", "rv": f"v{b}"}
            for a, b in sorted(zip(pairs["l"].to_pylist(), pairs["r"].to_pylist(), strict=True))
        ]
        # Unhinted, the table is shuffled and sorted for each join.
        be.execute("CREATE TABLE fm_x AS SELECT id AS _rid, v FROM src")
        plan = be._sql(join)._jdf.queryExecution().executedPlan().toString()
        assert plan.count("Exchange hashpartitioning") == 4
    finally:
        be.close()


@pytest.mark.spark
def test_the_normalised_table_keeps_the_records_partitioning_where_it_is_joined(spark: Any) -> None:
    from findmatches.engine import normalised_table
    from findmatches.engine.backend import partition_hint
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.profile import ColumnKind, ColumnProfile

    # As a run makes them: the records partitioned by ``_rid`` when loaded, the normalised table made from
    # them row by row (no shuffle), kept so, and joined with the pairs. A column kept under its own name as
    # ``_rid AS _rid`` got a new attribute from Spark while the plan kept the records' own, so the table
    # recorded a partitioning by a column it did not have, and the join shuffled and sorted it again.
    n = 300
    records = pa.table({"id": list(range(n)), "email": [f"e{i % 150}@x.org" for i in range(n)]})
    pairs = pa.table({"l": list(range(0, n, 2)), "r": list(range(1, n, 2))})
    profiles = [ColumnProfile("email", 0, ColumnKind.EMAIL, 0.0, 0.5, 1.0, 9.0)]
    be = SparkBackend(spark)
    try:
        be.spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
        be.register("src", records)
        be.register("fm_p", pairs)
        be.execute(f"CREATE TABLE fm_records AS SELECT {partition_hint('_rid')}id AS _rid, email FROM src")
        normalised_table.create_normalised_table(be, profiles, [("_rid", "_rid")], n, "fm_records", "fm_n")
        kept = be._views["fm_n"]._jdf.queryExecution().analyzed()
        assert kept.outputPartitioning().references().subsetOf(kept.outputSet())
        join = "SELECT q.l, q.r, a.c0 AS le FROM fm_p q JOIN fm_n a ON a._rid = q.l"
        plan = be._sql(join)._jdf.queryExecution().executedPlan().toString()
        assert plan.count("Exchange hashpartitioning") == 1 and plan.count("Sort [") == 1, plan
        got = be.query(join + " ORDER BY q.l").to_pylist()
        assert got == [{"l": i, "r": i + 1, "le": f"e{i % 150}@x.org"} for i in range(0, n, 2)]
    finally:
        be.close()


@pytest.mark.spark
def test_key_costs_from_one_relation_on_spark_equal_duckdb_s_key_by_key(spark: Any) -> None:
    from types import SimpleNamespace

    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.blocking import BlockingKey, _key_costs

    table = pa.table(
        {
            "_rid": list(range(8)),
            "a": ["x", "x", "x", "x", "y", "y", None, "z"],
            "b": ["y", None, "y", "x", "x", "y", "y", "q"],
            "t": [["w", "v"], ["w"], ["w"], [], ["v"], ["u"], ["u"], ["w"]],
        }
    )
    keys = [
        BlockingKey("exact:a", "a", "a", 2),
        BlockingKey("tokens", "t", "a", 3, max_block=3, tokens=True),
        BlockingKey("exact:a+b", "CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN hash(a, b) END", "a", 2),
        BlockingKey("exact:b", "b", "a", 2),
    ]
    on_spark, on_duckdb = SparkBackend(spark), DuckDBBackend()
    try:
        assert on_spark.costly_stages and not on_duckdb.costly_stages
        got, want = [], []
        for backend, out in ((on_spark, got), (on_duckdb, want)):
            backend.register("est", table)
            for rate in (1.0, 0.6):
                out.append(_key_costs(SimpleNamespace(backend=backend), keys, "est", rate).tolist())  # type: ignore[arg-type]
    finally:
        on_spark.close()
        on_duckdb.close()
    # Rate 1: a's block of 4 beyond the window (2·4 − 3 = 5 pairs) and y's 1; the words w (4 records, over the
    # cap of 3) none, v and u 1 each; a+b only (x, y) in two records: 1; b's y block of 4 → 5, x 1.
    assert got == want
    assert want[0] == [6, 2, 1, 6]


@pytest.mark.spark
def test_samples_draw_the_same_records_on_spark_as_on_duckdb(spark: Any) -> None:
    from findmatches.engine.backend import SAMPLE_HASH_RANGE, sample_hash
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    ids = pa.table({"_rid": pa.array(range(0, 40_000_000_000, 7_919_993), pa.int64())})
    sql = (
        f"SELECT _rid, {sample_hash('_rid')} AS one, {sample_hash('_rid', seed=3)} AS seeded, "
        f"{sample_hash('_rid', '_rid + 1')} AS pair FROM ids WHERE {sample_hash('_rid')} < "
        f"{SAMPLE_HASH_RANGE // 10} ORDER BY _rid"
    )
    on_spark, on_duckdb = SparkBackend(spark), DuckDBBackend()
    try:
        on_spark.register("ids", ids)
        on_duckdb.register("ids", ids)
        got, want = on_spark.query(sql).to_pydict(), on_duckdb.query(sql).to_pydict()
    finally:
        on_spark.close()
        on_duckdb.close()
    assert got == want and 400 < len(want["_rid"]) < 620  # about a tenth of 5,051 ids


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'findmatches[spark]'")
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java 17 on PATH")
    from findmatches.engine.backends.spark import spark_session

    yield spark_session("local[2]")


@pytest.fixture(scope="module")
def people() -> tuple[RecordSource, dict[str, str], pa.Table]:
    """The sample people, their truth, and labels: a DuckDB labeling set answered from the truth."""
    rows = sample.generate()
    columns = [c for c in rows[0] if c != "entity"]
    table = pa.table({c: [r[c] for r in rows] for c in columns})
    truth = {r["id"]: r["entity"] for r in rows}
    source = RecordSource(table=table)
    empty = pa.table({c: pa.array([], pa.string()) for c in ("labeling_set_id", "label", "primary_key")})
    labels = [empty]
    for seed in (1, 2):
        out = Path(pytest.importorskip("tempfile").mkdtemp()) / "set.csv"
        generate_labeling_set(source, PARAMS, pa.concat_tables(labels), out_path=out, seed=seed)
        with open(out, encoding="utf-8") as f:
            got = list(csv.DictReader(f))
        labels.append(
            pa.table(
                {
                    "labeling_set_id": [r["labeling_set_id"] for r in got],
                    "label": [truth[r["id"]] for r in got],
                    "primary_key": [r["id"] for r in got],
                }
            )
        )
    return source, truth, pa.concat_tables(labels)


@pytest.mark.spark
def test_pairs_are_scored_on_the_executors_as_in_this_process(
    spark: Any, people: tuple[RecordSource, dict[str, str], pa.Table], tmp_path: Path
) -> None:
    import numpy as np

    from findmatches.engine import api
    from findmatches.engine.backends.spark import SparkBackend
    from findmatches.engine.features import features_for, session_spec
    from findmatches.engine.session import open_session

    source, _, labels = people
    backend = SparkBackend(spark, temp_dir=tmp_path)
    with open_session(source, PARAMS, labels, None, None, backend=backend) as session:
        spec = session_spec(session)
        model, _, _ = api._train(session, spec)
        rng = np.random.default_rng(2)
        a, b = rng.integers(0, session.num_records, (2, 900))
        keys = np.unique(np.minimum(a, b)[a != b] * session.num_records + np.maximum(a, b)[a != b])
        left, right = keys // session.num_records, keys % session.num_records
        backend.register("fm_test_pairs", pa.table({"l": left, "r": right}))
        got = api._score_candidates(session, spec, model, "SELECT l, r FROM fm_test_pairs", committee=True)
        here = features_for(session, spec, left, right)
    order = np.lexsort((got[1], got[0]))
    np.testing.assert_array_equal(got[0][order], left)
    np.testing.assert_array_equal(got[1][order], right)
    np.testing.assert_allclose(got[2][order], model.predict(here))
    np.testing.assert_allclose(got[3][order], model.committee(here).std(axis=0))
    assert got[2].std() > 0 and got[3].std() > 0 and len(got[4]) == len(left)


def _partition(path: Path) -> set[frozenset[str]]:
    out = pq.read_table(path)
    groups: dict[int, set[str]] = {}
    for key, match_id in zip(out.column("id").to_pylist(), out.column("match_id").to_pylist(), strict=True):
        groups.setdefault(match_id, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def _run(
    engine: str, monkeypatch: pytest.MonkeyPatch, fn: Any, *args: Any, **kwargs: Any
) -> tuple[Any, list[str]]:
    lines: list[str] = []
    monkeypatch.setenv("FINDMATCHES_ENGINE", engine)
    result = fn(*args, log=lines.append, **kwargs)
    return result, lines


def _matched_on_both(
    monkeypatch: pytest.MonkeyPatch,
    source: RecordSource,
    labels: pa.Table,
    tmp_path: Path,
    compute_confidence: bool,
) -> dict[str, list[str]]:
    """`find_matches` on DuckDB and on Spark, written to ``<engine>.parquet``; each engine's log."""
    logs = {}
    for engine in ("duckdb", "spark"):
        _, logs[engine] = _run(
            engine,
            monkeypatch,
            find_matches,
            source,
            PARAMS,
            labels,
            out_path=tmp_path / f"{engine}.parquet",
            out_format="parquet",
            compute_confidence=compute_confidence,
        )
    return logs


@pytest.mark.spark
@pytest.mark.slow  # one and a half minutes of Spark local[2] on two cores
def test_find_matches_gives_the_same_candidates_and_groups(
    spark: Any,
    people: tuple[RecordSource, dict[str, str], pa.Table],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, truth, labels = people
    # The pre-filter on, as on large inputs (its cheap similarity is SQL that Spark must run too).
    monkeypatch.setattr("findmatches.engine.api.PREFILTER_MIN_PAIRS", 0)
    logs = _matched_on_both(monkeypatch, source, labels, tmp_path, compute_confidence=True)
    blocking = {e: next(line for line in lines if line.startswith("Blocking:")) for e, lines in logs.items()}
    assert blocking["spark"] == blocking["duckdb"]
    assert all(any(line.startswith("Pre-filter") for line in lines) for lines in logs.values()), logs
    assert _partition(tmp_path / "spark.parquet") == _partition(tmp_path / "duckdb.parquet")
    spark_out = pq.read_table(tmp_path / "spark.parquet")
    assert spark_out.column_names == [*source.table.column_names, "match_id", "match_confidence_score"]  # type: ignore[union-attr]
    assert sorted(spark_out.column("id").to_pylist()) == sorted(truth)


@pytest.mark.spark
@pytest.mark.slow  # a minute of Spark local[2] on two cores
def test_words_weighed_by_entities_give_the_same_groups(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Company names of entities large and small (`bench.synth_orgs`): both backends score the candidates,
    cluster them, weigh the words by the entities found and score again, and find the same groups."""
    from bench.synth_orgs import generate_table

    table = generate_table(400, seed=3).select(["id", "name", "city", "entity_id"])
    truth = dict(zip(table.column("id").to_pylist(), table.column("entity_id").to_pylist(), strict=True))
    source = RecordSource(table=table.drop_columns(["entity_id"]))
    rows = table.column("id").to_pylist()[:80]
    labels = pa.table(
        {
            "labeling_set_id": ["s1"] * 40 + ["s2"] * 40,
            "label": [truth[r] for r in rows],
            "primary_key": rows,
        }
    )
    logs = _matched_on_both(monkeypatch, source, labels, tmp_path, compute_confidence=False)
    weighed = {
        e: next(line for line in lines if line.startswith("Words weighed by")) for e, lines in logs.items()
    }
    assert weighed["spark"] == weighed["duckdb"], weighed
    assert _partition(tmp_path / "spark.parquet") == _partition(tmp_path / "duckdb.parquet")


@pytest.mark.spark
@pytest.mark.slow  # a minute of Spark local[2] on two cores
def test_a_table_of_two_schemas_gives_the_same_groups(
    spark: Any,
    people: tuple[RecordSource, dict[str, str], pa.Table],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every other person with one ``full_name`` in place of first and last name: both backends join the
    three columns into one (`findmatches.engine.unioned`) and find the same groups."""
    source, _, labels = people
    table = source.table
    assert table is not None
    first, last = table.column("first_name").to_pylist(), table.column("last_name").to_pylist()
    odd = [i % 2 == 1 for i in range(table.num_rows)]
    full = [f"{b}, {a}" if o else None for a, b, o in zip(first, last, odd, strict=True)]
    for name, values in (("first_name", first), ("last_name", last)):
        kept = [None if o else v for v, o in zip(values, odd, strict=True)]
        table = table.set_column(table.column_names.index(name), name, pa.array(kept, pa.string()))
    unioned = RecordSource(table=table.append_column("full_name", pa.array(full, pa.string())))
    logs = _matched_on_both(monkeypatch, unioned, labels, tmp_path, compute_confidence=False)
    loaded = {e: next(line for line in lines if line.startswith("Loaded")) for e, lines in logs.items()}
    assert loaded["spark"] == loaded["duckdb"] and "first_name+last_name+full_name=" in loaded["spark"]
    assert _partition(tmp_path / "spark.parquet") == _partition(tmp_path / "duckdb.parquet")


@pytest.mark.spark
@pytest.mark.slow  # a minute of Spark local[2] on two cores
def test_evaluation_is_the_same(
    spark: Any, people: tuple[RecordSource, dict[str, str], pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _, labels = people
    duck, _ = _run("duckdb", monkeypatch, evaluate, source, PARAMS, labels)
    on_spark, _ = _run("spark", monkeypatch, evaluate, source, PARAMS, labels)
    assert on_spark.f1 == pytest.approx(duck.f1) and on_spark.precision == pytest.approx(duck.precision)
    assert on_spark.area_under_pr_curve == pytest.approx(duck.area_under_pr_curve, abs=1e-9)


@pytest.mark.spark
@pytest.mark.slow  # four minutes of Spark local[2] on two cores
@pytest.mark.timeout(900)
def test_incremental_runs_on_kept_snapshots_agree(
    spark: Any,
    people: tuple[RecordSource, dict[str, str], pa.Table],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A snapshot kept by one backend reads back on the other: both give the ids the files give. Spark's
    executors write its records as part files, as they write the output records."""
    source, _, labels = people
    table = source.table
    assert table is not None
    old, new = RecordSource(table=table.slice(0, 500)), RecordSource(table=table.slice(500))
    _run(
        "duckdb",
        monkeypatch,
        find_matches,
        old,
        PARAMS,
        labels,
        out_path=tmp_path / "old.parquet",
        out_format="parquet",
        compute_confidence=False,
    )
    files = ExistingMatches(RecordSource(paths=(tmp_path / "old.parquet",), format="parquet"))
    snapshots = {}
    for engine in ("duckdb", "spark"):
        snapshots[engine] = tmp_path / f"snap-{engine}"
        _run(
            engine,
            monkeypatch,
            find_matches,
            new,
            PARAMS,
            labels,
            out_path=tmp_path / f"files-{engine}.parquet",
            out_format="parquet",
            compute_confidence=False,
            existing=files,
            merges_path=tmp_path / f"files-{engine}.csv",
            keep=KeepSnapshots(existing=snapshots[engine]),
        )
    assert _partition(tmp_path / "files-spark.parquet") == _partition(tmp_path / "files-duckdb.parquet")
    assert (snapshots["duckdb"] / RECORDS_FILE).is_file()
    parts = output_files(snapshots["spark"] / RECORDS_FILE)
    assert (snapshots["spark"] / RECORDS_FILE).is_dir() and parts
    assert sum(pq.read_metadata(p).num_rows for p in parts) == 500
    for engine, other in (("spark", "duckdb"), ("duckdb", "spark")):
        _, lines = _run(
            engine,
            monkeypatch,
            find_matches,
            new,
            PARAMS,
            labels,
            out_path=tmp_path / f"snap-{engine}.parquet",
            out_format="parquet",
            compute_confidence=False,
            existing=ExistingMatches(snapshots=(snapshots[other],)),
            merges_path=tmp_path / f"snap-{engine}.csv",
        )
        assert any(line.startswith("Read 500 of 500 prepared records") for line in lines)
        got = pq.read_table(tmp_path / f"snap-{engine}.parquet", columns=["id", "match_id"])
        assert got.equals(pq.read_table(tmp_path / f"files-{engine}.parquet", columns=["id", "match_id"]))
    # Keys that block by value only: each backend reads just the records the new ones reach, alike.
    meta_file = snapshots["duckdb"] / META_FILE
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(
        json.dumps({**meta, "keys": ["exact:email", "exact:birth_date", "phonetic:last_name"]})
    )
    for engine in ("duckdb", "spark"):
        _, lines = _run(
            engine,
            monkeypatch,
            find_matches,
            new,
            PARAMS,
            labels,
            out_path=tmp_path / f"reach-{engine}.parquet",
            out_format="parquet",
            compute_confidence=False,
            existing=ExistingMatches(snapshots=(snapshots["duckdb"],)),
            merges_path=tmp_path / f"reach-{engine}.csv",
        )
        assert any(line.endswith("those the new records can reach.") for line in lines)
    assert _partition(tmp_path / "reach-spark.parquet") == _partition(tmp_path / "reach-duckdb.parquet")


@pytest.mark.spark
@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_output_records_are_written_by_spark_as_ordered_part_files(
    spark: Any, tmp_path: Path, file_format: Literal["csv", "parquet"]
) -> None:
    from findmatches.engine.backends.duckdb import DuckDBBackend
    from findmatches.engine.backends.spark import SparkBackend

    n = 3000
    awkward = ['say "hi"', "a,b", "two\nlines", "", None, "plain"]
    table = pa.table(
        {
            "_rid": pa.array(range(n), pa.int64()),
            "name": [awkward[i % len(awkward)] for i in range(n)],
            "score": [i / 7 for i in range(n)],
        }
    )
    sql = "SELECT _rid, name, score FROM t ORDER BY _rid DESC"
    spark_backend = SparkBackend(spark)
    duck = DuckDBBackend()
    try:
        # Several partitions, kept apart: the parts must come back in the query's order.
        spark_backend._spark.conf.set("spark.sql.shuffle.partitions", "4")
        spark_backend._spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
        spark_backend.register("t", table)
        spark_backend.write_records(sql, tmp_path / f"spark.{file_format}", file_format)
        duck.register("t", table)
        duck.write_records(sql, tmp_path / f"duck.{file_format}", file_format)
    finally:
        spark_backend.close()
        duck.close()
    parts = output_files(tmp_path / f"spark.{file_format}")
    assert len(parts) > 1 and all(p.name.startswith("part-") for p in parts)
    assert output_files(tmp_path / f"duck.{file_format}") == [tmp_path / f"duck.{file_format}"]

    def read(path: Path) -> pa.Table:
        if file_format == "parquet":
            return pq.read_table(path)
        options = pacsv.ConvertOptions(column_types={"name": pa.string()}, strings_can_be_null=True)
        return pacsv.read_csv(
            path, convert_options=options, parse_options=pacsv.ParseOptions(newlines_in_values=True)
        )

    got = pa.concat_tables([read(p) for p in parts])
    want = read(tmp_path / f"duck.{file_format}")
    assert got.column("_rid").to_pylist() == list(range(n - 1, -1, -1))
    assert got.column("name").to_pylist() == want.column("name").to_pylist()
    assert got.column("score").to_pylist() == pytest.approx(want.column("score").to_pylist())


@pytest.mark.parametrize("as_uri", [False, True], ids=["local-copy", "executors-decode"])
def test_a_declared_encoding_is_read(spark: Any, tmp_path: Path, as_uri: bool) -> None:
    """Local files in a declared encoding are read through UTF-8 copies; objects the executors read (here
    ``file://`` URIs) are decoded by Spark's reader."""
    text = "id,name\n1,José – “Café” €5\n2,Zoë Ærøskøbing ‰\n"
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("windows-1252"))
    csv_format = CsvFormat(encoding="windows-1252")
    source = (
        RecordSource(uris=(path.as_uri(),), csv=csv_format)
        if as_uri
        else RecordSource(paths=(path,), csv=csv_format)
    )
    from findmatches.engine.backends.spark import SparkBackend

    backend = SparkBackend(spark, temp_dir=tmp_path / "spark")
    try:
        rows = backend.dataframe(source).orderBy("id").collect()
    finally:
        backend.close()
    assert [r["name"] for r in rows] == ["José – “Café” €5", "Zoë Ærøskøbing ‰"]
