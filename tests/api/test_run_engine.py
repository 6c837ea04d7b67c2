"""A find-matches run may ask for an engine other than the server's (``Engine``, ``apply --engine``)."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from tests.api.test_run_files import _csv, _label_file, _teach
from tests.conftest import SampleTransform, ServerProcess, apply_cli, wait_run


def _match_ids(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Each record's match_id in the one part file under ``prefix`` (an incremental run's merges.csv beside)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    (key,) = [o["Key"] for o in listed if "/part-" in o["Key"]]
    rows = csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()))
    return {r["id"]: r["match_id"] for r in rows}


def _groups(s3: Any, bucket: str, prefix: str) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for id_, match_id in _match_ids(s3, bucket, prefix).items():
        groups.setdefault(match_id, set()).add(id_)
    return {frozenset(g) for g in groups.values()}


def _succeeds(
    glue: Any, server: ServerProcess, people: SampleTransform, engine: str, out: str, **args: str
) -> str:
    """The log of a find-matches run on ``engine`` into the bucket's folder ``out/`` with ``args`` (S3 paths
    in the bucket, by key), which must succeed."""
    paths = {name: f"s3://{people.bucket}/{key}" for name, key in {"OutputS3Path": f"{out}/", **args}.items()}
    started = glue.start_find_matches_task_run(TransformId=people.transform_id, Engine=engine, **paths)
    run = wait_run(glue, people.transform_id, started["TaskRunId"], timeout=600)
    log = (server.data_dir / "logs" / f"{started['TaskRunId']}.log").read_text()
    assert run["Status"] == "SUCCEEDED", log
    return log


def _kill_kept_driver(log: str) -> tuple[int, list[int]]:
    """Kill the Spark driver (its JVM) of the kept worker that ran the run of ``log``: the worker's id and the
    JVMs' ids."""
    found = re.findall(
        r"worker process (\d+) (?:\(kept from an earlier run\) took the run|started \(kept)", log
    )
    assert found, log
    worker = int(found[-1])
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    below, todo = [], list(children.get(worker, []))
    while todo:
        pid = todo.pop()
        below.append(pid)
        todo += children.get(pid, [])
    killed = []
    for pid in below:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return worker, killed


def test_an_unknown_engine_is_refused(glue: Any, people: SampleTransform) -> None:
    s3_path = f"s3://{people.bucket}/out/"
    with pytest.raises(ClientError) as e:
        glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=s3_path, Engine="oracle"
        )
    assert e.value.response["Error"]["Code"] == "InvalidInputException"


@pytest.mark.spark
@pytest.mark.slow  # a Spark driver started and stopped: most of a minute on two cores
@pytest.mark.timeout(600)
def test_a_run_asks_for_spark_on_a_duckdb_server_and_is_stopped(
    server: ServerProcess, glue: Any, s3: Any, people: SampleTransform
) -> None:
    """The run's worker opens a Spark session (its log names the engine), and a cancel stops it. That the two
    engines find the same groups is tested on the engine (tests/engine/test_spark_backend.py) and on a
    standalone cluster (tests/api/test_spark_cluster.py)."""
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'findmatches[spark]'")
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java 17")
    s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=_label_file(people.rows, sets=30))
    _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
    run_id = glue.start_find_matches_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/spark/", Engine="spark"
    )["TaskRunId"]
    log = server.data_dir / "logs" / f"{run_id}.log"
    deadline = time.monotonic() + 300
    while "Engine: spark." not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        status = glue.get_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)["Status"]
        assert status in ("STARTING", "RUNNING"), status
        time.sleep(0.2)
    glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
    assert wait_run(glue, people.transform_id, run_id, timeout=60)["Status"] == "STOPPED"
    assert "Contents" not in s3.list_objects_v2(Bucket=people.bucket, Prefix="spark/")
    # A run that asks for DuckDB, from the command line.
    done = apply_cli(
        server.url,
        "--transform-id",
        people.transform_id,
        "--output",
        f"s3://{people.bucket}/cli/",
        "--engine",
        "duckdb",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert len(_groups(s3, people.bucket, "cli/")) > 0
    (cli_run,) = [
        r
        for r in glue.get_ml_task_runs(TransformId=people.transform_id)["TaskRuns"]
        if r["TaskRunId"] != run_id and r["Properties"]["TaskType"] == "FIND_MATCHES"
    ]
    assert "Engine: duckdb." in (server.data_dir / "logs" / f"{cli_run['TaskRunId']}.log").read_text()


@pytest.mark.spark
@pytest.mark.slow  # two Spark drivers started and stopped: a minute or two on two cores
@pytest.mark.timeout(900)
def test_spark_reads_the_table_from_s3_itself_and_finds_duckdbs_groups(
    server: ServerProcess, glue: Any, s3: Any, people: SampleTransform
) -> None:
    """With the S3A connector installed (``make install``: findmatches/tasks/s3a.py), a run on Spark names the
    table's objects to the executors (``s3a://``, the server's endpoint and credentials) instead of
    downloading them, and they write its output to S3 (a hidden staging folder, copied inside S3 to Glue's
    names and removed); it finds the groups that a DuckDB run, which downloads and uploads, finds."""
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'findmatches[spark]'")
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java 17")
    from findmatches.tasks.s3a import s3a_jars

    assert s3a_jars(), "the S3A connector's jars are not installed: make install"
    labels = _label_file(people.rows, sets=30)
    s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=labels)
    _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
    logs = server.data_dir / "logs"
    found: dict[str, set[frozenset[str]]] = {}
    order: dict[str, list[str]] = {}
    input_spark_log = ""
    for engine in ("spark", "duckdb"):
        run_id = glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/{engine}/", Engine=engine
        )["TaskRunId"]
        run = wait_run(glue, people.transform_id, run_id, timeout=600)
        log = (logs / f"{run_id}.log").read_text()
        assert run["Status"] == "SUCCEEDED", log
        assert f"Engine: {engine}." in log
        assert ("read by Spark's executors (s3a)" in log) == (engine == "spark"), log
        assert ("through s3a" in log) == (engine == "spark"), log
        (part,) = [
            o["Key"] for o in s3.list_objects_v2(Bucket=people.bucket, Prefix=f"{engine}/")["Contents"]
        ]
        assert part == f"{engine}/part-00000-{run_id}.csv"
        found[engine] = _groups(s3, people.bucket, f"{engine}/")
        body = s3.get_object(Bucket=people.bucket, Key=part)["Body"].read().decode()
        order[engine] = [r["id"] for r in csv.DictReader(io.StringIO(body))]
    assert found["spark"] == found["duckdb"]
    assert order["spark"] == order["duckdb"] == [r["id"] for r in people.rows]  # the input's order
    assert any(len(g) > 1 for g in found["spark"])
    # Parquet: one part file becomes the object the output path names; nothing staged is left.
    run_id = glue.start_find_matches_task_run(
        TransformId=people.transform_id,
        OutputS3Path=f"s3://{people.bucket}/out/spark.parquet",
        Engine="spark",
    )["TaskRunId"]
    assert wait_run(glue, people.transform_id, run_id, timeout=600)["Status"] == "SUCCEEDED"
    log = (logs / f"{run_id}.log").read_text()
    assert "through s3a" in log
    # The Spark run before left its worker, driver and all, for this one (`Workers`' kept workers).
    assert "(kept from an earlier run) took the run" in log, log
    body = s3.get_object(Bucket=people.bucket, Key="out/spark.parquet")["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == len(people.rows)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=people.bucket)["Contents"]]
    assert not [k for k in keys if "staging" in k], keys
    # Other records (InputS3Path): the scan for the labelled records they lack runs on the executors too.
    labelled = {r["id"] for r in csv.DictReader(io.StringIO(labels.decode()))}
    given = [r for r in people.rows if r["id"] not in labelled or int(r["entity"]) % 2]
    s3.put_object(Bucket=people.bucket, Key="input/part-0.csv", Body=_csv(given))
    for engine in ("spark", "duckdb"):
        log = _succeeds(glue, server, people, engine, f"input-{engine}", InputS3Path="input/")
        input_spark_log = log if engine == "spark" else input_spark_log
        added = len([r for r in people.rows if r["id"] in labelled]) - len(
            [r for r in given if r["id"] in labelled]
        )
        assert f"added {added} labelled records of the transform's table that the input lacks" in log
        assert (log.count("read by Spark's executors (s3a)") == 2) == (engine == "spark"), log
        found[f"input-{engine}"] = _groups(s3, people.bucket, f"input-{engine}/")
    assert found["input-spark"] == found["input-duckdb"]
    assert {i for g in found["input-spark"] for i in g} == {r["id"] for r in given}
    # The kept worker's driver dies while it waits: the next Spark run goes to a new worker, and succeeds.
    worker, killed = _kill_kept_driver(input_spark_log)
    assert killed, f"no JVM below the kept worker {worker}"
    # An incremental run: the existing matches too are read by the executors, not fetched; copies of
    # existing records join their originals' groups, as on DuckDB.
    copies = [{**r, "id": f"copy-{r['id']}"} for r in people.rows[:12]]
    s3.put_object(Bucket=people.bucket, Key="new/part-0.csv", Body=_csv(copies))
    for engine in ("spark", "duckdb"):
        existing = {"InputS3Path": "new/", "ExistingMatchesS3Path": "duckdb/"}
        log = _succeeds(glue, server, people, engine, f"incremental-{engine}", **existing)
        # (DuckDB's run reads the snapshot that Spark's kept of them: its executors are on this machine.)
        assert ("existing matches: 1 csv object(s)" in log) == (engine == "spark"), log
        if engine == "spark":
            assert (
                f"worker process {worker} (kept from an earlier run) cannot take the run: its Spark driver "
                "does not answer"
            ) in log, log
        found[f"incremental-{engine}"] = _groups(s3, people.bucket, f"incremental-{engine}/")
    assert found["incremental-spark"] == found["incremental-duckdb"]
    before, after = (
        _match_ids(s3, people.bucket, "duckdb/"),
        _match_ids(s3, people.bucket, "incremental-spark/"),
    )
    assert {f"copy-{r['id']}": before[r["id"]] for r in people.rows[:12]}.items() <= after.items()
