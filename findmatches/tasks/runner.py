"""Run ML task runs in the background with their whole lifecycle, persisted in the metadata store.

STARTING → RUNNING → SUCCEEDED | FAILED | TIMEOUT, and CancelMLTaskRun: → STOPPING → STOPPED.
A run's work polls ``should_stop`` between steps, so a cancel or a timeout really stops it. After a crash,
``recover`` ends (or retries) every run the dead process left unfinished.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from findmatches.aws.protocol import timestamp_now
from findmatches.engine.types import Cancelled
from findmatches.io.errors import disk_full, disk_full_message
from findmatches.store.database import Database
from findmatches.tasks.workdir import WorkDir
from findmatches.tasks.workers import append_log

log = logging.getLogger("findmatches.tasks")

#: Seconds in one minute of a transform's Timeout. Test-only: Glue's smallest Timeout is 1 minute, too long
#: for a test to wait out, so tests set FINDMATCHES_TEST_TIMEOUT_MINUTE_S to make a TIMEOUT run quickly.
TIMEOUT_MINUTE_S = float(os.environ.get("FINDMATCHES_TEST_TIMEOUT_MINUTE_S", "60"))

ACTIVE = ("STARTING", "RUNNING", "STOPPING")
TERMINAL = ("STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT")
#: Seconds between tries at recording a run's end while the data dir's disk is full.
DISK_FULL_RETRY_S = 1.0


class TaskFailed(Exception):
    """A run's expected failure; the message becomes the run's ErrorString."""


@dataclass
class RunContext:
    """What a task function gets: its run, a scratch folder (`WorkDir`), a log, and the stop check."""

    task_run_id: str
    transform_id: str
    account_id: str
    region: str
    properties: dict[str, Any]
    arguments: dict[str, Any]
    work: WorkDir
    log_path: Path
    deadline: float
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Records the run SUCCEEDED in a store transaction (set by the runner; see `succeed_in`).
    record_success: Callable[[Any], None] | None = None
    #: Whether the store holds the run as SUCCEEDED (set by the runner).
    recorded: Callable[[], bool] | None = None
    #: Whether `succeed_in` was called: then the store decides (`succeeded`), its transaction may have failed.
    success_written: bool = False
    #: When the run was started (StartedOn, epoch seconds): the same for each attempt and after a restart.
    started: float = 0.0

    def should_stop(self) -> bool:
        return self.cancel.is_set() or time.monotonic() > self.deadline

    def check(self) -> None:
        """Raise Cancelled if the run was cancelled or timed out."""
        if self.should_stop():
            raise Cancelled("stopped")

    def log(self, message: str) -> None:
        append_log(self.log_path, message)

    def succeed_in(self, conn: Any) -> None:
        """Record the run SUCCEEDED inside ``conn``'s transaction, the one that stores the run's result (the
        labels of an import, an evaluation's metrics): a crash then leaves both or neither, never labels kept
        by a run that recovery reports FAILED."""
        if self.record_success is None:
            raise RuntimeError("this run's success cannot be recorded here")
        # Its work is done: its scratch goes first, so that a client that sees SUCCEEDED finds nothing left.
        shutil.rmtree(self.work.root, ignore_errors=True)
        self.record_success(conn)
        self.success_written = True

    @property
    def succeeded(self) -> bool:
        """True once the run's success is committed to the store: nothing after that changes its status."""
        return self.success_written and self.recorded is not None and self.recorded()


TaskFn = Callable[[RunContext], None]


#: The most an ErrorString holds, per line and in all: a reader's error may quote the offending line of a
#: hostile file (DuckDB's "Original Line: …", before the line that names the problem), and every
#: GetMLTaskRun(s) returns the ErrorString.
MAX_ERROR_LINE_CHARS = 300
MAX_ERROR_CHARS = 4000


def bounded_error(message: str) -> str:
    """``message`` with each line cut to MAX_ERROR_LINE_CHARS and the whole to MAX_ERROR_CHARS."""
    lines = [
        line
        if len(line) <= MAX_ERROR_LINE_CHARS
        else f"{line[:MAX_ERROR_LINE_CHARS]}… ({len(line):,} characters)"
        for line in message.split("\n")
    ]
    message = "\n".join(lines)
    return message if len(message) <= MAX_ERROR_CHARS else f"{message[:MAX_ERROR_CHARS]}…"


def curve_path(log_path: Path) -> Path:
    """Where an evaluation run keeps its precision-recall curve (JSON: threshold, [threshold, precision, recall]
    points): beside its log."""
    return log_path.with_suffix(".curve.json")


class TaskRunner:
    """A small thread pool that executes task runs and records every state change."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        tasks: dict[str, TaskFn],
        workers: int = 4,
        start_delay_s: float = 0.0,
    ) -> None:
        self.db = db
        self.start_delay_s = start_delay_s
        self.tasks = tasks
        self.work_root = data_dir / "work"
        self.log_root = data_dir / "logs"
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.log_root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="task")
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._label_locks: dict[str, threading.Lock] = {}
        self._closed = False

    def log_path(self, task_run_id: str) -> Path:
        return self.log_root / f"{task_run_id}.log"

    def label_lock(self, transform_id: str) -> threading.Lock:
        """Held by every run that changes a transform's labels, so such runs never interleave."""
        with self._lock:
            return self._label_locks.setdefault(transform_id, threading.Lock())

    # -- lifecycle -------------------------------------------------------------------------------

    def submit(self, task_run_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._cancels[task_run_id] = threading.Event()
            self._pool.submit(self._execute, task_run_id)

    def cancel(self, task_run_id: str) -> None:
        """Ask a run to stop; the caller has already moved it to STOPPING."""
        with self._lock:
            event = self._cancels.get(task_run_id)
        if event is not None:
            event.set()

    def close(self) -> None:
        """Stop taking work, stop running work, and wait for the pool."""
        with self._lock:
            self._closed = True
            events = list(self._cancels.values())
        for event in events:
            event.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def recover(self) -> None:
        """After a restart: runs left STARTING/RUNNING by a dead process are retried or failed, and the work
        dirs the dead process left (no run is working yet) are removed, so a retry starts from nothing."""
        for stale in self.work_root.iterdir():
            shutil.rmtree(stale, ignore_errors=True)
        with self.db.write() as conn:
            rows = conn.execute(
                "SELECT r.task_run_id, r.status, r.attempt, t.doc FROM task_runs r "
                "JOIN transforms t USING (transform_id) WHERE r.status IN ('STARTING', 'RUNNING', 'STOPPING')"
            ).fetchall()
            retry = []
            now = timestamp_now()
            for row in rows:
                max_retries = int(json.loads(row["doc"]).get("MaxRetries", 0))
                if row["status"] == "STOPPING":
                    self._finish(conn, row["task_run_id"], "STOPPED", None, now)
                elif row["attempt"] < max_retries:
                    conn.execute(
                        "UPDATE task_runs SET status='STARTING', attempt=attempt+1, last_modified=? "
                        "WHERE task_run_id=?",
                        (now, row["task_run_id"]),
                    )
                    retry.append(row["task_run_id"])
                else:
                    self._finish(
                        conn,
                        row["task_run_id"],
                        "FAILED",
                        "The service stopped while this task run was in progress (server restart or "
                        "crash); nothing it was doing was kept. Start the task run again.",
                        now,
                    )
        for task_run_id in retry:
            self.submit(task_run_id)

    def _status(self, task_run_id: str) -> str | None:
        """The run's status as committed to the store."""
        row = self.db.conn.execute(
            "SELECT status FROM task_runs WHERE task_run_id=?", (task_run_id,)
        ).fetchone()
        return None if row is None else str(row["status"])

    def _finish(self, conn: Any, task_run_id: str, status: str, error: str | None, now: float) -> None:
        row = conn.execute("SELECT doc FROM task_runs WHERE task_run_id=?", (task_run_id,)).fetchone()
        doc = json.loads(row["doc"])
        if error:
            doc["ErrorString"] = error
        else:
            doc.pop("ErrorString", None)
        running_since = doc.get("RunningSince")
        doc["ExecutionTime"] = round(now - running_since) if running_since else 0
        conn.execute(
            "UPDATE task_runs SET status=?, completed=?, last_modified=?, doc=? WHERE task_run_id=?",
            (status, now, now, json.dumps(doc), task_run_id),
        )

    def _transition(self, task_run_id: str, frm: tuple[str, ...], to: str) -> dict[str, Any] | None:
        """Move a run from one of ``frm`` to ``to``; return its row data, or None if it was elsewhere."""
        now = timestamp_now()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT r.*, t.doc AS transform_doc FROM task_runs r JOIN transforms t USING (transform_id) "
                "WHERE task_run_id=?",
                (task_run_id,),
            ).fetchone()
            if row is None or row["status"] not in frm:
                return None
            doc = json.loads(row["doc"])
            if to == "RUNNING":
                doc["RunningSince"] = now
            conn.execute(
                "UPDATE task_runs SET status=?, last_modified=?, doc=? WHERE task_run_id=?",
                (to, now, json.dumps(doc), task_run_id),
            )
            return {**dict(row), "doc": doc, "transform": json.loads(row["transform_doc"])}

    def _execute(self, task_run_id: str) -> None:
        cancel = self._cancels.get(task_run_id) or threading.Event()
        try:
            run = self._transition(task_run_id, ("STARTING",), "RUNNING")
            if run is None:  # cancelled before it began: STOPPING ends here
                with self.db.write() as conn:
                    row = conn.execute(
                        "SELECT status FROM task_runs WHERE task_run_id=?", (task_run_id,)
                    ).fetchone()
                    if row is not None and row["status"] == "STOPPING":
                        self._finish(conn, task_run_id, "STOPPED", None, timestamp_now())
                return
            self._run_attempts(task_run_id, run, cancel)
        except Exception:  # never let a bookkeeping fault kill the worker silently
            log.exception("task run %s: internal error", task_run_id)
        finally:
            with self._lock:
                self._cancels.pop(task_run_id, None)

    def _run_attempts(self, task_run_id: str, run: dict[str, Any], cancel: threading.Event) -> None:
        transform = run["transform"]
        timeout_s = float(transform.get("Timeout", 2880)) * TIMEOUT_MINUTE_S
        max_retries = int(transform.get("MaxRetries", 0))
        attempt = int(run["attempt"])
        deadline = time.monotonic() + timeout_s
        status, error = "FAILED", None
        while True:
            ctx = RunContext(
                task_run_id,
                run["transform_id"],
                run["account"],
                run["region"],
                run["doc"].get("Properties", {}),
                run["doc"].get("Arguments", {}),
                WorkDir(self.work_root / task_run_id),
                self.log_path(task_run_id),
                deadline,
                cancel,
                record_success=lambda conn: self._finish(
                    conn, task_run_id, "SUCCEEDED", None, timestamp_now()
                ),
                recorded=lambda: self._status(task_run_id) == "SUCCEEDED",
                started=float(run["started"]),
            )
            status, error = self._attempt(run["task_type"], ctx)
            if status == "FAILED" and attempt < max_retries and not cancel.is_set():
                attempt += 1
                ctx.log(f"attempt {attempt} of {max_retries} retries after failure: {error}")
                with self.db.write() as conn:
                    conn.execute(
                        "UPDATE task_runs SET attempt=?, last_modified=? WHERE task_run_id=?",
                        (attempt, timestamp_now(), task_run_id),
                    )
                continue
            break
        while True:  # a full disk: keep the run's end until it can be written (the API shows it RUNNING)
            try:
                with self.db.write() as conn:
                    current = conn.execute(
                        "SELECT status FROM task_runs WHERE task_run_id=?", (task_run_id,)
                    ).fetchone()
                    if current is None:  # the transform was deleted meanwhile
                        return
                    if ctx.succeeded:  # recorded with the run's result, in the same transaction
                        break
                    if status != "SUCCEEDED" and (current["status"] == "STOPPING" or cancel.is_set()):
                        status, error = "STOPPED", None
                    self._finish(conn, task_run_id, status, error, timestamp_now())
                break
            except sqlite3.OperationalError as e:
                if not disk_full(e) or self._closed:
                    raise
                log.error("task run %s: cannot record its end, the disk is full; retrying", task_run_id)
                time.sleep(DISK_FULL_RETRY_S)
        with contextlib.suppress(OSError):  # the log is on the same disk
            ctx.log(f"finished: {status}" + (f": {error}" if error else ""))

    def _attempt(self, task_type: str, ctx: RunContext) -> tuple[str, str | None]:
        try:
            ctx.work.root.mkdir(parents=True, exist_ok=True)
            ctx.log(f"{task_type} started")
            if self.start_delay_s:  # fault-injection knob for tests: hold the run RUNNING, cancellable
                ctx.cancel.wait(self.start_delay_s)
                ctx.check()
            self.tasks[task_type](ctx)
            if not ctx.succeeded:
                ctx.check()
            return "SUCCEEDED", None
        except Cancelled:
            if ctx.succeeded:
                return "SUCCEEDED", None
            if ctx.cancel.is_set():
                return "STOPPED", None
            return "TIMEOUT", "The task run exceeded the transform's Timeout and was stopped."
        except TaskFailed as e:
            if ctx.succeeded:
                return "SUCCEEDED", None
            if disk_full(e) and "disk is full" not in str(e):
                return "FAILED", bounded_error(disk_full_message(e, str(self.work_root.parent)))
            return "FAILED", bounded_error(str(e))
        except Exception as e:  # an engine or I/O error: report it, keep the service up
            with contextlib.suppress(OSError):  # the log is on the data dir's disk, which may be full
                ctx.log(traceback.format_exc())
            if ctx.succeeded:
                return "SUCCEEDED", None
            if disk_full(e):
                return "FAILED", bounded_error(disk_full_message(e, str(self.work_root.parent)))
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            return "FAILED", bounded_error(f"{type(e).__name__}: {message}")
        finally:
            shutil.rmtree(ctx.work.root, ignore_errors=True)
