"""Neighbourhood agreement: overlaps of confident neighbourhoods and the recalibration fitted on them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.neighbourhood import MAX_PATHS, Agreement, Neighbourhoods


def _brute_overlap(
    n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, t: float, a: int, b: int
) -> float:
    near: list[set[int]] = [set() for _ in range(n)]
    for u, v, p in zip(left.tolist(), right.tolist(), prob.tolist(), strict=True):
        if p >= t and u != v:
            near[u].add(v)
            near[v].add(u)
    union = near[a] | near[b]
    return len(near[a] & near[b]) / len(union) if union else 0.0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 12), m=st.integers(0, 40), seed=st.integers(0, 10_000))
def test_overlap_is_the_jaccard_of_confident_neighbourhoods(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    left, right = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = left != right
    left, right = np.minimum(left, right)[keep], np.maximum(left, right)[keep]
    prob = rng.random(len(left))
    hoods = Neighbourhoods.of(n, left, right, prob, 0.5)
    assert hoods is not None
    ql, qr = np.triu_indices(n, 1)
    got = hoods.overlap(ql, qr)
    want = [
        _brute_overlap(n, left, right, prob, 0.5, a, b) for a, b in zip(ql.tolist(), qr.tolist(), strict=True)
    ]
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(hoods.overlap(qr, ql), got)


def test_a_hub_too_large_to_count_gives_no_neighbourhoods() -> None:
    hub = int(np.sqrt(MAX_PATHS)) + 2
    spokes = np.arange(1, hub + 1)
    hoods = Neighbourhoods.of(hub + 1, np.zeros(hub, np.int64), spokes, np.ones(hub), 0.5)
    assert hoods is None


def _entities(rng: np.random.Generator, count: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs inside ``count`` entities of ``size`` records (most scored confidently) and between entities
    (scored low), with the truth."""
    entity = np.repeat(np.arange(count), size)
    left, right = np.triu_indices(len(entity), 1)
    same = entity[left] == entity[right]
    prob = np.where(same, np.where(rng.random(len(left)) < 0.7, 0.9, 0.2), rng.uniform(0.0, 0.3, len(left)))
    return left, right, np.column_stack([prob, same.astype(np.float64)])


def test_agreement_raises_pairs_whose_records_share_their_partners() -> None:
    rng = np.random.default_rng(0)
    left, right, scored = _entities(rng, 20, 6)
    prob, truth = scored[:, 0], scored[:, 1].astype(np.int64)
    hoods = Neighbourhoods.of(120, left, right, prob, 0.5)
    assert hoods is not None
    agreement = Agreement.fit(hoods, left, right, prob, truth)
    assert agreement is not None and agreement.coef[1] > 0
    recalibrated = agreement.predict(left, right, prob)
    weak_true = (prob == 0.2) & (truth == 1)
    assert recalibrated[weak_true].mean() > recalibrated[truth == 0].mean()
    assert ((recalibrated >= 0.5) == (truth == 1)).mean() > ((prob >= 0.5) == (truth == 1)).mean()


def test_agreement_stays_out_where_overlap_does_not_count_for_a_match() -> None:
    rng = np.random.default_rng(1)
    # Pairs of two records each, confidently linked: no record shares a partner with another.
    left = np.arange(0, 200, 2)
    right = left + 1
    prob = np.where(rng.random(len(left)) < 0.5, 0.9, 0.1)
    truth = (prob > 0.5).astype(np.int64)
    hoods = Neighbourhoods.of(200, left, right, prob, 0.5)
    assert hoods is not None
    assert Agreement.fit(hoods, left, right, prob, truth) is None
    assert Agreement.fit(hoods, left, right, prob, np.ones(len(left), np.int64)) is None
