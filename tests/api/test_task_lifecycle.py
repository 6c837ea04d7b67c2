"""Task-run lifecycle on a server whose runs wait before working: cancel, limits, crash and restart."""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.test_labels import label_file, put, some_sets, state
from tests.conftest import (
    SampleTransform,
    ServerProcess,
    client,
    create_sample_transform,
    wait_run,
    wait_status,
)
from tests.fixtures_s3 import S3Server

DELAY_S = 4.0


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[ServerProcess]:
    """Every task run waits DELAY_S seconds in RUNNING before it works (FINDMATCHES_TASK_START_DELAY_S)."""
    root = tmp_path_factory.mktemp("slow")
    srv = ServerProcess(
        root / "data", env={**s3_server.env(), "FINDMATCHES_TASK_START_DELAY_S": str(DELAY_S)}
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def slow_glue(slow_server: ServerProcess) -> Any:
    return client(slow_server.url)


def new_transform(glue: Any, s3: Any, name: str, **args: Any) -> SampleTransform:
    return create_sample_transform(glue, s3, name, **args)


def start_import(glue: Any, people: SampleTransform, path: str, replace: bool = False) -> str:
    return str(
        glue.start_import_labels_task_run(
            TransformId=people.transform_id, InputS3Path=path, ReplaceAllLabels=replace
        )["TaskRunId"]
    )


def test_cancel_really_stops_the_work(slow_glue: Any, s3: Any) -> None:
    people = new_transform(slow_glue, s3, "cancel1")
    run_id = start_import(
        slow_glue, people, put(s3, people, "l.csv", label_file(people, some_sets(people, 2)))
    )
    wait_status(slow_glue, people.transform_id, run_id, ("RUNNING",))
    answer = slow_glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
    assert answer["Status"] == "STOPPING"
    run = wait_run(slow_glue, people.transform_id, run_id)
    assert run["Status"] == "STOPPED"
    assert "CompletedOn" in run
    assert state(slow_glue, people) == ("NOT_READY", 0)  # the import never happened
    again = slow_glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
    assert again["Status"] == "STOPPED"  # cancelling a finished run answers its status
    with pytest.raises(ClientError) as e:
        slow_glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId="nope")
    assert e.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_three_runs_per_transform(slow_glue: Any, s3: Any) -> None:
    people = new_transform(slow_glue, s3, "limit1")
    path = put(s3, people, "l.csv", label_file(people, some_sets(people, 2)))
    runs = [start_import(slow_glue, people, path) for _ in range(3)]
    with pytest.raises(ClientError) as e:
        start_import(slow_glue, people, path)
    assert e.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    assert "exceeded the transform limit of 3 task runs" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        slow_glue.start_ml_labeling_set_generation_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/ls/"
        )
    assert e.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    listed = slow_glue.get_ml_task_runs(TransformId=people.transform_id)["TaskRuns"]
    assert sorted(r["TaskRunId"] for r in listed) == sorted(runs)
    for run_id in runs:
        slow_glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
    for run_id in runs:
        assert wait_run(slow_glue, people.transform_id, run_id)["Status"] == "STOPPED"
    start_import(slow_glue, people, path)  # room again


def test_get_ml_task_runs_filter_sort_and_pages(slow_glue: Any, s3: Any) -> None:
    people = new_transform(slow_glue, s3, "list1")
    path = put(s3, people, "l.csv", label_file(people, some_sets(people, 2)))
    first = start_import(slow_glue, people, path)
    slow_glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=first)
    wait_run(slow_glue, people.transform_id, first)
    second = start_import(slow_glue, people, path)
    t = people.transform_id
    by_status = slow_glue.get_ml_task_runs(TransformId=t, Filter={"Status": "STOPPED"})["TaskRuns"]
    assert [r["TaskRunId"] for r in by_status] == [first]
    by_type = slow_glue.get_ml_task_runs(TransformId=t, Filter={"TaskRunType": "EVALUATION"}).get(
        "TaskRuns", []
    )
    assert by_type == []
    asc = slow_glue.get_ml_task_runs(TransformId=t, Sort={"Column": "STARTED", "SortDirection": "ASCENDING"})
    assert [r["TaskRunId"] for r in asc["TaskRuns"]] == [first, second]
    page1 = slow_glue.get_ml_task_runs(
        TransformId=t, MaxResults=1, Sort={"Column": "STARTED", "SortDirection": "DESCENDING"}
    )
    assert [r["TaskRunId"] for r in page1["TaskRuns"]] == [second]
    page2 = slow_glue.get_ml_task_runs(
        TransformId=t,
        MaxResults=1,
        NextToken=page1["NextToken"],
        Sort={"Column": "STARTED", "SortDirection": "DESCENDING"},
    )
    assert [r["TaskRunId"] for r in page2["TaskRuns"]] == [first] and "NextToken" not in page2
    started = asc["TaskRuns"][1]["StartedOn"]
    after = slow_glue.get_ml_task_runs(TransformId=t, Filter={"StartedAfter": started})
    assert after.get("TaskRuns", []) == []
    before = slow_glue.get_ml_task_runs(TransformId=t, Filter={"StartedBefore": started})
    assert [r["TaskRunId"] for r in before["TaskRuns"]] == [first]
    both = slow_glue.get_ml_task_runs(
        TransformId=t,
        Filter={"TaskRunType": "IMPORT_LABELS", "StartedBefore": started + dt.timedelta(seconds=1)},
    )
    assert len(both["TaskRuns"]) == 2
    status_order = slow_glue.get_ml_task_runs(
        TransformId=t, Sort={"Column": "STATUS", "SortDirection": "ASCENDING"}
    )
    assert [r["TaskRunId"] for r in status_order["TaskRuns"]] == [second, first]  # RUNNING/STARTING < STOPPED
    slow_glue.cancel_ml_task_run(TransformId=t, TaskRunId=second)
    wait_run(slow_glue, t, second)


@pytest.mark.slow  # a server killed and restarted around a run
def test_kill_9_then_restart_fails_or_retries_the_run(tmp_path: Path, s3_server: S3Server, s3: Any) -> None:
    srv = ServerProcess(tmp_path / "data", env=s3_server.env())
    srv.start()
    try:
        glue = client(srv.url)
        people = new_transform(glue, s3, "crash1")
        retried = new_transform(glue, s3, "crash2", MaxRetries=1)
        good = put(s3, people, "good.csv", label_file(people, some_sets(people, 2)))
        assert wait_run(glue, people.transform_id, start_import(glue, people, good))["Status"] == "SUCCEEDED"
        assert state(glue, people) == ("READY", 6)

        srv.env["FINDMATCHES_TASK_START_DELAY_S"] = "60"  # the next runs are caught mid-flight
        srv.restart()
        glue = client(srv.url)
        more = put(s3, people, "more.csv", label_file(people, some_sets(people, 3, 2)))
        doomed = start_import(glue, people, more, replace=True)
        again = start_import(
            glue, retried, put(s3, retried, "l.csv", label_file(retried, some_sets(retried, 2)))
        )
        wait_status(glue, people.transform_id, doomed, ("RUNNING",))
        wait_status(glue, retried.transform_id, again, ("RUNNING",))
        srv.stop(signal.SIGKILL)

        srv.env["FINDMATCHES_TASK_START_DELAY_S"] = "0"
        srv.start()
        glue = client(srv.url)
        run = wait_run(glue, people.transform_id, doomed)
        assert run["Status"] == "FAILED"
        assert "stopped while this task run was in progress" in run["ErrorString"]
        assert state(glue, people) == ("READY", 6)  # exactly as before the run
        assert wait_run(glue, retried.transform_id, again)["Status"] == "SUCCEEDED"
        assert state(glue, retried) == ("READY", 6)
    finally:
        srv.stop()


def test_thirty_runs_per_account(slow_server: ServerProcess, s3: Any) -> None:
    glue = client(slow_server.url, region="eu-west-1")  # quotas are per account and region
    started: list[tuple[str, str]] = []
    transforms = [new_transform(glue, s3, f"quota{i}") for i in range(11)]
    path = put(s3, transforms[0], "l.csv", label_file(transforms[0], some_sets(transforms[0], 2)))
    for people in transforms[:10]:
        for _ in range(3):
            started.append((people.transform_id, start_import(glue, people, path)))
    with pytest.raises(ClientError) as e:
        start_import(glue, transforms[10], path)
    assert e.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    assert "exceeded the limit of 30 task runs" in e.value.response["Error"]["Message"]
    assert glue.get_ml_task_runs(TransformId=transforms[10].transform_id).get("TaskRuns", []) == []
    for transform_id, run_id in started:
        glue.cancel_ml_task_run(TransformId=transform_id, TaskRunId=run_id)
    for transform_id, run_id in started:
        assert wait_run(glue, transform_id, run_id)["Status"] == "STOPPED"
