"""Token buckets: ``rate`` tokens a second, up to ``burst`` saved; pure, with an injected clock.

One bucket serves both ways of being limited: ``try_take`` for a server refusing callers over
their budget (per-key API limits), ``reserve`` for a client pacing itself under someone else's
budget (SP-API calls wait their turn; ``drain`` after a 429, ``adopt`` an announced rate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.tokens = self.burst
        self.updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def try_take(self, n: float = 1.0) -> float:
        """Take ``n`` tokens if there are; else answer how many seconds until there will be."""
        self._refill()
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate

    def reserve(self) -> float:
        """Take one token now or in the future; answer the seconds to wait before using it.

        Reservations queue: a caller that must wait owns the token it waits for, so concurrent
        callers never oversubscribe the bucket.
        """
        self._refill()
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def drain(self) -> None:
        """The other side said 429: assume its bucket is empty and refill from now."""
        self._refill()
        self.tokens = min(self.tokens, 0.0)

    def adopt(self, rate: float) -> None:
        """Refill at ``rate`` from now on (the other side announced the actual plan)."""
        if rate > 0 and rate != self.rate:
            self._refill()
            self.rate = rate

    @property
    def available(self) -> float:
        self._refill()
        return self.tokens


class KeyedBuckets:
    """One bucket per key (an API key, a seller and operation, ...), created on first use."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate, self.burst, self.clock, self.max_keys = rate, burst, clock, max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def try_take(self, key: str, n: float = 1.0) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()  # bounded memory; a reset only ever lets callers through
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.clock)
        return bucket.try_take(n)
