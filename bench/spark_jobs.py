"""Spark's own account of a profiled run: each backend call's jobs, stages, task time and shuffle, from Spark's
event log (`bench/apply_profile.py --engine spark --jobs`).

The engine names each backend call as its jobs' description (`describe`); Spark's event log, enabled for the
driver of this process (`submit_args`), records every job's description, start and end, and every stage's
task time and shuffle bytes. `calls_of` groups the jobs of one run by call, in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Consecutive jobs with one description, this close in milliseconds, belong to one call.
SAME_CALL_GAP_MS = 5_000


def submit_args(folder: Path) -> str:
    """``PYSPARK_SUBMIT_ARGS`` that turn on Spark's event log, uncompressed, into ``folder``."""
    return (
        f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={folder.resolve().as_uri()} "
        "--conf spark.eventLog.compress=false pyspark-shell"
    )


def describe(spark: Any, text: str) -> None:
    """Name the jobs this thread starts from now on (a classic session's; Spark Connect has no context)."""
    spark.sparkContext.setJobDescription(" ".join(text.split())[:200])


def _events(folder: Path) -> list[dict[str, Any]]:
    files = [f for f in sorted(folder.rglob("*")) if f.is_file() and not f.name.startswith(".")]
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.startswith("{")]


def calls_of(folder: Path, start_ms: float, end_ms: float) -> list[dict[str, object]]:
    """The calls whose jobs started between ``start_ms`` and ``end_ms`` (epoch milliseconds), in order: each
    call's description, wall seconds from its first job's start to its last job's end, jobs, stages, the
    stages' task seconds (executor run time, summed over tasks) and shuffle written (MB)."""
    jobs: dict[int, dict[str, Any]] = {}
    stages: dict[int, dict[str, float]] = {}
    for e in _events(folder):
        kind = e.get("Event")
        if kind == "SparkListenerJobStart":
            jobs[e["Job ID"]] = {
                "call": (e.get("Properties") or {}).get("spark.job.description", "?"),
                "start": e["Submission Time"],
                "end": e["Submission Time"],
                "stages": e["Stage IDs"],
            }
        elif kind == "SparkListenerJobEnd" and e["Job ID"] in jobs:
            jobs[e["Job ID"]]["end"] = e["Completion Time"]
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            metrics = {a["Name"]: a.get("Value") for a in info.get("Accumulables", [])}
            stages[info["Stage ID"]] = {
                "task_s": float(metrics.get("internal.metrics.executorRunTime") or 0) / 1000,
                "shuffle_mb": float(metrics.get("internal.metrics.shuffle.write.bytesWritten") or 0) / 1e6,
            }
    calls: list[dict[str, Any]] = []
    for job in sorted(jobs.values(), key=lambda j: j["start"]):
        if not start_ms <= job["start"] <= end_ms:
            continue
        last = calls[-1] if calls else None
        if last is None or last["call"] != job["call"] or job["start"] - last["end"] > SAME_CALL_GAP_MS:
            last = {"call": job["call"], "start": job["start"], "end": job["end"], "jobs": 0, "stages": 0}
            last.update(task_s=0.0, shuffle_mb=0.0)
            calls.append(last)
        last["end"] = max(last["end"], job["end"])
        last["jobs"] += 1
        for stage in job["stages"]:
            if stage in stages:  # a stage skipped (its shuffle output reused) never completes
                last["stages"] += 1
                last["task_s"] += stages[stage]["task_s"]
                last["shuffle_mb"] += stages[stage]["shuffle_mb"]
    return [
        {
            "seconds": round((c["end"] - c["start"]) / 1000, 2),
            "jobs": c["jobs"],
            "stages": c["stages"],
            "task_s": round(c["task_s"], 2),
            "shuffle_mb": round(c["shuffle_mb"], 1),
            "call": c["call"][:120],
        }
        for c in calls
    ]
