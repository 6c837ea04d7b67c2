"""Kept workers (`Workers.call`'s ``keep``): a Spark run's worker process, holding its Spark application, serves
the next run with the same settings, one run at a time, until it has been idle for ``keep_s``; a worker that
was stopped or died is not used again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from findmatches.engine.types import Cancelled, EngineError
from findmatches.tasks.workers import WorkerFailed, Workers

TARGETS = "tests.unit.kept_targets"


@pytest.fixture
def workers() -> Iterator[Workers]:
    w = Workers(keep_s=30.0, stop_grace_s=2.0)
    yield w
    w.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A process that has exited but is not reaped yet is a zombie: gone for this test's purpose.
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def _pid(workers: Workers, tmp_path: Path, keep: str | None, env: dict[str, str] | None = None) -> Any:
    return workers.call(
        f"{TARGETS}:pid_and_env",
        {"name": "FM_TEST_VAR"},
        log_path=tmp_path / "log",
        should_stop=lambda: False,
        engine_style=False,
        env=env,
        keep=keep,
    )


def _wait(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_calls_with_one_key_share_a_process_and_not_each_others_environment(
    workers: Workers, tmp_path: Path
) -> None:
    first, seen = _pid(workers, tmp_path, "a", {"FM_TEST_VAR": "one"})
    assert seen == "one"
    again, seen = _pid(workers, tmp_path, "a")
    assert again == first and seen is None  # the first call's variable went with it
    plain, _ = _pid(workers, tmp_path, None)
    assert plain != first and not _alive(plain)  # a call without a key has a process of its own
    assert workers.kept_pids() == [first]
    assert "kept from an earlier run" in (tmp_path / "log").read_text()


def test_a_new_kept_worker_ends_the_idle_ones_of_other_keys_first(workers: Workers, tmp_path: Path) -> None:
    """An idle application holds executors that one with other settings may have to wait for."""
    first, _ = _pid(workers, tmp_path, "a")
    other, _ = _pid(workers, tmp_path, "b")
    assert other != first and not _alive(first)
    assert workers.kept_pids() == [other]


def test_a_kept_worker_ends_when_idle_and_at_close(tmp_path: Path) -> None:
    brief = Workers(keep_s=0.5)
    try:
        pid, _ = _pid(brief, tmp_path, "a")
        _wait(lambda: not _alive(pid))
        assert brief.kept_pids() == []
        pid, _ = _pid(brief, tmp_path, "a")  # a new one for the next call
        assert _alive(pid)
    finally:
        brief.close()
    _wait(lambda: not _alive(pid))
    kept = Workers(keep_s=30.0)
    pid, _ = _pid(kept, tmp_path, "a")
    kept.close()
    assert not _alive(pid)
    again, _ = _pid(kept, tmp_path, "a")  # after close, no worker is kept
    assert again != pid and not _alive(again)


def test_a_stopped_run_ends_its_kept_worker(workers: Workers, tmp_path: Path) -> None:
    pid, _ = _pid(workers, tmp_path, "a")
    log = tmp_path / "log"
    asked = time.monotonic() + 1.0
    with pytest.raises(Cancelled):
        workers.call(
            f"{TARGETS}:until_stopped",
            {},
            log_path=log,
            should_stop=lambda: time.monotonic() > asked,
            keep="a",
        )
    assert "waiting to be stopped" in log.read_text() and "The work stopped when asked." in log.read_text()
    assert not _alive(pid) and workers.kept_pids() == []
    again, _ = _pid(workers, tmp_path, "a")
    assert again != pid


def test_a_kept_worker_that_died_is_replaced(workers: Workers, tmp_path: Path) -> None:
    pid, _ = _pid(workers, tmp_path, "a")
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: not _alive(pid))
    again, _ = _pid(workers, tmp_path, "a")
    assert again != pid and _alive(again)


def test_a_refused_run_keeps_its_worker_and_an_unexpected_failure_ends_it(
    workers: Workers, tmp_path: Path
) -> None:
    pid, _ = _pid(workers, tmp_path, "a")

    def fail(kind: str) -> None:
        workers.call(
            f"{TARGETS}:fails",
            {"kind": kind},
            log_path=tmp_path / "log",
            should_stop=lambda: False,
            engine_style=False,
            keep="a",
        )

    with pytest.raises(EngineError):
        fail("engine")
    assert workers.kept_pids() == [pid]
    with pytest.raises(WorkerFailed, match="RuntimeError: something broke"):
        fail("other")
    assert workers.kept_pids() == [] and not _alive(pid)


def test_a_kept_worker_whose_spark_driver_died_is_replaced(workers: Workers, tmp_path: Path) -> None:
    """The worker's Spark application was lost while it waited (its driver's JVM killed): it refuses the next
    call and ends, and a new worker takes the call, which succeeds."""
    pid = workers.call(
        f"{TARGETS}:lose_spark_driver",
        {},
        log_path=tmp_path / "log",
        should_stop=lambda: False,
        engine_style=False,
        keep="a",
    )
    assert workers.kept_pids() == [pid]
    again, _ = _pid(workers, tmp_path, "a")
    assert again != pid
    _wait(lambda: not _alive(pid))
    assert workers.kept_pids() == [again]
    log = (tmp_path / "log").read_text()
    assert (
        f"worker process {pid} (kept from an earlier run) cannot take the run: its Spark driver does not "
        "answer (ConnectionRefusedError)"
    ) in log, log
