"""Which columns the labels show to carry no evidence of a match.

Real tables hold columns that say nothing about identity: an internal id, a load timestamp, a batch code,
free notes. Their chance agreement blurs the whole-record comparisons and the order inside large blocks, and
the model may lean on it (RLdata10000 with four such columns: pairwise F1 0.976 -> 0.933). A column is silent
when none of its similarities ranks the labelled matches apart from the non-matches beyond chance.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist
from scipy.stats import rankdata

# How far, in standard errors under no association, a column's similarity must rank the labelled matches from
# the non-matches (either way: agreeing on a shop's name counts against a match) to count as evidence.
SILENT_Z = 4.0
# Fewer labelled pairs of either kind than this, and no column is judged.
MIN_PAIRS = 10
# A column is judged only where the labelled pairs holding both its values are enough to find an AUC this far
# from chance: a second given name present in a few pairs is left to the model, not silenced for want of
# pairs (RLdata10000's fname_c2 and lname_c2).
DETECTABLE = 0.25


def silent_columns(values: dict[str, tuple[list[str | None], list[str | None]]], y: np.ndarray) -> list[str]:
    """The columns (of ``values``: each column's left and right values per labelled pair) whose similarities
    all rank the labelled matches (``y == 1``) within ``SILENT_Z`` standard errors of chance."""
    y = np.asarray(y, dtype=np.int64)
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_PAIRS:
        return []
    return [name for name, (left, right) in values.items() if not _separates(left, right, y)]


def _separates(left: list[str | None], right: list[str | None], y: np.ndarray) -> bool:
    present = np.array([a is not None and b is not None for a, b in zip(left, right, strict=True)])
    if not present.any():
        return True  # nothing to judge by: left to the model
    a = [v for v, k in zip(left, present, strict=True) if k]
    b = [v for v, k in zip(right, present, strict=True) if k]
    labels = y[present]
    for scorer in (JaroWinkler.normalized_similarity, fuzz.token_set_ratio):
        sims = np.asarray(cpdist(a, b, scorer=scorer, workers=1), dtype=np.float64)
        if _far_from_chance(sims, labels):
            return True
    return False


def _far_from_chance(score: np.ndarray, y: np.ndarray) -> bool:
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 < 2 or n0 < 2:
        return True  # too few to judge: kept
    se = np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))
    if SILENT_Z * se >= DETECTABLE:
        return True
    auc = (rankdata(score)[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return bool(abs(auc - 0.5) > SILENT_Z * se)
