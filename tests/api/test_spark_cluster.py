"""The server on a standalone Spark cluster on loopback (issue 18): a master and a worker started from the
scripts inside the PySpark package, a transform taught and applied, and the master's JSON status page showing
that the application ran there, with the executors the transform's capacity asked for."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_run_files import _csv, _label_file, _teach
from tests.conftest import (
    SAMPLE_COLUMNS,
    SampleTransform,
    ServerProcess,
    client,
    create_sample_transform,
    free_port,
    wait_run,
)
from tests.fixtures_s3 import S3Server

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need PySpark: pip install 'findmatches[spark]'"
)
pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    # Executors start on the worker, and a run on Spark is many small stages: minutes on a busy 2-core machine.
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("java") is None, reason="the Spark tests need Java 17"),
]


def _partition(rows: list[dict[str, str]]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(str(r["match_id"]), set()).add(r["id"])
    return {frozenset(g) for g in groups.values()}


def _on_duckdb(rows: list[dict[str, str]], labels: bytes, tmp: Path) -> list[dict[str, str]]:
    """``find_matches`` in-process on the embedded DuckDB engine."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from findmatches.engine.api import find_matches
    from findmatches.engine.types import MatchParams, RecordSource

    table = pa.table({c: [r[c] for r in rows] for c in SAMPLE_COLUMNS})
    labelled = list(csv.DictReader(io.StringIO(labels.decode())))
    label_table = pa.table(
        {
            "labeling_set_id": [r["labeling_set_id"] for r in labelled],
            "label": [r["label"] for r in labelled],
            "primary_key": [r["id"] for r in labelled],
        }
    )
    out = tmp / "duckdb.parquet"
    find_matches(
        RecordSource(table=table),
        MatchParams(primary_key="id"),
        label_table,
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
    )
    return [{k: str(v) for k, v in r.items()} for r in pq.read_table(out).to_pylist()]


def _status(web_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as response:
        got: dict[str, Any] = json.load(response)
        return got


def _wait(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = check()
        except OSError:
            got = None
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _spark_server(tmp_path: Path, s3_server: S3Server, master: str, *args: str, **env: str) -> ServerProcess:
    """A findmatches server (not started) on the Spark engine with ``master``, the S3 server's settings,
    further ``args`` and ``env``, and one account's credentials."""
    creds = tmp_path / "credentials.toml"
    creds.write_text('[test]\nsecret_access_key = "test"\naccount_id = "000000000000"\n')
    return ServerProcess(
        tmp_path / "data",
        ["--credentials-file", str(creds), "--engine", "spark", "--spark-master", master, *args],
        env={**s3_server.env(), "PYSPARK_PYTHON": sys.executable, **env},
    )


def _import_log(glue: Any, server: ServerProcess, people: SampleTransform) -> str:
    """The log of the transform's one labels import."""
    (imported,) = glue.get_ml_task_runs(
        TransformId=people.transform_id, Filter={"TaskRunType": "IMPORT_LABELS"}
    )["TaskRuns"]
    return (server.data_dir / "logs" / f"{imported['TaskRunId']}.log").read_text()


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate a process, killed if it has not ended within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A standalone master and one worker (2 cores, 10 GB to give) on loopback: (master URL, web UI port)."""
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, web = free_port(), free_port()
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_WORKER_DIR": str(logs / "work"),
    }
    master_url = f"spark://127.0.0.1:{port}"
    master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port)]
    worker = [
        "org.apache.spark.deploy.worker.Worker",
        "--host",
        "127.0.0.1",
        "--cores",
        "2",
        "--memory",
        "10g",
    ]
    commands = [
        [str(spark_class), *master, "--webui-port", str(web)],
        [str(spark_class), *worker, "--webui-port", str(free_port()), master_url],
    ]
    procs = []
    try:
        for i, command in enumerate(commands):
            with open(logs / f"{i}.log", "wb") as log:
                procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
            if i == 0:
                _wait(lambda: _status(web), "the Spark master")
        _wait(lambda: _status(web).get("aliveworkers", 0) >= 1, "a Spark worker")
        yield master_url, web
    finally:
        for proc in reversed(procs):
            _stop(proc, 20)


def test_a_transform_taught_and_applied_on_a_standalone_cluster(
    cluster: tuple[str, int], s3_server: S3Server, s3: Any, tmp_path: Path
) -> None:
    master_url, web = cluster
    # Executors that may be on other machines write what the run reads back to S3, not to its work dir.
    scratch = "fm-scratch-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=scratch)
    temp_dir = ("--spark-temp-dir", f"s3://{scratch}/tmp/")
    server = _spark_server(tmp_path, s3_server, master_url, *temp_dir, SPARK_LOCAL_IP="127.0.0.1")
    apps_before = _apps(web)
    server.start()
    try:
        glue = client(server.url)
        # G.1X × 3: one worker for the driver, two executors of 1 core and 4 GB (docs/spark.md).
        people = create_sample_transform(
            glue, s3, "t" + uuid.uuid4().hex[:12], WorkerType="G.1X", NumberOfWorkers=3
        )
        labels = _label_file(people.rows, sets=30)
        s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=labels)
        _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
        # A small table's keys are checked by a scan of the fetched files, not a Spark application.
        assert "90 of 90 labelled keys found in the table by a scan" in _import_log(glue, server, people)
        run_id = glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/matches/"
        )["TaskRunId"]
        run = wait_run(glue, people.transform_id, run_id, timeout=400)
        assert run["Status"] == "SUCCEEDED", (run, server.log()[-3000:])
        # The executors read the table from S3 themselves (the S3A connector: findmatches/tasks/s3a.py), and
        # write the scores the engine reads back under the scratch prefix, which the run then removes.
        log = (server.data_dir / "logs" / f"{run_id}.log").read_text()
        assert "read by Spark's executors (s3a)" in log
        assert f"results for the run under s3://{scratch}/tmp/_findmatches-scratch-{run_id}" in log
        assert not [o for o in s3.list_objects_v2(Bucket=scratch).get("Contents", []) if o["Size"]]
        (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=people.bucket, Prefix="matches/")["Contents"]]
        text = s3.get_object(Bucket=people.bucket, Key=key)["Body"].read().decode()
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == len(people.rows)
        # The same groups as the embedded DuckDB engine makes from the same records and labels.
        assert _partition(rows) == _partition(_on_duckdb(people.rows, labels, tmp_path))
        # An incremental run reads the existing matches through S3 too, and keeps no snapshot on this disk.
        copies = [{**r, "id": f"copy-{r['id']}"} for r in people.rows[:5]]
        s3.put_object(Bucket=people.bucket, Key="new/part-0.csv", Body=_csv(copies))
        run_id = glue.start_find_matches_task_run(
            TransformId=people.transform_id,
            OutputS3Path=f"s3://{people.bucket}/incremental/",
            InputS3Path=f"s3://{people.bucket}/new/",
            ExistingMatchesS3Path=f"s3://{people.bucket}/matches/",
        )["TaskRunId"]
        run = wait_run(glue, people.transform_id, run_id, timeout=400)
        log = (server.data_dir / "logs" / f"{run_id}.log").read_text()
        assert run["Status"] == "SUCCEEDED", (run, log)
        assert "existing matches: 1 csv object(s)" in log and "kept no snapshot" in log, log
        # Its worker, with its driver and executors, was kept from the run before: no application started.
        assert "(kept from an earlier run) took the run" in log, log
        assert not (server.data_dir / "snapshots").exists() or not any(
            (server.data_dir / "snapshots").iterdir()
        )
        (key,) = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=people.bucket, Prefix="incremental/")["Contents"]
            if "/part-" in o["Key"]
        ]
        text = s3.get_object(Bucket=people.bucket, Key=key)["Body"].read().decode()
        ids = {r["id"]: r["match_id"] for r in csv.DictReader(io.StringIO(text))}
        before = {r["id"]: r["match_id"] for r in rows}
        for r in people.rows[:5]:
            assert ids[f"copy-{r['id']}"] == before[r["id"]], r["id"]
        assert not [o for o in s3.list_objects_v2(Bucket=scratch).get("Contents", []) if o["Size"]]
    finally:
        server.stop()
    apps = _wait(
        lambda: [a for a in _status(web).get("completedapps", []) if a.get("name") == "findmatches"],
        "the application to finish on the master",
    )
    app = apps[-1]
    assert app["state"] == "FINISHED"
    assert app.get("memoryperexecutor", app.get("memoryperslave")) == 4096
    # Every run of the server (the apply, its scan, the incremental run) ran in that one application, which
    # ended with the server.
    assert _apps(web) == apps_before + 1


def _apps(web: int) -> int:
    """How many applications named findmatches the master has seen, running or ended."""
    status = _status(web)
    return len(
        [
            a
            for k in ("activeapps", "completedapps")
            for a in status.get(k, [])
            if a.get("name") == "findmatches"
        ]
    )


def test_a_cancel_stops_the_runs_application_on_the_cluster(
    cluster: tuple[str, int], s3_server: S3Server, s3: Any, tmp_path: Path
) -> None:
    """CancelMLTaskRun interrupts the run's Spark jobs and then ends its driver: the run ends STOPPED with no
    output, and the master sees the application end instead of holding the cluster's cores."""
    master_url, web = cluster
    # Label keys checked on the executors whatever the table's size (else from 1 GiB).
    server = _spark_server(
        tmp_path, s3_server, master_url, SPARK_LOCAL_IP="127.0.0.1", FINDMATCHES_SPARK_SCAN_BYTES="0"
    )
    server.start()
    try:
        glue = client(server.url)
        people = create_sample_transform(glue, s3, "t" + uuid.uuid4().hex[:12])
        s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=_label_file(people.rows, sets=30))
        _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
        # The import checked its keys against the table on the executors: the table never came to the server.
        text = _import_log(glue, server, people)
        assert "90 of 90 labelled keys found in the table by Spark's executors" in text, text
        # A label file with a key the table lacks fails there too, and leaves the labels as they were.
        rows = list(csv.DictReader(io.StringIO(_label_file(people.rows, sets=30).decode())))
        rows[-1]["id"] = "not-a-key"
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        s3.put_object(Bucket=people.bucket, Key="bad-labels.csv", Body=out.getvalue().encode())
        bad_id = glue.start_import_labels_task_run(
            TransformId=people.transform_id,
            InputS3Path=f"s3://{people.bucket}/bad-labels.csv",
            ReplaceAllLabels=True,
        )["TaskRunId"]
        bad = wait_run(glue, people.transform_id, bad_id, timeout=300)
        assert bad["Status"] == "FAILED", bad
        assert 'primary key "not-a-key" is not in the transform\'s data' in bad["ErrorString"], bad
        assert glue.get_ml_transform(TransformId=people.transform_id)["LabelCount"] == 90
        finished = len(_status(web).get("completedapps", []))
        run_id = glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/stopped/"
        )["TaskRunId"]
        # Cancelled once the application runs on the cluster, in the middle of the engine's Spark jobs.
        _wait(
            lambda: [a for a in _status(web).get("activeapps", []) if a.get("name") == "findmatches"],
            "the run's application on the master",
            timeout=300,
        )
        log = server.data_dir / "logs" / f"{run_id}.log"
        _wait(lambda: log.exists() and "Engine: spark." in log.read_text(), "the run's Spark session", 300)
        glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
        run = wait_run(glue, people.transform_id, run_id, timeout=120)
        assert run["Status"] == "STOPPED", (run, log.read_text())
        assert "Contents" not in s3.list_objects_v2(Bucket=people.bucket, Prefix="stopped/")
        _wait(
            lambda: (
                len(_status(web).get("completedapps", [])) > finished
                and not [a for a in _status(web).get("activeapps", []) if a.get("name") == "findmatches"]
            ),
            "the application to end on the master",
            timeout=60,
        )
    finally:
        server.stop()
