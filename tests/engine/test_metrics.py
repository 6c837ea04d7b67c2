from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.metrics import CURVE_POINTS, clustering_scores, pr_curve


def test_perfect_and_split_clusterings() -> None:
    truth = np.array(["a", "a", "a", "b", "c"])
    perfect = clustering_scores(np.array([1, 1, 1, 2, 3]), truth)
    assert perfect["pairwise_f1"] == 1.0 and perfect["bcubed_f1"] == 1.0
    split = clustering_scores(np.array([1, 1, 2, 3, 4]), truth)
    assert split["pairwise_precision"] == 1.0
    assert abs(split["pairwise_recall"] - 1 / 3) < 1e-9
    merged = clustering_scores(np.array([1, 1, 1, 1, 1]), truth)
    assert merged["pairwise_recall"] == 1.0 and abs(merged["pairwise_precision"] - 0.3) < 1e-9


@given(
    st.lists(st.tuples(st.booleans(), st.floats(0.0, 1.0)), min_size=2, max_size=600).filter(
        lambda rows: 0 < sum(y for y, _ in rows) < len(rows)
    )
)
@settings(max_examples=60, deadline=None)
def test_pr_curve_runs_from_high_threshold_to_low(rows: list[tuple[bool, float]]) -> None:
    """The evaluation's curve: at most CURVE_POINTS points, thresholds falling, recall never falling, every
    value in [0, 1], the last point's recall 1 (the lowest threshold takes every pair), and the operating
    point of the threshold on it."""
    y = np.asarray([int(v) for v, _ in rows])
    scores = np.asarray([s for _, s in rows])
    curve = pr_curve(y, scores, threshold=0.5)
    assert 1 <= len(curve) <= CURVE_POINTS
    predicted = scores >= 0.5
    if (
        predicted.any()
    ):  # the operating point of 0.5 survives the thinning: "score >= 0.5"'s precision, recall
        tp = int((predicted & (y == 1)).sum())
        precision, recall = tp / int(predicted.sum()), tp / int(y.sum())
        assert any(abs(p - precision) < 1e-9 and abs(r - recall) < 1e-9 for t, p, r in curve if t >= 0.5)
    thresholds = [t for t, _, _ in curve]
    recalls = [r for _, _, r in curve]
    assert thresholds == sorted(thresholds, reverse=True)
    assert recalls == sorted(recalls)
    assert all(0.0 <= p <= 1.0 and 0.0 <= r <= 1.0 for _, p, r in curve)
    assert recalls[-1] == 1.0
