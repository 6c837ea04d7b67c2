"""Correlation clustering of a sparse signed graph: the grouping that maximises the total weight of the pairs
inside groups, where a pair's weight is the evidence that its two records match (positive) or differ
(negative), and a pair nobody scored weighs nothing.

Two heuristics, the better objective kept:
- greedy additive edge contraction (GAEC, Keuper et al. 2015), the usual first step of multicut solvers:
  the two groups whose pairs between them weigh most merge, their pairs to other groups summed, until no two
  groups weigh for a merge. The strongest evidence is used first, so an entity's own links join before a
  weaker bridge to another entity is looked at, and by then the pairs known across weigh against it. Then
  nodes move, one at a time, to the group they gain most by joining (or leave to be alone).
- Leiden's multilevel scheme: nodes move; each group is refined from singletons within it; the refined
  pieces become the nodes of a smaller graph (weights summed), starting in their groups, and move again,
  which merges whole groups whose pairs weigh for it or takes a piece to where it belongs.
Every step raises the objective, so both end.
"""

from __future__ import annotations

import heapq

import numpy as np

# The weight of a cannot-link: no sum of other pairs outweighs it.
CANNOT = -1e9
MAX_SWEEPS = 16
MAX_LEVELS = 32


def _adjacency(num: int, left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSR adjacency (both directions) of the graph with parallel edges summed and self-loops dropped."""
    keep = left != right
    lo = np.minimum(left[keep], right[keep])
    hi = np.maximum(left[keep], right[keep])
    keys, inverse = np.unique(lo * np.int64(num) + hi, return_inverse=True)
    summed = np.bincount(inverse, weights=weight[keep]) if len(keys) else np.zeros(0)
    lo, hi = keys // num, keys % num
    src = np.concatenate([lo, hi])
    dst = np.concatenate([hi, lo])
    both = np.concatenate([summed, summed])
    order = np.argsort(src, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=num))])
    return indptr, dst[order], both[order]


def _move_nodes(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    group: np.ndarray,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """Local moving from ``group`` (ids below the number of nodes): each node to the neighbouring group it
    gains most by joining, or alone (a new id); with ``within``, only to groups of neighbours in its own
    ``within``."""
    num = len(group)
    group = group.copy()
    size = np.bincount(group, minlength=2 * num + 1)
    fresh = num
    for _ in range(MAX_SWEEPS):
        moved = False
        for v in range(num):
            a, b = indptr[v], indptr[v + 1]
            neighbours, w = indices[a:b], weights[a:b]
            if within is not None:
                same = within[neighbours] == within[v]
                neighbours, w = neighbours[same], w[same]
            if not len(neighbours):
                continue
            ids, inverse = np.unique(group[neighbours], return_inverse=True)
            sums = np.bincount(inverse, weights=w)
            current = group[v]
            here = float(sums[ids == current].sum())
            best = int(np.argmax(sums))
            target = -1
            if sums[best] > max(here, 0.0) + 1e-9:
                target = int(ids[best])
            elif here < -1e-9 and size[current] > 1:  # its group is against it and no other is for it
                target, fresh = fresh, fresh + 1
                if target >= len(size):
                    size = np.concatenate([size, np.zeros(len(size), np.int64)])
            if target >= 0:
                size[current] -= 1
                size[target] += 1
                group[v] = target
                moved = True
        if not moved:
            break
    return group


def _contract(num: int, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """GAEC: a group id per node, merging the heaviest positive pair of groups first."""
    neighbours: list[dict[int, float]] = [
        dict(
            zip(
                indices[indptr[v] : indptr[v + 1]].tolist(),
                weights[indptr[v] : indptr[v + 1]].tolist(),
                strict=True,
            )
        )
        for v in range(num)
    ]
    parent = list(range(num))
    heap = [(-w, u, v) for u in range(num) for v, w in neighbours[u].items() if u < v and w > 0]
    heapq.heapify(heap)
    while heap:
        negative, u, v = heapq.heappop(heap)
        if parent[u] != u or parent[v] != v or neighbours[u].get(v) != -negative:
            continue  # stale: one side was merged away, or the pair's weight changed since
        if len(neighbours[u]) < len(neighbours[v]):
            u, v = v, u
        parent[v] = u
        into, away = neighbours[u], neighbours[v]
        del into[v]
        for x, w in away.items():
            if x == u:
                continue
            total = into.get(x, 0.0) + w
            into[x] = total
            other = neighbours[x]
            del other[v]
            other[u] = total
            if total > 0:
                heapq.heappush(heap, (-total, min(u, x), max(u, x)))
        neighbours[v] = {}
    roots = np.asarray(parent, np.int64)
    while True:  # path compression over the merge forest
        up = roots[roots]
        if np.array_equal(up, roots):
            return roots
        roots = up


def _multilevel(num: int, left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Leiden's scheme: local moves, each group refined from singletons within it, the refined pieces
    aggregated as the nodes of the next level (starting in their groups), until nothing gains."""
    labels = np.arange(num, dtype=np.int64)
    community = np.arange(num, dtype=np.int64)
    for _ in range(MAX_LEVELS):
        indptr, indices, weights = _adjacency(len(community), left, right, weight)
        community = _move_nodes(indptr, indices, weights, community)
        singles = np.arange(len(community), dtype=np.int64)
        refined = _move_nodes(indptr, indices, weights, singles, within=community)
        pieces, dense = np.unique(refined, return_inverse=True)
        if len(pieces) == len(community):  # no group gains a member: the groups are final
            break
        piece_community = np.zeros(len(pieces), np.int64)
        piece_community[dense] = community
        labels, left, right = dense[labels], dense[left], dense[right]
        _, community = np.unique(piece_community, return_inverse=True)
    return np.asarray(community[labels], np.int64)


def objective(group: np.ndarray, left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> float:
    """The total weight of the pairs of two nodes inside groups."""
    return float(weight[(group[left] == group[right]) & (left != right)].sum())


def correlation_clusters(
    start: np.ndarray, left: np.ndarray, right: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Group the nodes (``start``: an initial group per node, e.g. must-linked records together, ids dense
    from 0) so that the weight of the pairs inside groups is high; the edges ``left``, ``right`` (node
    indices) carry ``weight``. Both heuristics run (GAEC then local moves, and the multilevel moves): each
    finds groupings the other misses, and the one with the higher objective is kept. Returns a dense group id
    per node."""
    labels = np.asarray(start, np.int64)
    num = int(labels.max()) + 1 if len(labels) else 0
    node_left, node_right = labels[left], labels[right]
    indptr, indices, weights = _adjacency(num, node_left, node_right, weight)
    contracted = _move_nodes(indptr, indices, weights, _contract(num, indptr, indices, weights))
    leveled = _multilevel(num, node_left, node_right, weight)
    better = max((contracted, leveled), key=lambda g: objective(g, node_left, node_right, weight))
    _, final = np.unique(better[labels], return_inverse=True)
    return final.astype(np.int64)
