"""Linkage of sources: records from a few sources (a column of few values: two shops, two libraries) where an
entity has at most one record per source, a shape recognised from the labels and matched by assignment.

Where the labelled groups never hold two records of one source, each record is linked to at most one record
of each other source (one-to-one), by greedy matching: pairs of mutual best partners are linked, the pairs
that would give a linked record a second partner of that source leave, and mutual best is judged again among
the rest. The threshold a link needs is learnt from the labels' out-of-fold scores: a partner that is each
other's best is likelier a match than its score alone says, which keeps the true pairs of reworded records
that score below the plain threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from findmatches.engine.backend import quote_ident
from findmatches.engine.profile import ColumnKind, present_sql
from findmatches.engine.session import LABELS, NORM, RECORDS, Session

MAX_SOURCES = 8
# The labelled matches across sources needed before the shape is trusted.
MIN_MATCHES = 5
# Where a column is missing for more records than this share, it does not name their source.
MAX_MISSING = 0.01
# Where more of the linked records than this share link to two or more others, entities are larger than
# pairs (`detect_pairs`): 0-0.015 on two shops and two libraries without their source column, on RLdata10000,
# Febrl1, Fodors-Zagat and products10k; 0.83 on the test sample of entities of 3-4 records labelled in pairs.
MAX_BEYOND_PAIRS = 0.1
# Thresholds for mutual best partners tried, as shares of the plain threshold.
ASSIGN_SHARES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.0)
# Rounds of mutual best partners at most (`one_to_one_links`). Each round links at least the best pair left;
# on 4M random pairs between two sources of 1M records each the rounds end after 7, in 1.6 times one round's time.
MAX_ASSIGN_ROUNDS = 64


@dataclass(frozen=True)
class Sources:
    """The column that names each record's source, and each record's source (index; -1 where missing). With
    ``schema``, the column is a joined one (`findmatches.engine.unioned`) and a record's source is which of
    its two columns the record holds."""

    column: str
    codes: np.ndarray
    schema: bool = False


def detect_sources(session: Session) -> Sources | None:
    """The category column of 2..MAX_SOURCES values across which the labelled matches lie, no labelled group
    holding two records of one of its values; None when no column has that shape."""
    if session.label_pairs.num_rows == 0:
        return None
    for p in session.feature_profiles:
        if p.kind != ColumnKind.CATEGORY or p.null_rate > MAX_MISSING:
            continue
        source = p.alias
        shape = _label_shape(
            session,
            f"SELECT _rid, {source} AS s FROM {NORM}",
            f", (SELECT count(DISTINCT {source}) FROM {session.population}) AS sources",
        )
        if 2 <= shape["sources"] <= MAX_SOURCES and _one_per_source(shape):
            codes = session.backend.query(
                f"SELECT coalesce(dense_rank() OVER (ORDER BY {source}) - 1, -1) AS code, "
                f"{source} IS NULL AS missing FROM {session.population} ORDER BY _rid"
            )
            code = codes.column("code").to_numpy().astype(np.int64)
            code[codes.column("missing").to_numpy(zero_copy_only=False).astype(bool)] = -1
            return Sources(p.name, code)
    return None


def _label_shape(session: Session, relation: str, extra: str = "") -> dict[str, int]:
    """How the labelled groups spread over sources (``relation``: each record's ``_rid`` and source ``s``, NULL
    where unknown): the most records of one source a labelled group holds (``most_per_source``), and the
    labelled groups holding two or more records of known source (``linked``); ``extra``: more columns of
    the one row."""
    row = session.backend.query(
        f"WITH g AS (SELECT l.set_id, l.label, c.s, count(*) AS k FROM {LABELS} l JOIN ({relation}) c "
        "USING (_rid) WHERE c.s IS NOT NULL GROUP BY ALL) SELECT coalesce(max(k), 0) AS most_per_source, "
        "(SELECT count(*) FROM (SELECT set_id, label FROM g GROUP BY ALL HAVING count(*) > 1)) AS linked"
        f"{extra} FROM g"
    ).to_pylist()[0]
    return {k: int(v or 0) for k, v in row.items()}


def _one_per_source(shape: dict[str, int]) -> bool:
    """Whether the labels link sources one to one: no labelled group holds two records of one source, and at
    least MIN_MATCHES hold records of two."""
    return shape["most_per_source"] == 1 and shape["linked"] >= MIN_MATCHES


def detect_schemas(session: Session) -> Sources | None:
    """Where no column names the sources but the table was unioned from two of different schemas: each
    record's source is its schema, which of the two columns of a joined pair it holds (`unioned.paired`: a
    title or a name), when the labels show the shape `detect_sources` needs. The pair missing least is
    used, and only where it misses at most MAX_MISSING. None otherwise, and for runs on kept snapshots
    (whose records' own columns are not kept)."""
    if session.label_pairs.num_rows == 0 or session.snapshot_rows:
        return None
    pairs = sorted((p for p in session.feature_profiles if len(p.joins) == 2), key=lambda p: p.null_rate)
    if not pairs or pairs[0].null_rate > MAX_MISSING:
        return None
    p = pairs[0]
    which = " ".join(
        f"WHEN {present_sql(quote_ident(c))} IS NOT NULL THEN {i}" for i, c in enumerate(p.joins)
    )
    records = f"SELECT _rid, CASE {which} END AS s FROM {RECORDS}"
    if not _one_per_source(_label_shape(session, records)):
        return None
    codes = session.backend.query(f"SELECT coalesce(s, -1) AS s FROM ({records}) ORDER BY _rid").column("s")
    return Sources(p.name, codes.to_numpy().astype(np.int64), schema=True)


def linked_beyond_pairs(n: int, left: np.ndarray, right: np.ndarray, links: np.ndarray) -> float:
    """The share of the linked records (``links``: the pairs scoring at least the threshold) linked to two or
    more others."""
    degree = np.bincount(np.concatenate([left[links], right[links]]), minlength=n)
    linked = int((degree >= 1).sum())
    return float((degree >= 2).sum() / linked) if linked else 0.0


def detect_pairs(session: Session, left: np.ndarray, right: np.ndarray, links: np.ndarray) -> Sources | None:
    """Where no column names the sources but entities hold at most two records, as in two sources unioned
    without a column saying which is which: every record as of a source of its own, ``codes`` all -1
    (`mutual_best` then judges each record's best partner among all its pairs). None otherwise.

    Both the labels and the scored pairs must show it: no labelled group of three or more, at least
    MIN_MATCHES of two, and at most MAX_BEYOND_PAIRS of the records that the pairs scoring at least the
    threshold (``links``) link are linked to two or more others. Labels alone can mislead: a label file made
    elsewhere may pair records of larger entities two by two."""
    if session.label_pairs.num_rows == 0:
        return None
    if linked_beyond_pairs(session.num_records, left, right, links) > MAX_BEYOND_PAIRS:
        return None
    shape = session.backend.query(
        f"WITH g AS (SELECT set_id, label, count(*) AS k FROM {LABELS} GROUP BY ALL) "
        "SELECT coalesce(max(k), 0) AS largest, count(*) FILTER (WHERE k = 2) AS pairs FROM g"
    ).to_pylist()[0]
    if int(shape["largest"]) != 2 or int(shape["pairs"]) < MIN_MATCHES:
        return None
    return Sources("", np.full(session.num_records, -1, dtype=np.int64))


def _across(codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether each pair may link: its records of two sources, or either of no known source."""
    return np.asarray((codes[left] != codes[right]) | (codes[left] < 0) | (codes[right] < 0), dtype=bool)


def _slot_span(codes: np.ndarray) -> np.int64:
    """How many link slots each record has: one per source, and one for records of no known source."""
    return np.int64(int(codes.max()) + 2) if len(codes) else np.int64(2)


def _slots(codes: np.ndarray, me: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Each record ``me``'s slot for the source of its partner ``other``: a record links to one record a slot."""
    return np.asarray(me.astype(np.int64) * _slot_span(codes) + (codes[other] + 1), dtype=np.int64)


def mutual_best(codes: np.ndarray, left: np.ndarray, right: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """For pairs across sources: whether each record is the other's best partner in the other's source (the
    highest score; ties to the smaller record id). False for pairs within one source."""
    across = _across(codes, left, right)
    m = len(left)
    # Each pair from both ends: a record's best partner per source is judged over all its pairs.
    me, other = np.concatenate([left, right]), np.concatenate([right, left])
    score, valid = np.concatenate([prob, prob]), np.concatenate([across, across])
    key = _slots(codes, me, other)
    order = np.lexsort((other, -score, key))
    order = order[valid[order]]
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    chosen = np.zeros(2 * m, dtype=bool)
    chosen[order[first]] = True
    return np.asarray(chosen[:m] & chosen[m:] & across, dtype=bool)


def held_slots(codes: np.ndarray, members: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The link slots (`_slots`) that existing groups fill already: each member's slot for every source (or
    for no known source) that another member of its group holds. ``members`` are records, ``ids`` their
    groups. An incremental run does not score the pairs within existing groups again, so without these a new
    record was free to become a second partner of the same source of a record already linked."""
    if not len(members):
        return np.zeros(0, dtype=np.int64)
    span = _slot_span(codes)
    _, group = np.unique(ids, return_inverse=True)
    source = codes[members] + 1  # the slot a member fills in its group's other members
    filled, count = np.unique(group.astype(np.int64) * span + source, return_counts=True)
    wanted = group.astype(np.int64)[:, None] * span + np.arange(span, dtype=np.int64)[None, :]
    at = np.minimum(np.searchsorted(filled, wanted), len(filled) - 1)
    others = np.where(filled[at] == wanted, count[at], 0) - (np.arange(span)[None, :] == source[:, None])
    who, slot = np.nonzero(others > 0)
    return np.asarray(members[who].astype(np.int64) * span + slot, dtype=np.int64)


def one_to_one_links(
    codes: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    floor: float,
    held: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy one-to-one matching of the pairs across sources that score at least ``floor``: whether each pair
    is linked. In rounds, the mutual best partners (`mutual_best`) among the pairs left are linked, and every
    pair that would give a linked record a second partner of the same source leaves; the next round judges
    mutual best among the rest. The first round links what one round of mutual best links; later rounds link
    a record whose best partner was taken by a better pair (two shops' family members, one listing of which
    names its model code and the other not) to its best free one. No pair left scoring at least ``floor`` has
    two free ends (up to MAX_ASSIGN_ROUNDS rounds). Slots ``held`` (`held_slots`) are filled from the start."""
    slot_l, slot_r = _slots(codes, left, right), _slots(codes, right, left)
    taken = np.zeros(len(codes) * int(_slot_span(codes)), dtype=bool)
    if held is not None:
        taken[held] = True
    linked = np.zeros(len(left), dtype=bool)
    active = np.flatnonzero(_across(codes, left, right) & (prob >= floor))
    for _ in range(MAX_ASSIGN_ROUNDS):
        active = active[~(taken[slot_l[active]] | taken[slot_r[active]])]
        if not len(active):
            break
        new = active[mutual_best(codes, left[active], right[active], prob[active])]
        linked[new] = True
        taken[slot_l[new]] = True
        taken[slot_r[new]] = True
    return linked


def assignment_threshold(
    session: Session,
    sources: Sources,
    y: np.ndarray,
    oof: np.ndarray,
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
    threshold: float,
) -> float:
    """The score a one-to-one link needs: of ASSIGN_SHARES of ``threshold``, the one under which "mutual best
    and at least it" rebuilds the labelled pairs across sources best (F1 of their out-of-fold scores ``oof``,
    folds by labeling set, labels ``y``; ties to the higher threshold). Mutual best is judged among the scored
    candidates and the labelled pairs together, in one round. The later rounds of `one_to_one_links` link a
    few more pairs at the score chosen (on two shops' listings 7 of 8 true; about 7 of 11 where titles lack
    the model codes). Choosing the score on greedy links too was measured and not kept: it judges them by the
    labelled pairs' in-sample scores, which chose lower scores on RLdata10000 (teach loops, seeds 0-15: mean
    pairwise F1 0.9750 against 0.9757, the lowest 0.9660 against 0.9675).

    The labelled pairs show what a lower score gains in recall but not all it costs: records with no partner
    link to their best candidate too, and labels seldom hold such a pair. So each share's precision is also
    judged on the population (`_population_precision`): were the links at the highest share all true, the
    links at a lower one hold at most as many more true ones as the labels' recall grows. Without it, 600
    persons labelled by 12 easy labeling sets linked every record that has no duplicate to its best candidate
    at 0.15: pairwise precision 0.31 where the plain threshold gave 1.00, at the same recall."""
    ll, lr, _ = session.labelled
    left, right, prob = scored
    # Labelled pairs that blocking did not propose compete with their out-of-fold scores.
    all_l, all_r = np.concatenate([left, ll]), np.concatenate([right, lr])
    keys = all_l * np.int64(len(sources.codes)) + all_r
    _, first = np.unique(keys, return_index=True)
    all_p = np.concatenate([prob, oof])
    best = mutual_best(sources.codes, all_l[first], all_r[first], all_p[first])
    best_keys = keys[first][best]
    label_best = np.isin(ll * np.int64(len(sources.codes)) + lr, best_keys)
    across = _across(sources.codes, ll, lr)
    # The scores of the mutual best pairs (across sources, as `mutual_best` judges): each share's links.
    linked = np.sort(all_p[first][best])
    base: tuple[int, float] | None = None  # the links and the labels' recall at the highest share with any
    chosen, chosen_f1 = threshold, -1.0
    for share in ASSIGN_SHARES:
        predicted = label_best & (oof >= threshold * share)
        tp = int((predicted & (y == 1) & across).sum())
        fp = int((predicted & (y == 0) & across).sum())
        fn = int((~predicted & (y == 1) & across).sum())
        if not tp:
            continue
        recall, precision = tp / (tp + fn), tp / (tp + fp)
        links = len(linked) - int(np.searchsorted(linked, threshold * share, side="left"))
        base = base or (links, recall)
        precision = min(precision, _population_precision(links, recall, *base))
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > chosen_f1 + 1e-9:
            chosen, chosen_f1 = threshold * share, f1
    return chosen


def _population_precision(links: int, recall: float, base_links: int, base_recall: float) -> float:
    """The most of ``links`` (the mutual best pairs at a share) that can be true, were the ``base_links`` (at a
    higher share) all true and the labels' recall (``base_recall`` there, ``recall`` here) the population's:
    the true links grow as recall does, and the others are false."""
    if links <= base_links or base_links == 0:
        return 1.0
    return min(1.0, base_links * recall / (base_recall * links))


def one_to_one(
    sources: Sources,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    assign_at: float,
    held: np.ndarray | None = None,
) -> np.ndarray:
    """The scores clustering sees under one-to-one linkage: a pair that `one_to_one_links` links at
    ``assign_at`` (beside the slots ``held``) becomes a link (at least ``threshold``); every other pair stays
    known but below the threshold, and pairs within one source score 0."""
    best = one_to_one_links(sources.codes, left, right, prob, assign_at, held)
    within = ~_across(sources.codes, left, right)
    below = np.nextafter(threshold, 0.0)
    out = np.where(best, np.maximum(prob, threshold), np.minimum(prob, below))
    out[within] = 0.0
    return np.asarray(out, dtype=np.float64)
