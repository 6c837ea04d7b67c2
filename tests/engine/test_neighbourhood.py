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


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.sampled_from([0.3, 0.5, 0.7]), weak=st.integers(3, 8))
def test_agreement_lifts_no_pair_over_the_threshold_without_shared_partners(
    seed: int, t: float, weak: int
) -> None:
    """Labels as active learning draws them: entities whose records all link confidently, non-matches scored
    low, and a few matches that the model scored low and whose records share no partner. A free fit puts its
    boundary at overlap 0 far below the threshold for those few (0.16 with three), lifting every unsupported
    pair of the population above it; the anchored fit never lifts one across the threshold."""
    rng = np.random.default_rng(seed)
    entity = np.repeat(np.arange(30), 3)
    left, right = np.triu_indices(len(entity), 1)
    same = entity[left] == entity[right]
    prob = np.where(same, rng.uniform(0.9, 0.99, len(left)), rng.uniform(0.0, 0.05, len(left)))
    isolated = len(entity) + np.arange(2 * weak)
    ll, lr = np.r_[left, isolated[0::2]], np.r_[right, isolated[1::2]]
    oof = np.r_[prob, rng.uniform(0.1, 0.3, weak)]
    y = np.r_[same.astype(np.int64), np.ones(weak, np.int64)]
    hoods = Neighbourhoods.of(len(entity) + len(isolated), left, right, prob, t)
    assert hoods is not None
    agreement = Agreement.fit(hoods, ll, lr, oof, y, t)
    if agreement is None:
        return
    below = np.linspace(0.01, t - 1e-6, 50)
    pair_l, pair_r = np.full(50, isolated[0]), np.full(50, isolated[1])
    assert (hoods.overlap(pair_l, pair_r) == 0).all()
    assert (agreement.predict(pair_l, pair_r, below) < t).all()


def test_agreement_may_lower_unsupported_pairs_where_the_labels_show_it() -> None:
    """Free text: the labelled matches share partners and the labelled non-matches scored high do not; the
    fit then sets the bar above the threshold for a pair whose records share none."""
    rng = np.random.default_rng(3)
    left, right, scored = _entities(rng, 20, 6)
    prob, truth = scored[:, 0].copy(), scored[:, 1].astype(np.int64)
    lone_l, lone_r = 120 + np.arange(0, 80, 2), 121 + np.arange(0, 80, 2)
    ll, lr = np.r_[left, lone_l], np.r_[right, lone_r]
    oof = np.r_[prob, np.full(40, 0.6)]
    y = np.r_[truth, (np.arange(40) < 10).astype(np.int64)]
    hoods = Neighbourhoods.of(
        200, np.r_[left, lone_l], np.r_[right, lone_r], np.r_[prob, np.full(40, 0.6)], 0.5
    )
    assert hoods is not None
    agreement = Agreement.fit(hoods, ll, lr, oof, y, 0.5)
    assert agreement is not None
    assert (agreement.predict(lone_l, lone_r, np.full(40, 0.6)) < 0.5).all()
