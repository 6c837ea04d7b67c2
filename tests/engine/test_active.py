"""Seed order for labeling sets: no agreement pattern crowds out the others in the first round."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from findmatches.engine.active import PATTERN_SHARE, _capped, seed_order


def test_first_round_caps_the_share_of_one_agreement_pattern() -> None:
    prob = np.linspace(1.0, 0.05, 40)
    patterns = np.asarray([7] * 8 + [3, 3, 1] + [0] * 29)
    plain = seed_order(prob, np.zeros(40), False, 0.5, np.random.default_rng(0))
    capped = seed_order(prob, np.zeros(40), False, 0.5, np.random.default_rng(0), patterns)
    # The log-scale spread takes the top 12 (30%) at positions 0-3, 5, 6, 8, 11, then the rest.
    assert patterns[plain[:6]].tolist() == [7] * 6
    # Half of the seeds so far at most for one pattern, while another waits: 7, 3, 7, then 0 before a third 7.
    assert PATTERN_SHARE == 0.5 and patterns[capped[:5]].tolist() == [7, 3, 7, 0, 7]
    assert sorted(capped.tolist()) == list(range(40))


@given(st.lists(st.integers(0, 3), min_size=1, max_size=60), st.sampled_from([0.25, 0.5, 1.0]))
def test_capped_is_a_reordering_that_keeps_each_patterns_own_order(groups: list[int], share: float) -> None:
    patterns = np.asarray(groups, dtype=np.int64)
    order = _capped(np.arange(len(groups)), patterns, share).tolist()
    assert sorted(order) == list(range(len(groups))) and order[0] == 0
    for g in set(groups):
        mine = [i for i in order if groups[i] == g]
        assert mine == sorted(mine)
    if share >= 1.0:
        assert order == list(range(len(groups)))
