"""Neighbourhood agreement: the pair model's probabilities recalibrated for the candidate population by what the
candidate graph says about each pair.

The pair model sees two records alone, and its probabilities are calibrated on the labelled pairs, which active
learning drew from the hard region. The candidates hold more evidence: two records whose confident partners
are largely the same records are likelier one entity than their own comparison says (the variant forms of a
free-text entity, which share few words with each other but each with the entity's common forms), and two
that share none are less likely. So each pair also gets the Jaccard overlap of the two records' confident
neighbourhoods (their partners in the candidates scoring at least the threshold), and a logistic regression
on the labelled pairs' out-of-fold log-odds and that overlap gives the probability clustering uses (but
not as correlation clustering's weights in large components, which sum the links of shared neighbours
themselves: there the overlap merged namesakes). Where the overlap does not count for a match in the labels
(persons: a duplicate pair's records seldom share a third), the model's probabilities stay as they are.

The fit lifts no pair across the threshold on the model's probability alone: its crossing at overlap 0 may
rise above the threshold (free text: a true pair's records share partners, so a pair whose records share none
needs more), never fall below it. Active learning's labels hold few pairs between the confident ends, so a
free fit's boundary there rests on a handful of low-scored matches (three, in the 10M bench's labels, put it
at 0.275) and lifted every namesake pair above it in a population a thousand times the labelled sample's.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.sparse import coo_matrix, csr_matrix

_CLIP = 1e-4
# The most two-step paths between confidently linked records for which overlaps are counted (a hub of d
# confident links makes d^2).
MAX_PATHS = 50_000_000


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _CLIP, 1.0 - _CLIP)
    out: np.ndarray = np.log(q / (1.0 - q))
    return out


class Neighbourhoods:
    """The confident neighbourhoods of ``n`` records: the candidate pairs scoring at least ``threshold``."""

    def __init__(self, n: int, lo: np.ndarray, hi: np.ndarray, degree: np.ndarray) -> None:
        self.n = n
        self.degree = degree
        ones = np.ones(2 * len(lo))
        adjacency = csr_matrix(coo_matrix((ones, (np.r_[lo, hi], np.r_[hi, lo])), shape=(n, n)))
        # Common confident neighbours of every two records that have one (a sparse product: an entity of k
        # confident records gives k^2 entries, small beside the candidates).
        shared = (adjacency @ adjacency).tocoo()
        upper = shared.row < shared.col
        self._keys = shared.row[upper].astype(np.int64) * np.int64(n) + shared.col[upper].astype(np.int64)
        order = np.argsort(self._keys)
        self._keys, self._shared = self._keys[order], np.asarray(shared.data[upper], np.float64)[order]

    @classmethod
    def of(
        cls,
        n: int,
        left: np.ndarray,
        right: np.ndarray,
        prob: np.ndarray,
        threshold: float,
        known: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Neighbourhoods | None:
        """The neighbourhoods of the pairs scoring at least ``threshold`` and of the ``known`` links (an
        incremental run's existing groups, whose pairs are not candidates again); None where a few records
        have so many confident links that counting shared neighbours would cost more than MAX_PATHS."""
        strong = prob >= threshold
        extra_l, extra_r = known if known is not None else (left[:0], right[:0])
        ends_l = np.concatenate([left[strong], extra_l]).astype(np.int64)
        ends_r = np.concatenate([right[strong], extra_r]).astype(np.int64)
        lo, hi = np.minimum(ends_l, ends_r), np.maximum(ends_l, ends_r)
        keys = np.unique(lo * np.int64(n) + hi)
        lo, hi = keys // n, keys % n
        degree = np.bincount(np.concatenate([lo, hi]), minlength=n).astype(np.float64)
        if float(np.sum(degree**2)) > MAX_PATHS:
            return None
        return cls(n, lo, hi, degree)

    def overlap(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Per pair, the Jaccard overlap of the two records' confident neighbourhoods (a record is not its own
        neighbour, so two records confidently linked to each other and to nobody else overlap by 0)."""
        lo = np.minimum(left, right).astype(np.int64)
        hi = np.maximum(left, right).astype(np.int64)
        keys = lo * np.int64(self.n) + hi
        common = np.zeros(len(keys))
        if len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            found = self._keys[pos] == keys
            common[found] = self._shared[pos[found]]
        union = self.degree[lo] + self.degree[hi] - common
        out: np.ndarray = np.where(union > 0, common / np.maximum(union, 1.0), 0.0)
        return out


class Agreement:
    """Pair probabilities recalibrated with neighbourhood overlap: fitted on the labelled pairs' out-of-fold
    probabilities and overlaps, applied to any pair's model probability and overlap."""

    def __init__(self, neighbourhoods: Neighbourhoods, coef: np.ndarray, intercept: float) -> None:
        self.neighbourhoods = neighbourhoods
        self.coef = coef
        self.intercept = intercept

    @classmethod
    def fit(
        cls,
        neighbourhoods: Neighbourhoods,
        left: np.ndarray,
        right: np.ndarray,
        oof: np.ndarray,
        y: np.ndarray,
        threshold: float = 0.5,
    ) -> Agreement | None:
        """None where the labels lack a class or overlap does not count for a match."""
        y = np.asarray(y, np.int64)
        if y.sum() == 0 or y.sum() == len(y):
            return None
        anchor = float(_logit(np.asarray(threshold)))
        slope, weight, intercept = _anchored_fit(_logit(oof), neighbourhoods.overlap(left, right), y, anchor)
        if weight <= 0.0 or slope <= 0.0:
            return None
        return cls(neighbourhoods, np.array([slope, weight]), intercept)

    def predict(self, left: np.ndarray, right: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """The recalibrated probabilities of pairs whose model probabilities are ``prob``."""
        if len(prob) == 0:
            return np.zeros(0)
        z = (
            self.intercept
            + self.coef[0] * _logit(prob)
            + self.coef[1] * self.neighbourhoods.overlap(left, right)
        )
        out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return out


def _anchored_fit(
    log_odds: np.ndarray, overlap: np.ndarray, y: np.ndarray, anchor: float
) -> tuple[float, float, float]:
    """The slope on the log-odds, the weight on the overlap and the intercept of the logistic regression
    ``slope * log_odds + weight * overlap + intercept`` (slope and weight L2-penalised as scikit-learn's
    default is), fitted with its crossing at overlap 0 held at or above the threshold (``anchor`` log-odds):
    ``intercept = anchor * (1 - slope) - drop`` with ``drop >= 0``."""
    u = log_odds - anchor
    x = np.column_stack([u, overlap])
    target = np.asarray(y, np.float64)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = anchor + x @ w[:2] - w[2]
        residual = 1.0 / (1.0 + np.exp(-z)) - target
        value = float(np.sum(np.logaddexp(0.0, z) - target * z) + 0.5 * w[:2] @ w[:2])
        return value, np.r_[x.T @ residual + w[:2], -residual.sum()]

    bounds = [(None, None), (None, None), (0.0, None)]
    slope, weight, drop = minimize(
        loss, np.array([1.0, 0.0, 0.0]), jac=True, method="L-BFGS-B", bounds=bounds
    ).x
    return float(slope), float(weight), float(anchor * (1.0 - slope) - drop)
