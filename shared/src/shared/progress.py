"""Whether a relay or a worker is getting anywhere: the stall rule ``/readyz`` and the metrics use.

A relay or worker records two things as it goes: whether work waits for it (the relay's last
claim found unsent rows; the worker holds fetched records it has not committed, or the lag it
knows of is above zero), and when it last made progress (a relay round that published and marked
its rows, or found the outbox empty; a worker fetch applied and committed, or a poll that found
it caught up). It is **stalled** when work waits and it has made no progress for
``STALL_SECONDS``. A round or a fetch that never returns (a client object that hangs) counts as
no progress as well, since nothing updates the time.

``/readyz`` fails while any relay or worker of the process is stalled
(``shared.runtime.install_readiness``), and ``orderflow_stalled{service, role}`` is 1 meanwhile.
Why and what it costs: docs/adr/0028-stall-is-no-progress-while-work-waits.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shared import metrics


class Stalled(Exception):
    """Raised by the readiness check; its text is shown in ``/readyz``'s answer."""


class Progress:
    def __init__(
        self,
        *,
        service: str,
        role: str,
        stall_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.role = role
        self.stall_seconds = stall_seconds
        self._clock = clock
        self.last_progress = clock()  # starting counts as progress
        self.waiting = False
        self.failures = 0  # rounds or fetches that failed since the last progress
        self.last_error: str | None = None
        metrics.STALLED.labels(service, role).set_function(lambda: float(self.stalled))

    def advanced(self, *, waiting: bool = False) -> None:
        """A round or fetch went through; ``waiting``: more work is already known to wait."""
        self.last_progress = self._clock()
        self.waiting = waiting
        self.failures = 0
        self.last_error = None

    def work_waits(self, waits: bool = True) -> None:
        self.waiting = waits

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]

    @property
    def idle_seconds(self) -> float:
        """Seconds since the last progress."""
        return self._clock() - self.last_progress

    @property
    def stalled(self) -> bool:
        return self.waiting and self.idle_seconds > self.stall_seconds

    def check(self) -> None:
        """Raise ``Stalled`` (for ``/readyz``) when stalled."""
        if self.stalled:
            why = f"; last error {self.last_error}" if self.last_error else ""
            raise Stalled(
                f"{self.role} made no progress for {self.idle_seconds:.0f}s while work waits"
                f" ({self.failures} failed attempts{why})"
            )

    def describe(self) -> dict[str, object]:
        return {
            "role": self.role,
            "stalled": self.stalled,
            "work_waits": self.waiting,
            "seconds_since_progress": round(self.idle_seconds, 1),
            "failed_attempts": self.failures,
            "last_error": self.last_error,
        }
