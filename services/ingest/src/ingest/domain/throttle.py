"""Token buckets and back-off for SP-API calls: pure, with an injected clock.

Amazon meters each operation per application and selling partner with a token bucket: ``rate``
tokens a second refill a bucket of ``burst`` tokens; a call takes one token. The client keeps
its own bucket per (selling partner, operation) so it waits instead of being refused; when it is
refused anyway (HTTP 429: another process shares the quota, or the seller's plan is lower)
``backoff_delay`` says how long to wait, honouring ``Retry-After`` when Amazon sends one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class RateLimit:
    rate: float  # tokens per second
    burst: int

    def scaled(self, factor: float) -> RateLimit:
        """The same plan ``factor`` times faster (tests run Amazon's plans accelerated)."""
        return RateLimit(rate=self.rate * factor, burst=self.burst)


# Amazon's default usage plans (docs/amazon-orders.md 1.2).
LIMITS: dict[str, RateLimit] = {
    "getOrders": RateLimit(0.0167, 20),
    "getOrder": RateLimit(0.5, 30),
    "getOrderItems": RateLimit(0.5, 30),
    "searchOrders": RateLimit(0.0056, 20),
    "getOrder2026": RateLimit(0.5, 30),
    "confirmShipment": RateLimit(2.0, 10),
}


class TokenBucket:
    """A bucket that starts full; ``reserve()`` takes a token and says how long to wait for it.

    Reservations queue: a caller that must wait owns the token it waits for, so concurrent
    callers never oversubscribe the bucket.
    """

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        if limit.rate <= 0 or limit.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(
            float(self.limit.burst), self._tokens + (now - self._stamp) * self.limit.rate
        )
        self._stamp = now

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 when available now)."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.limit.rate

    def drain(self) -> None:
        """Amazon said 429: assume the bucket there is empty and refill from now."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)

    def adopt(self, rate: float) -> None:
        """Refill at ``rate`` from now on (Amazon announced the seller's actual plan)."""
        if rate > 0 and rate != self.limit.rate:
            self._refill()
            self.limit = RateLimit(rate=rate, burst=self.limit.burst)

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): ``Retry-After`` if given, else jittered
    exponential back-off."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, cap)
    exponential: float = min(cap, base * 2.0 ** (attempt - 1))
    return exponential * (0.5 + rand() / 2)


def parse_rate_limit_header(value: str | None) -> float | None:
    """``x-amzn-RateLimit-Limit`` (requests per second), best effort: None when absent or odd."""
    try:
        rate = float(value) if value else None
    except ValueError:
        return None
    return rate if rate and rate > 0 else None
