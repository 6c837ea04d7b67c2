"""Clustering scored pairs into entities without over-merging, nor under-merging large entities.

1. Connected components over confident links (probability ≥ threshold) and must-links.
2. Components of up to ``complete_limit`` records: pieces of three or more get every missing pair scored, then a
   constrained average-linkage pass merges only groups whose average link is at least the threshold (or the
   lower cut that rebuilds the labelled groups best, `choose_link_cut`);
   cannot-linked groups never merge and must-linked records always do. A chain of weak links therefore no
   longer glues two entities together.
3. Larger components (a company's hundreds of name variants, a much-cited paper) are resolved on the pairs
   that were scored (blocking's candidates and the labels) only, by correlation clustering of their log-odds
   evidence (`correlation.py`): a pair that blocking did not propose is unknown, not evidence against a merge,
   so transitivity over strong links holds an entity together unless the pairs known between two of its parts
   weigh against it. Its cost follows the candidate pairs, not the square of the size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import binomtest

from findmatches.engine.correlation import CANNOT, correlation_clusters

PairScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Clusters:
    """Per record: the representative record id of its cluster and a confidence in [0, 1]."""

    representative: np.ndarray
    confidence: np.ndarray
    dropped_cannot_links: int = 0


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _pair_keys(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    keys: np.ndarray = lo.astype(np.int64) * np.int64(n) + hi.astype(np.int64)
    return keys


class _PairLookup:
    def __init__(self, n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray) -> None:
        self.n = n
        keys = _pair_keys(n, left, right)
        order = np.argsort(keys, kind="stable")
        self.keys, self.prob = keys[order], prob[order]

    def get(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = _pair_keys(self.n, left, right)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, max(0, len(self.keys) - 1))
        found = (self.keys[pos] == keys) if len(self.keys) else np.zeros(len(keys), dtype=bool)
        values = np.where(found, self.prob[pos] if len(self.keys) else 0.0, np.nan)
        return values, found


# Probabilities are clipped to this distance from 0 and 1 before they become log-odds weights.
_CLIP = 1e-4


def pair_weights(prob: np.ndarray, threshold: float) -> np.ndarray:
    """The evidence each scored pair gives for a merge: its log-odds of a match less the threshold's, so a
    pair at the threshold weighs nothing, a likely match weighs for and a likely non-match against."""
    p = np.clip(prob, _CLIP, 1.0 - _CLIP)
    t = min(max(threshold, _CLIP), 1.0 - _CLIP)
    weights: np.ndarray = np.log(p / (1.0 - p)) - np.log(t / (1.0 - t))
    return weights


def _resolve_large(
    labels: np.ndarray,
    large: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    must_groups: np.ndarray,
) -> np.ndarray:
    """New labels after the records of the ``large`` components are regrouped by `correlation_clusters` over
    the known pairs between them, starting from their must-linked groups."""
    nodes = np.flatnonzero(large)
    local = np.full(len(labels), -1, np.int64)
    local[nodes] = np.arange(len(nodes))
    inside = large[left] & large[right] & (labels[left] == labels[right])
    # Must-linked records start as one group (the must-link graph's components, numbered densely).
    _, start = np.unique(must_groups[nodes], return_inverse=True)
    group = correlation_clusters(
        start.astype(np.int64), local[left[inside]], local[right[inside]], weight[inside]
    )
    out = labels.copy()
    out[nodes] = int(labels.max()) + 1 + group
    _, out = np.unique(out, return_inverse=True)
    return out.astype(np.int64)


def _average_linkage(
    p: np.ndarray, forbid: np.ndarray, must: list[tuple[int, int]], threshold: float
) -> np.ndarray:
    """Constrained average linkage over a complete score matrix; returns a group index per member."""
    k = len(p)
    sums = p.astype(np.float64).copy()
    np.fill_diagonal(sums, 0.0)
    sizes = np.ones(k, dtype=np.float64)
    forbid = forbid.copy()
    active = np.ones(k, dtype=bool)
    group = np.arange(k)

    def merge(i: int, j: int) -> None:
        sums[i, :] += sums[j, :]
        sums[:, i] += sums[:, j]
        sums[i, i] = 0.0
        sizes[i] += sizes[j]
        forbid[i, :] |= forbid[j, :]
        forbid[:, i] |= forbid[:, j]
        active[j] = False
        group[group == j] = i

    for a, b in must:
        i, j = group[a], group[b]
        if i != j:
            merge(min(i, j), max(i, j))
    while active.sum() > 1:
        avg = sums / np.outer(sizes, sizes)
        mask = ~(active[:, None] & active[None, :]) | forbid
        np.fill_diagonal(mask, True)
        avg[mask] = -np.inf
        flat = int(np.argmax(avg))
        i, j = divmod(flat, k)
        if avg[i, j] < threshold:
            break
        merge(min(i, j), max(i, j))
    return group


def pairs_within(starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For runs of positions ``starts[c] .. starts[c] + sizes[c] - 1``: every pair of positions inside a run,
    as (run index, first position, second position), runs in order and pairs in row order."""
    sizes = np.asarray(sizes, np.int64)
    run = np.repeat(np.arange(len(sizes)), sizes)
    offset = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    first = np.repeat(np.asarray(starts, np.int64), sizes) + offset
    partners = sizes[run] - offset - 1
    piece = np.repeat(run, partners)
    left = np.repeat(first, partners)
    step = np.arange(int(partners.sum())) - np.repeat(np.cumsum(partners) - partners, partners) + 1
    return piece, left, left + step


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    *,
    must: tuple[np.ndarray, np.ndarray] = (EMPTY, EMPTY),
    cannot: tuple[np.ndarray, np.ndarray] = (EMPTY, EMPTY),
    score_pairs: PairScorer | None = None,
    complete_limit: int = 60,
    evidence: np.ndarray | None = None,
    link_cut: float | None = None,
) -> Clusters:
    """Cluster ``n`` records given scored pairs; ``must``/``cannot`` are constraints the result respects.
    Components of more than ``complete_limit`` records are resolved on the known pairs alone, weighed by
    ``evidence`` where given (each pair's probability before neighbourhood agreement, which correlation
    clustering would count twice: it sums the links of shared neighbours itself), else by ``prob``. Average
    linkage in the smaller components merges groups down to ``link_cut`` (default: the threshold)."""
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    prob = np.asarray(prob, np.float64)
    must_l, must_r = np.asarray(must[0], np.int64), np.asarray(must[1], np.int64)
    cannot_l, cannot_r = np.asarray(cannot[0], np.int64), np.asarray(cannot[1], np.int64)
    # Must-links win over contradicting cannot-links.
    must_groups = _components(n, must_l, must_r)
    ok = must_groups[cannot_l] != must_groups[cannot_r]
    dropped = int((~ok).sum())
    cannot_l, cannot_r = cannot_l[ok], cannot_r[ok]
    # Scores of all known pairs; labels override model scores.
    all_l = np.concatenate([left, must_l, cannot_l])
    all_r = np.concatenate([right, must_r, cannot_r])
    all_p = np.concatenate([prob, np.ones(len(must_l)), np.zeros(len(cannot_l))])
    all_e = np.concatenate(
        [prob if evidence is None else evidence, np.ones(len(must_l)), np.zeros(len(cannot_l))]
    )
    keys = _pair_keys(n, all_l, all_r)
    _, last = np.unique(keys[::-1], return_index=True)
    pick = len(keys) - 1 - last
    all_l, all_r, all_p, all_e = all_l[pick], all_r[pick], all_p[pick], all_e[pick]
    strong = all_p >= threshold
    labels = _components(n, all_l[strong], all_r[strong])
    large = (np.bincount(labels) > complete_limit)[labels] if n else np.zeros(0, bool)
    if large.any():
        cannot_pair = np.isin(keys[pick], _pair_keys(n, cannot_l, cannot_r))
        weight = np.where(cannot_pair, CANNOT, pair_weights(all_e, threshold))
        labels = _resolve_large(labels, large, all_l, all_r, weight, must_groups)
    lookup = _PairLookup(n, all_l, all_r, all_p)
    sizes = np.bincount(labels)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    refine = np.flatnonzero((sizes >= 3) | np.isin(np.arange(len(sizes)), labels[cannot_l]))
    # Pieces of large components are settled on the known pairs: none is scored completely.
    settled = np.zeros(len(sizes), bool)
    settled[labels[large]] = True
    refine = refine[(sizes[refine] >= 2) & ~settled[refine]]
    # Every pair inside the pieces to refine (positions into ``order``), built without a loop per piece;
    # the pairs nobody scored yet are scored now.
    piece_of, pos_l, pos_r = pairs_within(starts[refine], sizes[refine])
    cat_l, cat_r = order[pos_l], order[pos_r]
    values, found = lookup.get(cat_l, cat_r)
    missing = ~found
    if missing.any():
        if score_pairs is not None:
            values[missing] = score_pairs(
                np.minimum(cat_l, cat_r)[missing], np.maximum(cat_l, cat_r)[missing]
            )
        else:
            values[missing] = 0.0
        all_l = np.concatenate([all_l, cat_l[missing]])
        all_r = np.concatenate([all_r, cat_r[missing]])
        all_p = np.concatenate([all_p, values[missing]])
    pair_keys = _pair_keys(n, cat_l, cat_r)
    is_cannot = np.isin(pair_keys, _pair_keys(n, cannot_l, cannot_r))
    is_must = np.isin(pair_keys, _pair_keys(n, must_l, must_r))
    # Only pieces with a weak link or a cannot-link inside need linkage; the rest stay whole.
    weak = np.bincount(piece_of, weights=(values < threshold) | is_cannot, minlength=len(refine)) > 0
    final = labels.copy()
    next_label = int(labels.max()) + 1 if n else 0
    bounds = np.searchsorted(piece_of, np.arange(len(refine) + 1))
    for c in np.flatnonzero(weak).tolist():
        first, k = int(starts[refine[c]]), int(sizes[refine[c]])
        members = order[first : first + k]
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        i, j = pos_l[lo:hi] - first, pos_r[lo:hi] - first
        mat = np.zeros((k, k))
        mat[i, j] = values[lo:hi]
        mat[j, i] = values[lo:hi]
        forbid = np.zeros((k, k), dtype=bool)
        cut = is_cannot[lo:hi]
        forbid[i[cut], j[cut]] = True
        forbid[j[cut], i[cut]] = True
        tie = is_must[lo:hi]
        must_pairs = list(zip(i[tie].tolist(), j[tie].tolist(), strict=True))
        groups = _average_linkage(mat, forbid, must_pairs, threshold if link_cut is None else link_cut)
        for g in np.unique(groups)[1:]:
            final[members[groups == g]] = next_label
            next_label += 1
    return Clusters(*_finish(n, final, all_l, all_r, all_p), dropped_cannot_links=dropped)


def _finish(
    n: int, labels: np.ndarray, left: np.ndarray, right: np.ndarray, prob: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Representatives (smallest record id per cluster) and per-record confidence."""
    rids = np.arange(n, dtype=np.int64)
    rep_of_label = np.full(int(labels.max()) + 1 if n else 0, n, dtype=np.int64)
    # A repeated index keeps the last value assigned: in reverse, each label's smallest record id.
    rep_of_label[labels[::-1]] = rids[::-1]
    representative = rep_of_label[labels]
    sizes = np.bincount(labels)[labels] if n else np.zeros(0, np.int64)
    # Singletons: 1 - the strongest link they have; members: mean probability of their in-cluster links.
    best = np.zeros(n)
    np.maximum.at(best, left, prob)
    np.maximum.at(best, right, prob)
    confidence = 1.0 - best
    same = labels[left] == labels[right]
    ends = np.concatenate([left[same], right[same]])
    sums = np.bincount(ends, weights=np.concatenate([prob[same], prob[same]]), minlength=n)
    counts = np.bincount(ends, minlength=n)
    multi = sizes > 1
    confidence[multi] = np.where(counts[multi] > 0, sums[multi] / np.maximum(counts[multi], 1), 0.5)
    return representative, np.clip(confidence, 0.0, 1.0)


#: The average-linkage cuts `choose_link_cut` tries, as shares of the threshold.
LINK_CUTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)


@dataclass(frozen=True)
class Around:
    """The scored candidate pairs of a run (record ids below ``n``), and a scorer for the pairs it lacks: the
    neighbourhoods the labelled records are clustered in (`choose_link_cut`)."""

    n: int
    left: np.ndarray
    right: np.ndarray
    prob: np.ndarray
    score_pairs: PairScorer | None = None


def choose_link_cut(
    left: np.ndarray,
    right: np.ndarray,
    y: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    around: Around | None = None,
) -> tuple[float, dict[float, float]]:
    """The average-linkage cut that best rebuilds the labelled groups, and the labelled pairs' F1 at each cut
    tried.

    The labelled pairs (every pair of a labeling set, ``y`` 1 for a match) are clustered as `cluster` clusters
    the candidates, from their held-out probabilities ``prob``: components of links at the ``threshold``, then
    average linkage inside them down to each cut of `LINK_CUTS`. With ``around`` (the run's scored
    candidates), they are clustered inside the components of confident candidate links that hold them, with
    the candidate pairs of those components: a labeling set shows a few records of an entity, while the run
    clusters all of them, and the variants of a large free-text entity pull its common forms apart only
    there. The labelled groups show how unlike each other the records of one entity are: the variants of a
    free-text entity score low to each other though each links strongly to its common forms, and merging
    groups whose average link is under the threshold rebuilds them; persons' duplicates score high to each
    other, and a lower cut only merges namesakes. A lower cut counts only where the labelled pairs it groups
    otherwise than the threshold side with it (`_beats`); among those, ties keep the higher cut, and the
    threshold itself unless a lower cut rebuilds the groups better."""
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    y, prob = np.asarray(y), np.asarray(prob, np.float64)
    if len(left) == 0 or not np.any(y == 1):
        return threshold, {}
    all_l, all_r, all_p = left, right, prob
    score_pairs = None
    if around is not None and len(around.left):
        n = int(around.n)
        strong = around.prob >= threshold
        comp = _components(n, around.left[strong], around.right[strong])
        holds = np.zeros(int(comp.max()) + 1, dtype=bool)
        holds[comp[np.concatenate([left, right])]] = True
        inside = holds[comp[around.left]] & holds[comp[around.right]]
        # The labelled pairs carry their held-out probabilities, not the fitted model's.
        other = inside & ~np.isin(_pair_keys(n, around.left, around.right), _pair_keys(n, left, right))
        all_l = np.concatenate([around.left[other], left])
        all_r = np.concatenate([around.right[other], right])
        all_p = np.concatenate([np.asarray(around.prob, np.float64)[other], prob])
        score_pairs = around.score_pairs
    nodes, inverse = np.unique(np.concatenate([all_l, all_r]), return_inverse=True)
    a, b = inverse[: len(all_l)], inverse[len(all_l) :]
    la, lb = a[len(all_l) - len(left) :], b[len(all_l) - len(left) :]
    local = None if score_pairs is None else _local(score_pairs, nodes)
    scores: dict[float, float] = {}
    supported = {threshold}
    at_threshold: np.ndarray | None = None
    match = y == 1
    for share in LINK_CUTS:
        cut = threshold * share
        got = cluster(len(nodes), a, b, all_p, threshold, link_cut=cut, score_pairs=local).representative
        same = got[la] == got[lb]
        tp = int(np.sum(same & match))
        scores[cut] = 2 * tp / max(1, 2 * tp + int(np.sum(same & ~match)) + int(np.sum(~same & match)))
        if at_threshold is None:
            at_threshold = same
        elif _beats(same, at_threshold, match):
            supported.add(cut)
    best = max(scores[c] for c in supported)
    return max(c for c in supported if scores[c] >= best - 1e-9), scores


#: How sure the labelled pairs must be that a lower cut beats the threshold (`_beats`).
CUT_SIGNIFICANCE = 0.05


def _beats(same: np.ndarray, at_threshold: np.ndarray, match: np.ndarray) -> bool:
    """Whether the labelled pairs that a lower cut groups otherwise than the threshold (``same`` against
    ``at_threshold``) side with it in a one-sided sign test: each pair it joins is a match, or each it parts a
    non-match, more often than not. A lower cut also merges records nobody labelled, which the labels cannot
    judge; one labelled pair joined is no evidence for merging whole neighbourhoods."""
    changed = same != at_threshold
    right = int(np.sum(changed & (same == match)))
    if right == 0:
        return False
    return bool(binomtest(right, int(changed.sum()), 0.5, alternative="greater").pvalue <= CUT_SIGNIFICANCE)


def _local(score_pairs: PairScorer, nodes: np.ndarray) -> PairScorer:
    """``score_pairs`` for pairs given as positions in ``nodes``."""

    def score(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return score_pairs(nodes[left], nodes[right])

    return score
