"""ML task runs: the Start* operations with their synchronous checks, and Get/GetRuns/Cancel."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from findmatches.aws.errors import (
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    InvalidInputException,
    MLTransformNotReadyException,
    ResourceNumberLimitExceededException,
)
from findmatches.aws.protocol import timestamp_now
from findmatches.config import spark_unavailable
from findmatches.io.errors import InvalidPathError, ObjectNotFoundError, PathNotAllowedError, StorageError
from findmatches.io.storage import Storage
from findmatches.service.context import RequestContext
from findmatches.service.inline import inline
from findmatches.service.paging import page
from findmatches.service.transforms import load_transform
from findmatches.store.database import Database
from findmatches.tasks.runner import ACTIVE, TaskRunner
from findmatches.tasks.snapshots import SnapshotStore

MAX_RUNS_PER_TRANSFORM = 3
MAX_RUNS_PER_ACCOUNT = 30
MAX_LABEL_FILE_MB = 10
_SORT_COLUMNS = {"TASK_RUN_TYPE": "task_type", "STATUS": "status", "STARTED": "started"}


class TaskRunOperations:
    """StartImportLabelsTaskRun … CancelMLTaskRun, plus findmatches' StartFindMatchesTaskRun."""

    db: Database
    storage: Storage
    runner: TaskRunner
    snapshots: SnapshotStore

    # -- starting runs ---------------------------------------------------------------------------

    def _start(
        self,
        ctx: RequestContext,
        transform_id: str,
        task_type: str,
        properties: dict[str, Any],
        require_ready: bool = False,
        require_labels: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a STARTING run (within the concurrency limits) and hand it to the runner.

        ``arguments`` ride along in the stored document for the task, without showing on the wire.
        """
        task_run_id = uuid.uuid4().hex
        now = timestamp_now()
        doc = {
            "TransformId": transform_id,
            "TaskRunId": task_run_id,
            "LogGroupName": str(self.runner.log_path(task_run_id)),
            "Properties": {"TaskType": task_type, **properties},
            "Arguments": arguments or {},
        }
        with self.db.write() as conn:
            transform = load_transform(conn, ctx, transform_id)
            if require_ready and transform["Status"] != "READY":
                raise MLTransformNotReadyException(
                    "This operation can only be applied to a transform that is in a READY state."
                )
            if require_labels and transform["LabelCount"] == 0:
                raise EntityNotFoundException(
                    f"No labelset exists for transformId {transform_id} in account id {ctx.account_id}."
                )
            self._check_concurrency(conn, ctx, transform_id)
            conn.execute(
                "INSERT INTO task_runs (task_run_id, transform_id, account, region, task_type, status, started, "
                "last_modified, doc) VALUES (?, ?, ?, ?, ?, 'STARTING', ?, ?, ?)",
                (task_run_id, transform_id, ctx.account_id, ctx.region, task_type, now, now, json.dumps(doc)),
            )
        self.runner.submit(task_run_id)
        return {"TaskRunId": task_run_id}

    def _check_concurrency(self, conn: sqlite3.Connection, ctx: RequestContext, transform_id: str) -> None:
        marks = ",".join("?" * len(ACTIVE))
        per_transform = conn.execute(
            f"SELECT COUNT(*) FROM task_runs WHERE transform_id=? AND status IN ({marks})",
            (transform_id, *ACTIVE),
        ).fetchone()[0]
        if per_transform >= MAX_RUNS_PER_TRANSFORM:
            raise ConcurrentRunsExceededException(
                f"ML Task Runs count {per_transform + 1} has exceeded the transform limit of "
                f"{MAX_RUNS_PER_TRANSFORM} task runs."
            )
        per_account = conn.execute(
            f"SELECT COUNT(*) FROM task_runs WHERE account=? AND region=? AND status IN ({marks})",
            (ctx.account_id, ctx.region, *ACTIVE),
        ).fetchone()[0]
        if per_account >= MAX_RUNS_PER_ACCOUNT:
            raise ConcurrentRunsExceededException(
                f"ML Task Runs count {per_account + 1} has exceeded the limit of {MAX_RUNS_PER_ACCOUNT} task runs."
            )

    def _check_output_path(self, path: str) -> None:
        try:
            self.storage.check(path)
        except InvalidPathError as e:
            raise InvalidInputException(f"Invalid output path {path}: {e}") from e
        except PathNotAllowedError as e:
            raise InvalidInputException(f"Cannot write to {path}: {e}") from e
        except StorageError as e:
            raise InvalidInputException(f"Cannot access the output path {path}. {e}") from e

    def start_import_labels_task_run(
        self, ctx: RequestContext, transform_id: str, input_s3_path: str, replace_all_labels: bool = False
    ) -> dict[str, Any]:
        load_transform(self.db.conn, ctx, transform_id)
        try:
            objects = self.storage.list_objects(input_s3_path)
        except (InvalidPathError, PathNotAllowedError) as e:
            raise InvalidInputException(f"Invalid label file path. {e}") from e
        except ObjectNotFoundError as e:
            raise InvalidInputException(f"Cannot access the label file at {input_s3_path}. {e}") from e
        except StorageError as e:
            raise InvalidInputException(f"Cannot access the label file at {input_s3_path}. {e}") from e
        if not objects:
            raise InvalidInputException(
                f"Cannot access the label file at {input_s3_path}. No object exists at that path."
            )
        size = sum(o.size for o in objects)
        if size == 0:
            raise InvalidInputException("Invalid label file of size 0.")
        if size > MAX_LABEL_FILE_MB * 1024 * 1024:
            raise ResourceNumberLimitExceededException(
                f"Label file has exceeded the limit of {MAX_LABEL_FILE_MB} MB."
            )
        for obj in objects:  # found is not yet readable: a denied object fails the Start call, not the run
            try:
                if obj.size:
                    self.storage.check_readable(obj.uri)
            except StorageError as e:
                raise InvalidInputException(f"Cannot access the label file at {input_s3_path}. {e}") from e
        properties = {
            "ImportLabelsTaskRunProperties": {
                "InputS3Path": input_s3_path,
                "Replace": bool(replace_all_labels),
            }
        }
        return self._start(ctx, transform_id, "IMPORT_LABELS", properties)

    def start_export_labels_task_run(
        self, ctx: RequestContext, transform_id: str, output_s3_path: str
    ) -> dict[str, Any]:
        load_transform(self.db.conn, ctx, transform_id)
        self._check_output_path(output_s3_path)
        properties = {"ExportLabelsTaskRunProperties": {"OutputS3Path": output_s3_path}}
        return self._start(ctx, transform_id, "EXPORT_LABELS", properties, require_labels=True)

    def start_ml_labeling_set_generation_task_run(
        self, ctx: RequestContext, transform_id: str, output_s3_path: str
    ) -> dict[str, Any]:
        load_transform(self.db.conn, ctx, transform_id)
        self._check_output_path(output_s3_path)
        properties = {"LabelingSetGenerationTaskRunProperties": {"OutputS3Path": output_s3_path}}
        return self._start(ctx, transform_id, "LABELING_SET_GENERATION", properties)

    def start_ml_evaluation_task_run(self, ctx: RequestContext, transform_id: str) -> dict[str, Any]:
        return self._start(ctx, transform_id, "EVALUATION", {}, require_ready=True)

    def start_find_matches_task_run(
        self,
        ctx: RequestContext,
        transform_id: str,
        output_s3_path: str,
        input_s3_path: str | None = None,
        compute_match_confidence_scores: bool = False,
        compute_match_explanations: bool = False,
        existing_matches_s3_path: str | None = None,
        engine: str | None = None,
    ) -> dict[str, Any]:
        load_transform(self.db.conn, ctx, transform_id)
        self._check_output_path(output_s3_path)
        if engine is not None:
            if engine not in ("duckdb", "spark"):
                raise InvalidInputException(f"Engine must be duckdb or spark, not {engine[:100]!r}.")
            if engine == "spark" and (reason := spark_unavailable()) is not None:
                raise InvalidInputException(f"This server cannot run Engine spark: {reason}.")
        if existing_matches_s3_path is not None and input_s3_path is None:
            raise InvalidInputException(
                "ExistingMatchesS3Path needs InputS3Path: the new records to match against the existing ones."
            )
        if existing_matches_s3_path is not None and (
            output_s3_path.rstrip("/") == existing_matches_s3_path.rstrip("/")
        ):
            raise InvalidInputException(
                f"OutputS3Path is ExistingMatchesS3Path ({output_s3_path}): each run's merges.csv would replace "
                "the last one's. Write each run to a folder of its own (one inside the existing matches' folder "
                "is read by the next run, not by this one)."
            )
        for what, path in (("input", input_s3_path), ("existing matches", existing_matches_s3_path)):
            if path is None:
                continue
            try:
                if not self.storage.list_objects(path):
                    raise ObjectNotFoundError(f"no object at {path}")
            except (InvalidPathError, PathNotAllowedError) as e:
                raise InvalidInputException(f"Invalid {what} path {path}: {e}") from e
            except StorageError as e:
                raise InvalidInputException(f"Cannot access the {what} at {path}. {e}") from e
        arguments = {
            "OutputS3Path": output_s3_path,
            "InputS3Path": input_s3_path,
            "ExistingMatchesS3Path": existing_matches_s3_path,
            "Engine": engine,
            "ComputeMatchConfidenceScores": bool(compute_match_confidence_scores),
            "ComputeMatchExplanations": bool(compute_match_explanations),
        }
        return self._start(
            ctx,
            transform_id,
            "FIND_MATCHES",
            {"FindMatchesTaskRunProperties": {}},
            require_ready=True,
            arguments=arguments,
        )

    # -- reading and cancelling ------------------------------------------------------------------

    def _run_row(
        self, conn: sqlite3.Connection, ctx: RequestContext, transform_id: str, task_run_id: str
    ) -> sqlite3.Row:
        load_transform(conn, ctx, transform_id)
        row = conn.execute(
            "SELECT * FROM task_runs WHERE task_run_id=? AND transform_id=? AND account=? AND region=?",
            (task_run_id, transform_id, ctx.account_id, ctx.region),
        ).fetchone()
        if row is None:
            raise EntityNotFoundException(
                f"No ML Task Run found for {task_run_id}: in account {ctx.account_id} for transform {transform_id}."
            )
        result: sqlite3.Row = row
        return result

    @inline
    def get_ml_task_run(self, ctx: RequestContext, transform_id: str, task_run_id: str) -> dict[str, Any]:
        return task_run_view(self._run_row(self.db.conn, ctx, transform_id, task_run_id))

    @inline
    def get_ml_task_runs(
        self,
        ctx: RequestContext,
        transform_id: str,
        next_token: str | None = None,
        max_results: int | None = None,
        filter: dict[str, Any] | None = None,
        sort: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        load_transform(self.db.conn, ctx, transform_id)
        where, args = ["transform_id=?"], [transform_id]
        f = filter or {}
        for key, column, op in (
            ("TaskRunType", "task_type", "="),
            ("Status", "status", "="),
            ("StartedBefore", "started", "<"),
            ("StartedAfter", "started", ">"),
        ):
            if key in f:
                where.append(f"{column}{op}?")
                args.append(f[key])
        order = "started DESC, task_run_id DESC"
        if sort:
            direction = "DESC" if sort["SortDirection"] == "DESCENDING" else "ASC"
            order = (
                f"{_SORT_COLUMNS[sort['Column']]} {direction}, started {direction}, task_run_id {direction}"
            )
        rows = self.db.conn.execute(
            f"SELECT * FROM task_runs WHERE {' AND '.join(where)} ORDER BY {order}", args
        ).fetchall()
        chunk, token = page(rows, next_token, max_results, 100, f"runs:{transform_id}")
        return {"TaskRuns": [task_run_view(r) for r in chunk], "NextToken": token}

    def cancel_ml_task_run(self, ctx: RequestContext, transform_id: str, task_run_id: str) -> dict[str, Any]:
        with self.db.write() as conn:
            row = self._run_row(conn, ctx, transform_id, task_run_id)
            status = row["status"]
            if status in ("STARTING", "RUNNING"):
                status = "STOPPING"
                conn.execute(
                    "UPDATE task_runs SET status='STOPPING', last_modified=? WHERE task_run_id=?",
                    (timestamp_now(), task_run_id),
                )
        if status == "STOPPING":
            self.runner.cancel(task_run_id)
        return {"TransformId": transform_id, "TaskRunId": task_run_id, "Status": status}

    def before_transform_deleted(self, transform_id: str) -> None:
        marks = ",".join("?" * len(ACTIVE))
        rows = self.db.conn.execute(
            f"SELECT task_run_id FROM task_runs WHERE transform_id=? AND status IN ({marks})",
            (transform_id, *ACTIVE),
        ).fetchall()
        for row in rows:
            self.runner.cancel(row["task_run_id"])
        self.snapshots.drop_transform(transform_id)


def task_run_view(row: sqlite3.Row) -> dict[str, Any]:
    """A stored run as GetMLTaskRun returns it."""
    doc: dict[str, Any] = json.loads(row["doc"])
    view: dict[str, Any] = {
        k: doc[k]
        for k in ("TransformId", "TaskRunId", "LogGroupName", "Properties", "ErrorString", "ExecutionTime")
        if k in doc
    }
    view.update(Status=row["status"], StartedOn=row["started"], LastModifiedOn=row["last_modified"])
    if row["completed"] is not None:
        view["CompletedOn"] = row["completed"]
    return view
