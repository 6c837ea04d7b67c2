"""Seed order for labeling sets: the first round goes through the candidates' agreement patterns in turn."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from findmatches.engine.active import _rank_within, seed_order


def test_first_round_takes_each_agreement_pattern_best_first_before_any_pattern_again() -> None:
    prob = np.linspace(1.0, 0.05, 20)
    patterns = np.asarray([7, 7, 7, 3, 3, 1] + [0] * 14)
    order = seed_order(prob, np.zeros(20), False, 0.5, np.random.default_rng(0), patterns)
    # The top 30% (six pairs) pattern by pattern, round by round; the rest follow by score.
    assert order.tolist() == [0, 3, 5, 1, 4, 2, *range(6, 20)]
    plain = seed_order(prob, np.zeros(20), False, 0.5, np.random.default_rng(0))
    assert plain.tolist()[:2] == [0, 1]


@given(st.lists(st.integers(0, 4), max_size=40))
def test_rank_within_counts_earlier_members_of_the_group(groups: list[int]) -> None:
    got = _rank_within(np.asarray(groups, dtype=np.int64)).tolist()
    assert got == [groups[:i].count(g) for i, g in enumerate(groups)]
