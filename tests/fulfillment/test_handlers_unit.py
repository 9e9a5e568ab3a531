"""Fulfillment's service layer on the in-memory unit of work (``fakes.py``): every command
handler, the Kafka handlers, the reads, the ship-by clock and an upload. No I/O."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from fulfillment.adapters.pii import BuyerPII
from fulfillment.dependencies import Dependencies
from fulfillment.domain import commands as cmd
from fulfillment.domain.errors import (
    BuyerPIIRemoved,
    ConcurrentInsert,
    InvalidInput,
    InvalidTransition,
    OrderNotFound,
    UploadNotFound,
)
from fulfillment.domain.model import ItemQuantity, RefundRequest
from fulfillment.domain.search import SearchFilters, SearchPage
from fulfillment.entrypoints.kafka.handlers import handler_table
from fulfillment.service_layer import background, handlers, queries, uploads
from fulfillment.settings import FulfillmentSettings
from shared import uploads as upload_jobs
from shared.events.orders import (
    CANCELLATION_AMAZON_ACCEPTED,
    CANCELLATION_AMAZON_FAILED,
    ORDER_CREATED,
    ORDER_UPDATED,
    REFUND_AMAZON_ACCEPTED,
    REFUND_AMAZON_FAILED,
    SHIPMENT_AMAZON_CONFIRMED,
    AmazonConfirmation,
    AmazonFeedResult,
    OrderSnapshot,
)
from shared.messaging.inbox import Batched
from tests.fulfillment.conftest import OTHER_SELLER, PII_KEY, SELLER, event_of, snapshot
from tests.fulfillment.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PII = BuyerPII(PII_KEY)
TRACKING = "1Z999AA10123456784"


def _snap(**fields: Any) -> OrderSnapshot:
    return snapshot(purchased=NOW - timedelta(hours=2), **fields)


async def _with_orders(*snapshots: OrderSnapshot) -> FakeUnitOfWork:
    """A unit of work whose store holds these orders (as the consumer stored them)."""
    uow = FakeUnitOfWork()
    run = [handlers.Incoming(s) for s in snapshots]
    await handlers.apply_snapshots(uow, run, pii=PII, clock=lambda: NOW)
    await uow.commit()
    uow.committed.outbox.clear()
    uow.commits = 0
    return uow


def _types(uow: FakeUnitOfWork) -> list[str]:
    return [e.type for e in uow.published]


def _ship(s: OrderSnapshot, **fields: Any) -> cmd.ConfirmShipment:
    values: dict[str, Any] = {
        "amazon_order_id": s.amazon_order_id,
        "seller_id": SELLER,
        "carrier_code": "UPS",
        "tracking_number": TRACKING,
        "ship_date": NOW,
    }
    return cmd.ConfirmShipment(**(values | fields))


# ---- commands ------------------------------------------------------------------------------
async def test_confirm_shipment_stores_and_publishes_once() -> None:
    s = _snap()
    uow = await _with_orders(s)
    async with uow:
        shipment, created = await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        await uow.commit()
    async with uow:
        again, created_again = await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        await uow.commit()
    assert created and not created_again and again.shipment_id == shipment.shipment_id
    assert _types(uow) == ["shipment.confirmed"]
    assert uow.published[0].subject == s.amazon_order_id
    assert uow.committed.orders[s.amazon_order_id].status.value == "Shipped"


async def test_a_command_on_an_unknown_order_changes_nothing() -> None:
    uow = await _with_orders()
    async with uow:
        with pytest.raises(OrderNotFound):
            await handlers.confirm_shipment(uow, _ship(_snap()), now=NOW)
    assert uow.published == [] and uow.commits == 0


async def test_a_refused_transition_publishes_nothing() -> None:
    s = _snap(status="Shipped")
    uow = await _with_orders(s)
    command = cmd.CancelOrder(
        amazon_order_id=s.amazon_order_id, seller_id=SELLER, reason="NoInventory"
    )
    async with uow:
        with pytest.raises(InvalidTransition):
            await handlers.cancel_order(uow, command, now=NOW)
    assert uow.published == []


async def test_another_sellers_order_is_not_found() -> None:
    s = _snap()
    uow = await _with_orders(s)
    async with uow:
        with pytest.raises(OrderNotFound):
            await handlers.confirm_shipment(uow, _ship(s, seller_id=OTHER_SELLER), now=NOW)


async def test_edit_shipment() -> None:
    s = _snap()
    uow = await _with_orders(s)
    async with uow:
        shipment, _ = await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        edit = cmd.EditShipment(
            amazon_order_id=s.amazon_order_id,
            seller_id=SELLER,
            shipment_id=shipment.shipment_id,
            carrier_code="FedEx",
            tracking_number="123456789012",
        )
        edited = await handlers.edit_shipment(uow, edit, now=NOW)
        await uow.commit()
    assert edited.carrier_code == "FedEx" and edited.tracking_number == "123456789012"
    assert _types(uow) == ["shipment.confirmed", "shipment.updated"]


async def test_cancel_order() -> None:
    s = _snap()
    uow = await _with_orders(s)
    command = cmd.CancelOrder(
        amazon_order_id=s.amazon_order_id, seller_id=SELLER, reason="NoInventory"
    )
    async with uow:
        cancellation = await handlers.cancel_order(uow, command, now=NOW)
        await uow.commit()
    assert cancellation.reason == "NoInventory" and cancellation.canceled_by == "seller"
    assert _types(uow) == ["order.canceled"]


async def test_issue_refund() -> None:
    s = _snap()
    uow = await _with_orders(s)
    item = s.items[0].order_item_id
    async with uow:
        await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        refund = await handlers.issue_refund(
            uow,
            cmd.IssueRefund(
                amazon_order_id=s.amazon_order_id,
                seller_id=SELLER,
                reason="CustomerReturn",
                items=(RefundRequest(item, Decimal("5.00")),),
            ),
            now=NOW,
        )
        await uow.commit()
    assert refund.total == Decimal("5.00")
    assert _types(uow) == ["shipment.confirmed", "refund.issued"]


async def test_authorize_and_receive_a_return_with_its_refund() -> None:
    s = _snap()
    uow = await _with_orders(s)
    key = s.amazon_order_id
    item = s.items[0].order_item_id
    async with uow:
        await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        ret = await handlers.authorize_return(
            uow,
            cmd.AuthorizeReturn(
                amazon_order_id=key, seller_id=SELLER, items=(ItemQuantity(item, 1),)
            ),
            now=NOW,
        )
        received, refund = await handlers.receive_return(
            uow,
            cmd.ReceiveReturn(
                amazon_order_id=key, seller_id=SELLER, return_id=ret.return_id, refund=True
            ),
            now=NOW + timedelta(days=1),
        )
        await uow.commit()
    assert ret.rma_id.startswith("RMA-") and received.received_at is not None
    assert refund is not None and refund.return_id == ret.return_id
    assert _types(uow) == [
        "shipment.confirmed",
        "return.authorized",
        "return.received",
        "refund.issued",
    ]


async def test_schedule_pickup() -> None:
    s = _snap()
    uow = await _with_orders(s)
    command = cmd.SchedulePickup(
        amazon_order_id=s.amazon_order_id,
        seller_id=SELLER,
        carrier_code="ups",
        window_start=NOW + timedelta(hours=2),
        window_end=NOW + timedelta(hours=4),
    )
    async with uow:
        pickup = await handlers.schedule_pickup(uow, command, now=NOW)
        await uow.commit()
    assert pickup.carrier_code == "UPS"
    assert _types(uow) == ["pickup.scheduled"]


async def test_a_command_left_without_commit_leaves_nothing() -> None:
    s = _snap()
    uow = await _with_orders(s)
    async with uow:
        await handlers.confirm_shipment(uow, _ship(s), now=NOW)
    assert uow.published == [] and uow.committed.orders[s.amazon_order_id].shipments == []


# ---- the ship-by clock ---------------------------------------------------------------------
async def test_the_ship_by_clock_flags_overdue_orders_once() -> None:
    late = _snap(latest_ship_date=NOW - timedelta(hours=1))
    uow = await _with_orders(late, _snap(), _snap(channel="AFN", latest_ship_date=NOW))
    flagged = await background.flag_once(lambda: uow, clock=lambda: NOW, batch=10)
    again = await background.flag_once(lambda: uow, clock=lambda: NOW, batch=10)
    assert (flagged, again) == (1, 0)
    assert _types(uow) == ["order.ship_late"] and uow.published[0].subject == late.amazon_order_id
    assert uow.commits == 2


# ---- orders.v1 (the Kafka handlers) --------------------------------------------------------
def _table() -> dict[str, Any]:
    deps = Dependencies(
        settings=FulfillmentSettings(ORDERFLOW_PII_KEY=PII_KEY),
        sessions=None,  # type: ignore[arg-type]
        pii=PII,
        clock=lambda: NOW,
    )
    return handler_table(deps)


async def test_a_run_of_snapshots_through_the_batched_handler() -> None:
    table = _table()
    batched = table[ORDER_CREATED]
    assert isinstance(batched, Batched) and table[ORDER_UPDATED] is batched
    a = _snap()
    later = _snap(amazon_order_id=a.amazon_order_id, version=2, status="Canceled")
    stale = _snap(amazon_order_id=a.amazon_order_id, version=1, status="Shipped")
    events = [event_of(s) for s in (a, later, stale)]
    uow = FakeUnitOfWork()
    await batched.apply(uow, [(e, OrderSnapshot.model_validate(e.data)) for e in events])
    await uow.commit()
    held = uow.committed.orders[a.amazon_order_id]
    assert (held.status.value, held.snapshot_version) == ("Canceled", 2)
    assert _types(uow) == ["order.canceled"]
    assert uow.published[0].correlationid == str(events[1].id)


async def test_snapshot_outcomes_and_a_foreign_seller() -> None:
    a = _snap()
    uow = await _with_orders(a)
    run = [
        handlers.Incoming(_snap(amazon_order_id=a.amazon_order_id, seller_id=OTHER_SELLER)),
        handlers.Incoming(a),
        handlers.Incoming(_snap(amazon_order_id=a.amazon_order_id, version=2)),
        handlers.Incoming(_snap()),
    ]
    outcomes = await handlers.apply_snapshots(uow, run, pii=PII, clock=lambda: NOW)
    assert outcomes == ["foreign", "stale", "updated", "created"]


async def test_a_concurrent_insert_fails_the_run_and_keeps_nothing() -> None:
    a = _snap()
    uow = FakeUnitOfWork()
    uow.inserted_elsewhere.add(a.amazon_order_id)
    with pytest.raises(ConcurrentInsert):
        await handlers.apply_snapshots(uow, [handlers.Incoming(a)], pii=PII, clock=lambda: NOW)
    await uow.rollback()
    assert uow.committed.orders == {} and uow.published == []


async def test_amazons_answer_is_recorded_on_the_shipment() -> None:
    s = _snap()
    uow = await _with_orders(s)
    async with uow:
        shipment, _ = await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        await uow.commit()
    answer = AmazonConfirmation(
        amazon_order_id=s.amazon_order_id,
        seller_id=SELLER,
        shipment_id=shipment.shipment_id,
        fulfillment_version=2,
        status="sent",
        at=NOW,
    )
    unknown = answer.model_copy(update={"shipment_id": "no-such-shipment"})
    on_answer = _table()[SHIPMENT_AMAZON_CONFIRMED]
    async with uow:
        await on_answer(uow, event_of(s), unknown)  # ignored
        await on_answer(uow, event_of(s), answer)
        await uow.commit()
    noted = uow.committed.orders[s.amazon_order_id].shipments[0].amazon_confirmation
    assert noted is not None and noted.status == "sent"
    assert _types(uow) == ["shipment.confirmed"]  # the answer publishes nothing


def _feed_result(s: OrderSnapshot, **fields: Any) -> AmazonFeedResult:
    values: dict[str, Any] = {
        "amazon_order_id": s.amazon_order_id,
        "seller_id": SELLER,
        "submission_id": "submission-1",
        "kind": "cancellation",
        "fulfillment_version": 2,
        "status": "accepted",
        "feed_id": "feed-1",
        "at": NOW,
    }
    return AmazonFeedResult(**values | fields)


async def test_amazons_answer_is_recorded_on_the_cancellation() -> None:
    s, never_canceled = _snap(), _snap()
    uow = await _with_orders(s, never_canceled)
    command = cmd.CancelOrder(
        amazon_order_id=s.amazon_order_id, seller_id=SELLER, reason="NoInventory"
    )
    async with uow:
        await handlers.cancel_order(uow, command, now=NOW)
        await uow.commit()
    table = _table()
    failed = _feed_result(
        s, status="failed", result_code="25", error="We are unable to process the XML feed"
    )
    accepted = _feed_result(s, at=NOW + timedelta(minutes=5))
    async with uow:
        await table[CANCELLATION_AMAZON_FAILED](uow, event_of(s), failed)
        await table[CANCELLATION_AMAZON_ACCEPTED](uow, event_of(s), accepted)
        await table[CANCELLATION_AMAZON_FAILED](uow, event_of(s), failed)  # stale: kept newer
        await table[CANCELLATION_AMAZON_ACCEPTED](
            uow, event_of(s), _feed_result(never_canceled)
        )  # no cancellation: ignored
        await table[CANCELLATION_AMAZON_ACCEPTED](
            uow, event_of(s), _feed_result(s, amazon_order_id="111-0000000-0000000")
        )  # unknown order: ignored
        await uow.commit()
    order = uow.committed.orders[s.amazon_order_id]
    assert order.cancellation is not None and order.cancellation.amazon is not None
    noted = order.cancellation.amazon
    assert (noted.status, noted.at, noted.error, noted.feed_id) == (
        "accepted",
        NOW + timedelta(minutes=5),
        None,
        "feed-1",
    )
    assert order.version == 2  # not an order change
    assert uow.committed.orders[never_canceled.amazon_order_id].cancellation is None
    assert _types(uow) == ["order.canceled"]  # the answers publish nothing


async def test_amazons_answer_is_recorded_on_its_refund() -> None:
    s = _snap()
    uow = await _with_orders(s)
    item = s.items[0].order_item_id
    async with uow:
        await handlers.confirm_shipment(uow, _ship(s), now=NOW)
        refunds = [
            await handlers.issue_refund(
                uow,
                cmd.IssueRefund(
                    amazon_order_id=s.amazon_order_id,
                    seller_id=SELLER,
                    reason="CustomerReturn",
                    items=(RefundRequest(item, Decimal("1.00")),),
                ),
                now=NOW,
            )
            for _ in range(2)
        ]
        await uow.commit()
    first, second = (r.refund_id for r in refunds)
    table = _table()
    refused = _feed_result(
        s,
        kind="adjustment",
        refund_id=second,
        fulfillment_version=4,
        status="failed",
        result_code="18028",
        error="The data you submitted is incomplete or invalid.",
    )
    async with uow:
        await table[REFUND_AMAZON_FAILED](uow, event_of(s), refused)
        await table[REFUND_AMAZON_ACCEPTED](
            uow, event_of(s), refused.model_copy(update={"refund_id": "no-such-refund"})
        )  # unknown refund: ignored
        # an older answer (an earlier version) arriving late does not replace the newer one
        older = refused.model_copy(
            update={"status": "accepted", "fulfillment_version": 3, "at": NOW + timedelta(1)}
        )
        await table[REFUND_AMAZON_ACCEPTED](uow, event_of(s), older)
        await uow.commit()
    order = uow.committed.orders[s.amazon_order_id]
    held = {r.refund_id: r.amazon for r in order.refunds}
    assert held[first] is None
    assert held[second] is not None
    assert (held[second].status, held[second].result_code, held[second].error) == (
        "failed",
        "18028",
        "The data you submitted is incomplete or invalid.",
    )
    assert order.version == 4
    assert _types(uow) == ["shipment.confirmed", "refund.issued", "refund.issued"]


# ---- reads ---------------------------------------------------------------------------------
async def test_search_applies_seller_centrals_defaults() -> None:
    recent, pending = _snap(), _snap(status="Pending")
    old = snapshot(purchased=NOW - timedelta(days=30))
    uow = await _with_orders(recent, pending, old)
    page = SearchPage(sort="purchase_date", descending=True, after=None, limit=10)
    found = await queries.search_orders(
        uow, filters=SearchFilters(seller_id=SELLER), ship_by=None, page=page, now=NOW
    )
    assert [o.amazon_order_id for o in found.orders] == [recent.amazon_order_id]
    assert len(found.applied_defaults) == 2


async def test_prime_business_and_replacement_orders_are_kept_and_searchable() -> None:
    prime, business, plain = _snap(is_prime=True), _snap(is_business_order=True), _snap()
    replacement = _snap(is_replacement_order=True, replaced_order_id=plain.amazon_order_id)
    uow = await _with_orders(prime, business, plain, replacement)
    page = SearchPage(sort="purchase_date", descending=True, after=None, limit=10)

    async def ids(**flags: bool) -> set[str]:
        filters = SearchFilters(seller_id=SELLER, **flags)
        found = await queries.search_orders(uow, filters=filters, ship_by=None, page=page, now=NOW)
        return {o.amazon_order_id for o in found.orders}

    assert await ids(is_prime=True) == {prime.amazon_order_id}
    assert await ids(is_business_order=True) == {business.amazon_order_id}
    assert await ids(is_replacement_order=True) == {replacement.amazon_order_id}
    assert replacement.amazon_order_id not in await ids(is_replacement_order=False)
    held = uow.committed.orders[replacement.amazon_order_id]
    assert held.replaced_order_id == plain.amazon_order_id


async def test_get_order_and_its_packing_slip() -> None:
    s = _snap()
    uow = await _with_orders(s)
    key = s.amazon_order_id
    order = await queries.get_order(uow, amazon_order_id=key, seller_id=SELLER)
    assert order.amazon_order_id == key
    with pytest.raises(OrderNotFound):
        await queries.get_order(uow, amazon_order_id=key, seller_id=OTHER_SELLER)
    pdf = await queries.packing_slip_pdf(uow, amazon_order_id=key, seller_id=SELLER, pii=PII)
    assert pdf.startswith(b"%PDF")
    assert "1200 Elm Street" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    uow.committed.orders[key].pii_removed_at = NOW
    with pytest.raises(BuyerPIIRemoved):
        await queries.packing_slip_pdf(uow, amazon_order_id=key, seller_id=SELLER, pii=PII)


# ---- uploads -------------------------------------------------------------------------------
async def test_an_upload_confirms_good_packages_and_rejects_the_others() -> None:
    s = _snap()
    uow = await _with_orders(s)
    header = "order-id\tquantity\tship-date\tcarrier-code\ttracking-number"
    rows = [
        f"{s.amazon_order_id}\t\t2026-11-26\tUPS\t{TRACKING}",
        f"111-0000000-0000000\t\t2026-11-26\tUPS\t{TRACKING}",  # no such order
    ]
    content = "\n".join([header, *rows]).encode()
    async with uow:
        row, duplicate = await uploads.register(
            uow, seller_id=SELLER, filename="f.txt", content=content
        )
        await uow.commit()
    await upload_jobs.process(uploads.job(lambda: uow, clock=lambda: NOW, chunk=10), row.id)
    done = await queries.get_upload(uow, upload_id=row.id, seller_id=SELLER)
    assert not duplicate and done.status == "done"
    assert (done.rows_accepted, done.rows_rejected) == (1, 1)
    assert [r["result"] for r in done.results] == ["accepted", "rejected"]
    assert _types(uow) == ["shipment.confirmed"]
    with pytest.raises(UploadNotFound):
        await queries.get_upload(uow, upload_id=row.id, seller_id=OTHER_SELLER)


async def test_an_unreadable_upload_is_refused() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        with pytest.raises(InvalidInput):
            await uploads.register(uow, seller_id=SELLER, filename="f", content=b"\x00\xff")
