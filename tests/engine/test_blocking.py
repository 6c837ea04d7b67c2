from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.backends import DuckDBBackend
from findmatches.engine.blocking import (
    BASE,
    CANDIDATES,
    BlockingKey,
    _framed_pairs_sql,
    _key_costs,
    _key_pairs_sql,
    blocking_keys,
    build_candidates,
    choose_keys,
    simulated_cover,
)
from findmatches.engine.features import cheap_sql, feature_spec
from findmatches.engine.session import NORM, open_session
from findmatches.engine.types import MatchParams, RecordSource
from tests.engine.conftest import no_labels


def test_choose_keys_covers_labelled_matches_then_fills_the_budget() -> None:
    costs = np.asarray([100, 10, 1000, 50, 5])
    cover = np.asarray(
        [
            [True, True, False, False],  # 0: two matches, mid cost
            [True, False, False, False],  # 1: one match, cheap
            [True, True, True, True],  # 2: all, too dear for the budget
            [False, False, True, False],  # 3: the third match
            [False, False, False, False],  # 4: nothing, cheapest
            [False, True, False, False],  # 5: a second look at match 1, cheap
        ]
    )
    costs = np.append(costs, 20)
    chosen = choose_keys(costs, cover, budget=200)
    covered = np.asarray(cover[chosen].any(axis=0), dtype=bool)
    assert covered[:3].all(), "every match a key within the budget can cover is covered"
    # The budget is filled with keys that meet labelled matches, never with one that meets none.
    assert 2 not in chosen and 4 not in chosen and 5 in chosen
    assert sum(int(costs[i]) for i in chosen) <= 200


def test_choose_keys_without_labels_takes_cheapest_keys_within_budget() -> None:
    costs = np.asarray([300, 10, 50, 5])
    assert choose_keys(costs, np.zeros((4, 0), dtype=bool), budget=100) == [3, 1, 2]


def test_choose_keys_skips_refinements_of_chosen_keys_and_keys_that_meet_no_labelled_match() -> None:
    costs = np.asarray([50, 60, 90, 1])
    cover = np.asarray([[True, False], [True, False], [False, True], [False, False]])
    # Key 1 refines key 0 (e.g. exact:email+phone inside exact:email) at about the same cost.
    assert choose_keys(costs, cover, budget=1000, within=[[], [0], [], []]) == [0, 2]
    assert choose_keys(costs, cover, budget=1000) == [0, 2, 1]
    # A broad parent (its blocks too big to pair whole) does not make the refinement redundant.
    assert 1 in choose_keys(np.asarray([500, 60, 90, 1]), cover, budget=1000, within=[[], [0], [], []])


def test_choose_keys_drops_a_refinement_chosen_before_its_parent() -> None:
    # Key 1 (cheap, e.g. exact:email+phone) covers match 0 first; key 0 (its parent exact:phone, at most
    # twice the cost) is needed for match 1 and contains all of key 1's pairs.
    costs = np.asarray([60, 40, 1000])
    cover = np.asarray([[True, True], [True, False], [True, True]])
    assert choose_keys(costs, cover, budget=500, within=[[], [0], []]) == [0]


def test_choose_keys_spends_only_the_blind_budget_on_keys_chosen_by_cost() -> None:
    # Key 0 covers all 100 labelled matches; keys 1-3 each meet one, too little for phase 2.
    costs = np.asarray([100, 30, 40, 50])
    cover = np.zeros((4, 100), dtype=bool)
    cover[0] = True
    cover[1:, 0] = True
    assert choose_keys(costs, cover, budget=1000) == [0, 1, 2, 3]
    # The keys chosen on cost alone stop at 180 pairs in all.
    assert choose_keys(costs, cover, budget=1000, blind_budget=180) == [0, 1, 2]
    # Without labelled matches the whole budget is spent.
    assert choose_keys(costs, np.zeros((4, 0), dtype=bool), budget=150, blind_budget=50) == [1, 2, 3]


def test_choose_keys_adds_keys_the_recall_model_says_are_worth_their_pairs() -> None:
    # Key 0 covers every labelled match; the model says it misses 10% of matches, key 1 finds 8% of them at
    # 0.5 pairs per record, key 2 finds 1% at 2 pairs per record.
    costs = np.asarray([1000, 500, 2000])
    cover = np.zeros((3, 50), dtype=bool)
    cover[0] = True
    modelled = np.zeros((3, 100), dtype=bool)
    modelled[0, :90] = True
    modelled[1, 85:98] = True
    modelled[2, 98] = True
    chosen = choose_keys(costs, cover, 10_000, blind_budget=0, modelled=modelled, min_gain=0.02, records=1000)
    assert chosen == [0, 1]
    everything = choose_keys(
        costs, cover, 10_000, blind_budget=0, modelled=modelled, min_gain=0.0, records=1000
    )
    assert everything == [0, 1, 2]


def test_simulated_cover_draws_columns_independently_from_labelled_agreement() -> None:
    keys = [
        BlockingKey("exact:a", "a", "_sig", 3, parts=(("a", 2),)),
        BlockingKey("exact:a+b", "x", "_sig", 3, parts=(("a", 2), ("b", 2))),
        BlockingKey("phonetic:b", "sx_b", "_sig", 3, parts=(("b", 1),)),
        BlockingKey("tokens", "t", "_sig", 3, tokens=True),
    ]
    states = {"a": np.asarray([2] * 80 + [0] * 20, np.int8), "b": np.asarray([2] * 50 + [1] * 50, np.int8)}
    cover = simulated_cover(keys, states, samples=40_000)
    assert cover.shape == (4, 40_000)
    assert abs(cover[0].mean() - 80.5 / 101.5) < 0.01
    assert abs(cover[1].mean() - (80.5 / 101.5) * (50.5 / 101.5)) < 0.01
    assert abs(cover[2].mean() - 101 / 101.5) < 0.01  # the coarse code agrees whenever the value does
    assert not cover[3].any()


def test_key_pairs_pair_each_record_with_the_next_window_in_its_block() -> None:
    be = DuckDBBackend()
    try:
        # Block "a": 5 records, sorted by s in the order 4, 3, 2, 1, 0; block "b": 2; "c" alone; one NULL.
        be.register(
            BASE,
            pa.table(
                {
                    "_rid": list(range(9)),
                    "k": ["a", "a", "a", "a", "a", "b", "b", "c", None],
                    "s": [5, 4, 3, 2, 1, 0, 0, 0, 0],
                }
            ),
        )
        pairs = be.query(_key_pairs_sql(BlockingKey("k", "k", "s", window=2)))
        got = set(zip(pairs.column("l").to_pylist(), pairs.column("r").to_pylist(), strict=True))
        # Ranks in block a: 4, 3, 2, 1, 0 → each record meets the next two: 7 pairs (2·5 − 3), plus b's one.
        assert got == {(3, 4), (2, 4), (2, 3), (1, 3), (1, 2), (0, 2), (0, 1), (5, 6)}
        assert pairs.num_rows == len(got)
        # With the block sizes given (a column's value counts), the same pairs without the aggregate.
        sizes = pa.array([5, 5, 5, 5, 5, 2, 2, 1, None], pa.int32())
        be.register(BASE, be.query(f"SELECT * FROM {BASE}").append_column("f", sizes))
        sized = be.query(_key_pairs_sql(BlockingKey("k", "k", "s", window=2, sizes="f")))
        assert set(zip(sized.column("l").to_pylist(), sized.column("r").to_pylist(), strict=True)) == got
        assert sized.num_rows == len(got)
        # The token key drops blocks over its cap.
        be.register(
            BASE, pa.table({"_rid": [0, 1, 2, 3], "t": [["x", "y"], ["x", "y"], ["x"], ["z"]], "s": [0] * 4})
        )
        capped = BlockingKey("tokens", "t", "s", window=5, max_block=2, tokens=True)
        pairs = be.query(_key_pairs_sql(capped))
        assert set(zip(pairs.column("l").to_pylist(), pairs.column("r").to_pylist(), strict=True)) == {(0, 1)}
    finally:
        be.close()


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from(["a", "b", None]),  # the same values as a: blocks of two keys must not mix
            st.sampled_from(["p", "q", "r", "s"]),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=40,
    ),
    window=st.integers(1, 4),
)
def test_keys_paired_by_one_window_pair_as_each_key_alone(
    rows: list[tuple[str | None, str | None, str, int]], window: int
) -> None:
    """The by-value keys paired by one window (Spark's form) give the union of each key's own pairs, with
    blocks within and beyond the window, missing values, a combined key and a column's value counts."""
    be = DuckDBBackend()
    try:
        a, c, t, sort = (list(col) for col in zip(*rows, strict=True))
        sizes = [None if v is None else a.count(v) for v in a]
        be.register(
            BASE,
            pa.table(
                {
                    "_rid": list(range(len(rows))),
                    "a": a,
                    "c": c,
                    "t": t,
                    "s": sort,
                    "f": pa.array(sizes, pa.int32()),
                }
            ),
        )
        keys = [
            BlockingKey("exact:a", "a", "s", window, sizes="f"),
            BlockingKey("exact:c", "c", "s", window),
            BlockingKey("exact:a+t", "CASE WHEN a IS NOT NULL THEN hash(a, t) END", "s", window),
        ]
        alone = be.query(" UNION ".join(f"SELECT l, r FROM ({_key_pairs_sql(k)})" for k in keys))
        grouped = be.query(f"SELECT l, r FROM ({_framed_pairs_sql(keys)}) GROUP BY l, r")
        want = set(zip(alone.column("l").to_pylist(), alone.column("r").to_pylist(), strict=True))
        got = set(zip(grouped.column("l").to_pylist(), grouped.column("r").to_pylist(), strict=True))
        assert got == want
        # Records from pair_below on take no part.
        cut = len(rows) // 2
        alone = be.query(
            " UNION ".join(f"SELECT l, r FROM ({_key_pairs_sql(k, pair_below=cut)})" for k in keys)
        )
        grouped = be.query(f"SELECT l, r FROM ({_framed_pairs_sql(keys, cut)}) GROUP BY l, r")
        assert set(zip(grouped.column("l").to_pylist(), grouped.column("r").to_pylist(), strict=True)) == set(
            zip(alone.column("l").to_pylist(), alone.column("r").to_pylist(), strict=True)
        )
        # Incremental: the pairs with a new record (the lowest ids), from the blocks holding one.
        new = max(1, len(rows) // 3)
        alone = be.query(
            " UNION ".join(
                f"SELECT l, r FROM ({_key_pairs_sql(k, new_below=new)}) WHERE l < {new}" for k in keys
            )
        )
        grouped = be.query(
            f"SELECT l, r FROM ({_framed_pairs_sql(keys, new_below=new)}) WHERE l < {new} GROUP BY l, r"
        )
        assert set(zip(grouped.column("l").to_pylist(), grouped.column("r").to_pylist(), strict=True)) == set(
            zip(alone.column("l").to_pylist(), alone.column("r").to_pylist(), strict=True)
        )
    finally:
        be.close()


def test_key_costs_from_one_relation_equal_each_keys_own(people: tuple[pa.Table, dict[str, str]]) -> None:
    """Where stages cost (Spark), the value keys' estimates come from one aggregate: the same figures."""
    table, _ = people
    with open_session(RecordSource(table=table), MatchParams(primary_key="id"), no_labels(), None, None) as s:
        keys = blocking_keys(s)
        assert any(k.tokens for k in keys) and any(k.neighbourhood for k in keys)
        for rate in (1.0, 0.37):
            s.backend.costly_stages = False  # type: ignore[misc]
            alone = _key_costs(s, keys, NORM, rate)
            s.backend.costly_stages = True  # type: ignore[misc]
            grouped = _key_costs(s, keys, NORM, rate)
            assert (alone > 0).sum() > len(keys) // 2
            assert alone.tolist() == grouped.tolist()


def test_candidates_are_unique_ordered_and_keep_exact_agreements(
    people: tuple[pa.Table, dict[str, str]],
) -> None:
    table, _ = people
    with open_session(RecordSource(table=table), MatchParams(primary_key="id"), no_labels(), None, None) as s:
        result = build_candidates(s)
        pairs = s.backend.query(f"SELECT l, r FROM {CANDIDATES}")
        left, right = pairs.column("l").to_numpy(), pairs.column("r").to_numpy()
        assert result.num_candidates == len(left) > 0
        assert (left < right).all()
        assert len(np.unique(left * len(table) + right)) == len(left), "a pair was emitted twice"
        # Records sharing an e-mail address (small blocks) are always compared.
        email = next(p for p in s.feature_profiles if p.name == "email").alias
        same = s.backend.query(
            f"SELECT a._rid AS l, b._rid AS r FROM {NORM} a JOIN {NORM} b "
            f"ON a.{email} = b.{email} AND a._rid < b._rid"
        )
        got = set(zip(left.tolist(), right.tolist(), strict=True))
        want = set(zip(same.column("l").to_pylist(), same.column("r").to_pylist(), strict=True))
        assert want and want <= got


def test_cheap_similarity_is_the_share_of_close_columns(people: tuple[pa.Table, dict[str, str]]) -> None:
    table, _ = people
    with open_session(RecordSource(table=table), MatchParams(primary_key="id"), no_labels(), None, None) as s:
        spec = feature_spec(s.feature_profiles)
        values = s.backend.query(
            f"SELECT {cheap_sql(spec)} AS same FROM {NORM} a JOIN {NORM} b ON a._rid = b._rid LIMIT 50"
        )
        assert all(v == 1.0 for v in values.column("same").to_pylist())
        first = (
            s.backend.query(
                f"SELECT {cheap_sql(spec)} AS v FROM {NORM} a, {NORM} b WHERE a._rid = 0 AND b._rid = 1"
            )
            .column("v")[0]
            .as_py()
        )
        assert 0.0 <= first < 1.0


def test_the_word_key_holds_the_digit_runs_of_codes_written_apart_or_together() -> None:
    """ "CJR-12683" normalises to "cjr 12683", which shares no word with "cjr12683"; both hold "12683"."""
    table = pa.table(
        {
            "id": ["0", "1", "2"],
            "title": ["fitness watch CJR-12683", "aurora fitness watch CJR12683", "fitness watch band"],
            "brand": ["aurora", None, "aurora"],
        }
    )
    with open_session(RecordSource(table=table), MatchParams(primary_key="id"), no_labels(), None, None) as s:
        (tokens,) = [k for k in blocking_keys(s) if k.tokens]
        got = s.backend.query(f"SELECT _rid, {tokens.expr} AS t FROM {BASE} ORDER BY _rid").column("t")
    words = [set(v) for v in got.to_pylist()]
    assert "12683" in words[0] and "12683" in words[1] and "12683" not in words[2]
    assert "cjr12683" in words[1]


def test_the_word_key_finds_digit_runs_where_few_values_hold_numbers() -> None:
    """Below the numbers feature's digit share the normalised table holds no digit runs; the key finds them."""
    titles = ["fitness watch CJR12683", "fitness watch band", "running shoes", "yoga mat", "water bottle"]
    table = pa.table({"id": [str(i) for i in range(5)], "title": titles})
    with open_session(RecordSource(table=table), MatchParams(primary_key="id"), no_labels(), None, None) as s:
        (title,) = s.feature_profiles
        assert 0 < title.digit_share < 0.3 and not title.compares_numbers
        (tokens,) = [k for k in blocking_keys(s) if k.tokens]
        got = s.backend.query(f"SELECT _rid, {tokens.expr} AS t FROM {BASE} ORDER BY _rid").column("t")
    words = [set(v) for v in got.to_pylist()]
    assert "12683" in words[0] and "cjr12683" in words[0]
