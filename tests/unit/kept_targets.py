"""Targets that `test_kept_workers` runs in worker processes (importable by the workers' fork server)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from findmatches.engine.types import Cancelled, EngineError


def pid_and_env(name: str) -> tuple[int, str | None]:
    """This process's id and its environment's ``name``."""
    return os.getpid(), os.environ.get(name)


def until_stopped(log: Callable[[str], None], should_stop: Callable[[], bool]) -> None:
    """Wait, as the engine does between its steps, until asked to stop."""
    log("waiting to be stopped")
    while not should_stop():
        time.sleep(0.05)
    raise Cancelled("stopped")


def fails(kind: str) -> None:
    """Fail as the engine refuses data (``engine``), or unexpectedly."""
    if kind == "engine":
        raise EngineError("the data is refused")
    raise RuntimeError("something broke")


class _DeadDriver:
    """A Spark session whose driver's JVM is gone: every call into it fails, as py4j's calls then do."""

    @property
    def sparkContext(self) -> Any:
        raise ConnectionRefusedError("the Java gateway is gone")

    def stop(self) -> None:
        raise ConnectionRefusedError("the Java gateway is gone")


def lose_spark_driver() -> int:
    """Leave this worker holding a Spark session whose driver died, as one does when its JVM is killed while
    the worker waits for its next run; this process's id."""
    from findmatches.engine.backends import spark

    spark._root = _DeadDriver()  # type: ignore[assignment]
    return os.getpid()
