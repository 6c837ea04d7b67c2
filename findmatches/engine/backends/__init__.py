"""Execution backends behind `findmatches.engine.backend.Backend`."""

from __future__ import annotations

import os
from pathlib import Path

from findmatches.engine.backend import Backend
from findmatches.engine.backends.duckdb import DuckDBBackend
from findmatches.engine.types import EngineError

__all__ = [
    "ENGINES",
    "ENGINE_ENV",
    "S3A_CONF_ENV",
    "SCRATCH_ENV",
    "SPARK_CONF_ENV",
    "DuckDBBackend",
    "engine_name",
    "open_backend",
]

#: The engine a process's runs use (a worker's may differ from the server's: a run can ask for one).
ENGINE_ENV = "FINDMATCHES_ENGINE"
#: Spark settings for the sessions a process starts (JSON object): what a run's capacity asks for.
SPARK_CONF_ENV = "FINDMATCHES_SPARK_CONF"
#: The S3A connector's Spark settings (JSON object), for sessions that read ``s3a://`` objects themselves.
S3A_CONF_ENV = "FINDMATCHES_SPARK_S3A_CONF"
#: Where a Spark session's executors write the results the engine reads back (an ``s3a://`` prefix), for
#: executors that do not share this machine's disk; unset, the run's temporary directory.
SCRATCH_ENV = "FINDMATCHES_SPARK_SCRATCH"
#: The backends a session may run on: embedded DuckDB (the default) and Apache Spark.
ENGINES = ("duckdb", "spark")


def engine_name() -> str:
    """The engine ``FINDMATCHES_ENGINE`` names (``duckdb`` when unset)."""
    name = (os.environ.get(ENGINE_ENV) or "duckdb").strip().lower()
    if name not in ENGINES:
        raise EngineError(f"Unknown engine {name!r} (FINDMATCHES_ENGINE): use one of {', '.join(ENGINES)}.")
    return name


def open_backend(temp_dir: Path | None = None) -> Backend:
    """A new backend of the configured engine (`engine_name`); one of DuckDB spills under ``temp_dir``."""
    if engine_name() == "spark":
        from findmatches.engine.backends.spark import SparkBackend  # PySpark: imported only when asked for

        return SparkBackend(temp_dir=temp_dir)
    return DuckDBBackend(temp_dir=temp_dir)
