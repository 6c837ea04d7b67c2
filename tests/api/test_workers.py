"""Issue 17: a task run's engine work runs in a worker process, and whatever happens to that process the API
goes on answering and the run ends with a status that says what happened.

The server holds each worker (FINDMATCHES_TEST_WORKER_HOLD_S) before its work, so that a test can find it by
the pid its run's log names, then kill it, cancel its run, let the run time out, or kill the server itself.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_labels import label_file, put, some_sets
from tests.conftest import PART_CSV, SampleTransform, ServerProcess, client, create_sample_transform, wait_run
from tests.fixtures_s3 import S3Server

#: How long every worker waits before its work: far longer than any test step takes to act on it.
HOLD_S = 60
#: One minute of a transform's Timeout lasts this long here, so a Timeout of 2 ends a held run in 2 s.
MINUTE_S = 1.0


@pytest.fixture(scope="module")
def worker_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        tmp_path_factory.mktemp("workers") / "data",
        env={
            **s3_server.env(),
            "FINDMATCHES_TEST_WORKER_HOLD_S": str(HOLD_S),
            "FINDMATCHES_TEST_TIMEOUT_MINUTE_S": str(MINUTE_S),
        },
    )
    srv.start()
    yield srv
    srv.stop()


def _labelled(glue: Any, s3: Any, name: str, **transform_args: Any) -> SampleTransform:
    people = create_sample_transform(glue, s3, name, **transform_args)
    path = put(s3, people, "labels/setup.csv", label_file(people, some_sets(people, 6)))
    run_id = glue.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=path)["TaskRunId"]
    assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    return people


def _find_matches(glue: Any, s3: Any, people: SampleTransform) -> str:
    body = s3.get_object(Bucket=people.bucket, Key=f"people/{PART_CSV}")["Body"].read()
    put(s3, people, f"input/{PART_CSV}", body)
    return str(
        glue.start_find_matches_task_run(
            TransformId=people.transform_id,
            InputS3Path=f"s3://{people.bucket}/input/",
            OutputS3Path=f"s3://{people.bucket}/out/",
        )["TaskRunId"]
    )


def _worker_pid(server: ServerProcess, run_id: str, timeout: float = 30) -> int:
    """The pid of the run's worker process, from the run's log."""
    log = server.data_dir / "logs" / f"{run_id}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"worker process (\d+) started", log.read_text() if log.exists() else "")
        if found:
            return int(found.group(1))
        time.sleep(0.02)
    raise AssertionError(f"no worker process started for {run_id}")


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_run_works_in_its_own_process_and_a_cancel_stops_it(worker_server: ServerProcess, s3: Any) -> None:
    glue = client(worker_server.url)
    people = _labelled(glue, s3, "w" + os.urandom(5).hex())
    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/ls/"
    )["TaskRunId"]
    pid = _worker_pid(worker_server, run_id)
    assert worker_server.proc is not None and pid != worker_server.proc.pid
    assert _alive(pid)
    # The API answers while the worker holds the run.
    assert glue.get_ml_transform(TransformId=people.transform_id)["TransformId"] == people.transform_id
    assert glue.get_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)["Status"] == "RUNNING"

    glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
    assert wait_run(glue, people.transform_id, run_id, timeout=15)["Status"] == "STOPPED"
    assert _gone(pid), "the cancelled run's worker process is still running"


def test_a_killed_worker_fails_its_run_and_the_server_goes_on(worker_server: ServerProcess, s3: Any) -> None:
    glue = client(worker_server.url)
    people = _labelled(glue, s3, "w" + os.urandom(5).hex())
    run_id = _find_matches(glue, s3, people)
    pid = _worker_pid(worker_server, run_id)
    os.kill(pid, signal.SIGKILL)

    run = wait_run(glue, people.transform_id, run_id, timeout=30)
    assert run["Status"] == "FAILED"
    assert "worker process was killed by SIGKILL" in run["ErrorString"]
    assert worker_server.proc is not None and worker_server.proc.poll() is None, "the server died too"
    assert glue.get_ml_transform(TransformId=people.transform_id)["Status"] == "READY"
    assert not list((worker_server.data_dir / "work").iterdir()), "the killed run left its work dir"


def test_a_run_over_its_timeout_stops_its_worker(worker_server: ServerProcess, s3: Any) -> None:
    glue = client(worker_server.url)
    people = _labelled(glue, s3, "w" + os.urandom(5).hex())
    glue.update_ml_transform(TransformId=people.transform_id, Timeout=2)
    run_id = glue.start_ml_evaluation_task_run(TransformId=people.transform_id)["TaskRunId"]
    pid = _worker_pid(worker_server, run_id)

    run = wait_run(glue, people.transform_id, run_id, timeout=30)
    assert run["Status"] == "TIMEOUT"
    assert _gone(pid), "the timed-out run's worker process is still running"


def test_a_worker_does_not_outlive_a_killed_server(worker_server: ServerProcess, s3: Any) -> None:
    glue = client(worker_server.url)
    people = _labelled(glue, s3, "w" + os.urandom(5).hex())
    run_id = _find_matches(glue, s3, people)
    pid = _worker_pid(worker_server, run_id)

    worker_server.restart(signal.SIGKILL)
    assert _gone(pid), "the worker went on after its server was killed"
    glue = client(worker_server.url)
    run = glue.get_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
    assert run["Status"] == "FAILED" and "stopped while this task run was in progress" in run["ErrorString"]


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[ServerProcess]:
    """Runs may use 64 MiB: less than a worker holds with the engine loaded, so every engine run is over it."""
    srv = ServerProcess(
        tmp_path_factory.mktemp("small") / "data", ["--run-memory-mb", "64"], env=s3_server.env()
    )
    srv.start()
    yield srv
    srv.stop()


def test_a_run_over_the_memory_limit_fails_cleanly(small_server: ServerProcess, s3: Any) -> None:
    glue = client(small_server.url)
    people = _labelled(glue, s3, "m" + os.urandom(5).hex())
    run_id = _find_matches(glue, s3, people)
    run = wait_run(glue, people.transform_id, run_id, timeout=60)
    assert run["Status"] == "FAILED"
    assert "more than 64 MiB of memory" in run["ErrorString"] and "--run-memory-mb" in run["ErrorString"]
    # The labels import (no engine) still works, and the server answers.
    assert small_server.proc is not None and small_server.proc.poll() is None
    assert glue.get_ml_transform(TransformId=people.transform_id)["LabelCount"] > 0
