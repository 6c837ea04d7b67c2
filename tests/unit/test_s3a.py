"""The S3A connector's Spark settings (findmatches/tasks/s3a.py), and where object URIs may be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from findmatches.engine.backends import DuckDBBackend
from findmatches.engine.types import EngineError, RecordSource
from findmatches.tasks.s3a import S3A_JARS_ENV, s3a_uri, spark_s3a_conf


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
