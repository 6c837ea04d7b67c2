"""The server on a Spark Connect server on loopback (issue 18: a driver kept between runs): the Connect server
started with PySpark's own ``spark-submit``, a transform taught and applied through it, the same groups as the
embedded DuckDB engine, and the Connect server's status API showing that the run's jobs ran there."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_run_files import _label_file, _teach
from tests.api.test_spark_cluster import _on_duckdb, _partition, _spark_server, _stop, _wait
from tests.conftest import client, create_sample_transform, free_port, wait_run
from tests.fixtures_s3 import S3Server

pyspark = pytest.importorskip(
    "pyspark", reason="the Spark tests need PySpark: pip install 'findmatches[spark]'"
)
pytest.importorskip(
    "grpc", reason="Spark Connect needs PySpark's connect extra: pip install 'findmatches[spark]'"
)
pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("java") is None, reason="the Spark tests need Java 17"),
]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _jobs(ui_port: int, status: str = "") -> int:
    """Jobs the Connect server's Spark application has run so far, or those in ``status`` now (its REST
    status API)."""

    def get(path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/api/v1/{path}", timeout=5) as response:
            return json.load(response)

    (app,) = get("applications")
    return len(get(f"applications/{app['id']}/jobs" + (f"?status={status}" if status else "")))


@pytest.fixture(scope="module")
def connect_server(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server
) -> Iterator[tuple[str, int]]:
    """A Spark Connect server on ``local[2]`` on loopback: (its ``sc://`` URL, its status UI port). It has
    its own S3A settings for the loopback S3 server (a Connect server's S3 access is its own)."""
    from findmatches.tasks.s3a import COMPATIBLE, s3a_jars

    assert s3a_jars(), "the S3A connector's jars are not installed: make install"
    s3a = {
        **COMPATIBLE,
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint": s3_server.endpoint_url,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.access.key": s3_server.access_key,
        "fs.s3a.secret.key": s3_server.secret_key,
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    logs = tmp_path_factory.mktemp("spark-connect")
    port, ui = free_port(), free_port()
    command = [
        str(submit),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.ui.port={ui}",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--jars",
        ",".join(str(j) for j in s3a_jars()),
        *[arg for key, value in s3a.items() for arg in ("--conf", f"spark.hadoop.{key}={value}")],
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    with open(logs / "connect.log", "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait(lambda: _listening(port), "the Spark Connect server", timeout=120)
        yield f"sc://127.0.0.1:{port}", ui
    finally:
        _stop(proc, 30)


def test_a_transform_taught_and_applied_through_spark_connect(
    connect_server: tuple[str, int], s3_server: S3Server, s3: Any, tmp_path: Path
) -> None:
    url, ui = connect_server
    # The Connect server's executors write what the run reads back under --spark-temp-dir, with their own
    # S3 settings; the run's engine reads it with the server's.
    scratch = "fm-scratch-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=scratch)
    server = _spark_server(tmp_path, s3_server, url, "--spark-temp-dir", f"s3://{scratch}/tmp/")
    server.start()
    try:
        glue = client(server.url)
        people = create_sample_transform(glue, s3, "t" + uuid.uuid4().hex[:12])
        labels = _label_file(people.rows, sets=30)
        s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=labels)
        _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
        before = _jobs(ui)
        run_id = glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/matches/"
        )["TaskRunId"]
        run = wait_run(glue, people.transform_id, run_id, timeout=400)
        assert run["Status"] == "SUCCEEDED", (run, server.log()[-3000:])
        # The run's stages ran in the Connect server's driver, not in a JVM of the run's own.
        assert _jobs(ui) > before
        log = (server.data_dir / "logs" / f"{run_id}.log").read_text()
        assert f"results for the run under s3://{scratch}/tmp/_findmatches-scratch-{run_id}" in log, log
        assert not [o for o in s3.list_objects_v2(Bucket=scratch).get("Contents", []) if o["Size"]]
        (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=people.bucket, Prefix="matches/")["Contents"]]
        text = s3.get_object(Bucket=people.bucket, Key=key)["Body"].read().decode()
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == len(people.rows)
        assert _partition(rows) == _partition(_on_duckdb(people.rows, labels, tmp_path))

        # A cancel stops the run's jobs on the Connect server, whose driver outlives the run.
        run_id = glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/stopped/"
        )["TaskRunId"]
        _wait(lambda: _jobs(ui, "running"), "a job of the run on the Connect server", timeout=120)
        glue.cancel_ml_task_run(TransformId=people.transform_id, TaskRunId=run_id)
        assert wait_run(glue, people.transform_id, run_id, timeout=60)["Status"] == "STOPPED"
        _wait(lambda: _jobs(ui, "running") == 0, "the Connect server to have no running job", timeout=30)
        # The engine's interrupt stopped it, not the kill of its worker that follows a grace period.
        assert "The work stopped when asked." in (server.data_dir / "logs" / f"{run_id}.log").read_text()
        assert "Contents" not in s3.list_objects_v2(Bucket=people.bucket, Prefix="stopped/")
    finally:
        server.stop()


def test_a_process_that_ran_the_engine_on_spark_connect_ends(
    connect_server: tuple[str, int], tmp_path: Path
) -> None:
    """A library user's process (or a Glue script's) that ran the engine on a Connect server exits when done:
    the backend's own session is released on close, not left to a finaliser that hangs at interpreter exit."""
    url, ui = connect_server
    before = _jobs(ui)
    script = (
        "from findmatches.engine.backends import open_backend\n"
        "backend = open_backend()\n"
        "print(backend.name, backend.query('SELECT count(*) AS x FROM range(42)').column('x')[0].as_py(), flush=True)\n"
        "backend.close()\n"
    )
    env = {**os.environ, "FINDMATCHES_ENGINE": "spark", "FINDMATCHES_SPARK_MASTER": url}
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the process did not end after its work: {e.stdout!r}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["spark", "42"]
    assert _jobs(ui) > before
