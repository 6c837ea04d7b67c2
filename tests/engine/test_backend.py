"""The DuckDB backend stops a statement that is running when asked to, from another thread."""

from __future__ import annotations

import threading

import pytest

from findmatches.engine.backends import DuckDBBackend
from findmatches.engine.session import _watch
from findmatches.engine.types import Cancelled

# Hours of work for two cores: it only ends by being interrupted.
ENDLESS = "SELECT sum(hash(i)) AS s FROM range(1000000000000) t(i)"


@pytest.mark.parametrize("how", ["query", "execute", "stream"])
def test_interrupt_cancels_the_running_statement_and_later_ones(how: str) -> None:
    be = DuckDBBackend(threads=2)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            if how == "query":
                be.query(ENDLESS)
            elif how == "execute":
                be.execute(f"CREATE TABLE t AS {ENDLESS}")
            else:
                list(be.stream(ENDLESS, 1000))
        except BaseException as e:  # the test inspects it
            outcome.append(e)

    try:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=0.5)  # let the statement start: an interrupt before it would stop it at entry
        assert worker.is_alive()
        be.interrupt()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the statement went on after the interrupt"
        assert len(outcome) == 1 and isinstance(outcome[0], Cancelled), outcome
        with pytest.raises(Cancelled):
            be.query("SELECT 1 AS one")
    finally:
        be.close()


class _Recorder:
    def __init__(self) -> None:
        self.interrupted = threading.Event()

    def interrupt(self) -> None:
        self.interrupted.set()


def test_the_session_watcher_interrupts_once_the_caller_asks_to_stop() -> None:
    backend = _Recorder()
    asked = threading.Event()
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(backend, asked.is_set, done))
    watcher.start()
    assert not backend.interrupted.wait(0.5)
    asked.set()
    assert backend.interrupted.wait(10)
    watcher.join(10)
    assert not watcher.is_alive()
    # A finished session stops its watcher without interrupting.
    quiet = _Recorder()
    done2 = threading.Event()
    watcher2 = threading.Thread(target=_watch, args=(quiet, lambda: False, done2))
    watcher2.start()
    done2.set()
    watcher2.join(10)
    assert not watcher2.is_alive() and not quiet.interrupted.is_set()
