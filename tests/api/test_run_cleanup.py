"""Issue 17: a run that ended, however it ended, leaves nothing behind but its store rows and its log.

For each kind of run (import labels, export, labeling-set generation, evaluation, find matches) that
SUCCEEDS, FAILS, is STOPPED (CancelMLTaskRun while it runs) or TIMES OUT: once it ended, the data dir holds no
work dir, spill or DuckDB temp file of it (only the store's files and the run's log and curve may have grown),
and the server's temp dir (TMPDIR) and working directory hold nothing of it either. A cancelled run's thread
really stops: the run ends STOPPED within a few seconds of the cancel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_labels import label_file, put, some_sets
from tests.conftest import PART_CSV, SampleTransform, ServerProcess, client, create_sample_transform, wait_run
from tests.fixtures_s3 import S3Server

#: Every run waits this long, cancellable, in RUNNING before its work (FINDMATCHES_TASK_START_DELAY_S).
DELAY_S = 0.3
#: One minute of a transform's Timeout lasts this long here (FINDMATCHES_TEST_TIMEOUT_MINUTE_S): a transform
#: with Timeout 1 (Glue's minimum) times out during the start delay.
MINUTE_S = 0.1
KINDS = ("import", "export", "labeling_set", "evaluation", "find_matches")
OUTCOMES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")


@pytest.fixture(scope="module")
def cleanup_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[ServerProcess]:
    """A server of its own (runs are checked one at a time), with a temp dir and working directory of its own."""
    root = tmp_path_factory.mktemp("cleanup")
    (root / "tmp").mkdir()
    srv = ServerProcess(
        root / "data",
        env={
            **s3_server.env(),
            "TMPDIR": str(root / "tmp"),
            "FINDMATCHES_TASK_START_DELAY_S": str(DELAY_S),
            "FINDMATCHES_TEST_TIMEOUT_MINUTE_S": str(MINUTE_S),
        },
    )
    cwd = Path.cwd()
    os.chdir(root)  # the server's working directory: where an engine told no temp dir would spill (.tmp)
    try:
        srv.start()
    finally:
        os.chdir(cwd)
    yield srv
    srv.stop()


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: relative path → (size, mtime)."""
    out = {}
    for path in folder.rglob("*"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        out[str(path.relative_to(folder))] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return out


def _store_file(name: str) -> bool:
    """The SQLite store's files, at the top of the data dir (database, WAL, shared memory)."""
    return "/" not in name and any(part in name for part in (".db", ".sqlite"))


def _start(kind: str, outcome: str, glue: Any, people: SampleTransform) -> str:
    bucket, tid = people.bucket, people.transform_id
    if kind == "import":
        answer = glue.start_import_labels_task_run(
            TransformId=tid, InputS3Path=f"s3://{bucket}/labels/new.csv"
        )
    elif kind == "export":  # a failing export writes to a bucket that does not exist
        out = f"s3://{bucket}-missing/export/" if outcome == "FAILED" else f"s3://{bucket}/export/"
        answer = glue.start_export_labels_task_run(TransformId=tid, OutputS3Path=out)
    elif kind == "labeling_set":
        answer = glue.start_ml_labeling_set_generation_task_run(
            TransformId=tid, OutputS3Path=f"s3://{bucket}/ls/"
        )
    elif kind == "evaluation":
        answer = glue.start_ml_evaluation_task_run(TransformId=tid)
    else:
        answer = glue.start_find_matches_task_run(
            TransformId=tid, InputS3Path=f"s3://{bucket}/input/", OutputS3Path=f"s3://{bucket}/out/"
        )
    return str(answer["TaskRunId"])


def _prepare(kind: str, outcome: str, glue: Any, s3: Any, name: str) -> SampleTransform:
    """A transform whose run of ``kind`` succeeds, or fails on a bad input when ``outcome`` is FAILED."""
    people = create_sample_transform(glue, s3, name)
    fail = outcome == "FAILED"
    if kind != "import":  # labels for the runs that need them
        path = put(s3, people, "labels/setup.csv", label_file(people, some_sets(people, 8)))
        run_id = glue.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=path)[
            "TaskRunId"
        ]
        assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    if kind == "import":
        body = "not a label file\n\x00\x01" if fail else label_file(people, some_sets(people, 3, offset=8))
        put(s3, people, "labels/new.csv", body)
    if kind in ("labeling_set", "evaluation") and fail:  # the table's records are gone: "No records found"
        s3.delete_object(Bucket=people.bucket, Key=f"people/{PART_CSV}")
    if kind == "find_matches":  # the input: the table's records, or a binary file that fails the run
        body = s3.get_object(Bucket=people.bucket, Key=f"people/{PART_CSV}")["Body"].read()
        put(s3, people, f"input/{PART_CSV}", b"\x00\x01\x02 not records" if fail else body)
    if outcome == "TIMEOUT":  # after the setup runs, which must not time out
        glue.update_ml_transform(TransformId=people.transform_id, Timeout=1)
    return people


#: When a cancel comes: the quick runs (import, export) during their start delay; the engine's runs once the
#: engine has loaded the records (their log says so), so that it is the engine's own stop check that stops them.
ENGINE_KINDS = ("labeling_set", "evaluation", "find_matches")


def _cancel_while_running(glue: Any, tid: str, run_id: str, log: Path, in_engine: bool) -> float:
    """Cancel the run while it runs (in the engine's work when ``in_engine``); return the cancel's time."""
    deadline = time.monotonic() + 30
    while glue.get_ml_task_run(TransformId=tid, TaskRunId=run_id)["Status"] != "RUNNING":
        assert time.monotonic() < deadline, "the run never reached RUNNING"
        time.sleep(0.02)
    while in_engine and "Loaded " not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the engine never loaded the records"
        time.sleep(0.01)
    assert glue.cancel_ml_task_run(TransformId=tid, TaskRunId=run_id)["Status"] == "STOPPING"
    return time.monotonic()


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("kind", KINDS)
def test_an_ended_run_leaves_nothing_behind(
    kind: str, outcome: str, cleanup_server: ServerProcess, s3: Any
) -> None:
    glue = client(cleanup_server.url)
    data, tmp = cleanup_server.data_dir, cleanup_server.data_dir.parent / "tmp"
    name = f"c{KINDS.index(kind)}{OUTCOMES.index(outcome)}{os.urandom(4).hex()}"
    people = _prepare(kind, outcome, glue, s3, name)

    before, tmp_before = _files(data), _files(tmp)
    cwd_before = _files(data.parent)
    run_id = _start(kind, outcome, glue, people)
    cancelled_at = None
    if outcome == "STOPPED":
        log = data / "logs" / f"{run_id}.log"
        cancelled_at = _cancel_while_running(glue, people.transform_id, run_id, log, kind in ENGINE_KINDS)
    run = wait_run(glue, people.transform_id, run_id, timeout=60)
    ended_at = time.monotonic()

    assert run["Status"] == outcome, run
    if outcome == "STOPPED":
        assert cancelled_at is not None and ended_at - cancelled_at < 5, "the run went on after its cancel"
        # The run's thread left its work: its last word (written just after the status) comes at once.
        log_deadline = time.monotonic() + 2
        while "finished: STOPPED" not in (data / "logs" / f"{run_id}.log").read_text():
            assert time.monotonic() < log_deadline, "the run's thread never finished"
            time.sleep(0.01)
    if outcome == "TIMEOUT":
        assert "Timeout" in run["ErrorString"]
    if outcome == "FAILED":
        assert run["ErrorString"]

    # The data dir: only the store's files and this run's log (and an evaluation's curve) may have changed.
    after = _files(data)
    allowed = {f"logs/{run_id}.log", f"logs/{run_id}.curve.json"}
    changed = {p for p in after if before.get(p) != after[p] and not _store_file(p) and p not in allowed}
    changed -= {"logs", "work", "."}  # folders whose mtime moves as entries come and go
    assert not changed, f"left in the data dir: {sorted(changed)}"
    assert not (data / "work" / run_id).exists()
    assert not list((data / "work").iterdir()), "a work dir outlived its run"
    # The system temp dir and the server's working directory: nothing new (no engine dir, no DuckDB .tmp).
    assert _files(tmp) == tmp_before, "the run left files in the server's temp dir"
    new_outside = {
        p for p in _files(data.parent) if p not in cwd_before and not p.startswith(("data/", "tmp/"))
    }
    new_outside -= {p for p in new_outside if p.startswith("server-")}  # the server's own log
    assert not new_outside, f"the run left files in the server's working directory: {sorted(new_outside)}"
