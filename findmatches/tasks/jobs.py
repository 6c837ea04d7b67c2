"""What each task type does: import and export labels, generate labeling sets, evaluate, find matches.

Each job reads its inputs through ``io``, calls the ``engine``, and writes results back through ``io``
or the store. Anything the user can fix raises ``TaskFailed`` with a message naming what and where.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

from findmatches.engine.backend import output_files
from findmatches.engine.backends import ENGINE_ENV, S3A_CONF_ENV, SCRATCH_ENV, SPARK_CONF_ENV, engine_name
from findmatches.engine.backends.spark import CONNECT_SCHEME, DEFAULT_MASTER
from findmatches.engine.charsets import as_utf8, is_utf8
from findmatches.engine.snapshot import RECORDS_FILE, SnapshotMismatch
from findmatches.engine.types import (
    CsvFormat,
    EngineError,
    EvaluationResult,
    ExistingMatches,
    KeepSnapshots,
    MatchParams,
    RecordSource,
)
from findmatches.io import labels as label_files
from findmatches.io import tables
from findmatches.io.errors import LabelFileError, StorageError, TableFormatError
from findmatches.io.storage import ObjectInfo, Storage
from findmatches.store import labels as label_store
from findmatches.store.database import Database
from findmatches.store.documents import table_document, transform_document
from findmatches.tasks import taught
from findmatches.tasks.capacity import spark_conf
from findmatches.tasks.runner import RunContext, TaskFailed, TaskRunner, curve_path
from findmatches.tasks.s3a import (
    TEMP_DIR_ENV,
    executors_share_this_disk,
    s3a_access_conf,
    s3a_uri,
    spark_s3a_conf,
    spark_scan_bytes,
)
from findmatches.tasks.snapshots import SnapshotStore
from findmatches.tasks.workdir import FetchRole
from findmatches.tasks.workers import WorkerFailed, Workers

ENGINE = "findmatches.engine.api"
# The file of an incremental run that names each retired match_id's successor.
MERGES = "merges.csv"
_MERGE_TYPES = {"retired_match_id": pa.int64(), "match_id": pa.int64()}


class Jobs:
    """The task functions the runner executes, keyed by TaskType in ``table()``."""

    def __init__(
        self,
        db: Database,
        storage: Storage,
        runner_ref: list[TaskRunner],
        workers: Workers,
        snapshots: SnapshotStore,
    ) -> None:
        self.db = db
        self.storage = storage
        self.workers = workers
        self.snapshots = snapshots
        self._runner_ref = runner_ref  # the runner is built after the jobs it runs

    def table(self) -> dict[str, Any]:
        return {
            "IMPORT_LABELS": self.import_labels,
            "EXPORT_LABELS": self.export_labels,
            "LABELING_SET_GENERATION": self.generate_labeling_set,
            "EVALUATION": self.evaluate,
            "FIND_MATCHES": self.find_matches,
        }

    # -- shared steps ----------------------------------------------------------------------------

    def _transform(self, run: RunContext) -> dict[str, Any]:
        doc = transform_document(self.db.conn, run.account_id, run.region, run.transform_id)
        if doc is None:
            raise TaskFailed(f"The transform {run.transform_id} no longer exists.")
        return doc

    @staticmethod
    def _params(transform: dict[str, Any]) -> MatchParams:
        fm = transform["Parameters"].get("FindMatchesParameters", {})
        return MatchParams(
            primary_key=fm["PrimaryKeyColumnName"],
            precision_recall_tradeoff=float(fm.get("PrecisionRecallTradeoff", 0.5)),
            accuracy_cost_tradeoff=float(fm.get("AccuracyCostTradeoff", 0.5)),
            enforce_provided_labels=bool(fm.get("EnforceProvidedLabels", False)),
        )

    def load_engine(self) -> None:
        """Start the workers' fork server, which imports the engine (heavy: scikit-learn); the first run
        would wait for it otherwise."""
        self.workers.warm()

    def _engine(
        self, run: RunContext, entry: str, transform: dict[str, Any], scratch: str | None, **kwargs: Any
    ) -> Any:
        """The engine's ``entry`` point, run in a worker process with the run's log and stop check, and (for
        the Spark engine) the executors the ``transform``'s capacity asks for and their ``scratch`` prefix
        (`_scratch`), removed when the run ends however it ends."""
        env = self._engine_env(run, transform)
        if scratch is not None:
            env[SCRATCH_ENV] = s3a_uri(scratch)
            # How the engine reads them back; a Connect server writes them with its own settings.
            env.setdefault(S3A_CONF_ENV, json.dumps(s3a_access_conf(self.storage.s3_endpoint_url)))
            run.log(f"Spark's executors write their results for the run under {scratch}")
        try:
            return self._in_worker(run, f"{ENGINE}:{entry}", engine_style=True, env=env, **kwargs)
        finally:
            if scratch is not None:
                try:
                    self.storage.delete_under(scratch)
                except StorageError as e:
                    run.log(f"could not remove the scratch prefix {scratch}: {e}")

    def _scratch(self, run: RunContext) -> str | None:
        """Where a run on Spark that reads through the S3A connector (`_s3a`) has its executors write the
        results the engine reads back, when that is not the run's work dir: under ``serve --spark-temp-dir``
        where it is set; else, where the executors may not share this machine's disk
        (`executors_share_this_disk`), in a hidden folder beside the run's S3 output. A Spark Connect
        server's executors, which write with the server's own S3 settings, use ``--spark-temp-dir`` only.
        None: the work dir."""
        name = f"_findmatches-scratch-{run.task_run_id}"
        configured = os.environ.get(TEMP_DIR_ENV)
        master = os.environ.get("FINDMATCHES_SPARK_MASTER") or DEFAULT_MASTER
        if _run_engine(run) == "spark" and master.startswith(CONNECT_SCHEME):
            return self.storage.join(configured, name) if configured else None
        if not self._s3a(run):
            return None
        if configured:
            return self.storage.join(configured, name)
        labeling = run.properties.get("LabelingSetGenerationTaskRunProperties") or {}
        out = run.arguments.get("OutputS3Path") or labeling.get("OutputS3Path")
        if not out or executors_share_this_disk(master) or self.storage.local_path(out) is not None:
            return None
        return self.storage.join(_folder_of(out), name)

    def _engine_env(self, run: RunContext, transform: dict[str, Any]) -> dict[str, str]:
        """A worker's environment for the run's engine: its executors, its engine where the run asked for
        another than the server's, its S3A settings (`_s3a`)."""
        env = {SPARK_CONF_ENV: json.dumps(spark_conf(transform))}
        if run.arguments.get("Engine"):  # this run asked for an engine other than the server's
            env[ENGINE_ENV] = str(run.arguments["Engine"])
        if s3a := self._s3a(run):
            env[S3A_CONF_ENV] = json.dumps(s3a)
        return env

    def _in_worker(
        self,
        run: RunContext,
        target: str,
        *,
        engine_style: bool,
        env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``target`` run in a worker process (`Workers`); what the engine refuses, and a worker that dies,
        fail the run with their message. Work on Spark (``env`` given, the run's engine Spark) runs in a worker
        kept for later runs with the same settings (`_keep_key`)."""
        try:
            return self.workers.call(
                target,
                kwargs,
                log_path=run.log_path,
                should_stop=run.should_stop,
                engine_style=engine_style,
                env=env,
                keep=_keep_key(run, env),
            )
        except SnapshotMismatch:
            raise  # `find_matches` reads the files instead
        except (EngineError, WorkerFailed) as e:
            raise TaskFailed(str(e)) from e

    def _s3a(self, run: RunContext) -> dict[str, str]:
        """The S3A connector's settings for a run whose Spark session reads S3 itself (`findmatches.tasks.s3a`):
        none for DuckDB, for Spark Connect (whose server has its own) or where the connector is not installed."""
        if _run_engine(run) != "spark" or os.environ.get("FINDMATCHES_SPARK_MASTER", "").startswith(
            CONNECT_SCHEME
        ):
            return {}
        return spark_s3a_conf(self.storage.s3_endpoint_url)

    def _records(
        self,
        run: RunContext,
        transform: dict[str, Any],
        location: str | None = None,
        direct: bool = False,
        direct_from_bytes: int = 0,
    ) -> RecordSource:
        """Fetch the transform's table's records (or those at ``location``, the run's input) into a folder of
        the run's work dir that no other fetch uses; or, for an engine step (``direct``) of a run on Spark
        with the S3A connector, name the S3 objects for the executors to read (`_s3a`)."""
        role: FetchRole = "table" if location is None else "input"
        source = transform["InputRecordTables"][0]
        table = table_document(
            self.db.conn, run.account_id, run.region, source["DatabaseName"], source["TableName"]
        )
        if table is None:
            raise TaskFailed(
                f"Problem fetching the data catalog schema: table {source['DatabaseName']}."
                f"{source['TableName']} no longer exists."
            )
        descriptor = table.get("StorageDescriptor") or {}
        serde = (descriptor.get("SerdeInfo") or {}).get("SerializationLibrary")
        classification = (table.get("Parameters") or {}).get("classification")
        # Records given to a FIND_MATCHES run may be in another format than the table's: their name decides.
        explicit = location and tables.format_from_extension(location)
        location = location or descriptor.get("Location")
        if not location:
            raise TaskFailed(
                f"Table {source['DatabaseName']}.{source['TableName']} has no "
                "StorageDescriptor.Location to read records from."
            )
        try:
            fmt = explicit or tables.detect_format(serde, classification, location)
        except TableFormatError as e:
            raise TaskFailed(str(e)) from e
        uris: tuple[str, ...] = ()
        paths: list[Path] = []
        try:
            if direct and self.storage.local_path(location) is None and self._s3a(run):
                objects = tables.list_table(self.storage, location)
                if sum(o.size for o in objects) >= direct_from_bytes:
                    uris = tuple(s3a_uri(o.uri) for o in objects)
            if not uris:
                fetched = run.work.fetch(role)
                paths = tables.fetch_table(self.storage, location, fmt, fetched)
        except StorageError as e:
            raise TaskFailed(f"Cannot read the records at {location}: {e}") from e
        if not paths and not uris:
            raise TaskFailed(f"No records found at {location}.")
        if uris:
            run.log(f"{role}: {len(uris)} {fmt} object(s) at {location}, read by Spark's executors (s3a)")
        else:
            run.log(f"{role}: {len(paths)} {fmt} file(s) from {location}")
        if fmt != "csv":
            _check_files(paths, fmt, None)
            return RecordSource(paths=tuple(paths), format=fmt, uris=uris)
        # CSV records (the table's, or others given to a FIND_MATCHES run) are laid out as the table says,
        # when the table is CSV itself; otherwise they have a header row and the engine detects the rest.
        try:
            table_format = tables.detect_format(serde, classification, descriptor.get("Location") or location)
        except TableFormatError:
            table_format = None
        try:
            options = _csv_options(table) if table_format == "csv" else tables.CsvOptions()
        except TableFormatError as e:
            raise TaskFailed(f"Cannot read the records at {location}: {e}") from e
        if paths and not is_utf8(options.encoding):
            # Copied as UTF-8 once here, for every reader after (the engine, the labelled-record scans).
            try:
                paths = list(as_utf8(paths, options.encoding, fetched / "utf8"))
            except EngineError as e:
                raise TaskFailed(f"Cannot read the records at {location}: {e}") from e
            run.log(
                f"{role}: {len(paths)} file(s) read as {options.encoding} (the table's serialization.encoding)"
            )
            options = dataclasses.replace(options, encoding=None)
        _check_files(paths, fmt, options)
        return RecordSource(paths=tuple(paths), format=fmt, csv=_engine_csv(options), uris=uris)

    def _labels(self, transform_id: str) -> pa.Table:
        return label_store.load_labels(self.db.conn, transform_id)

    # -- the task types --------------------------------------------------------------------------

    def import_labels(self, run: RunContext) -> None:
        props = run.properties["ImportLabelsTaskRunProperties"]
        path, replace = props["InputS3Path"], bool(props.get("Replace", False))
        transform = self._transform(run)
        key = self._params(transform).primary_key
        try:
            files = [(o.uri, self.storage.read_bytes(o.uri)) for o in self.storage.list_objects(path)]
        except StorageError as e:
            raise TaskFailed(f"Cannot access the label file at {path}. {e}") from e
        try:
            parsed = label_files.parse_label_files(files, key)
            run.check()
            label_files.check_known_keys(parsed, self._labelled_keys_present(run, transform, key, parsed))
        except LabelFileError as e:
            raise TaskFailed(f"Invalid label file: {e}") from e
        run.check()
        with self._runner_ref[0].label_lock(run.transform_id), self.db.write() as conn:
            run.check()  # a cancel that arrives before the commit leaves the labels as they were
            label_store.write_labels(conn, run.transform_id, parsed.table, replace)
            run.succeed_in(conn)  # the labels and the run's success: one transaction
        run.log(f"imported {parsed.table.num_rows} labelled records (replace={replace})")

    def _labelled_keys_present(
        self, run: RunContext, transform: dict[str, Any], key: str, parsed: label_files.ParsedLabels
    ) -> list[str]:
        """The keys of the ``parsed`` label files that the transform's table holds, scanned so that only those
        keys, not the table's, reach this process: by Spark's executors in a worker where they read the table
        from S3 (`_records`) and it holds at least `spark_scan_bytes`, else by DuckDB here over the fetched
        files (a scan of a few keys' worth of memory, so that an import needs no engine worker and passes
        under a tight ``--run-memory-mb``)."""
        least = spark_scan_bytes()
        records = self._records(run, transform, direct=True, direct_from_bytes=least)
        labelled = sorted(set(parsed.table.column("primary_key").to_pylist()))
        found: list[str] | None
        if records.uris:
            found = self._in_worker(
                run,
                "findmatches.tasks.taught:labelled_keys_present_on_spark",
                engine_style=False,
                env=self._engine_env(run, transform),
                records=records,
                key=key,
                labelled=labelled,
            )
        else:
            try:
                found = taught.labelled_keys_present(records, key, labelled, run.work.spill)
            except duckdb.Error as e:
                raise TaskFailed(f"Cannot read the transform's table: {str(e).splitlines()[0]}") from e
        if found is None:
            raise TaskFailed(f"The transform's table has no column {key!r}, its primary key.")
        where = "Spark's executors" if records.uris else "a scan"
        run.log(f"labels: {len(found)} of {len(labelled)} labelled keys found in the table by {where}")
        return found

    def export_labels(self, run: RunContext) -> None:
        out = run.properties["ExportLabelsTaskRunProperties"]["OutputS3Path"]
        transform = self._transform(run)
        labels = self._labels(run.transform_id)
        if labels.num_rows == 0:
            raise TaskFailed(f"No labelset exists for transformId {run.transform_id}.")
        columns = label_store.export_columns(labels, [c["Name"] for c in transform.get("Schema", [])])
        name = f"{run.transform_id}_labels_{_stamp(run)}_{uuid.UUID(run.task_run_id)}.csv"
        self._write(out, name, label_files.write_label_file(labels, columns))
        run.log(f"exported {labels.num_rows} labelled records as {name}")

    def generate_labeling_set(self, run: RunContext) -> None:
        out = run.properties["LabelingSetGenerationTaskRunProperties"]["OutputS3Path"]
        transform = self._transform(run)
        records = self._records(run, transform, direct=True)
        local = run.work.output("labeling_set.csv")
        count = self._engine(
            run,
            "generate_labeling_set",
            transform,
            self._scratch(run),
            source=records,
            params=self._params(transform),
            labels=self._labels(run.transform_id),
            out_path=local,
            seed=uuid.UUID(run.task_run_id).int % 2**31,
            temp_dir=run.work.spill,
        )
        self._upload(out, f"{run.transform_id}_labeling_set_{_stamp(run)}_{run.task_run_id}.csv", local)
        run.log(f"labeling set: {count} records")

    def evaluate(self, run: RunContext) -> None:
        transform = self._transform(run)
        records = self._records(run, transform, direct=True)
        result: EvaluationResult = self._engine(
            run,
            "evaluate",
            transform,
            self._scratch(run),
            source=records,
            params=self._params(transform),
            labels=self._labels(run.transform_id),
            temp_dir=run.work.spill,
        )
        metrics = {
            "TransformType": "FIND_MATCHES",
            "FindMatchesMetrics": {
                "AreaUnderPRCurve": result.area_under_pr_curve,
                "Precision": result.precision,
                "Recall": result.recall,
                "F1": result.f1,
                "ConfusionMatrix": {
                    "NumTruePositives": result.true_positives,
                    "NumFalsePositives": result.false_positives,
                    "NumTrueNegatives": result.true_negatives,
                    "NumFalseNegatives": result.false_negatives,
                },
                "ColumnImportances": [
                    {"ColumnName": c.column, "Importance": c.importance} for c in result.column_importances
                ],
            },
        }
        run.check()
        # The curve is ours, not Glue's: kept beside the run's log for the console (`curve_path`).
        curve = {"threshold": result.threshold, "points": [list(p) for p in result.curve]}
        curve_path(run.log_path).write_text(json.dumps(curve), encoding="utf-8")
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT doc FROM transforms WHERE transform_id=?", (run.transform_id,)
            ).fetchone()
            if row is None:
                raise TaskFailed("The transform was deleted during the evaluation.")
            doc = json.loads(row["doc"])
            doc["EvaluationMetrics"] = metrics
            conn.execute(
                "UPDATE transforms SET doc=? WHERE transform_id=?", (json.dumps(doc), run.transform_id)
            )
            run.succeed_in(conn)
        run.log(f"evaluation: F1={result.f1:.4f} AUPRC={result.area_under_pr_curve:.4f}")

    def find_matches(self, run: RunContext) -> None:
        args = run.arguments
        location = args.get("ExistingMatchesS3Path")
        scratch = self._scratch(run)
        if not location:
            self._find_matches(run, scratch, None)
            return
        objects, merges = self._existing_objects(location, args["OutputS3Path"])
        # Snapshots are folders on this machine's disk, for executors that see it (no scratch prefix).
        kept = self.snapshots.cover(run.transform_id, objects) if scratch is None else None
        if kept is not None:
            run.log(
                f"existing matches: {len(objects)} file(s) at {location}, read from {len(kept)} kept snapshot(s)"
            )
            try:
                self._find_matches(
                    run,
                    scratch,
                    ExistingMatches(merges=self._merges(run, location, merges), snapshots=tuple(kept)),
                )
                return
            except SnapshotMismatch as e:
                run.log(f"the kept snapshots do not fit this run ({e}); reading the existing files")
                self.snapshots.drop(kept)
        existing = self._existing(run, location, objects + merges)
        self._find_matches(run, scratch, existing, objects)

    def _find_matches(
        self,
        run: RunContext,
        scratch: str | None,
        existing: ExistingMatches | None,
        existing_objects: list[ObjectInfo] | None = None,
    ) -> None:
        """A FIND_MATCHES run (its Spark executors' ``scratch`` prefix: `_scratch`); an incremental one
        (``existing``) keeps snapshots of its output and, when it read them from files (``existing_objects``),
        of the existing records (`SnapshotStore`)."""
        args = run.arguments
        out: str = args["OutputS3Path"]
        transform = self._transform(run)
        params, labels = self._params(transform), self._labels(run.transform_id)
        scan = bool(args.get("InputS3Path") and labels.num_rows)
        records = self._records(run, transform, args.get("InputS3Path"), direct=True)
        extra: RecordSource | None = None
        if scan:
            # A scan of the whole input for the labelled records of the table it lacks: in a worker, as the
            # engine's work is; on Spark's executors where they read the records from S3 themselves, else by
            # DuckDB on the files fetched here.
            table_records = self._records(run, transform, direct=bool(records.uris))
            if records.uris and not table_records.uris:  # the table is local: the input is fetched too
                records = self._records(run, transform, args.get("InputS3Path"))
            known = existing.records if existing is not None else None
            on_spark = bool(records.uris or (known is not None and known.uris))
            if existing is not None and existing.snapshots:
                known = RecordSource(
                    paths=tuple(f for s in existing.snapshots for f in output_files(Path(s) / RECORDS_FILE)),
                    format="parquet",
                )
            extra, added = self._in_worker(
                run,
                "findmatches.tasks.taught:missing_labelled_records" + ("_on_spark" if on_spark else ""),
                engine_style=False,
                env=self._engine_env(run, transform) if on_spark else None,
                input_records=records,
                table_records=table_records,
                key=params.primary_key,
                labelled=labels.column("primary_key").to_pylist(),
                dest=run.work.labels / "labelled.parquet",
                also=known,
                also_key="_pk" if existing is not None and existing.snapshots else None,
            )
            if added:
                run.log(f"added {len(added)} labelled records of the transform's table that the input lacks")
        parquet = out.rstrip("/").endswith(".parquet")
        local = run.work.output("matches.parquet" if parquet else "matches.csv")
        # Where the executors read the records from S3, they write the output there too: into a hidden folder
        # beside it, whose part files are then copied inside S3 to the names Glue gives them.
        staging = self._staging(run, out) if records.uris and not self.storage.local_path(out) else None
        try:
            _, count = self._run_find_matches(
                run,
                transform,
                records,
                params,
                labels,
                extra,
                existing,
                existing_objects,
                staging or local,
                scratch,
            )
        finally:
            if staging is not None:
                self.storage.delete_under(staging)
        run.log(f"find matches: wrote {count} records to {out}" + (" through s3a" if staging else ""))

    def _run_find_matches(
        self,
        run: RunContext,
        transform: dict[str, Any],
        records: RecordSource,
        params: MatchParams,
        labels: pa.Table,
        extra: RecordSource | None,
        existing: ExistingMatches | None,
        existing_objects: list[ObjectInfo] | None,
        output: Path | str,
        scratch: str | None,
    ) -> tuple[list[str], int]:
        """The engine's find-matches run writing ``output`` (a local path, or an S3 staging folder), then its
        output, merges and snapshots where they go; the objects written and the records' count."""
        args = run.arguments
        out: str = args["OutputS3Path"]
        parquet = out.rstrip("/").endswith(".parquet")
        merges = run.work.output(MERGES) if existing else None
        keep = None
        if existing is not None and scratch is not None:
            run.log("kept no snapshot for later incremental runs: Spark's executors may not share this disk")
        elif existing is not None:
            keep = KeepSnapshots(
                output=run.work.root / "snapshot-output",
                existing=run.work.root / "snapshot-existing" if existing_objects else None,
            )
        count = self._engine(
            run,
            "find_matches",
            transform,
            scratch,
            source=records,
            params=params,
            labels=labels,
            out_path=s3a_uri(output) if isinstance(output, str) else output,
            out_format="parquet" if parquet else "csv",
            compute_confidence=bool(args.get("ComputeMatchConfidenceScores")),
            compute_explanations=bool(args.get("ComputeMatchExplanations")),
            temp_dir=run.work.spill,
            extra=extra,
            existing=existing,
            merges_path=merges,
            keep=keep,
        )
        run.check()
        if merges is not None:
            # The merges go first: a reader that sees the matches can follow them.
            target = out.rstrip("/") + "." + MERGES if parquet else self.storage.join(out, MERGES)
            self._upload_to(target, merges, move=True)
        if isinstance(output, str):
            targets = self._copy_staged(run, out, output, parquet)
        else:
            targets = self._upload_output(run, out, output, parquet)
        if keep is not None:
            self._keep_snapshots(run, keep, targets, existing_objects or [])
        return targets, count

    def _staging(self, run: RunContext, out: str) -> str:
        """A hidden folder for the executors' part files: in the output folder, or beside a Parquet file."""
        return self.storage.join(_folder_of(out), f"_findmatches-staging-{run.task_run_id}")

    def _upload_output(self, run: RunContext, out: str, local: Path, parquet: bool) -> list[str]:
        """Upload the engine's output (one file, or Spark's part files: `output_files`) to ``out``
        (`_output_targets`); return the objects written."""
        parts = output_files(local)
        targets = self._output_targets(run, out, parquet, len(parts))
        for part, target in zip(parts, targets, strict=True):
            self._upload_to(target, part, move=True)
        return targets

    def _copy_staged(self, run: RunContext, out: str, staging: str, parquet: bool) -> list[str]:
        """Copy the part files that Spark's executors wrote under the S3 ``staging`` folder to ``out``, inside
        S3 (`_output_targets`); return the objects written."""
        parts = sorted(o.uri for o in self.storage.list_objects(staging) if o.name.startswith("part-"))
        targets = self._output_targets(run, out, parquet, len(parts))
        for part, target in zip(parts, targets, strict=True):
            self.storage.copy(part, target)
        return targets

    def _output_targets(self, run: RunContext, out: str, parquet: bool, parts: int) -> list[str]:
        """Where the output's ``parts`` go, named as Glue names part files under the output prefix (a Parquet
        ``out`` names the file itself, or the folder by that name for several parts)."""
        if parquet and parts == 1:
            return [out.rstrip("/")]
        folder, ext = (out.rstrip("/"), "parquet") if parquet else (out, "csv")
        return [self.storage.join(folder, f"part-{i:05d}-{run.task_run_id}.{ext}") for i in range(parts)]

    def _keep_snapshots(
        self, run: RunContext, keep: KeepSnapshots, output: list[str], existing: list[ObjectInfo]
    ) -> None:
        """Keep the snapshots the engine wrote; a failure to is logged, not the run's (they only save time)."""
        try:
            if keep.existing is not None and existing:
                self.snapshots.keep(run.transform_id, keep.existing, existing)
            if keep.output is not None:
                objects = [o for uri in output for o in self.storage.list_objects(uri)]
                self.snapshots.keep(run.transform_id, keep.output, objects)
        except (OSError, StorageError) as e:
            run.log(f"kept no snapshot for later incremental runs: {e}")

    def _existing_objects(self, location: str, output: str) -> tuple[list[ObjectInfo], list[ObjectInfo]]:
        """The existing matches' data objects and merges files (as `_existing` reads them), with versions."""
        try:
            objects = tables.list_table(self.storage, location, exclude=output)
        except (StorageError, TableFormatError) as e:
            raise TaskFailed(f"Cannot read the existing matches at {location}: {e}") from e
        merges = [o for o in objects if _is_merges(o.name)]
        return [o for o in objects if o not in merges], merges

    def _merges(self, run: RunContext, location: str, objects: list[ObjectInfo]) -> pa.Table | None:
        """The rows of the merges files among ``objects`` (listed under ``location``), fetched (`_read_merges`)."""
        try:
            paths = tables.fetch_objects(self.storage, location, objects, run.work.fetch("existing"))
        except StorageError as e:
            raise TaskFailed(f"Cannot read the existing merges: {e}") from e
        return _read_merges(paths)

    def _existing(self, run: RunContext, location: str, objects: list[ObjectInfo]) -> ExistingMatches:
        """The records previous runs matched (their output: CSV with a header, or Parquet, by file name) and
        the merges files found beside them (``merges.csv``, ``*.merges.csv``): the ``objects`` that
        `_existing_objects` listed (without this run's own output, which a retry would find)."""
        direct = self.storage.local_path(location) is None and bool(self._s3a(run))
        data_objects = [o for o in objects if not _is_merges(o.name)]
        if not data_objects:
            raise TaskFailed(f"No matched records found at {location}.")
        formats = {tables.format_from_extension(o.name) or "csv" for o in data_objects}
        if len(formats) > 1:
            raise TaskFailed(
                f"The existing matches at {location} mix file formats: {', '.join(sorted(formats))}."
            )
        fmt = formats.pop()
        if fmt == "json":
            raise TaskFailed(
                f"The existing matches at {location} must be CSV or Parquet, as find-matches writes."
            )
        merges = self._merges(run, location, [o for o in objects if _is_merges(o.name)])
        merged = f"{merges.num_rows if merges is not None else 0} merge(s)"
        if direct:  # Spark's executors read them from S3 (`_records`)
            run.log(
                f"existing matches: {len(data_objects)} {fmt} object(s) at {location}, read by Spark's "
                f"executors (s3a), and {merged}"
            )
            uris = tuple(s3a_uri(o.uri) for o in data_objects)
            return ExistingMatches(RecordSource(format=fmt, uris=uris), merges)
        try:
            data = tables.fetch_objects(self.storage, location, data_objects, run.work.fetch("existing"))
        except (StorageError, TableFormatError) as e:
            raise TaskFailed(f"Cannot read the existing matches at {location}: {e}") from e
        # No table describes them: they are UTF-8, as a run writes its output.
        options = tables.CsvOptions() if fmt == "csv" else None
        _check_files(data, fmt, options, f"the existing matches at {location}", declarable=False)
        run.log(f"existing matches: {len(data)} {fmt} file(s) from {location}, and {merged}")
        return ExistingMatches(RecordSource(paths=tuple(data), format=fmt), merges)

    # -- output ----------------------------------------------------------------------------------

    def _write(self, folder: str, name: str, data: bytes) -> None:
        try:
            self.storage.write_bytes(self.storage.join(folder, name), data)
        except StorageError as e:
            raise TaskFailed(f"Cannot write to {folder}: {e}") from e

    def _upload(self, folder: str, name: str, local: Path, move: bool = False) -> None:
        self._upload_to(self.storage.join(folder, name), local, move=move)

    def _upload_to(self, uri: str, local: Path, move: bool = False) -> None:
        try:
            self.storage.upload_file(local, uri, move=move)
        except StorageError as e:
            raise TaskFailed(str(e)) from e  # e names the URI and S3's error


def _folder_of(out: str) -> str:
    """The folder of an output location: itself, or the folder of a Parquet file's name."""
    return out.rstrip("/").rsplit("/", 1)[0] if out.rstrip("/").endswith(".parquet") else out


def _stamp(run: RunContext) -> str:
    """The time in an output file's name: the run's start, so that an attempt after a kill or a retry writes
    the name the first attempt wrote, and a run leaves one file."""
    return dt.datetime.fromtimestamp(run.started, dt.UTC).strftime("%Y-%m-%d_%H_%M_%S")


def _is_merges(name: str) -> bool:
    """Whether a file of the existing matches is a merges file (``merges.csv``, ``*.merges.csv``)."""
    base = name.rsplit("/", 1)[-1]
    return base == MERGES or base.endswith("." + MERGES)


def _read_merges(paths: list[Path]) -> pa.Table | None:
    """The merges files' rows (retired_match_id, match_id), all files together; None when there are none."""
    if not paths:
        return None
    try:
        parts = [
            pa_csv.read_csv(p, convert_options=pa_csv.ConvertOptions(column_types=_MERGE_TYPES)).select(
                list(_MERGE_TYPES)
            )
            for p in paths
        ]
    except (pa.ArrowInvalid, KeyError) as e:
        raise TaskFailed(f"Cannot read the existing merges: {e}") from e
    return pa.concat_tables(parts)


def _check_files(
    paths: list[Path],
    fmt: tables.TableFormat,
    options: tables.CsvOptions | None,
    what: str = "the records",
    declarable: bool = True,
) -> None:
    """Refuse binary, UTF-16 and oversized-line files before a parser takes them whole (``check_files``;
    ``what`` the files are, for the error)."""
    try:
        tables.check_files(paths, fmt, options, declarable)
    except TableFormatError as e:
        raise TaskFailed(f"Cannot read {what}: {e}") from e


# -- the table's CSV layout ------------------------------------------------------------------------


def _csv_options(table: dict[str, Any]) -> tables.CsvOptions:
    """How the catalog table's CSV files are written: its SerDe parameters (delimiter, quote, escape) and
    ``skip.header.line.count`` (0: no header row, the StorageDescriptor's Columns name the fields)."""
    descriptor = table.get("StorageDescriptor") or {}
    serde = (descriptor.get("SerdeInfo") or {}).get("Parameters")
    columns = [str(c["Name"]) for c in descriptor.get("Columns") or [] if c.get("Name")]
    return tables.csv_options(serde, table.get("Parameters"), columns)


def _keep_key(run: RunContext, env: dict[str, str] | None) -> str | None:
    """Where a run's work goes to a kept worker (`Workers.call`): Spark's on a master whose driver lives in the
    worker (not a Spark Connect server, whose driver is kept by the server), keyed by the settings its
    application starts with (the executors the transform's capacity asks for, the S3A connector's)."""
    master = os.environ.get("FINDMATCHES_SPARK_MASTER") or DEFAULT_MASTER
    if env is None or _run_engine(run) != "spark" or master.startswith(CONNECT_SCHEME):
        return None
    return json.dumps({k: v for k, v in env.items() if k != SCRATCH_ENV}, sort_keys=True)


def _run_engine(run: RunContext) -> str:
    """The engine a run runs on: the one it asked for (``Engine``), else the server's."""
    return str(run.arguments.get("Engine") or engine_name())


def _engine_csv(options: tables.CsvOptions) -> CsvFormat:
    return CsvFormat(
        delimiter=options.delimiter,
        quote=options.quote_char,
        escape=options.escape_char,
        header=options.header,
        names=options.column_names,
        encoding=options.encoding,
    )
