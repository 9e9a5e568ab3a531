"""Amazon submissions without I/O: when a batch goes, the messages a row becomes, the states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingest.amazon.adapters.spapi.feeds import Feed
from ingest.amazon.domain import submissions as ds
from ingest.amazon.domain.errors import InvalidTransition
from ingest.amazon.domain.feed_messages import (
    ORDER_ACKNOWLEDGEMENT_FEED,
    PAYMENT_ADJUSTMENT_FEED,
    AdjustedItem,
    Component,
    InvalidFeedMessage,
    OrderAdjustment,
    OrderCancellation,
    ProcessingReport,
    ProcessingSummary,
    ReportResult,
)
from ingest.amazon.domain.submissions import Action, Status, Waiting, batch_due
from ingest.amazon.service_layer.feed_sender import _outcome

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WAIT = timedelta(seconds=60)


@pytest.mark.parametrize(
    ("count", "waited", "due"),
    [
        (1, 0, False),  # one message, just arrived: wait for more
        (99, 59, False),  # almost a batch, not waited long enough
        (100, 0, True),  # a full batch goes at once
        (250, 0, True),
        (1, 60, True),  # the oldest has waited long enough
        (1, 3600, True),
    ],
)
def test_a_batch_goes_when_full_or_when_its_oldest_has_waited(
    count: int, waited: int, due: bool
) -> None:
    waiting = Waiting(count, NOW - timedelta(seconds=waited))
    assert batch_due(waiting, now=NOW, batch_size=100, max_wait=WAIT) is due


def test_however_many_actions_the_feeds_per_hour_are_bounded() -> None:
    """Messages arriving at any pace leave in at most one feed per max-wait window plus one per
    full batch: 10,000 cancellations in an hour are at most 100 + 60 feeds, never one each."""
    feeds, oldest, count = 0, None, 0
    for second in range(3600):
        arrived = NOW + timedelta(seconds=second)
        for _ in range(3):  # 3 actions a second
            oldest, count = oldest or arrived, count + 1
        if batch_due(Waiting(count, oldest), now=arrived, batch_size=100, max_wait=WAIT):
            feeds, oldest, count = feeds + 1, None, max(count - 100, 0)
    assert feeds <= 3 * 3600 // 100 + 60


def test_a_cancellation_row_becomes_its_numbered_message() -> None:
    payload = ds.cancellation_payload("111-0000000-0000001", "NoInventory", ["11", "12"])
    message = ds.message_of(ORDER_ACKNOWLEDGEMENT_FEED, 7, payload)
    assert message == OrderCancellation(7, "111-0000000-0000001", "NoInventory", ("11", "12"))
    document = ds.feed_document(ORDER_ACKNOWLEDGEMENT_FEED, "A1PARTNER", [message])
    assert b"<MessageID>7</MessageID>" in document
    assert b"<CancelReason>NoInventory</CancelReason>" in document


def test_an_adjustment_row_becomes_its_numbered_message() -> None:
    items = [
        AdjustedItem(
            "11",
            "CustomerReturn",
            (Component("Principal", Decimal("19.99")), Component("Tax", Decimal("1.50"))),
        )
    ]
    payload = ds.adjustment_payload("111-0000000-0000001", "EUR", items)
    message = ds.message_of(PAYMENT_ADJUSTMENT_FEED, 2, payload)
    assert message == OrderAdjustment(2, "111-0000000-0000001", "EUR", tuple(items))


def test_a_payload_amazon_would_refuse_is_refused_before_any_feed() -> None:
    with pytest.raises(InvalidFeedMessage):
        ds.cancellation_payload("111-0000000-0000001", "PricingError", ["11"])
    with pytest.raises(InvalidFeedMessage):
        ds.message_of(ORDER_ACKNOWLEDGEMENT_FEED, 1, {})  # e.g. a row failed when recorded
    with pytest.raises(InvalidFeedMessage):
        ds.message_of("POST_PRODUCT_DATA", 1, {})


def test_feed_message_states() -> None:
    assert ds.transition(Status.PENDING, Action.SUBMIT) is Status.SUBMITTED
    assert ds.transition(Status.SUBMITTED, Action.ACCEPT) is Status.ACCEPTED
    assert ds.transition(Status.SUBMITTED, Action.FAIL) is Status.FAILED
    assert ds.transition(Status.FAILED, Action.RETRY) is Status.PENDING
    with pytest.raises(InvalidTransition, match="Only a failed submission"):
        ds.transition(Status.ACCEPTED, Action.RETRY)
    with pytest.raises(InvalidTransition):
        ds.transition(Status.ACCEPTED, Action.FAIL)


class _Row:
    def __init__(self, message_id: int) -> None:
        self.message_id = message_id


def test_the_report_fails_the_refused_message_only() -> None:
    feed = Feed("1", ORDER_ACKNOWLEDGEMENT_FEED, "DONE", result_feed_document_id="r")
    report = ProcessingReport(
        "Complete",
        ProcessingSummary(3, 2, 1, 0),
        (ReportResult(2, "Error", "18021", "already shipped"),),
    )
    outcomes = [_outcome(feed, report, _Row(n)) for n in (1, 2, 3)]
    assert [o.action for o in outcomes] == [Action.ACCEPT, Action.FAIL, Action.ACCEPT]
    assert (outcomes[1].result_code, outcomes[1].error) == ("18021", "already shipped")


def test_a_fatal_feed_fails_its_messages_with_the_reason() -> None:
    outcome = _outcome(Feed("9", ORDER_ACKNOWLEDGEMENT_FEED, "FATAL"), None, _Row(1))
    assert outcome.action is Action.FAIL
    assert outcome.error is not None and "FATAL" in outcome.error and "retry" in outcome.error
