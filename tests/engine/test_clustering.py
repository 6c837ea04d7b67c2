from __future__ import annotations

from unittest.mock import patch

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from findmatches.engine import clustering
from findmatches.engine.clustering import Around, choose_link_cut, cluster, pair_weights
from findmatches.engine.correlation import CANNOT, correlation_clusters, objective


def _same(rep: np.ndarray, a: int, b: int) -> bool:
    return bool(rep[a] == rep[b])


def test_weak_chain_is_split() -> None:
    # a-b and b-c are confident, but a and c are clearly different: average linkage keeps c apart.
    result = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([0.95, 0.9]),
        0.5,
        score_pairs=lambda left, right: np.zeros(len(left)),
    )
    assert _same(result.representative, 0, 1)
    assert not _same(result.representative, 1, 2)


def test_clique_stays_together_and_confidence() -> None:
    left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
    result = cluster(4, left, right, np.array([0.9, 0.8, 0.85]), 0.5)
    assert len(set(result.representative[:3].tolist())) == 1
    assert result.representative[3] == 3
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    assert result.confidence[3] == 1.0


pairs = st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29), st.floats(0, 1)), max_size=80)
links = st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=10)


@settings(max_examples=80, deadline=None)
@given(pairs, links, links, st.floats(0.05, 0.95), st.sampled_from([2, 4, 60]))
def test_clustering_invariants(
    edges: list[tuple[int, int, float]],
    must: list[tuple[int, int]],
    cannot: list[tuple[int, int]],
    t: float,
    complete_limit: int,
) -> None:
    n = 30
    edges = [(a, b, p) for a, b, p in edges if a != b]
    must = [(a, b) for a, b in must if a != b]
    cannot = [(a, b) for a, b in cannot if a != b]
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    prob = np.array([e[2] for e in edges])
    ml = (np.array([m[0] for m in must], dtype=np.int64), np.array([m[1] for m in must], dtype=np.int64))
    cl = (np.array([c[0] for c in cannot], dtype=np.int64), np.array([c[1] for c in cannot], dtype=np.int64))
    rng = np.random.default_rng(0)
    result = cluster(
        n,
        left,
        right,
        prob,
        t,
        must=ml,
        cannot=cl,
        score_pairs=lambda a, b: rng.random(len(a)),
        complete_limit=complete_limit,
    )
    rep = result.representative
    # Every record exactly once, represented by the smallest record of its cluster.
    assert rep.shape == (n,)
    for r in range(n):
        assert rep[r] == min(np.flatnonzero(rep == rep[r]))
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    # Must-links are always respected; cannot-links whenever they do not contradict the must-links.
    for a, b in must:
        assert _same(rep, a, b)
    contradicted = 0
    for a, b in cannot:
        if _same(rep, a, b):
            contradicted += 1
    assert contradicted <= result.dropped_cannot_links
    # Records with no link at or above the threshold, and no must-link, stay alone.
    linked = set(left[prob >= t].tolist()) | set(right[prob >= t].tolist())
    linked |= {x for m in must for x in m}
    for r in range(n):
        if r not in linked:
            assert np.sum(rep == rep[r]) == 1


# -- large entities: the known pairs decide, unknown pairs are no evidence -------------------------------------


def _never_scored(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    raise AssertionError(f"{len(left)} pairs of a large component were scored")


@settings(max_examples=40, deadline=None)
@given(st.integers(61, 250), st.integers(0, 2**32 - 1), st.floats(0.3, 0.9))
def test_a_chain_of_strong_links_holds_a_large_entity_together(size: int, seed: int, t: float) -> None:
    """One entity of many records whose strong links form a random tree (each record like one other, not all
    alike): most pairs are unknown, and none of them splits it, nor is any scored."""
    rng = np.random.default_rng(seed)
    parent = np.array([rng.integers(0, i) for i in range(1, size)])
    child = np.arange(1, size)
    # More known pairs inside the entity, all at least the threshold on average.
    extra_l = rng.integers(0, size, size)
    extra_r = rng.integers(0, size, size)
    keep = extra_l != extra_r
    left = np.concatenate([parent, extra_l[keep]])
    right = np.concatenate([child, extra_r[keep]])
    prob = np.concatenate([rng.uniform(t, 1.0, size - 1), rng.uniform(t, 1.0, int(keep.sum()))])
    result = cluster(size + 5, left, right, prob, t, score_pairs=_never_scored)
    assert len(set(result.representative[:size].tolist())) == 1
    assert set(result.representative[size:].tolist()) == set(range(size, size + 5))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(31, 120),
    st.integers(31, 120),
    st.integers(2, 40),
    st.integers(0, 2**32 - 1),
    st.floats(0.3, 0.9),
)
def test_a_weak_bridge_does_not_join_two_large_entities(
    size_a: int, size_b: int, known_apart: int, seed: int, t: float
) -> None:
    """Two entities, each held together by strong links, joined by one weaker bridge (above the threshold,
    below every link inside). Blocking also proposed ``known_apart`` other pairs across them, which score
    low: as long as the pairs known across weigh against a merge (their log-odds sum below the threshold's),
    the two stay apart, each whole."""
    rng = np.random.default_rng(seed)
    n = size_a + size_b

    def tree(offset: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        child = np.arange(1, size)
        return np.array([rng.integers(0, i) for i in child]) + offset, child + offset

    a_l, a_r = tree(0, size_a)
    b_l, b_r = tree(size_a, size_b)
    cross_l = rng.integers(0, size_a, known_apart)
    cross_r = rng.integers(size_a, n, known_apart)
    cross_r[(cross_l == size_a - 1) & (cross_r == size_a)] = size_a + 1  # the bridge is known once
    left = np.concatenate([a_l, b_l, [size_a - 1], cross_l])
    right = np.concatenate([a_r, b_r, [size_a], cross_r])
    inside = rng.uniform(max(t, 0.8), 1.0, len(a_l) + len(b_l))
    bridge = rng.uniform(t, inside.min())
    low = rng.uniform(0.0, min(0.1, t / 3), known_apart)
    assume(pair_weights(np.concatenate([[bridge], low]), t).sum() < 0)
    prob = np.concatenate([inside, [bridge], low])
    result = cluster(n, left, right, prob, t, score_pairs=_never_scored)
    rep = result.representative
    assert len(set(rep[:size_a].tolist())) == 1 and len(set(rep[size_a:].tolist())) == 1
    assert rep[0] != rep[size_a]
    # With nothing known across them but the bridge, transitivity joins them: unknown pairs are no evidence.
    only_bridge = cluster(n, left[:-known_apart], right[:-known_apart], prob[:-known_apart], t)
    assert len(set(only_bridge.representative.tolist())) == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(20, 200), st.integers(0, 2**32 - 1), st.sampled_from([4, 10, 60]), st.data())
def test_constraints_hold_inside_large_components(
    size: int, seed: int, complete_limit: int, data: st.DataObject
) -> None:
    """A must-link joins a record to an entity it has no other link to; a cannot-link between two records of
    one strongly linked entity separates them, whichever way the component is resolved."""
    rng = np.random.default_rng(seed)
    child = np.arange(1, size)
    parent = np.array([rng.integers(0, i) for i in child])
    prob = rng.uniform(0.7, 1.0, size - 1)
    a, b = data.draw(st.lists(st.integers(0, size - 1), min_size=2, max_size=2, unique=True))
    loner = size  # a record of its own, must-linked to one of the entity's
    must = (np.array([loner]), np.array([data.draw(st.integers(0, size - 1))]))
    cannot = (np.array([min(a, b)]), np.array([max(a, b)]))
    result = cluster(
        size + 1,
        parent,
        child,
        prob,
        0.5,
        must=must,
        cannot=cannot,
        score_pairs=lambda left, right: np.full(len(left), 0.9),
        complete_limit=complete_limit,
    )
    rep = result.representative
    assert rep[a] != rep[b]
    assert rep[loner] == rep[must[1][0]]
    assert result.dropped_cannot_links == 0


signed = st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24), st.floats(-5, 5)), max_size=150)


@settings(max_examples=100, deadline=None)
@given(signed, st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=6))
def test_correlation_clustering_gains_weight_and_keeps_cannot_links_apart(
    edges: list[tuple[int, int, float]], cannot: list[tuple[int, int]]
) -> None:
    left = np.array([e[0] for e in edges] + [c[0] for c in cannot], dtype=np.int64)
    right = np.array([e[1] for e in edges] + [c[1] for c in cannot], dtype=np.int64)
    weight = np.array([e[2] for e in edges] + [CANNOT] * len(cannot))
    group = correlation_clusters(np.arange(25), left, right, weight)
    assert group.shape == (25,) and set(group.tolist()) == set(range(int(group.max()) + 1))
    # Never worse than every record alone (0), so no cannot-linked pair shares a group.
    assert objective(group, left, right, weight) >= 0.0
    assert all(group[a] != group[b] for a, b in cannot if a != b)
    # Records with no positive pair stay alone.
    positive = set(left[weight > 0].tolist()) | set(right[weight > 0].tolist())
    for node in set(range(25)) - positive:
        assert np.count_nonzero(group == group[node]) == 1


# -- the average-linkage cut learnt from the labelled groups --------------------------------------------


def _labelled_sets(
    sets: list[tuple[list[int], dict[tuple[int, int], float]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of each labeling set (records numbered apart per set), with ``y`` from the sets' groups
    and the probability given for the pair (0.05 for pairs not given)."""
    left, right, y, prob = [], [], [], []
    base = 0
    for groups, scores in sets:
        n = len(groups)
        for i in range(n):
            for j in range(i + 1, n):
                left.append(base + i)
                right.append(base + j)
                y.append(int(groups[i] == groups[j]))
                prob.append(scores.get((i, j), 0.05))
        base += n
    return np.array(left), np.array(right), np.array(y), np.array(prob)


def _star(size: int) -> dict[tuple[int, int], float]:
    """A free-text entity: record 0 (its common form) links strongly to each variant, the variants score
    0.3 to each other."""
    scores = {(0, k): 0.95 for k in range(1, size)}
    scores.update({(i, j): 0.3 for i in range(1, size) for j in range(i + 1, size)})
    return scores


def test_a_lower_cut_is_learnt_where_the_labelled_entities_are_stars() -> None:
    # Six labeling sets: a five-record star entity and three singletons each.
    left, right, y, prob = _labelled_sets([([0, 0, 0, 0, 0, 1, 2, 3], _star(5))] * 6)
    cut, tried = choose_link_cut(left, right, y, prob, 0.5)
    assert cut < 0.5 and tried[cut] == 1.0 and tried[0.5] < 1.0
    # And on the candidates, the star stays whole at that cut; at the threshold average linkage breaks it.
    n = 5
    i, j = np.triu_indices(n, 1)
    p = np.array([_star(n).get((a, b), 0.05) for a, b in zip(i.tolist(), j.tolist(), strict=True)])
    assert len(set(cluster(n, i, j, p, 0.5, link_cut=cut).representative.tolist())) == 1
    assert len(set(cluster(n, i, j, p, 0.5).representative.tolist())) > 1


def _embedded(entities: int) -> tuple[Around, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``entities`` entities of seven records, 30 ids apart: six common forms (0-5, 0.9 to each other) and a
    variant (6) that links to one of them (0) only; each entity's labeling set shows 0, 1, 6 and two others
    (20, 21), with held-out probabilities of its own."""
    candidates, pairs, y, held = [], [], [], []
    for e in range(entities):
        o = 30 * e
        core = [(o + i, o + j, 0.9) for i in range(6) for j in range(i + 1, 6)]
        candidates += core + [(o, o + 6, 0.9)] + [(o + k, o + 6, 0.2) for k in range(1, 6)]
        shown = [0, 1, 6, 20, 21]
        for i, x in enumerate(shown):
            for z in shown[i + 1 :]:
                pairs.append((o + x, o + z))
                y.append(int(z < 20 and x < 20))
                held.append({(0, 1): 0.9, (0, 6): 0.9, (1, 6): 0.2}.get((x, z), 0.05))
    a, b, p = (np.array(v) for v in zip(*candidates, strict=True))
    left, right = (np.array(v) for v in zip(*pairs, strict=True))
    return Around(30 * entities, a, b, p), left, right, np.array(y), np.array(held)


def test_a_labeling_set_is_judged_inside_the_component_that_holds_it() -> None:
    around, left, right, y, held = _embedded(5)
    # Alone, the three labelled records of each entity average 0.55: the threshold rebuilds them.
    assert choose_link_cut(left, right, y, held, 0.5)[0] == 0.5
    # Among its seven records each variant averages 0.32 to the rest: only a lower cut keeps it.
    cut, tried = choose_link_cut(left, right, y, held, 0.5, around)
    assert cut < 0.5 and tried[cut] == 1.0 and tried[0.5] < 1.0
    a, b, p = around.left, around.right, around.prob
    assert len(set(cluster(around.n, a, b, p, 0.5, link_cut=cut).representative[:7].tolist())) == 1
    assert len(set(cluster(around.n, a, b, p, 0.5).representative[:7].tolist())) > 1


def test_a_lower_cut_needs_more_than_one_labelled_pair_for_it() -> None:
    # One entity: the lower cut joins one labelled match pair more (0-6 and 1-6, two pairs) and merges the
    # neighbourhood's unlabelled records with it; two pairs are no evidence (a sign test at 5 %).
    around, left, right, y, held = _embedded(1)
    cut, tried = choose_link_cut(left, right, y, held, 0.5, around)
    assert cut == 0.5 and max(tried.values()) > tried[0.5]


def test_the_threshold_stays_where_a_lower_cut_merges_namesakes() -> None:
    # Two duplicate pairs of namesakes per set: each pair scores 0.95, one bridge 0.6, the rest 0.3.
    scores = {(0, 1): 0.95, (2, 3): 0.95, (1, 2): 0.6, (0, 2): 0.3, (0, 3): 0.3, (1, 3): 0.3}
    left, right, y, prob = _labelled_sets([([0, 0, 1, 1, 2], scores)] * 6)
    cut, tried = choose_link_cut(left, right, y, prob, 0.5)
    assert cut == 0.5 and tried[0.5] == 1.0 and min(tried.values()) < 1.0


def test_no_labelled_match_keeps_the_threshold() -> None:
    left, right, y, prob = _labelled_sets([([0, 1, 2], {})])
    assert choose_link_cut(left, right, y, prob, 0.6) == (0.6, {})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 3), min_size=2, max_size=7), st.integers(0, 10_000)), max_size=5
    ),
    st.floats(0.2, 0.8),
)
def test_the_cut_learnt_rebuilds_the_labels_at_least_as_well_as_the_threshold(
    sets: list[tuple[list[int], int]], t: float
) -> None:
    drawn = []
    for groups, seed in sets:
        rng = np.random.default_rng(seed)
        n = len(groups)
        drawn.append((groups, {(i, j): float(rng.random()) for i in range(n) for j in range(i + 1, n)}))
    left, right, y, prob = _labelled_sets(drawn)
    cut, tried = choose_link_cut(left, right, y, prob, t)
    assert cut <= t
    if tried:
        assert t in tried and tried[cut] >= tried[t]
    # The sign test is the only reason to keep a cut that rebuilds the labels less well than another.
    with patch.object(clustering, "CUT_SIGNIFICANCE", 1.0):
        cut, tried = choose_link_cut(left, right, y, prob, t)
    assert all(f <= tried[cut] for f in tried.values())
