"""Per-account request throttling: a token bucket per account, as AWS meters each account's API calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AccountThrottle:
    """``rate`` requests a second per account, in bursts of up to ``burst``; a rate of 0 lets everything
    through. One account over its rate is answered ``ThrottlingException`` (which AWS SDKs retry with
    backoff) instead of slowing every account down."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, 2.0 * self.rate)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # account -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, account: str) -> bool:
        """Spend one request of ``account``'s allowance; False when it has none left."""
        if self.rate <= 0:
            return True
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(account, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[account] = (tokens - 1.0 if allowed else tokens, now)
            return allowed
