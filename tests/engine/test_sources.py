"""Two-source linkage: recognised from the labels, matched one to one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.session import LABEL_COLUMNS, open_session
from findmatches.engine.sources import (
    Sources,
    assignment_threshold,
    detect_pairs,
    detect_schemas,
    detect_sources,
    held_slots,
    mutual_best,
    one_to_one,
    one_to_one_links,
)
from findmatches.engine.types import MatchParams, RecordSource


def _labels(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(LABEL_COLUMNS)})


def _shops(with_duplicate: bool) -> tuple[pa.Table, pa.Table]:
    """Twelve products listed by two shops; labels group each product's two listings (and, when asked, a
    second listing of one product in the same shop)."""
    ids, shops, titles, rows = [], [], [], []
    for i in range(12):
        for shop in ("a", "b"):
            ids.append(f"{shop}{i}")
            shops.append(f"shop {shop}")
            titles.append(f"product {i} model x{i}{shop}")
        rows += [(f"s{i // 4}", f"p{i}", f"a{i}"), (f"s{i // 4}", f"p{i}", f"b{i}")]
    if with_duplicate:
        ids.append("a0bis")
        shops.append("shop a")
        titles.append("product 0 model x0 again")
        rows.append(("s0", "p0", "a0bis"))
    table = pa.table({"id": ids, "shop": shops, "title": titles, "colour": ["red"] * len(ids)})
    return table, _labels(rows)


def test_a_source_column_is_recognised_from_the_labels() -> None:
    table, labels = _shops(with_duplicate=False)
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        found = detect_sources(session)
        assert found is not None and found.column == "shop"
        shops = table.column("shop").to_pylist()
        assert [int(c) for c in found.codes] == [0 if s == "shop a" else 1 for s in shops]


def test_no_source_shape_when_a_labelled_group_holds_two_records_of_one_source() -> None:
    table, labels = _shops(with_duplicate=True)
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        assert detect_sources(session) is None


def test_no_source_shape_without_labels_or_without_such_a_column() -> None:
    table, labels = _shops(with_duplicate=False)
    none = labels.slice(0, 0)
    with open_session(RecordSource(table=table), MatchParams(primary_key="id"), none, None, None) as session:
        assert detect_sources(session) is None
    plain = table.drop_columns(["shop"])
    with open_session(
        RecordSource(table=plain), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        assert detect_sources(session) is None  # "colour" has one value: not sources


def test_entities_of_two_records_are_recognised_without_a_source_column() -> None:
    """Two shops' listings unioned without the shop: the labels group the records in twos and the links pair
    them, so each record is linked to at most one other. A labelled group of three, too few
    labelled pairs, or links that join records to two others (larger entities labelled two by two) mean no
    such shape."""
    table, labels = _shops(with_duplicate=False)
    plain = table.drop_columns(["shop"])
    pairs = (np.array([0, 2, 4]), np.array([1, 3, 5]), np.array([True, True, True]))
    chain = (np.array([0, 1, 2, 4]), np.array([1, 2, 3, 5]), np.array([True, True, True, True]))
    with open_session(
        RecordSource(table=plain), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        found = detect_pairs(session, *pairs)
        assert found is not None and found.column == ""
        assert len(found.codes) == session.num_records and (found.codes == -1).all()
        assert detect_pairs(session, *chain) is None  # 3 of 6 linked records link to two others
    table, labels = _shops(with_duplicate=True)
    with open_session(
        RecordSource(table=table.drop_columns(["shop"])), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        assert detect_pairs(session, *pairs) is None
    with open_session(
        RecordSource(table=plain), MatchParams(primary_key="id"), labels.slice(0, 6), None, None
    ) as session:
        assert detect_pairs(session, *pairs) is None  # three labelled pairs: too few to trust


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19), st.floats(0, 1)), max_size=120))
def test_without_sources_each_record_links_to_at_most_one_other(pairs: list[tuple[int, int, float]]) -> None:
    keys = {(min(a, b), max(a, b)): p for a, b, p in pairs if a != b}
    left = np.array([k[0] for k in keys], dtype=np.int64)
    right = np.array([k[1] for k in keys], dtype=np.int64)
    prob = np.array(list(keys.values()), dtype=np.float64)
    codes = np.full(20, -1, dtype=np.int64)
    links = one_to_one(Sources("", codes), left, right, prob, 0.5, 0.25) >= 0.5
    ends = np.concatenate([left[links], right[links]])
    assert len(ends) == len(np.unique(ends))  # no record in two links
    _assert_greedy(codes, left, right, prob, links, 0.25)


def _assert_greedy(
    codes: np.ndarray, left: np.ndarray, right: np.ndarray, prob: np.ndarray, links: np.ndarray, floor: float
) -> None:
    """What greedy matching by score guarantees: links score at least ``floor``, and no pair that scores at
    least ``floor`` could replace them: one of its ends already holds a link to that source scoring as much."""
    assert np.all(prob[links] >= floor)
    held: dict[tuple[int, int], float] = {}
    for a, b, p in zip(left[links].tolist(), right[links].tolist(), prob[links].tolist(), strict=True):
        held[(a, int(codes[b]))] = p
        held[(b, int(codes[a]))] = p
    across = (codes[left] != codes[right]) | (codes[left] < 0) | (codes[right] < 0)
    for a, b, p, linked, may in zip(
        left.tolist(), right.tolist(), prob.tolist(), links.tolist(), across.tolist(), strict=True
    ):
        if linked or not may or p < floor:
            continue
        mine, theirs = held.get((a, int(codes[b]))), held.get((b, int(codes[a])))
        assert (mine is not None and mine >= p) or (theirs is not None and theirs >= p)


edges = st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19), st.floats(0, 1)), max_size=120)


@settings(max_examples=80, deadline=None)
@given(edges, st.lists(st.integers(-1, 2), min_size=20, max_size=20), st.floats(0.1, 0.9))
def test_one_to_one_links_each_record_to_at_most_one_per_source(
    pairs: list[tuple[int, int, float]], sources: list[int], t: float
) -> None:
    keys = {(min(a, b), max(a, b)): p for a, b, p in pairs if a != b}
    left = np.array([k[0] for k in keys], dtype=np.int64)
    right = np.array([k[1] for k in keys], dtype=np.int64)
    prob = np.array(list(keys.values()), dtype=np.float64)
    codes = np.array(sources, dtype=np.int64)
    best = mutual_best(codes, left, right, prob)
    scores = one_to_one(Sources("shop", codes), left, right, prob, t, t / 2)
    links = scores >= t
    _assert_greedy(codes, left, right, prob, links, t / 2)
    assert np.all(scores[links] >= prob[links])  # a link keeps its score, or is raised to the threshold
    assert np.all(scores[~links] <= prob[~links])
    within = (codes[left] == codes[right]) & (codes[left] >= 0)
    assert not (links & within).any()
    # Each record links to at most one record of each other source.
    seen: set[tuple[int, int]] = set()
    for a, b in zip(left[links].tolist(), right[links].tolist(), strict=True):
        for me, other in ((a, b), (b, a)):
            assert (me, int(codes[other])) not in seen
            seen.add((me, int(codes[other])))
    # A mutual best pair scoring at least the assignment threshold is a link.
    assert np.all(links[best & (prob >= t / 2)])


def test_a_record_whose_best_partner_is_taken_links_to_its_best_free_one() -> None:
    """Two shops' family members: shop A's W800 (0) and W830 (1), shop B's W800 (2), and B's W830 (3), whose
    title lacks the code and scores a little better with A's W800 than with its own. One round of mutual best
    links only the W800s; greedy matching links B's W830 to A's W830, the best partner left to it."""
    codes = np.array([0, 0, 1, 1], dtype=np.int64)
    left, right = np.array([0, 0, 1, 1]), np.array([2, 3, 2, 3])
    prob = np.array([0.9, 0.6, 0.3, 0.55])
    assert mutual_best(codes, left, right, prob).tolist() == [True, False, False, False]
    assert one_to_one_links(codes, left, right, prob, 0.25).tolist() == [True, False, False, True]
    assert one_to_one_links(codes, left, right, prob, 0.6).tolist() == [True, False, False, False]
    scores = one_to_one(Sources("shop", codes), left, right, prob, 0.5, 0.25)
    assert (scores >= 0.5).tolist() == [True, False, False, True]


def test_links_below_the_threshold_only_where_the_population_bears_them_out() -> None:
    """Records in pairs (no source column), one labelled match scoring 0.2 out of fold and the other eleven
    0.9: the labels alone would link mutual best partners down to 0.2. Where forty unlabelled records with no
    partner are each other's best candidates at 0.3, that would add twenty links for the labels' one: the
    assignment stays at the threshold. Without them, it goes down to 0.2."""
    table, labels = _shops(with_duplicate=False)
    lonely = pa.table({"id": [f"x{i}" for i in range(40)], "title": [f"other {i}" for i in range(40)]})
    plain = pa.concat_tables([table.select(["id", "title"]), lonely])
    with open_session(
        RecordSource(table=plain), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        sources = Sources("", np.full(session.num_records, -1, dtype=np.int64))
        ll, lr, y = session.labelled
        oof = np.where(y == 1, 0.9, 0.05)
        oof[np.flatnonzero(y == 1)[0]] = 0.2
        matched = (ll[y == 1], lr[y == 1], oof[y == 1])
        assert assignment_threshold(session, sources, y, oof, matched, 0.5) == pytest.approx(0.2)
        others = np.arange(24, 64, 2, dtype=np.int64)
        scored = (
            np.concatenate([matched[0], others]),
            np.concatenate([matched[1], others + 1]),
            np.concatenate([matched[2], np.full(len(others), 0.3)]),
        )
        assert assignment_threshold(session, sources, y, oof, scored, 0.5) == 0.5


def _renamed(table: pa.Table) -> pa.Table:
    """The shops unioned from their own exports, without the shop: the second's ``title`` is its ``name``."""
    second = [s == "shop b" for s in table.column("shop").to_pylist()]
    titles = table.column("title").to_pylist()
    return (
        table.drop_columns(["shop", "title"])
        .append_column("title", pa.array([None if b else t for t, b in zip(titles, second, strict=True)]))
        .append_column("name", pa.array([t if b else None for t, b in zip(titles, second, strict=True)]))
    )


def test_two_schemas_unioned_without_a_source_column_are_the_sources() -> None:
    """Each record's source is which of the paired columns it holds, where the labels show the shape."""
    table, pairs = _shops(with_duplicate=False)
    unioned = _renamed(table)
    with open_session(
        RecordSource(table=unioned), MatchParams(primary_key="id"), pairs, None, None
    ) as session:
        assert [p.name for p in session.feature_profiles if p.joins] == ["title+name"]
        assert detect_sources(session) is None
        found = detect_schemas(session)
        assert found is not None and found.schema and found.column == "title+name"
        assert [int(c) for c in found.codes] == [
            0 if i.startswith("a") else 1 for i in table.column("id").to_pylist()
        ]
    table, labels = _shops(with_duplicate=True)  # a product listed twice by one shop: not one to one
    with open_session(
        RecordSource(table=_renamed(table)), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        assert detect_schemas(session) is None
    with open_session(
        RecordSource(table=unioned), MatchParams(primary_key="id"), pairs.slice(0, 6), None, None
    ) as session:
        assert detect_schemas(session) is None  # three labelled pairs: too few to trust


def test_held_slots_are_each_members_slots_for_the_other_members_sources() -> None:
    """Groups {0 (A), 2 (B)}, {1 (A)} and {3 (B), 4 (no source)}: slot = record * 3 + partner's source + 1."""
    codes = np.array([0, 0, 1, 1, -1], dtype=np.int64)
    held = held_slots(codes, np.array([0, 1, 2, 3, 4]), np.array([7, 8, 7, 9, 9]))
    assert sorted(held.tolist()) == [0 * 3 + 2, 2 * 3 + 1, 3 * 3 + 0, 4 * 3 + 2]
    # Two records of one source in a group (as a run of another shape may have left it): each holds the
    # slot of that source too.
    two = held_slots(np.array([0, 0], dtype=np.int64), np.array([0, 1]), np.array([5, 5]))
    assert sorted(two.tolist()) == [0 * 2 + 1, 1 * 2 + 1]
    assert held_slots(codes, np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []


@settings(max_examples=80, deadline=None)
@given(
    edges,
    st.lists(st.integers(0, 1), min_size=20, max_size=20),
    st.lists(st.integers(0, 5), min_size=10, max_size=10),
    st.floats(0.1, 0.9),
)
def test_links_beside_existing_groups_never_give_an_entity_two_records_of_one_source(
    pairs: list[tuple[int, int, float]], sources: list[int], groups: list[int], t: float
) -> None:
    """Records 0-9 are in existing groups (at most one record of each source in a group), records 10-19
    new; the pairs among existing records are not candidates again, as in an incremental run. Whatever the
    scores, the groups and the links together hold no entity with two records of one source."""
    codes = np.array(sources, dtype=np.int64)
    group = np.array(groups, dtype=np.int64)
    for g in np.unique(group):  # a second record of a source already in its group starts a group of its own
        members = np.flatnonzero(group == g)
        _, first = np.unique(codes[members], return_index=True)
        for m in np.setdiff1d(members, members[first]):
            group[m] = 100 + int(m)
    keys = {(min(a, b), max(a, b)): p for a, b, p in pairs if a != b and max(a, b) >= 10}
    left = np.array([k[0] for k in keys], dtype=np.int64)
    right = np.array([k[1] for k in keys], dtype=np.int64)
    prob = np.array(list(keys.values()), dtype=np.float64)
    held = held_slots(codes, np.arange(10), group)
    links = one_to_one(Sources("shop", codes), left, right, prob, t, t / 2, held) >= t
    parent = list(range(20))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        for m in members[1:]:
            parent[root(int(m))] = root(int(members[0]))
    for a, b in zip(left[links].tolist(), right[links].tolist(), strict=True):
        parent[root(a)] = root(b)
    seen: set[tuple[int, int]] = set()
    for r in range(20):
        assert (root(r), int(codes[r])) not in seen
        seen.add((root(r), int(codes[r])))
