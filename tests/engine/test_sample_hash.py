"""`sample_hash`: the backend-independent pseudo-random numbers that the engine's samples are drawn with."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.backend import SAMPLE_HASH_RANGE, sample_hash
from findmatches.engine.backends import DuckDBBackend

P = SAMPLE_HASH_RANGE


def reference(*values: int, seed: int = 0) -> int:
    """The documented arithmetic in Python's unbounded integers."""
    folded = values[0] % P
    for value in values[1:]:
        folded = (folded * 65599 + value % P) % P
    affine = (folded * 48271 + 11 + seed % P) % P
    return (affine * affine + 7) % P


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=20),
    st.integers(0, 2**63 - 1),
    st.integers(0, 1000),
)
def test_sample_hash_is_the_documented_arithmetic_without_overflow(
    ids: list[int], other: int, seed: int
) -> None:
    be = DuckDBBackend(threads=1)
    try:
        be.register("ids", pa.table({"x": pa.array(ids, pa.int64())}))
        got = be.query(
            f"SELECT {sample_hash('x', seed=seed)} AS one, {sample_hash('x', str(other))} AS pair FROM ids"
        ).to_pydict()
    finally:
        be.close()
    assert got["one"] == [reference(x, seed=seed) for x in ids]
    assert got["pair"] == [reference(x, other) for x in ids]
    assert all(0 <= h < P for h in got["one"] + got["pair"])


def test_neighbouring_ids_are_drawn_independently() -> None:
    # Records are often sorted with their duplicates side by side: a sample must not keep or drop neighbours
    # together (a multiplicative hash alone never keeps both of two neighbours at small rates).
    be = DuckDBBackend(threads=1)
    try:
        h = be.query(f"SELECT {sample_hash('i')} AS h FROM range(400000) t(i) ORDER BY i").column("h")
    finally:
        be.close()
    values = h.to_numpy()
    for rate in (0.01, 0.05, 0.3):
        kept = values < rate * P
        assert abs(kept.mean() / rate - 1) < 0.1
        # Neighbours kept together as often as chance has it (about 1,000 pairs expected at 5 %).
        for lag in (1, 2, 7) if rate >= 0.05 else ():
            both = (kept[:-lag] & kept[lag:]).mean()
            assert abs(both / rate**2 - 1) < 0.15, (rate, lag, both / rate**2)
    residues = np.bincount(values % 50, minlength=50) / len(values)
    assert np.all(np.abs(residues * 50 - 1) < 0.05)
