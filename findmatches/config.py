"""Frozen server settings, from command-line flags and the environment."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = Path(".findmatches")

#: Seconds a Spark run's kept worker waits idle for the next run (`Settings.spark_keep_s`).
DEFAULT_SPARK_KEEP_S = 300.0


@dataclass(frozen=True)
class Settings:
    """Everything ``findmatches serve`` needs to know."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    credentials_file: Path | None = None
    s3_endpoint_url: str | None = None
    allowed_paths: tuple[Path, ...] = field(default_factory=tuple)
    workers: int = 4
    #: Seconds every task run waits (cancellable) before its work: lets tests hold runs RUNNING.
    task_start_delay_s: float = 0.0
    #: Seconds without a byte of request body before the API answers 408 (tests shorten it).
    body_timeout_s: float = 30.0
    #: API requests a second each account may make (bursts of twice that) before ThrottlingException; 0: no
    #: limit. The default is far above what a person or a pipeline sends, and stops one runaway client.
    account_rate: float = 1000.0
    #: The most memory (MiB) one task run's worker process may use before it is stopped; None: 80 % of the
    #: machine's physical memory.
    run_memory_mb: int | None = None
    #: The engine task runs use: "duckdb" (embedded, the default) or "spark".
    engine: str = "duckdb"
    #: The Spark master for the Spark engine (``spark://host:7077``, ``local[N]``); None: local[2].
    spark_master: str | None = None
    #: An ``s3://`` prefix for the Spark runs' scratch results (`findmatches.tasks.s3a.TEMP_DIR_ENV`).
    spark_temp_dir: str | None = None
    #: Seconds a Spark run's worker, with its Spark application, is kept idle for the next run with the same
    #: executors; 0: an application per run (`findmatches.tasks.workers`).
    spark_keep_s: float = DEFAULT_SPARK_KEEP_S
    #: Test-only: seconds a run's worker process waits (stoppable) before its work, so tests can kill it.
    worker_hold_s: float = 0.0

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Local roots that file:// URIs and plain paths may use (default: the data dir)."""
        return self.allowed_paths or (self.data_dir,)


def is_loopback(host: str) -> bool:
    """True for localhost and addresses in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def spark_unavailable(master: str | None = None) -> str | None:
    """Why the Spark engine cannot run in this environment on ``master`` (default: FINDMATCHES_SPARK_MASTER),
    or None: PySpark or sqlglot missing; Java missing, unless the master is a Spark Connect server (``sc://``),
    whose clients need gRPC instead."""
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("sqlglot") is None:
        return "the Spark engine needs PySpark and sqlglot: pip install 'findmatches[spark]'"
    if (master or os.environ.get("FINDMATCHES_SPARK_MASTER") or "").startswith("sc://"):
        if importlib.util.find_spec("grpc") is None:
            return "Spark Connect needs PySpark's connect extra: pip install 'findmatches[spark]'"
        return None
    home = os.environ.get("JAVA_HOME")
    if shutil.which("java", path=os.path.join(home, "bin") if home else None) is None:
        return "the Spark engine needs Java 17: install it (java on PATH) or set JAVA_HOME"
    return None
