"""A consumer that fetches nothing while its lag is above zero is stuck: after STALL_SECONDS the
runner gives it up (``ConsumerStuck``) and ``run_worker`` starts a new one. Seen in make faults:
after a broker SIGKILL, analytics' worker fetched nothing for six minutes with 1,500 events
waiting, and raised nothing. A worker that is merely idle (lag zero) is never given up."""

from __future__ import annotations

from typing import Any, cast

import pytest

import shared.messaging.runner
from shared.messaging.inbox import EventApplier
from shared.messaging.runner import ConsumerRunner, ConsumerStuck
from shared.progress import Progress

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SilentConsumer:
    """Every poll comes back empty, a second later."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.polls = 0

    async def getmany(self, **_: Any) -> dict[Any, Any]:
        self.polls += 1
        self.clock.now += 1.0
        return {}


def _runner(clock: Clock) -> tuple[ConsumerRunner, SilentConsumer]:
    consumer = SilentConsumer(clock)
    runner = ConsumerRunner(
        consumer=cast(Any, consumer),
        sessions=cast(Any, None),
        applier=cast(EventApplier, None),
        service="watchdog-test",
        progress=Progress(service="watchdog-test", role="worker", stall_seconds=10, clock=clock),
    )
    return runner, consumer


async def test_a_consumer_that_fetches_nothing_while_records_wait_is_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared.messaging.runner, "lag_of", lambda _: {"orders.v1": 1500})
    clock = Clock()
    runner, consumer = _runner(clock)
    with pytest.raises(ConsumerStuck, match="while its lag is above zero"):
        await runner.run()
    assert 10 <= consumer.polls <= 12


async def test_an_idle_consumer_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.messaging.runner, "lag_of", lambda _: {"orders.v1": 0})
    clock = Clock()
    runner, consumer = _runner(clock)

    async def getmany(**kwargs: Any) -> dict[Any, Any]:
        if consumer.polls >= 50:
            runner.stop()
        return await SilentConsumer.getmany(consumer, **kwargs)

    consumer.getmany = getmany  # type: ignore[method-assign]
    await runner.run()
    assert consumer.polls == 51 and not runner.progress.stalled  # 51 s idle: never given up
