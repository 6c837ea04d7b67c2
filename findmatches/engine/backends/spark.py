"""The Apache Spark backend: the engine's SQL, written in DuckDB's dialect, rendered for Spark SQL by sqlglot.

Tables the engine creates (``CREATE TABLE … AS``) become temporary views over locally checkpointed data frames
(materialised once, their lineage cut), in a Spark session of the backend's own (`SparkSession.newSession`:
its own views, the cluster shared). The records are kept hash-partitioned and sorted by ``_rid``, and so is
a table made from them row by row that asks for it (`partition_hint`): each join of such a table with the
candidate pairs shuffles and sorts only the pairs. The engine's functions (which Spark lacks, or has with other answers) run
as Arrow UDFs under names of their own (`_UDFS`); DuckDB's 64-bit ``hash`` becomes ``xxhash64``
kept non-negative.

Needs ``pip install 'findmatches[spark]'`` (PySpark, sqlglot) and Java 17.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from findmatches.engine.backend import (
    LIST_SEPARATOR,
    BatchFn,
    LoadedRecords,
    memory_limit_setting,
    rebatched,
    size_bytes,
    typed_records,
)
from findmatches.engine.charsets import as_utf8, is_utf8
from findmatches.engine.types import Cancelled, EngineError, RecordSource

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: The master a backend uses unless told: FINDMATCHES_SPARK_MASTER, else two local cores.
DEFAULT_MASTER = "local[2]"
#: Spark's unified memory (execution and storage) is this share of the heap past a fixed reserve
#: (``spark.memory.fraction``, and the reserve in its UnifiedMemoryManager).
UNIFIED_MEMORY_FRACTION = 0.6
RESERVED_HEAP = 300 << 20
#: A master of this scheme names a Spark Connect server (`_connect`).
CONNECT_SCHEME = "sc://"
#: Sets the partitions of every shuffle of a run (`shuffle_partitions` where unset).
PARTITIONS_ENV = "FINDMATCHES_SPARK_PARTITIONS"
#: The records a shuffle partition holds at most (`shuffle_partitions`), and the partitions where the
#: application's cores are unknown (a Spark Connect client's). At 10M records that is the 8 partitions every
#: 10M run on the cluster of two one-core workers ran with (sessions 37-58); at 1M as many as the cores:
#: a warm 1M apply there took 89.2 s with 8 partitions, 77.5 s with 4 and 74.4 s with 2, the same pairs and
#: groups in each (session 60, docs/spark.md): a task of a few seconds pays its start (its scheduling, the
#: Python worker of a mapped stage, a shuffle file for every reducer) out of proportion.
PARTITION_ROWS = 1_250_000
DEFAULT_PARTITIONS = 8


def shuffle_partitions(records: int, cores: int) -> int:
    """The partitions of a run's shuffles over ``records`` on an application of ``cores`` cores: a partition
    per `PARTITION_ROWS` records, and at least one per core."""
    return max(1, cores, math.ceil(records / PARTITION_ROWS))


_lock = threading.Lock()
_root: SparkSession | None = None


def spark_session(master: str | None = None) -> SparkSession:
    """The process's Spark session (started once; the first caller's master wins)."""
    global _root
    with _lock:
        if _root is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as e:  # pragma: no cover - the extra is not installed
                raise EngineError("The Spark engine needs PySpark: pip install 'findmatches[spark]'.") from e
            master = master or os.environ.get("FINDMATCHES_SPARK_MASTER", DEFAULT_MASTER)
            if master.startswith(CONNECT_SCHEME):
                _root = _connect(master)
                return _root
            if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
                raise EngineError("The Spark engine needs Java 17 (java on PATH, or JAVA_HOME).")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = (
                SparkSession.builder.master(master).appName("findmatches").config("spark.ui.enabled", "false")
            )
            conf = {**_session_conf(), **_driver_conf(master), **_extra_conf(master), **_s3a_conf()}
            for key, value in conf.items():
                builder = builder.config(key, value)
            _root = builder.getOrCreate()
            _root.sparkContext.setLogLevel("ERROR")
        return _root


def stop_spark_session() -> None:
    """Stop the process's Spark session where `spark_session` started one (its application ends; a kept
    worker calls this before it exits, `findmatches.tasks.workers`)."""
    global _root
    with _lock:
        if _root is not None:
            _root.stop()
            _root = None


def spark_session_lost() -> str | None:
    """Why the process's Spark session can run no more work, where `spark_session` started one whose
    application is gone: its driver's JVM died, or its context was stopped (a cluster's master that ended the
    application, an executor loss the driver gave up on). None where it can, or where none was started or it
    is a Spark Connect client's (a Connect server's sessions outlive this process's)."""
    with _lock:
        root = _root
    if root is None or type(root).__module__.startswith("pyspark.sql.connect"):
        return None
    try:
        stopped = bool(root.sparkContext._jsc.sc().isStopped())
    except Exception as e:  # the gateway to the JVM is gone: py4j's network errors, a closed socket
        return f"its Spark driver does not answer ({type(e).__name__})"
    return "its Spark application was stopped" if stopped else None


def _connect(url: str) -> SparkSession:
    """A session on the Spark Connect server at ``url`` (``sc://host:port``): the driver, and so the JVM and
    its executors, live in that server and outlast each run; this process only sends plans and receives
    Arrow. The server's static settings are its own; the SQL settings the engine needs are set per session."""
    try:
        from pyspark.sql import SparkSession

        session = SparkSession.builder.remote(url).getOrCreate()
        for key, value in _session_conf().items():
            session.conf.set(key, value)
    except ImportError as e:  # pragma: no cover - the extra is not installed
        raise EngineError(
            "Spark Connect needs PySpark's connect extra: pip install 'findmatches[spark]'."
        ) from e
    except Exception as e:
        raise EngineError(f"Cannot reach the Spark Connect server {url}: {str(e).splitlines()[0]}") from e
    return session


def _session_conf() -> dict[str, str]:
    """The SQL settings every session of the engine runs with (see `spark_session`)."""
    return {
        "spark.sql.shuffle.partitions": os.environ.get(PARTITIONS_ENV) or str(DEFAULT_PARTITIONS),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.ansi.enabled": "false",
        # Constraint propagation through a union of a table and a view over Parquet (a run on kept
        # snapshots) fails in Spark 4.0's optimizer ("key not found: _rid"); the engine's SQL has no use for
        # the constraints it infers.
        "spark.sql.constraintPropagation.enabled": "false",
    }


def _driver_conf(master: str) -> dict[str, str]:
    """For a ``local`` master, whose driver is the whole of Spark: a heap whose working memory (Spark's unified
    memory, 60 % of the heap past its 300 MiB reserve) is the engine's memory limit (`memory_limit_setting`,
    DuckDB's budget), where Spark's default of 1 GiB made a 1M apply's sorts and windows spill. Left to the user
    where ``SPARK_DRIVER_MEMORY``, ``PYSPARK_SUBMIT_ARGS`` or a ``spark-defaults.conf`` sets it."""
    if (
        not master.startswith("local")
        or os.environ.get("SPARK_DRIVER_MEMORY")
        or "driver-memory" in os.environ.get("PYSPARK_SUBMIT_ARGS", "")
        or "spark.driver.memory" in _spark_defaults()
    ):
        return {}
    limit = size_bytes(memory_limit_setting())
    if limit is None:
        return {}
    heap_mib = math.ceil((limit / UNIFIED_MEMORY_FRACTION + RESERVED_HEAP) / (1 << 20))
    return {"spark.driver.memory": f"{max(1024, heap_mib)}m"}


def _spark_defaults() -> str:
    """The text of the ``spark-defaults.conf`` Spark would read: in ``SPARK_CONF_DIR``, else in the ``conf``
    folder of ``SPARK_HOME`` (PySpark's own folder where that is unset); empty where there is none."""
    folder = os.environ.get("SPARK_CONF_DIR")
    if not folder:
        home = os.environ.get("SPARK_HOME")
        if not home:
            with contextlib.suppress(ImportError):
                import pyspark

                home = os.path.dirname(pyspark.__file__)
        folder = os.path.join(home, "conf") if home else None
    if folder is None:
        return ""
    try:
        return Path(folder, "spark-defaults.conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _extra_conf(master: str) -> dict[str, str]:
    """Settings from ``FINDMATCHES_SPARK_CONF`` (a JSON object; a task run's worker sets it from the
    transform's capacity), for a master with executors (not ``local``)."""
    import json

    from findmatches.engine.backends import SPARK_CONF_ENV

    raw = os.environ.get(SPARK_CONF_ENV)
    if not raw or master.startswith("local"):
        return {}
    try:
        conf = json.loads(raw)
    except ValueError as e:
        raise EngineError(f"{SPARK_CONF_ENV} is not a JSON object: {e}") from e
    return {str(k): str(v) for k, v in conf.items()}


def _s3a_conf() -> dict[str, str]:
    """The S3A connector's settings from ``FINDMATCHES_SPARK_S3A_CONF`` (a JSON object: a task run's worker
    has it from the server, `findmatches.tasks.s3a`), for any master: a run reads ``s3a://`` objects with them."""
    import json

    from findmatches.engine.backends import S3A_CONF_ENV

    raw = os.environ.get(S3A_CONF_ENV)
    if not raw:
        return {}
    try:
        return {str(k): str(v) for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError) as e:
        raise EngineError(f"{S3A_CONF_ENV} is not a JSON object: {e}") from e


def _scratch_from_env() -> str | None:
    """The ``s3a://`` prefix that ``FINDMATCHES_SPARK_SCRATCH`` names (a task run's worker has it from the
    server where the executors may not share its disk), else None."""
    from findmatches.engine.backends import SCRATCH_ENV

    raw = (os.environ.get(SCRATCH_ENV) or "").strip().rstrip("/")
    if not raw:
        return None
    if not raw.startswith("s3a://") or len(raw) <= len("s3a://"):
        raise EngineError(f"{SCRATCH_ENV} must be an s3a:// prefix, not {raw!r}.")
    return raw


def _object_store(uri: str) -> tuple[pafs.FileSystem, str]:
    """Arrow's S3 file system for the ``s3a://`` ``uri`` with the S3A connector's endpoint and credentials
    (`_s3a_conf`; the standard AWS chain where it has none), and the uri's ``bucket/prefix`` path there."""
    root = uri.removeprefix("s3a://").strip("/")
    conf = _s3a_conf()

    def setting(key: str) -> str | None:
        return conf.get(f"spark.hadoop.fs.s3a.{key}")

    options: dict[str, Any] = {}
    if setting("access.key") and setting("secret.key"):
        options |= {
            "access_key": setting("access.key"),
            "secret_key": setting("secret.key"),
            "session_token": setting("session.token"),
        }
    endpoint = setting("endpoint")
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        secure = setting("connection.ssl.enabled") != "false"
        options |= {"endpoint_override": host, "scheme": scheme or ("https" if secure else "http")}
    try:
        if not endpoint:
            options["region"] = pafs.resolve_s3_region(root.split("/", 1)[0])
        return pafs.S3FileSystem(**options), root
    except (OSError, ValueError) as e:
        raise EngineError(f"Cannot reach the scratch prefix {uri}: {e}") from e


def _parquet_batches(fs: pafs.FileSystem, parts: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The record batches of the Parquet files ``parts`` on ``fs``, in order, a row group's at a time."""
    for part in parts:
        with fs.open_input_file(part) as f:
            yield from pq.ParquetFile(f).iter_batches(batch_size=batch_rows)


def _register_functions(spark: SparkSession) -> None:
    """The engine's functions that Spark lacks, as Arrow UDFs: whole batches in C++ (pyarrow, rapidfuzz),
    without pandas in between."""
    import pyarrow.compute as pc
    from pyspark.sql.pandas.functions import arrow_udf

    from findmatches.engine.features import jaro_winkler

    def jaro_winkler_similarity(a: pa.Array, b: pa.Array) -> pa.Array:
        return pa.array(jaro_winkler(a, b), from_pandas=True)  # NaN, where a value is missing, is NULL

    def strip_accents(a: pa.Array) -> pa.Array:
        # DuckDB's strip_accents (utf8proc's STRIPMARK): the canonical decomposition without its marks. The
        # compatibility one (NFKD) would also unfold ligatures, full-width letters and superscripts.
        return pc.replace_substring_regex(pc.utf8_normalize(a, "NFD"), r"\p{M}", "")

    # arrow_udf reads the type hints, which `from __future__ import annotations` leaves as strings.
    jaro_winkler_similarity.__annotations__ = {"a": pa.Array, "b": pa.Array, "return": pa.Array}
    strip_accents.__annotations__ = {"a": pa.Array, "return": pa.Array}
    vectorised: Any = arrow_udf  # its overloads do not cover a function given with its return type
    spark.udf.register(_UDFS["jaro_winkler_similarity"], vectorised(jaro_winkler_similarity, "double"))
    spark.udf.register(_UDFS["strip_accents"], vectorised(strip_accents, "string"))


def to_spark_sql(sql: str | Any) -> str:
    """``sql`` (DuckDB's dialect, as the engine writes it, or sqlglot's tree of it) in Spark SQL."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb") if isinstance(sql, str) else sql

    def rewrite(node: Any) -> Any:
        # sqlglot does not descend into a node this returns in place of another: its arguments are rewritten
        # here (a hash inside a hash had stayed Spark's 32-bit Murmur3 hash, so combined keys collided).
        if (
            isinstance(node, exp.Func)
            and not isinstance(node, exp.Anonymous)
            and type(node).__name__.lower() in _UDF_CLASSES
        ):
            # sqlglot knows some of the engine's functions by a class of its own, which it writes for Spark
            # under another name (30.x: JAROWINKLER_SIMILARITY).
            args = [a.transform(rewrite) for a in node.args.values() if isinstance(a, exp.Expression)]
            return exp.Anonymous(this=_UDFS[_UDF_CLASSES[type(node).__name__.lower()]], expressions=args)
        if isinstance(node, exp.Anonymous) and node.name.lower() in _RENAMED:
            node.set("this", _RENAMED[node.name.lower()])
        if isinstance(node, exp.Alias) and isinstance(node.this, exp.Column) and node.this.name == node.alias:
            # A column named as itself (``_rid AS _rid``) is written bare: Spark gives the alias a new attribute
            # that its optimizer then drops again, so a table made so recorded a partitioning by a column it
            # no longer had, and every join on it moved the whole table (docs/spark.md, session 61).
            return node.this
        if isinstance(node, exp.CTE):  # Spark decides for itself what to materialise
            node.set("materialized", None)
        if isinstance(node, exp.Select) and node.comments:
            _hinted(node)
        if isinstance(node, exp.Anonymous) and node.name.lower() in ("try_strptime", "strptime"):
            value, fmt = node.expressions
            value = value.transform(rewrite)
            java = _java_time_format(fmt.name) if isinstance(fmt, exp.Literal) else None
            if java is None:
                raise EngineError(f"The Spark backend has no translation of {node.sql('duckdb')}")
            fn = "try_to_timestamp" if node.name.lower().startswith("try") else "to_timestamp"
            return exp.Anonymous(this=fn, expressions=[value, exp.Literal.string(java)])
        if isinstance(node, exp.Glob):
            pattern = node.expression
            if not isinstance(pattern, exp.Literal):
                raise EngineError(f"The Spark backend has no translation of {node.sql('duckdb')}")
            return exp.RegexpLike(
                this=node.this.transform(rewrite), expression=exp.Literal.string(_glob_regex(pattern.name))
            )
        if type(node).__name__ == "RegexpFullMatch":
            value, pattern = node.this, node.expression
            if not isinstance(pattern, exp.Literal):
                raise EngineError(f"The Spark backend has no translation of {node.sql('duckdb')}")
            # Spark's RLIKE finds the pattern anywhere; anchored, it must match the whole value.
            return exp.RegexpLike(
                this=value.transform(rewrite), expression=exp.Literal.string(f"^(?:{pattern.name})$")
            )
        if isinstance(node, exp.Anonymous) and node.name.lower() == "hash":
            return sqlglot.parse_one(
                f"(xxhash64({', '.join(a.transform(rewrite).sql('spark') for a in node.expressions)}) "
                "& 9223372036854775807)",
                read="spark",
            )
        return node

    return str(_unique_ctes(tree.transform(rewrite)).sql(dialect="spark"))


#: A join hint in the engine's SQL (`broadcast_hint`): a comment after SELECT, which sqlglot keeps as the
#: SELECT's comment.
_HINT = re.compile(r"^\+\s*((?:BROADCAST|REPARTITION)\s*\([^()]*\))\s*$", re.IGNORECASE)


#: A SELECT that asks for its rows to be partitioned (`partition_hint`).
_PARTITIONED = re.compile(r"/\*\+\s*REPARTITION\s*\(\s*(\w+)\s*\)", re.IGNORECASE)


def _hinted(select: Any) -> None:
    """Make ``select``'s join hint comment (`_HINT`) its Spark hint."""
    import sqlglot

    hints = [m.group(1) for c in select.comments if (m := _HINT.match(c.strip()))]
    if hints:
        select.comments = [c for c in select.comments if not _HINT.match(c.strip())]
        parsed = sqlglot.parse_one(f"SELECT /*+ {', '.join(hints)} */ 1", read="spark")
        select.set("hint", parsed.args["hint"])


def _unique_ctes(tree: Any) -> Any:
    """Give every nested WITH's names a suffix of their own: the engine unions subqueries that each define
    ``v``, ``b``, … (DuckDB scopes them), and Spark lifts CTEs to one namespace. A reference keeps its old
    name as its alias, so qualified columns still resolve."""
    from sqlglot import exp

    for i, with_ in enumerate(list(tree.find_all(exp.With))):
        if with_.parent is tree:
            continue
        scope = with_.parent
        names = {cte.alias: f"{cte.alias}__w{i}" for cte in with_.expressions}
        for cte in with_.expressions:
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(names[cte.alias])))
        for table in scope.find_all(exp.Table):
            # A hint names a relation by its alias, which a reference keeps.
            if table.name in names and not table.args.get("db") and not table.find_ancestor(exp.Hint):
                alias = table.alias or table.name
                table.set("this", exp.to_identifier(names[table.name]))
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return tree


#: The columns `_with_origin` adds: a row's file and the start of the file's split that held it.
ORIGIN = ("_fm_file", "_fm_block")


class _Numbered(NamedTuple):
    """A source's rows marked with Spark's monotonic id (checkpointed), the first ``_rid`` of each of its splits'
    rows (by partition, file and split start), and the ``_rid`` past its last row."""

    marked: DataFrame
    bases: list[tuple[int, Any, Any, int]]
    end: int


def _mono_part() -> Any:
    """The partition in Spark's monotonic id (`_numbered`): its upper 31 bits."""
    from pyspark.sql import functions as F

    return F.shiftright(F.col("_mono"), 33)


def _mono_place() -> Any:
    """The row's place in its partition in Spark's monotonic id: its lower 33 bits."""
    from pyspark.sql import functions as F

    return F.col("_mono").bitwiseAND((1 << 33) - 1)


def _with_origin(df: DataFrame, source: RecordSource) -> DataFrame:
    """``df`` with its rows' `ORIGIN` (from Spark's file metadata; nulls for a source that is no file)."""
    from pyspark.sql import functions as F

    if source.table is not None or not source.locations:
        return df.withColumn(ORIGIN[0], F.lit(None).cast("string")).withColumn(
            ORIGIN[1], F.lit(None).cast("bigint")
        )
    return df.withColumn(ORIGIN[0], F.col("_metadata.file_path")).withColumn(
        ORIGIN[1], F.col("_metadata.file_block_start")
    )


def _file_rank(paths: Sequence[str | Path]) -> Any:
    """A sort key for Spark's file URIs in the order of the given ``paths`` (files, or folders of files in
    name order), as DuckDB reads them."""
    from urllib.parse import unquote, urlparse

    given = [str(p).rstrip("/") for p in paths]
    local = [str(Path(p).resolve()) if "://" not in p else p for p in given]

    def rank(uri: str | None) -> tuple[int, str]:
        if uri is None:
            return (0, "")
        parsed = urlparse(uri)
        path = unquote(parsed.path) if parsed.scheme in ("", "file") else uri
        for i, (raw, resolved) in enumerate(zip(given, local, strict=True)):
            for p in (resolved, raw):
                if path == p or path.startswith(p + "/") or uri == p or uri.startswith(p + "/"):
                    return (i, path)
        return (len(given), path)

    return rank


def _col(name: str) -> Any:
    """A column by its exact name (any characters), for the DataFrame API."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _text(df: Any, name: str) -> Any:
    """The column ``name`` of ``df`` as text under its own name; an array's items joined by `LIST_SEPARATOR`,
    as the DuckDB backend joins a list's."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    column = _col(name)
    if isinstance(df.schema[name].dataType, ArrayType):
        return F.array_join(column.cast("array<string>"), LIST_SEPARATOR).alias(name)
    return column.cast("string").alias(name)


#: The engine's functions that Spark lacks or has otherwise (4.3's own ``jaro_winkler_similarity`` weighs the
#: common prefix differently from DuckDB and rapidfuzz, and a built-in wins over a session's function of the
#: same name): registered as vectorised UDFs by names of their own.
_UDFS = {"jaro_winkler_similarity": "fm_jaro_winkler_similarity", "strip_accents": "fm_strip_accents"}
#: sqlglot's classes for some of them, by class name: the function's without underscores (30.x:
#: ``JarowinklerSimilarity``).
_UDF_CLASSES = {name.replace("_", ""): name for name in _UDFS}

#: Functions that Spark knows under another name (sqlglot leaves these as they are), the engine's UDFs among
#: them.
_RENAMED = {
    "list_intersect": "array_intersect",
    "list_concat": "concat",
    "array_equal": "array_equal",
    **_UDFS,
}

_STRPTIME = {
    "%Y": "yyyy",
    "%y": "yy",
    "%m": "MM",
    "%d": "dd",
    "%H": "HH",
    "%M": "mm",
    "%S": "ss",
    "%b": "MMM",
    "%B": "MMMM",
    "%j": "DDD",
}


def _java_time_format(fmt: str) -> str | None:
    """A strptime format as Java's DateTimeFormatter pattern (None where a directive has no equivalent)."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            java = _STRPTIME.get(fmt[i : i + 2])
            if java is None:
                return None
            out.append(java)
            i += 2
        else:
            out.append(fmt[i] if fmt[i].isalnum() is False else f"'{fmt[i]}'")
            i += 1
    return "".join(out)


def _glob_regex(pattern: str) -> str:
    """A GLOB pattern (``*``, ``?``, ``[...]``, ``[!...]``) as an anchored regular expression."""
    out, i = ["^"], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + "$"


class SparkBackend:
    """Runs the engine's SQL on Spark (see the module's docstring)."""

    name = "spark"
    costly_stages = True
    python_functions = True

    def __init__(
        self, spark: SparkSession | None = None, *, temp_dir: Path | None = None, scratch: str | None = None
    ) -> None:
        self._temp_dir = temp_dir
        # Where the executors write results for this process to read back (`_written`): an ``s3a://`` prefix
        # where they do not share this machine's disk, else a folder of ``temp_dir``.
        self._scratch = scratch if scratch is not None else _scratch_from_env()
        self._spark = (spark or spark_session()).newSession()
        if self._connected:
            # A new session on a Connect server starts from the server's settings, not its parent's.
            for key, value in _session_conf().items():
                self._spark.conf.set(key, value)
        # The engine's SQL relies on non-ANSI casts (a text that is no number casts to NULL); Spark 4 turns ANSI
        # on by default, and a session given by a caller (a Glue script's) keeps its own setting.
        self._spark.conf.set("spark.sql.ansi.enabled", "false")
        _register_functions(self._spark)  # functions, like views, belong to a session
        self._views: dict[str, DataFrame] = {}
        self._tag = f"findmatches-{uuid.uuid4().hex}"
        self._spark.addTag(self._tag)
        self._interrupted = False
        self._closed = False
        # The records loaded so far, which size the session's shuffles (`_size_for`).
        self._records = 0

    @property
    def spark(self) -> SparkSession:
        """The backend's own session."""
        return self._spark

    def dataframe(self, source: RecordSource) -> DataFrame:
        """The records of ``source`` as Spark reads them, with their own types."""
        return self._read(source)

    # -- helpers ---------------------------------------------------------------------------------

    def _sql(self, sql: str | Any) -> DataFrame:
        """``sql`` (the engine's SQL, or a query sqlglot parsed from it) as Spark's data frame."""
        if self._interrupted:
            raise Cancelled()
        try:
            return self._spark.sql(to_spark_sql(sql))
        except Exception as e:
            raise self._error(e) from e

    def _error(self, e: Exception) -> Exception:
        if self._interrupted:
            return Cancelled()
        lines = [line for line in str(e).splitlines() if line.strip()]
        return EngineError(f"Spark: {lines[0] if lines else type(e).__name__}")

    def _materialise(self, name: str, df: DataFrame, key: str | None = None) -> None:
        """Define ``name`` as ``df`` checkpointed. With a ``key`` column (a SELECT's REPARTITION hint,
        `partition_hint`), its rows are sorted by it within their hash partitions, and planned without AQE,
        so that the checkpoint records both: later joins on that column neither shuffle nor sort this side.
        (Planned adaptively, the checkpoint's plan reports no partitioning, and every join shuffles it again.)"""
        adaptive = "spark.sql.adaptive.enabled"
        before = self._spark.conf.get(adaptive) if key else None
        try:
            if key:
                self._spark.conf.set(adaptive, "false")
                # No shuffle where ``df`` is partitioned so already (made row by row from such a table).
                partitions = int(self._spark.conf.get("spark.sql.shuffle.partitions") or 1)
                df = df.repartition(partitions, key).sortWithinPartitions(key)
            try:
                kept = self._checkpoint(df)
            finally:
                if before is not None:
                    self._spark.conf.set(adaptive, before)
        except Exception as e:
            raise self._error(e) from e
        self._define(name, kept)

    @property
    def _connected(self) -> bool:
        """Whether the session is a Spark Connect client's (`_connect`)."""
        return type(self._spark).__module__.startswith("pyspark.sql.connect")

    def _checkpoint(self, df: DataFrame) -> DataFrame:
        if not self._connected:
            return df.localCheckpoint(eager=True)
        # PySpark's Connect client ties a checkpoint's result to the thread's active session, not to the
        # session that made it (pyspark/sql/connect/conversion.py, 4.0-4.3), so a backend's own session
        # (newSession) would look for it in another: make this one active on this thread meanwhile.
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        local = ConnectSession._active_session
        before = getattr(local, "session", None)
        local.session = self._spark
        try:
            return df.localCheckpoint(eager=True)
        finally:
            local.session = before

    def _define(self, name: str, df: DataFrame) -> None:
        old = self._views.pop(name, None)
        # On Spark Connect both are calls to the server, which a cancel interrupts like any job: the error
        # must reach the engine as Cancelled (a run's load defines views right after its one checkpoint).
        try:
            df.createOrReplaceTempView(name)
            self._views[name] = df
            if old is not None:
                old.unpersist()
        except Exception as e:
            raise self._error(e) from e

    # -- Backend ---------------------------------------------------------------------------------

    def load_records(
        self, source: RecordSource, table: str, extras: Sequence[RecordSource] = ()
    ) -> LoadedRecords:
        """As `DuckDBBackend.load_records`: ``table`` holds every column as text and a dense ``_rid`` in input
        order, the ``extras``' records after the source's; `typed_records` keeps the columns' own types."""
        from pyspark.sql import functions as F

        src = self._read(source)
        columns = list(src.columns)
        if not columns:
            raise EngineError("The input has no columns.")
        numbered: list[_Numbered] = []
        try:
            numbered.append(self._numbered(_with_origin(src, source), 0, source.locations))
            for extra in extras:
                more = self._read(extra)
                have = set(more.columns)
                more = _with_origin(more, extra).select(
                    *[_text(more, c) if c in have else F.lit(None).cast("string").alias(c) for c in columns],
                    *ORIGIN,
                )
                numbered.append(self._numbered(more, numbered[-1].end, extra.locations))
            # Every part is counted before any is kept, so that all are kept in the partitions of the whole
            # (an incremental run's few new records and its existing ones among the extras).
            self._size_for(numbered[-1].end)
            names = [typed_records(table)] + [f"{table}_extra{i}" for i in range(len(extras))]
            for name, part in zip(names, numbered, strict=True):
                self._keep_numbered(name, part, columns)
        finally:
            for part in numbered:
                part.marked.unpersist()
        typed = self._views[typed_records(table)]
        text = typed.select("_rid", *[_text(typed, c) for c in columns])
        for name in names[1:]:
            text = text.unionByName(self._views[name])
        # A union of tables partitioned alike keeps their partitioning (`_keep_numbered`).
        self._define(table, text)
        return LoadedRecords(columns, numbered[0].end, numbered[-1].end)

    def _numbered(self, df: DataFrame, offset: int, paths: Sequence[str | Path]) -> _Numbered:
        """``df``'s rows marked and counted, for `_keep_numbered` to number them densely from ``offset`` in
        input order (the ``paths``' order, as DuckDB reads them).

        ``df`` carries each row's `ORIGIN` (its file and the start of the file's split that held it: Spark
        packs splits into partitions by size, not in the files' order). Spark's monotonic id holds the
        partition in its upper 31 bits and the row's place in it in the lower 33: a partition's rows of one
        split are consecutive, so the splits, put in input order, number their rows on from the splits
        before them. (A row number over all records sorts them in one task: a cluster's input in one
        executor.)"""
        from pyspark.sql import functions as F

        try:
            marked = self._checkpoint(df.withColumn("_mono", F.monotonically_increasing_id()))
            splits = (
                marked.groupBy(_mono_part().alias("_part"), *ORIGIN)
                .agg(F.count(F.lit(1)).alias("n"), F.min(_mono_place()).alias("first"))
                .collect()
            )
        except Exception as e:
            raise self._error(e) from e
        rank = _file_rank(paths)
        ordered = sorted(
            splits, key=lambda r: (rank(r["_fm_file"]), r["_fm_block"] or 0, r["_part"], r["first"])
        )
        bases, total = [], offset
        for r in ordered:
            bases.append((int(r["_part"]), r["_fm_file"], r["_fm_block"], total - int(r["first"])))
            total += int(r["n"])
        return _Numbered(marked, bases, total)

    def _keep_numbered(self, name: str, numbered: _Numbered, columns: list[str]) -> None:
        """Define ``name`` as the `_numbered` rows' ``columns`` with ``_rid`` first, materialised by ``_rid``
        (`_materialise`)."""
        from pyspark.sql import functions as F

        base = self._spark.createDataFrame(
            numbered.bases, "_bpart long, _bfile string, _bblock long, _base long"
        )
        # Null-safe: a source that is no file has no file or split.
        keyed = numbered.marked.join(
            F.broadcast(base),
            (_mono_part() == F.col("_bpart"))
            & F.col("_fm_file").eqNullSafe(F.col("_bfile"))
            & F.col("_fm_block").eqNullSafe(F.col("_bblock")),
        )
        rid = (F.col("_base") + _mono_place()).cast("bigint").alias("_rid")
        # Kept partitioned and sorted by ``_rid`` (`_materialise`), so that the tables made from the records
        # row by row are too, and each join of them with the candidate pairs shuffles and sorts only the
        # pairs. (This also spreads the records over a shuffle's partitions: the input's splits were as
        # few as three for a million records, one per file for CSV of quoted line breaks, and every stage
        # that reads the records without a shuffle ran as that many tasks.)
        self._materialise(name, keyed.select(rid, *[_col(c) for c in columns]), "_rid")

    def _size_for(self, records: int) -> None:
        """Size the session's shuffles for ``records`` more records (`shuffle_partitions`, on `_cores`), or as
        ``FINDMATCHES_SPARK_PARTITIONS`` says where it is set (read here: a kept worker's runs each have
        their own environment)."""
        self._records += records
        fixed = os.environ.get(PARTITIONS_ENV)
        partitions = fixed or str(shuffle_partitions(self._records, self._cores()))
        self._spark.conf.set("spark.sql.shuffle.partitions", partitions)

    def _cores(self) -> int:
        """The cores the application runs tasks on: as many as it has (Spark's default parallelism), or as
        the run asked for where that is more (the transform's capacity, `spark.cores.max` or its executors'
        cores: executors still registering are not counted in the default parallelism). A Spark Connect
        client cannot tell: `DEFAULT_PARTITIONS`."""
        if self._connected:
            return DEFAULT_PARTITIONS
        context = self._spark.sparkContext
        conf = context.getConf()
        asked = 0
        with contextlib.suppress(ValueError, TypeError):
            if conf.contains("spark.cores.max"):
                asked = int(conf.get("spark.cores.max") or 0)
            elif conf.contains("spark.executor.instances"):
                asked = int(conf.get("spark.executor.instances") or 0) * int(
                    conf.get("spark.executor.cores") or 1
                )
        return max(int(context.defaultParallelism), asked)

    def load_columns(self, source: RecordSource, table: str, columns: Sequence[str]) -> None:
        """As `DuckDBBackend.load_columns`."""
        df = self._read(source)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise EngineError(f"The records lack the column(s): {', '.join(missing)}.")
        self._materialise(table, df.select(*[_text(df, c) for c in columns]))

    def load_parquet(self, path: Path, table: str) -> None:
        """As `DuckDBBackend.load_parquet`; its rows size the shuffles to come (`_size_for`: a kept snapshot's
        records, which an incremental run's few new records meet)."""
        try:
            df = self._spark.read.parquet(str(path))
            self._size_for(df.count())
            self._define(table, df)
        except Exception as e:
            raise EngineError(f"Cannot read {path}: {str(e).splitlines()[0]}") from e

    def _read(self, source: RecordSource) -> DataFrame:
        try:
            if source.table is not None:
                return self._spark.createDataFrame(source.table)
            paths = list(source.locations)
            if not paths:
                raise EngineError("No input files were given.")
            if source.format == "parquet":
                return self._spark.read.parquet(*paths)
            if source.format == "json":
                return self._spark.read.json(paths)
            csv = source.csv
            reader = self._spark.read.option("header", csv.header).option("inferSchema", False)
            if source.uris and not is_utf8(csv.encoding):
                # The executors decode the objects; Spark 4 knows only Unicode and Latin-1 by default.
                self._spark.conf.set("spark.sql.legacy.javaCharsets", "true")
                reader = reader.option("encoding", csv.encoding)
            elif not source.uris:
                folder = Path(self._temp_dir or tempfile.gettempdir()) / "findmatches-utf8"
                paths = [str(p) for p in as_utf8(source.paths, csv.encoding, folder)]
            for name, value in (("sep", csv.delimiter), ("quote", csv.quote), ("escape", csv.escape)):
                if value is not None:
                    reader = reader.option(name, value)
            reader = reader.option("multiLine", True)
            df = reader.csv(paths)
            if csv.names and not csv.header:
                df = df.toDF(*csv.names, *[f"column{i}" for i in range(len(csv.names), len(df.columns))])
            return df
        except EngineError:
            raise
        except Exception as e:
            raise EngineError(f"Cannot read the input records: {str(e).splitlines()[0]}") from e

    def execute(self, sql: str) -> None:
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(sql, read="duckdb")
        if isinstance(tree, exp.Create):
            name = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
            kind = tree.args.get("kind", "").upper()
            query = tree.expression
            if query is None:  # CREATE TABLE t (columns): an empty table of that schema
                schema = ", ".join(f"`{c.name}` {c.args['kind'].sql('spark')}" for c in tree.this.expressions)
                self._define(name, self._spark.createDataFrame([], schema))
                return
            # The parsed query itself: written back as text, a hint's comment would move before the SELECT
            # (and on to the first CTE), and Spark would never see it.
            df = self._sql(query)
            if kind == "VIEW":
                self._define(name, df)
            else:
                key = _PARTITIONED.search(sql)
                self._materialise(name, df, key.group(1) if key else None)
            return
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                old = self._views.pop(table.name, None)
                self._spark.catalog.dropTempView(table.name)
                if old is not None:
                    old.unpersist()
            return
        if isinstance(tree, exp.Insert):
            name = tree.this.name
            added = self._sql(tree.expression)
            base = self._views[name]
            self._materialise(name, base.unionByName(added.toDF(*base.columns)))
            return
        raise EngineError(f"The Spark backend cannot run this statement: {sql[:80]}")

    def query(self, sql: str) -> pa.Table:
        df = self._sql(sql)
        try:
            return df.toArrow()
        except Exception as e:
            raise self._error(e) from e

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The result in batches of ``batch_rows`` rows (the last one smaller), read back from the Parquet part
        files the executors write (`_written`)."""
        return self._written(lambda: self._sql(sql), batch_rows)

    def map_batches(
        self, sql: str, fn: BatchFn, schema: pa.Schema, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        """``fn`` of the result's batches of ``batch_rows`` rows, applied by the executors (`mapInArrow`: each
        task's Arrow batches joined into batches of that length, which ``fn`` was written for); its results
        come back as `stream`'s do. ``fn`` is pickled to the executors, whose Python must import findmatches."""
        from pyspark.sql.pandas.types import from_arrow_schema

        def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in rebatched(batches, batch_rows):
                yield fn(batch)

        return self._written(lambda: self._sql(sql).mapInArrow(apply, from_arrow_schema(schema)), batch_rows)

    def _written(self, make: Callable[[], DataFrame], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The result of the DataFrame ``make`` gives, in batches of ``batch_rows`` rows: the executors write it
        as Parquet part files in a folder of the backend's scratch (`_scratch_folder`), which this process then
        reads a row group at a time, so that neither the driver nor this process holds more than a batch or
        two. (Fetched through Spark, a partition at a time, a 10M apply's partitions of half a GB each
        overflowed the driver's 1 GB heap, and the job waited forever for the result its thread had lost.)"""
        fs, folder, uri = self._scratch_folder()
        try:
            try:
                make().write.mode("overwrite").parquet(f"{uri}/result")
            except Exception as e:
                raise self._error(e) from e
            found = fs.get_file_info(pafs.FileSelector(f"{folder}/result"))
            parts = sorted(f.path for f in found if f.is_file and f.base_name.startswith("part-"))
            yield from rebatched(_parquet_batches(fs, parts, batch_rows), batch_rows)
        finally:
            with contextlib.suppress(OSError):  # what is left goes with the run's work dir or scratch prefix
                fs.delete_dir(folder)

    def _scratch_folder(self) -> tuple[pafs.FileSystem, str, str]:
        """A new folder for one result: its file system, its path there and its URI for Spark's writer. On
        this machine's disk (the folder must then be one every executor can write: `local[N]`, a cluster on
        this machine, or a shared mount), or under the ``s3a://`` scratch prefix, reached here with the
        connector's endpoint and credentials (`_object_store`)."""
        name = f"fm-stream-{uuid.uuid4().hex}"
        if self._scratch:
            fs, root = _object_store(self._scratch)
            return fs, f"{root}/{name}", f"s3a://{root}/{name}"
        folder = tempfile.mkdtemp(prefix="fm-stream-", dir=self._temp_dir)
        return pafs.LocalFileSystem(), folder, folder

    def register(self, name: str, data: pa.Table) -> None:
        try:
            df = self._spark.createDataFrame(data) if data.num_rows else self._empty(data.schema)
        except Exception as e:
            raise self._error(e) from e
        self._materialise(name, df)

    def _empty(self, schema: pa.Schema) -> DataFrame:
        from pyspark.sql.pandas.types import from_arrow_schema

        return self._spark.createDataFrame([], from_arrow_schema(schema))

    def write(self, sql: str, path: Path, file_format: Literal["csv", "parquet"]) -> None:
        table = self.query(sql)
        path.parent.mkdir(parents=True, exist_ok=True)
        if file_format == "csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)

    def write_records(self, sql: str, path: Path | str, file_format: Literal["csv", "parquet"]) -> None:
        """Spark's own writer: a folder ``path`` of part files, one per partition of the ordered result,
        written by the executors (the records never gather in the driver). ``path`` must be where every
        executor can write it, as the input must be where each can read it (docs/spark.md): a shared local
        path, or an object URI (``s3a://``)."""
        df = self._sql(sql)
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        writer = df.write.mode("overwrite")
        try:
            if file_format == "csv":
                # RFC 4180 quoting (a quote doubled), as DuckDB and pyarrow write it; Spark escapes with \\.
                writer.option("header", True).option("escape", '"').csv(str(path))
            else:
                writer.parquet(str(path))
        except Exception as e:
            raise self._error(e) from e

    def interrupt(self) -> None:
        self._interrupted = True
        if not self._closed:  # a stopped Connect session has no jobs left, and refuses calls
            self._spark.interruptTag(self._tag)

    def close(self) -> None:
        # Every view's data released while all views stand (on Spark Connect a view's plan is analysed again
        # to unpersist it, so the views it reads must still be there), then the views dropped.
        for df in self._views.values():
            df.unpersist()
        for name in self._views:
            self._spark.catalog.dropTempView(name)
        self._views.clear()
        if self._connected:
            # The backend's own session on the server (`__init__`): released now. Left to its finaliser, its
            # gRPC channel's close waits forever at interpreter exit (PySpark 4.3's Connect client), and a
            # process that ran the engine on Spark Connect never ends.
            self._closed = True
            self._spark.stop()
