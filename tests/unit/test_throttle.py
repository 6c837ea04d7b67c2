"""The per-account token bucket: a burst, then the rate; accounts apart; 0 means no limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.aws.throttle import AccountThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_accounts_apart() -> None:
    clock = Clock()
    throttle = AccountThrottle(5, clock=clock)
    assert [throttle.take("a") for _ in range(11)] == [True] * 10 + [False]
    assert throttle.take("b")  # another account has its own allowance
    clock.now += 0.2  # one request's worth at 5 a second
    assert throttle.take("a") and not throttle.take("a")
    clock.now += 100
    assert sum(throttle.take("a") for _ in range(20)) == 10  # refilled to the burst, not beyond


def test_zero_rate_is_no_limit() -> None:
    throttle = AccountThrottle(0)
    assert all(throttle.take("a") for _ in range(10_000))


@given(
    rate=st.floats(0.5, 1000),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
@settings(max_examples=100, deadline=None)
def test_never_more_than_the_burst_plus_the_rate_over_the_time(rate: float, gaps: list[float]) -> None:
    clock = Clock()
    throttle = AccountThrottle(rate, clock=clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += throttle.take("a")
    assert allowed <= throttle.burst + rate * clock.now + 1e-6
