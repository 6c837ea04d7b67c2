"""Quality measures: cross-validated evaluation of the pair model and scores of a clustering against truth."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import GroupKFold, StratifiedKFold

from findmatches.engine.features import FeatureSpec
from findmatches.engine.model import MatchModel
from findmatches.engine.types import ColumnImportance, EvaluationResult


def _folds(y: np.ndarray, groups: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep each labeling set on one side (pairs of one set share records) when possible."""
    unique_groups = np.unique(groups)
    minority = int(min(y.sum(), len(y) - y.sum()))
    if len(unique_groups) >= 3:
        k = min(5, len(unique_groups))
        folds = list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))
        if all(0 < y[train].sum() < len(train) for train, _ in folds):
            return folds
    k = max(2, min(5, minority))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def cross_validate(
    spec: FeatureSpec, x: np.ndarray, y: np.ndarray, groups: np.ndarray, threshold: float, seed: int = 0
) -> tuple[EvaluationResult, np.ndarray]:
    """Out-of-fold probabilities → AUPRC, precision, recall, F1 and confusion counts at ``threshold``."""
    y = np.asarray(y, dtype=np.int64)
    oof = np.zeros(len(y))
    for train, test in _folds(y, groups, seed):
        model = MatchModel(spec, seed).fit(x[train], y[train], committee=False)
        oof[test] = model.predict(x[test])
    predicted = oof >= threshold
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    tn = int((~predicted & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auprc = min(1.0, float(average_precision_score(y, oof))) if 0 < y.sum() < len(y) else 0.0
    result = EvaluationResult(
        area_under_pr_curve=auprc,
        precision=precision,
        recall=recall,
        f1=f1,
        true_positives=tp,
        false_positives=fp,
        true_negatives=tn,
        false_negatives=fn,
        curve=pr_curve(y, oof, threshold=threshold) if 0 < y.sum() < len(y) else [],
        threshold=threshold,
    )
    return result, oof


CURVE_POINTS = 200


def pr_curve(
    y: np.ndarray, scores: np.ndarray, points: int = CURVE_POINTS, threshold: float | None = None
) -> list[tuple[float, float, float]]:
    """(threshold, precision, recall) along the precision-recall curve of ``scores``, highest threshold first,
    thinned to at most ``points``: the ends kept, and the operating point of ``threshold`` (the lowest curve
    threshold reaching it, where "score >= threshold" has its precision and recall)."""
    precision, recall, thresholds = precision_recall_curve(y, scores)
    # precision_recall_curve's last point (precision 1, recall 0) has no threshold.
    rows = [
        (float(t), float(p), float(r))
        for t, p, r in zip(thresholds, precision[:-1], recall[:-1], strict=True)
    ]
    rows.reverse()
    if len(rows) > points:
        keep = np.linspace(0, len(rows) - 1, points - 1).round().astype(np.int64)
        if threshold is not None:
            reached = [i for i, row in enumerate(rows) if row[0] >= threshold]
            keep = np.append(keep, reached[-1] if reached else 0)
        rows = [rows[int(i)] for i in np.unique(keep)]
    return rows


def column_importances(
    spec: FeatureSpec, model: MatchModel, x: np.ndarray, y: np.ndarray, seed: int = 0
) -> list[ColumnImportance]:
    """Permutation importance per source column (all its features shuffled together): how far the predicted
    probabilities move on average, scaled so that the most important column is 1. A column joined from
    columns of two schemas (`findmatches.engine.unioned`) gives its importance to each of them: Glue names
    the transform's own columns."""
    rng = np.random.default_rng(seed)
    base = model.predict(x)
    names = [c for c in dict.fromkeys(spec.columns) if c in {p.name for p in spec.profiles}]
    drops: dict[str, float] = {}
    for name in names:
        idx = [i for i, c in enumerate(spec.columns) if c == name]
        moves = []
        for _ in range(3):
            shuffled = x.copy()
            perm = rng.permutation(len(x))
            shuffled[:, idx] = x[perm][:, idx]
            moves.append(float(np.mean(np.abs(base - model.predict(shuffled)))))
        drops[name] = float(np.mean(moves))
    top = max(drops.values(), default=0.0)
    sources = {p.name: p.source_columns for p in spec.profiles}
    scaled = {c: (v / top if top > 0 else 0.0) for k, v in drops.items() for c in sources[k]}
    return sorted(
        (ColumnImportance(column=k, importance=round(v, 4)) for k, v in scaled.items()),
        key=lambda c: (-c.importance, c.column),
    )


def _pair_count(sizes: np.ndarray) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def clustering_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise precision/recall/F1 and B-cubed precision/recall/F1 of cluster ids against true entity ids."""
    _, pred = np.unique(np.asarray(predicted), return_inverse=True)
    _, true = np.unique(np.asarray(truth), return_inverse=True)
    joint = pred.astype(np.int64) * (int(true.max()) + 1 if len(true) else 1) + true
    _, joint_id, joint_sizes = np.unique(joint, return_inverse=True, return_counts=True)
    pred_sizes = np.bincount(pred)
    true_sizes = np.bincount(true)
    tp = _pair_count(joint_sizes)
    pp = _pair_count(pred_sizes)
    tt = _pair_count(true_sizes)
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    inter = joint_sizes[joint_id].astype(np.float64)
    b_precision = float(np.mean(inter / pred_sizes[pred])) if len(pred) else 1.0
    b_recall = float(np.mean(inter / true_sizes[true])) if len(true) else 1.0
    b_f1 = 2 * b_precision * b_recall / (b_precision + b_recall) if b_precision + b_recall else 0.0
    return {
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": f1,
        "true_pairs": float(tt),
        "predicted_pairs": float(pp),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": b_f1,
    }
