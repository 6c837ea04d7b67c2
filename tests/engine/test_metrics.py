from __future__ import annotations

import numpy as np

from findmatches.engine.metrics import clustering_scores


def test_perfect_and_split_clusterings() -> None:
    truth = np.array(["a", "a", "a", "b", "c"])
    perfect = clustering_scores(np.array([1, 1, 1, 2, 3]), truth)
    assert perfect["pairwise_f1"] == 1.0 and perfect["bcubed_f1"] == 1.0
    split = clustering_scores(np.array([1, 1, 2, 3, 4]), truth)
    assert split["pairwise_precision"] == 1.0
    assert abs(split["pairwise_recall"] - 1 / 3) < 1e-9
    merged = clustering_scores(np.array([1, 1, 1, 1, 1]), truth)
    assert merged["pairwise_recall"] == 1.0 and abs(merged["pairwise_precision"] - 0.3) < 1e-9
