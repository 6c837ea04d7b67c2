from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.clustering import cluster


def _same(rep: np.ndarray, a: int, b: int) -> bool:
    return bool(rep[a] == rep[b])


def test_weak_chain_is_split() -> None:
    # a-b and b-c are confident, but a and c are clearly different: average linkage keeps c apart.
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([0.95, 0.9]),
        0.5,
        score_pairs=lambda left, right: np.zeros(len(left)),
    )
    assert _same(result.representative, 0, 1)
    assert not _same(result.representative, 1, 2)


def test_clique_stays_together_and_confidence() -> None:
    left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
    result = cluster(4, left, right, np.array([0.9, 0.8, 0.85]), 0.5)
    assert len(set(result.representative[:3].tolist())) == 1
    assert result.representative[3] == 3
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    assert result.confidence[3] == 1.0


pairs = st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29), st.floats(0, 1)), max_size=80)
links = st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=10)


@settings(max_examples=60, deadline=None)
@given(pairs, links, links, st.floats(0.05, 0.95))
def test_clustering_invariants(
    edges: list[tuple[int, int, float]], must: list[tuple[int, int]], cannot: list[tuple[int, int]], t: float
) -> None:
    n = 30
    edges = [(a, b, p) for a, b, p in edges if a != b]
    must = [(a, b) for a, b in must if a != b]
    cannot = [(a, b) for a, b in cannot if a != b]
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    prob = np.array([e[2] for e in edges])
    ml = (np.array([m[0] for m in must], dtype=np.int64), np.array([m[1] for m in must], dtype=np.int64))
    cl = (np.array([c[0] for c in cannot], dtype=np.int64), np.array([c[1] for c in cannot], dtype=np.int64))
    rng = np.random.default_rng(0)
    result = cluster(n, left, right, prob, t, must=ml, cannot=cl, score_pairs=lambda a, b: rng.random(len(a)))
    rep = result.representative
    # Every record exactly once, represented by the smallest record of its cluster.
    assert rep.shape == (n,)
    for r in range(n):
        assert rep[r] == min(np.flatnonzero(rep == rep[r]))
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    # Must-links are always respected; cannot-links whenever they do not contradict the must-links.
    for a, b in must:
        assert _same(rep, a, b)
    contradicted = 0
    for a, b in cannot:
        if _same(rep, a, b):
            contradicted += 1
    assert contradicted <= result.dropped_cannot_links
    # Records with no link at or above the threshold, and no must-link, stay alone.
    linked = set(left[prob >= t].tolist()) | set(right[prob >= t].tolist())
    linked |= {x for m in must for x in m}
    for r in range(n):
        if r not in linked:
            assert np.sum(rep == rep[r]) == 1
