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

from shared.ratelimit import TokenBucket

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
    # Feeds API 2021-06-30 (the model's usage plans; docs/amazon-orders.md 3.3)
    "createFeedDocument": RateLimit(0.5, 15),
    "createFeed": RateLimit(0.0083, 15),
    "getFeed": RateLimit(2.0, 15),
    "getFeedDocument": RateLimit(0.0222, 10),
    # Reports API 2021-06-30 (the model's usage plans)
    "createReport": RateLimit(0.0167, 15),
    "getReport": RateLimit(2.0, 15),
    "getReportDocument": RateLimit(0.0167, 15),
    # Notifications API v1: every operation's plan is 1 per second, burst 5
    "getDestinations": RateLimit(1.0, 5),
    "createDestination": RateLimit(1.0, 5),
    "createSubscription": RateLimit(1.0, 5),
    "getSubscription": RateLimit(1.0, 5),
}


def bucket_for(limit: RateLimit, clock: Clock) -> TokenBucket:
    """A client-side bucket for one (selling partner, operation), starting full."""
    return TokenBucket(limit.rate, limit.burst, clock)


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
