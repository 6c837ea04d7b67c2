"""Targets that `test_kept_workers` runs in worker processes (importable by the workers' fork server)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

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
