"""Amazon submissions without I/O: when a batch goes, the messages a row becomes, the states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

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
from ingest.amazon.service_layer import handlers
from ingest.amazon.service_layer.feed_sender import _outcome
from shared.events.common import Money
from shared.events.fulfillment import OrderCanceled, RefundIssued, RefundItem
from tests.ingest.fakes import FakeDatabase, FakeGatewayUnitOfWork, _default_connection

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


# -- recording, on the in-memory unit of work --------------------------------------------------

OID = "111-0000000-0000001"


def _db(*, connected: bool = True, channel: str = "MFN") -> FakeDatabase:
    db = FakeDatabase()
    if connected:
        row = _default_connection()
        db.tables.connections[row["id"]] = row
    snapshot = {
        "fulfillment_channel": channel,
        "marketplace_id": "ATVPDKIKX0DER",
        "items": [{"order_item_id": "11"}, {"order_item_id": "12"}],
    }
    db.tables.orders[OID] = {"snapshot": snapshot}
    return db


def _canceled(*, buyer: bool = False, by: str = "seller", reason: str = "NoInventory") -> Any:
    return OrderCanceled(
        amazon_order_id=OID,
        seller_id="S1",
        order_status="Canceled",
        reason=reason,
        buyer_requested=buyer,
        canceled_by=by,
        canceled_at=NOW,
    )


def _refund(refund_id: str = "R1") -> RefundIssued:
    item = RefundItem(
        order_item_id="11",
        quantity=1,
        amount=Money(amount=Decimal("5.00"), currency_code="EUR"),
    )
    return RefundIssued(
        amazon_order_id=OID,
        seller_id="S1",
        order_status="Shipped",
        refund_id=refund_id,
        reason="CustomerReturn",
        items=(item,),
        total=Money(amount=Decimal("5.00"), currency_code="EUR"),
        refunded_at=NOW,
    )


async def _cancel(db: FakeDatabase, payload: OrderCanceled) -> Any:
    async with FakeGatewayUnitOfWork(db) as uow:
        status = await handlers.record_cancellation(
            uow, cancellation=payload, version=3, event_type="order.canceled"
        )
        await uow.commit()
    return status


def _only(db: FakeDatabase) -> dict[str, Any]:
    [row] = db.tables.submissions.values()
    return row


async def test_a_seller_cancellation_waits_for_its_feed_with_every_item() -> None:
    db = _db()
    assert await _cancel(db, _canceled()) is Status.PENDING
    row = _only(db)
    assert (row["kind"], row["feed_type"], row["marketplace_id"]) == (
        "cancellation",
        ORDER_ACKNOWLEDGEMENT_FEED,
        "ATVPDKIKX0DER",
    )
    assert row["payload"] == {
        "amazon_order_id": OID,
        "reason": "NoInventory",
        "item_codes": ["11", "12"],
    }
    assert await _cancel(db, _canceled()) is None  # one cancellation per order


async def test_a_buyer_requested_cancellation_is_sent_as_buyer_canceled() -> None:
    db = _db()
    await _cancel(db, _canceled(buyer=True, reason="NoInventory"))
    assert _only(db)["payload"]["reason"] == "BuyerCanceled"


@pytest.mark.parametrize(
    ("db", "payload", "reason"),
    [
        (_db(channel="AFN"), _canceled(), "Fulfilled by Amazon (AFN)"),
        (_db(), _canceled(by="amazon"), "Canceled at Amazon (by the amazon)"),
        (_db(), _canceled(by="buyer", buyer=True), "Canceled at Amazon (by the buyer)"),
        (_db(connected=False), _canceled(), "Seller S1 has no active SP-API connection."),
    ],
)
async def test_nothing_to_send_is_skipped_with_the_reason(
    db: FakeDatabase, payload: OrderCanceled, reason: str
) -> None:
    assert await _cancel(db, payload) is Status.SKIPPED
    assert _only(db)["last_error"].startswith(reason)


async def test_an_order_without_items_in_ingest_fails_before_any_feed() -> None:
    db = _db()
    db.tables.orders.clear()
    assert await _cancel(db, _canceled()) is Status.FAILED
    assert "no items" in _only(db)["last_error"]


async def test_a_refund_is_one_adjustment_per_refund_id() -> None:
    db = _db()
    for _ in range(2):  # the same refund announced twice
        async with FakeGatewayUnitOfWork(db) as uow:
            await handlers.record_refund(
                uow, refund=_refund(), version=4, event_type="refund.issued"
            )
            await uow.commit()
    row = _only(db)
    assert (row["kind"], row["reference"], row["feed_type"]) == (
        "adjustment",
        "R1",
        PAYMENT_ADJUSTMENT_FEED,
    )
    assert row["payload"]["currency"] == "EUR"
    assert row["payload"]["items"] == [
        {
            "item_code": "11",
            "reason": "CustomerReturn",
            "components": [{"type": "Principal", "amount": "5.00"}],
            "quantity_cancelled": None,
        }
    ]
