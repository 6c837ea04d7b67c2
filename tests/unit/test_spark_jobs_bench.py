"""`bench/spark_jobs.py`: a run's Spark jobs grouped by the backend call that started them, from an event log."""

from __future__ import annotations

import json
from pathlib import Path

from bench.spark_jobs import SAME_CALL_GAP_MS, calls_of, submit_args


def _job(job: int, call: str, start: int, end: int, stages: list[int]) -> list[dict[str, object]]:
    return [
        {
            "Event": "SparkListenerJobStart",
            "Job ID": job,
            "Submission Time": start,
            "Stage IDs": stages,
            "Properties": {"spark.job.description": call},
        },
        {"Event": "SparkListenerJobEnd", "Job ID": job, "Completion Time": end},
    ]


def _stage(stage: int, run_ms: int, shuffle_bytes: int) -> dict[str, object]:
    return {
        "Event": "SparkListenerStageCompleted",
        "Stage Info": {
            "Stage ID": stage,
            "Accumulables": [
                {"Name": "internal.metrics.executorRunTime", "Value": run_ms},
                {"Name": "internal.metrics.shuffle.write.bytesWritten", "Value": shuffle_bytes},
            ],
        },
    }


def test_jobs_are_grouped_by_call_within_the_run(tmp_path: Path) -> None:
    events = [
        *_job(0, "execute: CREATE TABLE a", 1_000, 2_000, [0, 1]),
        *_job(1, "execute: CREATE TABLE a", 2_100, 3_000, [2]),  # the same call's second job
        *_job(2, "query: SELECT 1", 3_500, 3_600, [3]),
        *_job(3, "execute: CREATE TABLE a", 4_000, 4_500, [4]),  # the statement again: a call of its own
        *_job(4, "query: SELECT 1", 4_600 + SAME_CALL_GAP_MS, 9_900 + SAME_CALL_GAP_MS, [5]),  # long after
        *_job(5, "query: later run", 50_000, 51_000, [6]),
        _stage(0, 1_500, 2_000_000),
        _stage(1, 500, 0),
        _stage(2, 250, 1_000_000),
        _stage(3, 100, 0),
        _stage(4, 40, 0),
        _stage(5, 10, 0),
        _stage(6, 10, 0),
        # stage 7 was skipped: its job's shuffle output was reused, and it never completes
    ]
    log = tmp_path / "eventlog_v2_local-1" / "events_1_local-1"
    log.parent.mkdir()
    log.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    got = calls_of(tmp_path, 0, 40_000)
    assert [(c["call"], c["jobs"], c["stages"]) for c in got] == [
        ("execute: CREATE TABLE a", 2, 3),
        ("query: SELECT 1", 1, 1),
        ("execute: CREATE TABLE a", 1, 1),
        ("query: SELECT 1", 1, 1),
    ]
    assert got[0]["seconds"] == 2.0 and got[0]["task_s"] == 2.25 and got[0]["shuffle_mb"] == 3.0
    assert got[3]["seconds"] == 5.3


def test_the_event_log_is_asked_for_uncompressed_in_the_folder(tmp_path: Path) -> None:
    args = submit_args(tmp_path)
    assert f"spark.eventLog.dir={tmp_path.resolve().as_uri()} " in args
    assert "spark.eventLog.enabled=true" in args and "spark.eventLog.compress=false" in args
    assert args.endswith("pyspark-shell")
