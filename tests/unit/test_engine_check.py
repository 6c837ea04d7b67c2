"""`spark_unavailable`: what the server checks before it runs anything on Spark."""

from __future__ import annotations

import importlib.util
import os

import pytest

from findmatches.config import Settings, spark_unavailable
from findmatches.server import ConfigError, check_engine
from findmatches.tasks.s3a import SPARK_SCAN_BYTES, SPARK_SCAN_BYTES_ENV, TEMP_DIR_ENV, spark_scan_bytes

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("sqlglot") is None,
    reason="the Spark checks need PySpark: pip install 'findmatches[spark]'",
)


def test_a_master_url_needs_java_and_a_connect_server_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("FINDMATCHES_SPARK_MASTER", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "Java 17" in (spark_unavailable("local[2]") or "")
    assert "Java 17" in (spark_unavailable() or "")
    want = None if importlib.util.find_spec("grpc") is not None else "connect extra"
    got = spark_unavailable("sc://127.0.0.1:15002")
    assert got is None if want is None else want in (got or "")
    monkeypatch.setenv("FINDMATCHES_SPARK_MASTER", "sc://127.0.0.1:15002")
    assert spark_unavailable() == got


@pytest.mark.parametrize("temp_dir", ["/shared/tmp", "s3://", "file:///tmp/x", "s3a://bucket/tmp"])
def test_a_spark_temp_dir_that_is_no_s3_prefix_is_refused_at_start(
    temp_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TEMP_DIR_ENV, raising=False)
    settings = Settings(engine="spark", spark_master="local[2]", spark_temp_dir=temp_dir)
    with pytest.raises(ConfigError, match="--spark-temp-dir must be an s3:// prefix"):
        check_engine(settings)
    assert TEMP_DIR_ENV not in os.environ


def test_a_spark_temp_dir_reaches_the_runs_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FINDMATCHES_ENGINE", "FINDMATCHES_SPARK_MASTER", TEMP_DIR_ENV):
        monkeypatch.setenv(name, "")  # restored after the test, as check_engine sets them
    check_engine(Settings(engine="spark", spark_master="local[2]", spark_temp_dir="s3://bkt/tmp/"))
    assert os.environ[TEMP_DIR_ENV] == "s3://bkt/tmp/"


@pytest.mark.parametrize("value", ["1GiB", "-1", "1e9", "many"])
def test_a_scan_threshold_that_is_no_byte_count_is_refused_at_start(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FINDMATCHES_ENGINE", "FINDMATCHES_SPARK_MASTER", TEMP_DIR_ENV):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv(SPARK_SCAN_BYTES_ENV, value)
    for engine in ("duckdb", "spark"):  # a run on a DuckDB server may ask for Spark
        with pytest.raises(ConfigError, match=f"{SPARK_SCAN_BYTES_ENV} must be a whole number of bytes"):
            check_engine(Settings(engine=engine, spark_master="local[2]"))


@pytest.mark.parametrize(("value", "want"), [("", SPARK_SCAN_BYTES), ("0", 0), (" 2048 ", 2048)])
def test_a_scan_threshold_of_bytes_is_taken(value: str, want: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FINDMATCHES_ENGINE", "FINDMATCHES_SPARK_MASTER", TEMP_DIR_ENV):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv(SPARK_SCAN_BYTES_ENV, value)
    check_engine(Settings(engine="spark", spark_master="local[2]"))
    assert spark_scan_bytes() == want
