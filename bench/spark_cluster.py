"""A standalone Spark cluster on loopback for the benchmarks: a master and workers started from the scripts
inside the PySpark package (as ``tests/api/test_spark_cluster.py`` starts one for its test)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.common import free_port, stop_process, tree_cpu_seconds, tree_rss_mib


class StandaloneCluster:
    """``workers`` workers of ``cores`` cores and ``memory`` to give each, under one master, with their logs
    and work dirs in ``root``; `url` is the master URL to give a Spark application."""

    def __init__(self, root: Path, workers: int = 2, cores: int = 1, memory: str = "8g") -> None:
        import pyspark

        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
        self.port, self.web = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.workers, self.cores, self.memory = workers, cores, memory
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> StandaloneCluster:
        env = {
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_WORKER_DIR": str(self.root / "work"),
        }
        master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(self.port)]
        self._start([*master, "--webui-port", str(self.web)], env, "master")
        self._wait(lambda: self.status(), "the Spark master")
        for i in range(self.workers):
            worker = ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1"]
            worker += ["--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(free_port())]
            self._start([*worker, self.url], env, f"worker{i}")
        self._wait(lambda: self.status().get("aliveworkers", 0) >= self.workers, "the Spark workers")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for proc in reversed(self.procs):
            stop_process(proc, grace_s=20)

    def _start(self, args: list[str], env: dict[str, str], name: str) -> None:
        with open(self.root / f"{name}.log", "wb") as log:
            self.procs.append(
                subprocess.Popen(
                    [str(self.spark_class), *args], stdout=log, stderr=subprocess.STDOUT, env=env
                )
            )

    def _wait(self, check: Any, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what} (logs in {self.root})")

    def status(self) -> dict[str, Any]:
        """The master's JSON status page (workers, running and completed applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web}/json/", timeout=5) as response:
            got: dict[str, Any] = json.load(response)
            return got

    def cpu_seconds(self) -> float:
        """CPU seconds the master, the workers and their executors have used so far."""
        return sum(tree_cpu_seconds(p.pid) for p in self.procs)

    def tree_rss_mib(self) -> float:
        """The resident memory now of the master, the workers and their executors, in MiB."""
        return sum(tree_rss_mib(p.pid) for p in self.procs)


class ConnectServer:
    """A Spark Connect server (``SparkConnectServer`` under the ``spark-submit`` inside the PySpark package) on
    ``master``: a driver kept between runs, as a service keeps one. ``url`` is its ``sc://`` address. Its
    executors take ``executor_memory`` and one core each; its driver ``driver_memory``."""

    def __init__(
        self, root: Path, master: str, driver_memory: str = "4g", executor_memory: str = "4g"
    ) -> None:
        import pyspark

        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
        self.port = free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.master, self.driver_memory, self.executor_memory = master, driver_memory, executor_memory
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ConnectServer:
        command = [
            str(self.submit),
            "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master",
            self.master,
            "--driver-memory",
            self.driver_memory,
            "--conf",
            f"spark.executor.memory={self.executor_memory}",
            "--conf",
            "spark.executor.cores=1",
            "--conf",
            f"spark.connect.grpc.binding.port={self.port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            "spark.driver.bindAddress=127.0.0.1",
            "--conf",
            "spark.ui.enabled=false",
        ]
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
        with open(self.root / "connect.log", "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark Connect server did not start (log in {self.root})")
            time.sleep(0.5)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace_s=30)

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def cpu_seconds(self) -> float:
        """CPU seconds the server's driver (and any process under it) has used so far."""
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def tree_rss_mib(self) -> float:
        """The resident memory now of the server's driver, in MiB."""
        return tree_rss_mib(self.proc.pid) if self.proc is not None else 0.0
