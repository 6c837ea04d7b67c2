"""`spark_unavailable`: what the server checks before it runs anything on Spark."""

from __future__ import annotations

import importlib.util

import pytest

from findmatches.config import spark_unavailable

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
