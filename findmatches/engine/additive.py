"""Additive models compiled into per-feature lookups, so scoring millions of pairs costs a few array passes.

The match model's members are additive in their features: a gradient-boosting model whose trees each split on
one feature (``interaction_cst="no_interactions"``) is a sum of step functions, one per feature, and a logistic
regression over per-feature imputation, indicators and scaling is a sum of linear pieces. Either is recovered
exactly by probing the fitted model (a Generalised Additive Model in Fellegi-Sunter terms: one partial
log-odds weight per comparison outcome), and evaluated with one ``searchsorted`` (steps) or one matrix product
(linear) per batch instead of walking hundreds of trees for each pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RawFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class StepAdditive:
    """``raw(x)[:, m] = bias[m] + Σ_j values_j[bin_j(x_j), m]`` over the features that some member splits on;
    a missing value adds ``nan_values_j[m]``. Bins are ``searchsorted(thresholds_j, x_j, side="left")``, the
    trees' own rule (``x <= threshold`` goes left)."""

    bias: np.ndarray
    features: tuple[int, ...]
    thresholds: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    nan_values: tuple[np.ndarray, ...]

    @classmethod
    def probe(
        cls, members: Sequence[RawFn], thresholds: Sequence[Sequence[np.ndarray]], width: int
    ) -> StepAdditive:
        """Compile ``members`` (raw-score functions, additive in the features) given each member's split
        thresholds per feature. Every member is probed at one point per bin of the union of thresholds."""
        base = np.full((1, width), np.nan)
        bias = np.array([float(f(base)[0]) for f in members])
        features, ths, values, nans = [], [], [], []
        for j in range(width):
            parts = [np.asarray(t[j], dtype=np.float64) for t in thresholds]
            t = np.unique(np.concatenate(parts)) if parts else np.zeros(0)
            if len(t) == 0:
                continue
            points = np.append(t, t[-1] + 1.0)  # each bin's right end; the last bin is open
            grid = np.full((len(points) + 1, width), np.nan)
            grid[:-1, j] = points
            probed = np.column_stack([f(grid) for f in members]) - bias
            features.append(j)
            ths.append(t)
            values.append(probed[:-1])
            nans.append(probed[-1])
        return cls(bias, tuple(features), tuple(ths), tuple(values), tuple(nans))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores, shape (rows, members)."""
        out = np.tile(self.bias, (len(x), 1))
        for j, t, v, nv in zip(self.features, self.thresholds, self.values, self.nan_values, strict=True):
            col = np.asarray(x[:, j], dtype=np.float64)
            missing = np.isnan(col)
            add = v[np.searchsorted(t, col, side="left")]
            if missing.any():
                add[missing] = nv
            out += add
        return out

    def contributions(self, x: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        """The weighted sum of the members' raw scores (``raw(x) @ weights``) split by feature: its bias and
        each feature's term, shape (rows, width); a feature no member splits on adds 0."""
        out = np.zeros((len(x), x.shape[1]))
        for j, t, v, nv in zip(self.features, self.thresholds, self.values, self.nan_values, strict=True):
            col = np.asarray(x[:, j], dtype=np.float64)
            add = (v @ weights)[np.searchsorted(t, col, side="left")]
            add[np.isnan(col)] = float(nv @ weights)
            out[:, j] = add
        return float(self.bias @ weights), out


@dataclass(frozen=True)
class LinearAdditive:
    """``raw(x) = bias + x·slopes`` with each missing value contributing ``nan_values_j`` instead."""

    bias: np.ndarray
    slopes: np.ndarray
    nan_values: np.ndarray

    @classmethod
    def probe(cls, members: Sequence[RawFn], width: int) -> LinearAdditive:
        """Compile ``members`` (raw-score functions, linear in each present feature) by probing at 0, 1 and
        a missing value, one feature at a time."""
        zero = np.zeros((1, width))
        unit = np.vstack([np.eye(width), np.where(np.eye(width) > 0, np.nan, 0.0)])
        bias = np.array([float(f(zero)[0]) for f in members])
        probed = np.column_stack([f(unit) for f in members]) - bias
        return cls(bias, probed[:width], probed[width:])

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores, shape (rows, members)."""
        missing = np.isnan(x)
        filled = np.where(missing, 0.0, x)
        return np.asarray(self.bias + filled @ self.slopes + missing @ self.nan_values)

    def contributions(self, x: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
        """The weighted sum of the members' raw scores (``raw(x) @ weights``) split by feature: its bias and
        each feature's term, shape (rows, width). As in `StepAdditive`, a term is relative to a missing value
        (which adds 0), and the bias is the score of a row of missing values."""
        missing = np.isnan(x)
        filled = np.where(missing, 0.0, x).astype(np.float64)
        nan_terms = self.nan_values @ weights
        out = np.where(missing, 0.0, filled * (self.slopes @ weights) - nan_terms)
        return float(self.bias @ weights + nan_terms.sum()), np.asarray(out, dtype=np.float64)
