"""Which columns the labels show to carry no evidence of a match.

Real tables hold columns that say nothing about identity: an internal id, a load timestamp, a batch code,
free notes. Their chance agreement blurs the whole-record comparisons and the order inside large blocks, and
the model may lean on it (RLdata10000 with four such columns: pairwise F1 0.976 -> 0.933). A column is silent
when none of its features (the comparisons the model would fit) ranks the labelled matches apart from the
non-matches beyond chance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

# How far, in standard errors under no association, one of a column's features must rank the labelled matches
# from the non-matches, in the direction the model fits it, to count as evidence: a similarity above, a
# difference below, a category's agreement either way (agreeing on a shop's name counts against a match).
# A similarity that ranks the matches below chance is no evidence but the labeling sets' choice: they are
# drawn where the model is unsure, so they hold non-matches that junk made look alike.
SILENT_Z = 4.0
# Fewer labelled pairs of either kind than this, and no column is judged.
MIN_PAIRS = 10
# A feature is judged only where the labelled pairs holding both values are enough to find an AUC this far
# from chance: a second given name present in a few pairs is left to the model, not silenced for want of
# pairs (RLdata10000's fname_c2 and lname_c2).
DETECTABLE = 0.25


def silent_columns(
    columns: Sequence[str], monotone: Sequence[int], x: np.ndarray, y: np.ndarray, skip: str = ""
) -> list[str]:
    """The source columns (``columns``: each feature's, in the order of ``x``'s columns, fitted in direction
    ``monotone``; ``skip`` not judged) none of whose features ranks the labelled matches (``y == 1``) beyond
    ``SILENT_Z`` standard errors of chance that way, in their first-seen order."""
    y = np.asarray(y, dtype=np.int64)
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_PAIRS:
        return []
    names = np.asarray(columns)
    return [
        column
        for column in dict.fromkeys(columns)
        if column != skip
        and not any(_separates(x[:, j], y, monotone[int(j)]) for j in np.flatnonzero(names == column))
    ]


def _separates(values: np.ndarray, y: np.ndarray, direction: int) -> bool:
    present = ~np.isnan(values)
    score, labels = values[present], y[present]
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    if n1 < 2 or n0 < 2:
        return True  # too few to judge: kept
    se = np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))
    if SILENT_Z * se >= DETECTABLE:
        return True
    auc = (rankdata(score)[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    lift = auc - 0.5
    return bool((abs(lift) if direction == 0 else direction * lift) > SILENT_Z * se)
