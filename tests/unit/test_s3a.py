"""The S3A connector's Spark settings (findmatches/tasks/s3a.py), and where object URIs may be read."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from findmatches.engine.backends import DuckDBBackend
from findmatches.engine.types import EngineError, RecordSource
from findmatches.io.storage import Storage
from findmatches.tasks.jobs import Jobs
from findmatches.tasks.s3a import (
    S3A_JARS_ENV,
    TEMP_DIR_ENV,
    executors_share_this_disk,
    s3a_uri,
    spark_s3a_conf,
)


@pytest.fixture
def jars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    folder = tmp_path / "jars"
    folder.mkdir()
    made = [folder / "hadoop-aws-3.3.1.jar", folder / "aws-java-sdk-bundle-1.11.901.jar"]
    for jar in made:
        jar.write_bytes(b"PK")
    (folder / "README").write_text("not a jar")
    monkeypatch.setenv(S3A_JARS_ENV, str(folder))
    for name in ("AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    return sorted(made)


def test_the_settings_carry_the_jars_endpoint_and_credentials(jars: list[Path]) -> None:
    conf = spark_s3a_conf("http://127.0.0.1:9000")
    assert conf["spark.jars"] == ",".join(str(j) for j in jars)
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "AKIDEXAMPLE"
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "secret"
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith(".SimpleAWSCredentialsProvider")
    # hadoop-aws 3.3 reads these as plain numbers: Hadoop 3.4's "60s" defaults are overridden.
    assert conf["spark.hadoop.fs.s3a.threads.keepalivetime"] == "60"


def test_a_session_token_and_the_standard_endpoint_variable(
    jars: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.test")
    conf = spark_s3a_conf(None)
    assert conf["spark.hadoop.fs.s3a.session.token"] == "token"
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith(".TemporaryAWSCredentialsProvider")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "https://s3.example.test"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"


def test_aws_s3_itself_needs_no_endpoint(jars: list[Path]) -> None:
    conf = spark_s3a_conf(None)
    assert "spark.hadoop.fs.s3a.endpoint" not in conf
    assert "spark.hadoop.fs.s3a.path.style.access" not in conf


def test_no_settings_without_the_jars_or_credentials(
    jars: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert spark_s3a_conf("http://127.0.0.1:9000") == {}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv(S3A_JARS_ENV, str(tmp_path / "nowhere"))
    assert spark_s3a_conf("http://127.0.0.1:9000") == {}


def test_object_uris_are_named_for_the_connector_and_refused_by_duckdb(tmp_path: Path) -> None:
    assert s3a_uri("s3://bucket/people/part-0.csv") == "s3a://bucket/people/part-0.csv"
    source = RecordSource(uris=("s3a://bucket/people/part-0.csv",))
    assert source.locations == ("s3a://bucket/people/part-0.csv",)
    backend = DuckDBBackend(temp_dir=tmp_path)
    try:
        with pytest.raises(EngineError, match="Spark engine"):
            backend.load_records(source, "records")
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("master", "here"),
    [
        ("local[2]", True),
        ("local[*]", True),
        ("spark://127.0.0.1:7077", True),
        ("spark://localhost:7077,127.0.0.2:7078", True),
        ("spark://[::1]:7077", True),
        ("spark://127.0.0.1:7077,10.0.0.5:7077", False),
        ("spark://spark-master:7077", False),
        ("yarn", False),
        ("k8s://https://10.0.0.1:6443", False),
        ("sc://127.0.0.1:15002", False),
    ],
)
def test_whether_a_masters_executors_share_this_disk(master: str, here: bool) -> None:
    assert executors_share_this_disk(master) is here


def _jobs_for(tmp_path: Path) -> Any:
    jobs: Any = Jobs.__new__(Jobs)  # `_scratch` uses the storage and the run's S3A settings only
    jobs.storage = Storage(None, [tmp_path])
    jobs._s3a = lambda run: {"spark.jars": "x"}
    return jobs


def _run(arguments: dict[str, str], properties: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(task_run_id="tr-9", arguments=arguments, properties=properties or {})


def test_a_runs_scratch_is_beside_its_output_where_the_executors_may_be_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TEMP_DIR_ENV, raising=False)
    jobs = _jobs_for(tmp_path)
    monkeypatch.setenv("FINDMATCHES_SPARK_MASTER", "spark://10.0.0.5:7077")
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/"})) == "s3://bkt/out/_findmatches-scratch-tr-9"
    parquet = _run({"OutputS3Path": "s3://bkt/out/matches.parquet"})
    assert jobs._scratch(parquet) == "s3://bkt/out/_findmatches-scratch-tr-9"
    labeling = _run({}, {"LabelingSetGenerationTaskRunProperties": {"OutputS3Path": "s3://bkt/sets"}})
    assert jobs._scratch(labeling) == "s3://bkt/sets/_findmatches-scratch-tr-9"
    assert jobs._scratch(_run({})) is None  # an evaluation has no output: the work dir, unless configured
    assert jobs._scratch(_run({"OutputS3Path": str(tmp_path / "out")})) is None  # a local output
    monkeypatch.setenv(TEMP_DIR_ENV, "s3://scratch/findmatches/")
    assert jobs._scratch(_run({})) == "s3://scratch/findmatches/_findmatches-scratch-tr-9"
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/"})).startswith("s3://scratch/")
    monkeypatch.delenv(TEMP_DIR_ENV)
    monkeypatch.setenv("FINDMATCHES_SPARK_MASTER", "spark://127.0.0.1:7077")
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/"})) is None  # the executors are here
    jobs._s3a = lambda run: {}  # DuckDB, Spark Connect, or no connector: never
    monkeypatch.setenv(TEMP_DIR_ENV, "s3://scratch/findmatches/")
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/"})) is None
    # A Spark Connect server writes with its own S3 settings: under --spark-temp-dir where it is set.
    monkeypatch.setenv("FINDMATCHES_SPARK_MASTER", "sc://connect.example:15002")
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/", "Engine": "spark"})).startswith(
        "s3://scratch/"
    )
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/", "Engine": "duckdb"})) is None
    monkeypatch.delenv(TEMP_DIR_ENV)
    assert jobs._scratch(_run({"OutputS3Path": "s3://bkt/out/", "Engine": "spark"})) is None


def test_the_scratch_prefix_is_reached_with_the_connectors_settings(
    s3_bucket: str, s3_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine reads back what the executors wrote under an ``s3a://`` scratch prefix with the S3A
    settings the run's Spark session has (endpoint, credentials), through Arrow's S3 file system."""
    from findmatches.engine.backends import S3A_CONF_ENV
    from findmatches.engine.backends.spark import _object_store, _parquet_batches

    conf = {
        "spark.hadoop.fs.s3a.endpoint": s3_env.endpoint_url,
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.access.key": s3_env.access_key,
        "spark.hadoop.fs.s3a.secret.key": s3_env.secret_key,
    }
    monkeypatch.setenv(S3A_CONF_ENV, json.dumps(conf))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-the-connectors")  # the settings win over the chain
    table = pa.table({"l": list(range(10)), "r": list(range(10, 20))})
    body = io.BytesIO()
    pq.write_table(table, body, row_group_size=4)
    client = s3_env.client()
    client.put_object(Bucket=s3_bucket, Key="tmp/fm-stream-1/result/part-00000.parquet", Body=body.getvalue())
    fs, root = _object_store(f"s3a://{s3_bucket}/tmp/")
    assert root == f"{s3_bucket}/tmp"
    (part,) = [f.path for f in fs.get_file_info(pafs.FileSelector(f"{root}/fm-stream-1/result"))]
    got = pa.Table.from_batches(list(_parquet_batches(fs, [part], batch_rows=4)))
    assert got.equals(table)
    fs.delete_dir(f"{root}/fm-stream-1")
    left = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert left == ["tmp/"]  # Arrow keeps the parent as a folder marker: the run's prefix goes after it


def test_a_scratch_that_is_no_s3a_prefix_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from findmatches.engine.backends import SCRATCH_ENV
    from findmatches.engine.backends.spark import _scratch_from_env

    monkeypatch.setenv(SCRATCH_ENV, "/shared/tmp")
    with pytest.raises(EngineError, match="s3a://"):
        _scratch_from_env()
    monkeypatch.setenv(SCRATCH_ENV, "s3a://bucket/tmp/")
    assert _scratch_from_env() == "s3a://bucket/tmp"
    monkeypatch.delenv(SCRATCH_ENV)
    assert _scratch_from_env() is None
