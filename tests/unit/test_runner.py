"""The task runner in-process: timeout, retries, cancel before start, and recovery after a crash."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from findmatches.store.database import Database
from findmatches.tasks.runner import RunContext, TaskFailed, TaskRunner

TRANSFORM = "tfm-test"


def add_transform(db: Database, timeout_minutes: float = 60, max_retries: int = 0) -> None:
    doc = {"TransformId": TRANSFORM, "Timeout": timeout_minutes, "MaxRetries": max_retries}
    with db.write() as conn:
        conn.execute(
            "INSERT INTO transforms (transform_id, account, region, name, status, created, last_modified, doc) "
            "VALUES (?, 'a', 'r', 'n', 'NOT_READY', 0, 0, ?)",
            (TRANSFORM, json.dumps(doc)),
        )


def add_run(db: Database, run_id: str, task_type: str = "T", status: str = "STARTING") -> None:
    with db.write() as conn:
        conn.execute(
            "INSERT INTO task_runs (task_run_id, transform_id, account, region, task_type, status, started, "
            "last_modified, doc) VALUES (?, ?, 'a', 'r', ?, ?, 0, 0, ?)",
            (run_id, TRANSFORM, task_type, status, json.dumps({"Properties": {"TaskType": task_type}})),
        )


def run_state(db: Database, run_id: str) -> tuple[str, dict[str, object]]:
    row = db.conn.execute("SELECT status, doc FROM task_runs WHERE task_run_id=?", (run_id,)).fetchone()
    return row["status"], json.loads(row["doc"])


def wait_done(db: Database, run_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = run_state(db, run_id)
        if status in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"{run_id} still {status}")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path)


@pytest.fixture
def runners(db: Database, tmp_path: Path) -> Iterator[list[TaskRunner]]:
    made: list[TaskRunner] = []
    yield made
    for runner in made:
        runner.close()


def test_timeout_stops_the_work(db: Database, tmp_path: Path, runners: list[TaskRunner]) -> None:
    add_transform(db, timeout_minutes=0.005)  # 0.3 s
    stopped = threading.Event()

    def forever(ctx: RunContext) -> None:
        while True:
            if ctx.should_stop():
                stopped.set()
                ctx.check()
            time.sleep(0.01)

    runner = TaskRunner(db, tmp_path, {"T": forever})
    runners.append(runner)
    add_run(db, "r1")
    runner.submit("r1")
    assert wait_done(db, "r1") == "TIMEOUT"
    assert stopped.is_set()
    _, doc = run_state(db, "r1")
    assert "Timeout" in str(doc["ErrorString"])


def test_max_retries_reruns_a_failed_run(db: Database, tmp_path: Path, runners: list[TaskRunner]) -> None:
    add_transform(db, max_retries=2)
    calls: list[int] = []

    def flaky(ctx: RunContext) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise TaskFailed(f"failure {len(calls)}")

    runner = TaskRunner(db, tmp_path, {"T": flaky})
    runners.append(runner)
    add_run(db, "r1")
    runner.submit("r1")
    assert wait_done(db, "r1") == "SUCCEEDED"
    assert len(calls) == 3
    assert "ErrorString" not in run_state(db, "r1")[1]


def test_retries_run_out(db: Database, tmp_path: Path, runners: list[TaskRunner]) -> None:
    add_transform(db, max_retries=1)

    def broken(ctx: RunContext) -> None:
        raise TaskFailed("the file is wrong")

    runner = TaskRunner(db, tmp_path, {"T": broken})
    runners.append(runner)
    add_run(db, "r1")
    runner.submit("r1")
    assert wait_done(db, "r1") == "FAILED"
    assert run_state(db, "r1")[1]["ErrorString"] == "the file is wrong"


def test_an_unexpected_error_fails_the_run_not_the_service(
    db: Database, tmp_path: Path, runners: list[TaskRunner]
) -> None:
    add_transform(db)

    def crash(ctx: RunContext) -> None:
        raise ZeroDivisionError("boom")

    runner = TaskRunner(db, tmp_path, {"T": crash, "OK": lambda ctx: None})
    runners.append(runner)
    add_run(db, "r1")
    add_run(db, "r2", "OK")
    runner.submit("r1")
    runner.submit("r2")
    assert wait_done(db, "r1") == "FAILED"
    assert "ZeroDivisionError: boom" in str(run_state(db, "r1")[1]["ErrorString"])
    assert wait_done(db, "r2") == "SUCCEEDED"


def test_an_error_quoting_a_hostile_line_stays_short(
    db: Database, tmp_path: Path, runners: list[TaskRunner]
) -> None:
    """A reader's error may quote the file's line (DuckDB: "Original Line: …") before naming the problem."""
    add_transform(db)

    def quote_the_line(ctx: RunContext) -> None:
        raise TaskFailed("CSV Error on Line: 2\nOriginal Line: " + "x" * 10_000 + "\nnot utf-8 encoded")

    runner = TaskRunner(db, tmp_path, {"T": quote_the_line})
    runners.append(runner)
    add_run(db, "r1")
    runner.submit("r1")
    assert wait_done(db, "r1") == "FAILED"
    error = str(run_state(db, "r1")[1]["ErrorString"])
    assert len(error) < 400 and error.endswith("\nnot utf-8 encoded"), error
    assert "… (10,015 characters)" in error


def test_cancel_stops_work_in_progress(db: Database, tmp_path: Path, runners: list[TaskRunner]) -> None:
    add_transform(db)
    working, finished = threading.Event(), threading.Event()

    def long_work(ctx: RunContext) -> None:
        try:
            while True:  # polls the stop check between steps, as every job does
                working.set()
                ctx.check()
                time.sleep(0.01)
        finally:
            finished.set()

    runner = TaskRunner(db, tmp_path, {"T": long_work})
    runners.append(runner)
    add_run(db, "r1")
    runner.submit("r1")
    assert working.wait(10)
    assert run_state(db, "r1")[0] == "RUNNING"
    with db.write() as conn:  # what CancelMLTaskRun does before it signals the runner
        conn.execute("UPDATE task_runs SET status='STOPPING' WHERE task_run_id='r1'")
    runner.cancel("r1")
    assert wait_done(db, "r1") == "STOPPED"
    assert finished.is_set()  # the work itself ended, not only the record
    assert "ErrorString" not in run_state(db, "r1")[1]


def test_cancelled_before_it_starts(db: Database, tmp_path: Path, runners: list[TaskRunner]) -> None:
    add_transform(db)
    ran = threading.Event()
    runner = TaskRunner(db, tmp_path, {"T": lambda ctx: ran.set()})
    runners.append(runner)
    add_run(db, "r1", status="STOPPING")  # CancelMLTaskRun got there first
    runner.submit("r1")
    assert wait_done(db, "r1") == "STOPPED"
    assert not ran.is_set()


def test_recovery_after_a_crash(db: Database, tmp_path: Path, runners: list[TaskRunner]) -> None:
    add_transform(db, max_retries=0)
    for run_id, status in (
        ("running", "RUNNING"),
        ("starting", "STARTING"),
        ("stopping", "STOPPING"),
        ("done", "SUCCEEDED"),
    ):
        add_run(db, run_id, status=status)
    runner = TaskRunner(db, tmp_path, {"T": lambda ctx: None})
    runners.append(runner)
    runner.recover()
    assert run_state(db, "running")[0] == "FAILED"
    assert "stopped while this task run was in progress" in str(run_state(db, "running")[1]["ErrorString"])
    assert run_state(db, "starting")[0] == "FAILED"
    assert run_state(db, "stopping")[0] == "STOPPED"
    assert run_state(db, "done")[0] == "SUCCEEDED"


def test_a_retry_after_a_crash_starts_from_a_clean_work_dir(
    db: Database, tmp_path: Path, runners: list[TaskRunner]
) -> None:
    """A run killed mid-fetch left its work dir; its retry after the restart makes the same folders again."""
    add_transform(db, max_retries=1)
    add_run(db, "killed", status="RUNNING")
    (tmp_path / "work" / "killed" / "fetch" / "000-table").mkdir(parents=True)
    (tmp_path / "work" / "gone-long-ago" / "spill").mkdir(parents=True)

    def fetch(ctx: RunContext) -> None:
        ctx.work.fetch("table")  # the first fetch's folder: the one the dead attempt left

    runner = TaskRunner(db, tmp_path, {"T": fetch})
    runners.append(runner)
    runner.recover()
    assert wait_done(db, "killed") == "SUCCEEDED"
    assert not list((tmp_path / "work").iterdir())


def test_a_result_and_the_runs_success_are_one_transaction(
    db: Database, tmp_path: Path, runners: list[TaskRunner]
) -> None:
    """A crash just after a run stores its result must not leave a RUNNING run (which recovery fails) whose
    result was kept: the success is written in the result's own transaction."""
    add_transform(db)
    add_run(db, "stores")
    seen: list[str] = []

    def store_then_stop(ctx: RunContext) -> None:
        with db.write() as conn:
            conn.execute("UPDATE transforms SET name='changed' WHERE transform_id=?", (TRANSFORM,))
            ctx.succeed_in(conn)
        seen.append(run_state(db, "stores")[0])  # committed: what a crash here would leave
        ctx.cancel.set()  # a cancel, or anything else, after the commit changes nothing
        raise TaskFailed("too late")

    runner = TaskRunner(db, tmp_path, {"T": store_then_stop})
    runners.append(runner)
    runner.submit("stores")
    assert wait_done(db, "stores") == "SUCCEEDED"
    runner.close()  # the status commits inside the task: wait for the rest of it, and the runner's handling
    assert seen == ["SUCCEEDED"]
    status, doc = run_state(db, "stores")
    assert status == "SUCCEEDED"
    assert "ErrorString" not in doc


def test_a_success_whose_transaction_fails_is_no_success(
    db: Database, tmp_path: Path, runners: list[TaskRunner]
) -> None:
    """The run's SUCCEEDED belongs to its result's transaction: when that transaction fails (a full disk at
    its COMMIT), the run fails too, and does not stay RUNNING."""
    add_transform(db)
    add_run(db, "rolled-back")

    def commit_fails(ctx: RunContext) -> None:
        with db.write() as conn:
            conn.execute("UPDATE transforms SET name='changed' WHERE transform_id=?", (TRANSFORM,))
            ctx.succeed_in(conn)
            raise OSError("database or disk is full")

    runner = TaskRunner(db, tmp_path, {"T": commit_fails})
    runners.append(runner)
    runner.submit("rolled-back")
    assert wait_done(db, "rolled-back") == "FAILED"
    assert "disk is full" in str(run_state(db, "rolled-back")[1]["ErrorString"])
    assert db.conn.execute("SELECT name FROM transforms").fetchone()["name"] == "n"
