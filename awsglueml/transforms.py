"""Glue's ``FindMatches`` and ``FindIncrementalMatches`` transforms, run in the caller's Spark session.

A Glue ETL script's ``FindMatches.apply(frame=…, transformId=…)`` asks the findmatches server that the standard
AWS configuration names (``AWS_ENDPOINT_URL_GLUE``, else ``AWS_ENDPOINT_URL``, which boto3 reads itself) for the
transform (``GetMLTransform``: its primary key and trade-offs) and its labels (``StartExportLabelsTaskRun`` into
``FINDMATCHES_LABELS_PATH``, a folder or ``s3://`` prefix the server may write and this process may read), then
matches the frame's records with the engine on its Spark backend, in the script's own Spark session: the frame
is written by Spark to a temporary Parquet folder, and the matches come back as a frame read from the Parquet
file the engine writes. No record passes through the driver, nor through the server.

Frames: a Spark ``DataFrame`` returns a ``DataFrame``; a Glue ``DynamicFrame`` (anything else with ``toDF()``)
returns ``DynamicFrame.fromDF(…, frame.glue_ctx, name)``. ``transformation_ctx``, ``info``,
``stageThreshold`` and ``totalThreshold`` are accepted and ignored. See docs/awsglueml.md.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from findmatches.engine.incremental import follow_merges
from findmatches.engine.types import ExistingMatches, MatchParams, RecordSource
from findmatches.io.labels import parse_label_files
from findmatches.io.uris import LocalUri, S3Uri, parse_uri

__all__ = ["FindIncrementalMatches", "FindMatches", "FindMatchesError"]

#: Where the server exports a transform's labels for this process to read: a local folder (plain path or
#: ``file://`` URI) under one of the server's ``--allow-path`` roots, or an ``s3://bucket/prefix``. Each call
#: exports into a new sub-folder of it and removes that afterwards. Default: a folder in the system's temp dir.
LABELS_PATH_ENV = "FINDMATCHES_LABELS_PATH"
#: Where the frames and the matches are staged as Parquet (default: the system's temp dir).
TMP_ENV = "FINDMATCHES_GLUEML_TMP"
#: How long to wait for the label export (seconds).
EXPORT_TIMEOUT_S = 600.0
MATCH_ID = "match_id"
SCORE = "match_confidence_score"
#: Columns of the output that a previous run added: not matched on, and replaced in the output.
_OUTPUT_COLUMNS = (MATCH_ID, SCORE, "match_explanation")

log = logging.getLogger("awsglueml")


class FindMatchesError(Exception):
    """The transform cannot be applied (not found, not taught, labels unreadable, bad input)."""


# -- frames -----------------------------------------------------------------------------------------


def _data_frame(frame: Any) -> Any:
    """The Spark DataFrame of ``frame`` (a DataFrame, or a Glue DynamicFrame: anything else with ``toDF()``)."""
    from pyspark.sql import DataFrame

    if isinstance(frame, DataFrame):
        return frame
    if hasattr(frame, "toDF"):
        return frame.toDF()
    raise FindMatchesError(f"Expected a Spark DataFrame or a Glue DynamicFrame, got {type(frame).__name__}.")


def _same_kind(result: Any, like: Any, name: str) -> Any:
    """``result`` (a DataFrame) as the kind of frame ``like`` is."""
    from pyspark.sql import DataFrame

    if isinstance(like, DataFrame):
        return result
    from awsglue.dynamicframe import DynamicFrame  # type: ignore[import-not-found]

    return DynamicFrame.fromDF(result, like.glue_ctx, name or "findmatches")


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


# -- the server -------------------------------------------------------------------------------------


def _glue() -> Any:
    """A Glue client on the standard AWS configuration (endpoint, credentials, region; us-east-1 if none)."""
    import boto3

    session = boto3.session.Session()
    return session.client("glue", region_name=session.region_name or "us-east-1")


def _transform(glue: Any, transform_id: str) -> MatchParams:
    """The transform's FindMatchesParameters; it must be READY (taught), as for StartFindMatchesTaskRun."""
    try:
        transform = glue.get_ml_transform(TransformId=transform_id)
    except Exception as e:
        raise FindMatchesError(f"Cannot read the ML transform {transform_id}: {e}") from e
    if transform.get("Status") != "READY":
        raise FindMatchesError(
            f"The ML transform {transform_id} is {transform.get('Status')}, not READY: import labels that hold "
            "a match and a non-match first."
        )
    fm = (transform.get("Parameters") or {}).get("FindMatchesParameters") or {}
    key = fm.get("PrimaryKeyColumnName")
    if not key:
        raise FindMatchesError(f"The ML transform {transform_id} has no PrimaryKeyColumnName.")
    return MatchParams(
        primary_key=key,
        precision_recall_tradeoff=float(fm.get("PrecisionRecallTradeoff", 0.5)),
        accuracy_cost_tradeoff=float(fm.get("AccuracyCostTradeoff", 0.5)),
        enforce_provided_labels=bool(fm.get("EnforceProvidedLabels", False)),
    )


def _wait(glue: Any, transform_id: str, run_id: str, timeout: float = EXPORT_TIMEOUT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        run: dict[str, Any] = glue.get_ml_task_run(TransformId=transform_id, TaskRunId=run_id)
        if run["Status"] in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"):
            return run
        if time.monotonic() > deadline:
            raise FindMatchesError(
                f"The label export {run_id} of {transform_id} did not finish in {timeout:.0f}s."
            )
        time.sleep(delay)
        delay = min(1.0, delay * 1.5)


def _labels(glue: Any, transform_id: str, primary_key: str) -> pa.Table:
    """The transform's labels (labeling_set_id, label, primary_key, record), exported by the server into a new
    folder under `LABELS_PATH_ENV` and read from there (the folder is removed afterwards)."""
    base = os.environ.get(LABELS_PATH_ENV) or str(Path(tempfile.gettempdir()) / "findmatches-labels")
    name = f"awsglueml-{uuid.uuid4().hex}"
    try:
        where = parse_uri(base)
    except Exception as e:
        raise FindMatchesError(f"{LABELS_PATH_ENV}={base!r} is not a folder or s3:// location: {e}") from e
    if isinstance(where, LocalUri):
        folder = where.path / name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder.as_uri() if where.file_scheme else str(folder)
    else:
        prefix = where.key.rstrip("/") + "/" + name + "/" if where.key.strip("/") else name + "/"
        target = f"s3://{where.bucket}/{prefix}"
    try:
        try:
            run_id = glue.start_export_labels_task_run(TransformId=transform_id, OutputS3Path=target)[
                "TaskRunId"
            ]
        except Exception as e:
            raise FindMatchesError(
                f"Cannot export the labels of {transform_id} to {target} (set {LABELS_PATH_ENV} to a folder "
                f"the server may write, e.g. under its --allow-path): {e}"
            ) from e
        run = _wait(glue, transform_id, run_id)
        if run["Status"] != "SUCCEEDED":
            raise FindMatchesError(
                f"The label export of {transform_id} to {target} ended {run['Status']}: {run.get('ErrorString')}"
            )
        files = _read_export(where, target, folder if isinstance(where, LocalUri) else None)
    finally:
        if isinstance(where, LocalUri):
            shutil.rmtree(folder, ignore_errors=True)
    if not files:
        raise FindMatchesError(f"The label export of {transform_id} wrote nothing to {target}.")
    return parse_label_files(files, primary_key).table


def _read_export(where: S3Uri | LocalUri, target: str, folder: Path | None) -> list[tuple[str, bytes]]:
    if folder is not None:
        return [(str(p), p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]
    import boto3

    s3 = boto3.client("s3")
    bucket, prefix = target[len("s3://") :].split("/", 1)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            files.append(
                (f"s3://{bucket}/{obj['Key']}", s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            )
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    return files


# -- staging ----------------------------------------------------------------------------------------


class _Staging:
    """A temporary folder for one call: inputs are removed when the call ends, the matches (which the returned
    frame reads lazily) when the process exits."""

    def __init__(self) -> None:
        base = os.environ.get(TMP_ENV) or None
        if base:
            Path(base).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="awsglueml-", dir=base))
        self.inputs = self.root / "in"
        self.output = self.root / "out"
        self.output.mkdir()
        atexit.register(shutil.rmtree, self.root, True)

    def write(self, df: Any, name: str) -> RecordSource:
        """``df`` written by Spark as Parquet, as a record source of its part files."""
        folder = self.inputs / name
        df.write.mode("overwrite").parquet(folder.as_uri())
        parts = tuple(sorted(folder.glob("*.parquet")))
        if not parts:
            raise FindMatchesError(
                f"Spark wrote no Parquet files to {folder}: {TMP_ENV} must name a folder that the driver and "
                "every executor share (local mode does)."
            )
        return RecordSource(paths=parts, format="parquet")

    def done_with_inputs(self) -> None:
        shutil.rmtree(self.inputs, ignore_errors=True)


def _check_columns(df: Any, key: str, what: str) -> None:
    if key not in df.columns:
        raise FindMatchesError(
            f"The {what} has no primary key column {key!r} (it has: {', '.join(df.columns)})."
        )


def _input(df: Any) -> Any:
    """The frame without the columns a previous run added (the output gets its own)."""
    drop = [c for c in df.columns if c in _OUTPUT_COLUMNS]
    return df.drop(*drop) if drop else df


def _enforced(frame: Any, key: str) -> pa.Table:
    """``enforcedMatches`` as labels: one labeling set per group (records sharing a ``match_id``, or a
    ``label``), every record labelled with its group. Collected to the driver: a frame of must-links is small."""
    df = _data_frame(frame)
    _check_columns(df, key, "enforcedMatches frame")
    group = MATCH_ID if MATCH_ID in df.columns else "label" if "label" in df.columns else None
    if group is None:
        raise FindMatchesError(
            "The enforcedMatches frame needs a match_id (or label) column naming each group."
        )
    rows = (
        df.select(_col(key).cast("string").alias("k"), _col(group).cast("string").alias("g"))
        .where("k IS NOT NULL AND g IS NOT NULL")
        .distinct()
        .collect()
    )
    members: dict[str, list[str]] = {}
    for row in rows:
        members.setdefault(row["g"], []).append(row["k"])
    sets, labels, keys = [], [], []
    for g, ks in members.items():
        if len(ks) < 2:
            continue
        for k in ks:
            sets.append(f"enforced-{g}")
            labels.append(f"enforced-{g}")
            keys.append(k)
    return pa.table(
        {
            "labeling_set_id": pa.array(sets, pa.string()),
            "label": pa.array(labels, pa.string()),
            "primary_key": pa.array(keys, pa.string()),
            "record": pa.array([None] * len(keys), pa.string()),
        }
    )


def _missing_labelled(
    labels: pa.Table, key: str, columns: list[str], frames: list[Any]
) -> RecordSource | None:
    """The labelled records (as the label file holds them) that none of ``frames`` holds, to match with the
    input so that the labels hold, as the server's StartFindMatchesTaskRun does; None when every one is there."""
    from pyspark.sql import functions as F

    records: dict[str, str] = {}
    for k, record in zip(
        labels.column("primary_key").to_pylist(), labels.column("record").to_pylist(), strict=True
    ):
        if k is not None and record:
            records.setdefault(str(k), record)
    if not records:
        return None
    present: set[str] = set()
    wanted = list(records)
    for df in frames:
        hits = (
            df.select(_col(key).cast("string").alias("k")).where(F.col("k").isin(wanted)).distinct().collect()
        )
        present.update(row["k"] for row in hits)
    missing = [k for k in wanted if k not in present]
    if not missing:
        return None
    values = [json.loads(records[k]) for k in missing]
    table = pa.table({c: pa.array([v.get(c) for v in values], pa.string()) for c in columns})
    log.info(
        "Matching %d labelled records that the input lacks with it, so that the labels hold.", len(missing)
    )
    return RecordSource(table=table)


def _run(
    transform_id: str,
    new: Any,
    existing: Any | None,
    enforced: Any | None,
    confidence: bool,
) -> Any:
    """Match ``new`` (a DataFrame), against ``existing`` when given; the output frame (and, incremental, the
    existing records with their ids, merges followed, before it)."""
    from findmatches.engine.api import find_matches
    from findmatches.engine.backends.spark import SparkBackend

    glue = _glue()
    params = _transform(glue, transform_id)
    key = params.primary_key
    labels = _labels(glue, transform_id, key)
    if enforced is not None:
        extra_labels = _enforced(enforced, key)
        if extra_labels.num_rows:
            labels = pa.concat_tables([labels.select(extra_labels.column_names), extra_labels])
            params = MatchParams(
                primary_key=key,
                precision_recall_tradeoff=params.precision_recall_tradeoff,
                accuracy_cost_tradeoff=params.accuracy_cost_tradeoff,
                enforce_provided_labels=True,
            )
    spark = new.sparkSession
    source_df = _input(new)
    _check_columns(source_df, key, "frame")
    if existing is not None:
        _check_columns(existing, key, "existing frame")
        if MATCH_ID not in existing.columns:
            raise FindMatchesError(
                "The existing frame has no match_id column: it must be a FindMatches output."
            )
    staging = _Staging()
    # Its stream's part files go under the staging folder too, which the executors see as they see the inputs.
    backend = SparkBackend(spark, temp_dir=staging.root)
    try:
        source = staging.write(source_df, "input")
        old = None
        if existing is not None:
            old = ExistingMatches(staging.write(existing, "existing"))
        frames = [source_df] + ([existing] if existing is not None else [])
        extra = _missing_labelled(labels, key, list(source_df.columns), frames)
        out = staging.output / "matches.parquet"
        merges = staging.output / "merges.csv" if existing is not None else None
        find_matches(
            source,
            params,
            labels,
            out_path=out,
            out_format="parquet",
            compute_confidence=confidence,
            log=log.info,
            extra=extra,
            temp_dir=staging.root,
            existing=old,
            merges_path=merges,
            backend=backend,
        )
    finally:
        backend.close()
        staging.done_with_inputs()
    result = spark.read.parquet(out.as_uri())
    if existing is None or merges is None:
        return result
    return _with_existing(spark, existing, result, merges)


def _with_existing(spark: Any, existing: Any, new: Any, merges: Path) -> Any:
    """The existing records (their ids, each retired id replaced by its successor) and then the new ones."""
    from pyspark.sql import functions as F

    table = pacsv.read_csv(merges) if merges.exists() and merges.stat().st_size else None
    ids = existing.withColumn(MATCH_ID, _col(MATCH_ID).cast("long"))
    if table is not None and table.num_rows:
        retired = table.column("retired_match_id").cast(pa.int64()).to_numpy(zero_copy_only=False)
        final = follow_merges(retired.copy(), table)
        pairs = [(int(r), int(s)) for r, s in zip(retired, final, strict=True)]
        m = spark.createDataFrame(pairs, "fm_retired long, fm_successor long")
        ids = (
            ids.join(F.broadcast(m), _col(MATCH_ID) == F.col("fm_retired"), "left")
            .withColumn(MATCH_ID, F.coalesce(F.col("fm_successor"), _col(MATCH_ID)))
            .drop("fm_retired", "fm_successor")
        )
        log.info("%d existing groups were merged into others.", len(pairs))
    return ids.unionByName(new, allowMissingColumns=True)


# -- the transforms ---------------------------------------------------------------------------------


class FindMatches:
    """Identifies matching records in a frame: each record once, with ``match_id`` (long) and, when asked,
    ``match_confidence_score`` (double)."""

    @classmethod
    def apply(
        cls,
        frame: Any,
        transformId: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        enforcedMatches: Any = None,
        computeMatchConfidenceScores: bool = False,
    ) -> Any:
        """Glue's signature; ``transformation_ctx``, ``info``, ``stageThreshold`` and ``totalThreshold`` are
        ignored. ``enforcedMatches``: a frame of primary keys and ``match_id``s; records sharing an id are
        put in one group (they become labels of their own, enforced)."""
        return cls()(
            frame,
            transformId,
            transformation_ctx,
            info,
            stageThreshold,
            totalThreshold,
            enforcedMatches,
            computeMatchConfidenceScores,
        )

    def __call__(
        self,
        frame: Any,
        transformId: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        enforcedMatches: Any = None,
        computeMatchConfidenceScores: bool = False,
    ) -> Any:
        df = _data_frame(frame)
        result = _run(transformId, df, None, enforcedMatches, bool(computeMatchConfidenceScores))
        return _same_kind(result, frame, transformation_ctx)


class FindIncrementalMatches:
    """Matches an incremental frame against an existing, matched one (a FindMatches output, ``match_id`` set):
    the existing records and then the incremental ones, each once, with ``match_id``. Existing records keep
    their ids, except that groups which new records join together take one of their ids (the first group's)."""

    @classmethod
    def apply(
        cls,
        existingFrame: Any,
        incrementalFrame: Any,
        transformId: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        enforcedMatches: Any = None,
        computeMatchConfidenceScores: bool = False,
    ) -> Any:
        """Glue's signature; the same arguments ignored as `FindMatches.apply`."""
        return cls()(
            existingFrame,
            incrementalFrame,
            transformId,
            transformation_ctx,
            info,
            stageThreshold,
            totalThreshold,
            enforcedMatches,
            computeMatchConfidenceScores,
        )

    def __call__(
        self,
        existingFrame: Any,
        incrementalFrame: Any,
        transformId: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        enforcedMatches: Any = None,
        computeMatchConfidenceScores: bool = False,
    ) -> Any:
        existing = _data_frame(existingFrame)
        new = _data_frame(incrementalFrame)
        result = _run(transformId, new, existing, enforcedMatches, bool(computeMatchConfidenceScores))
        return _same_kind(result, incrementalFrame, transformation_ctx)
