"""The per-provider rate limit: a token bucket that every client of one provider in this process
shares (``limiter_for`` keeps one per provider name). A wait longer than the caller will accept
takes no token, so a request that is not sent does not use up the provider's rate."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridshift.signals.providers.http import HttpPolicy

Clock = Callable[[], float]


class RateLimiter:
    """A token bucket shared by every client of one provider in this process."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()
        self.lock = threading.Lock()
        self.waited = 0  # how many requests had to wait (a metric)

    def reserve(self, max_wait: float = math.inf) -> float:
        """Take a token; returns how long to wait before using it (0 if one was free).

        If that wait would be longer than ``max_wait``, no token is taken (the caller will not
        wait, so the request is not sent): the wait is returned, and the caller refuses it.
        """
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            wait = (1.0 - self.tokens) / self.rate
            if wait > max_wait:
                return wait
            self.tokens -= 1.0
            self.waited += 1
            return wait

    def give_back(self) -> None:
        with self.lock:
            self.tokens = min(self.burst, self.tokens + 1.0)


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(provider: str, policy: HttpPolicy, clock: Clock) -> RateLimiter:
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(provider)
        if limiter is None or limiter.clock is not clock:
            limiter = RateLimiter(policy.rate_per_s, policy.burst, clock)
            _LIMITERS[provider] = limiter
        return limiter
