"""The DuckDB backend stops a statement that is running when asked to, from another thread; the batch helpers
behind `Backend.stream` and `Backend.map_batches` keep every row, in order; memory sizes read as DuckDB reads
them."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.backend import size_bytes
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


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), max_size=12),
    rows=st.integers(min_value=1, max_value=25),
)
def test_rebatched_keeps_every_row_in_order_in_batches_of_the_length_asked(
    sizes: list[int], rows: int
) -> None:
    from findmatches.engine.backend import rebatched

    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    batches = [pa.record_batch({"v": list(range(s, s + n))}) for s, n in zip(starts, sizes, strict=True)]
    got = list(rebatched(batches, rows))
    assert [v for b in got for v in b.column(0).to_pylist()] == list(range(sum(sizes)))
    assert all(b.num_rows == rows for b in got[:-1]) and all(0 < b.num_rows <= rows for b in got)


@settings(max_examples=80, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=60), max_size=10),
    threads=st.integers(min_value=1, max_value=3),
    slice_min=st.integers(min_value=1, max_value=20),
)
def test_map_on_threads_maps_every_row_once_in_the_batches_order(
    sizes: list[int], threads: int, slice_min: int
) -> None:
    from findmatches.engine.backend import map_on_threads

    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    batches = [pa.record_batch({"v": list(range(s, s + n))}) for s, n in zip(starts, sizes, strict=True)]

    def squared(batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.record_batch({"v": [v * v for v in batch.column(0).to_pylist()]})

    got = list(map_on_threads(iter(batches), squared, threads, slice_min))
    assert [v for b in got for v in b.column(0).to_pylist()] == [v * v for v in range(sum(sizes))]

    # A batch of at least twice slice_min rows is cut among the threads; smaller ones go whole.
    def pieces(n: int) -> int:
        size = -(-n // threads)
        return 1 if n < 2 * slice_min else -(-n // size)

    assert len(got) == sum(pieces(n) for n in sizes if n)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("2GB", 2_000_000_000),
        ("1.5 GiB", 1_610_612_736),
        ("512MB", 512_000_000),
        ("4gib", 4 << 30),
        ("64000000B", 64_000_000),
        ("1TB", 10**12),
        ("lots", None),
        ("100", None),
        ("2 GB of it", None),
    ],
)
def test_sizes_are_read_as_duckdb_reads_its_memory_limit(size: str, expected: int | None) -> None:
    assert size_bytes(size) == expected
    if expected is not None:  # DuckDB takes every size that is read, with the same meaning
        con = duckdb.connect()
        shown = []
        for setting in (size, f"{expected}B"):
            con.execute(f"SET memory_limit = '{setting}'")
            shown.append(con.execute("SELECT current_setting('memory_limit')").fetchone())
        assert shown[0] == shown[1]
