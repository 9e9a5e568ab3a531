"""Ingest's two service layers on fakes: intake's command handlers, and the gateway's command
handlers and fulfillment.v1 handler. No I/O: in-memory repositories (``fakes.py``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet

from ingest.amazon.adapters.spapi.orders import OrdersPage
from ingest.amazon.domain import commands as gateway
from ingest.amazon.domain.connections import Action, Credentials, OrdersApi, Region
from ingest.amazon.domain.errors import (
    ConnectionExists,
    ConnectionNotFound,
    InvalidTransition,
    SpApiUnavailable,
    UnknownSellingPartner,
)
from ingest.amazon.entrypoints.kafka.handlers import handler_table
from ingest.amazon.service_layer import handlers as gateway_handlers
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.notifications import OrderChangeEnvelope
from ingest.amazon.service_layer.sync import Poller
from ingest.intake.domain import commands
from ingest.intake.domain.errors import UnreadableUpload
from ingest.intake.domain.model import IncomingOrder, IntakeResult, Rejected
from ingest.intake.service_layer import handlers, queries, uploads
from ingest.intake.service_layer.ads import AdRowOutcome
from ingest.intake.service_layer.shapes import read_order
from orderflow_testkit.samples import amazon_order
from shared import uploads as upload_jobs
from shared.clock import utc_now
from shared.events.ads import AdPerformance
from shared.events.common import Money
from shared.events.fulfillment import SHIPMENT_CONFIRMED, Shipment
from shared.events.orders import ORDER_CREATED, ORDER_UPDATED
from shared.events.registry import build_event
from shared.pii import PIICipher
from tests.ingest.fakes import FakeDatabase, FakeGatewayUnitOfWork, FakeIntakeUnitOfWork

pytestmark = pytest.mark.unit

PII = PIICipher(Fernet.generate_key().decode())
ORDERS = "orders.v1"
ADS = "ads.v1"
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def order(oid: str, *, updated: datetime = T0, **over: Any) -> IncomingOrder:
    parsed = read_order(
        amazon_order(amazon_order_id=oid, purchased=T0 - timedelta(hours=1), updated=updated) | over
    )
    assert isinstance(parsed, IncomingOrder)
    return parsed


async def accept(
    db: FakeDatabase, *entries: IncomingOrder | Rejected, seller: str = "S1"
) -> list[handlers.Accepted | Rejected]:
    command = commands.AcceptOrders(seller_id=seller, entries=list(entries), source="api")
    async with FakeIntakeUnitOfWork(db) as uow:
        outcomes = await handlers.accept_orders(
            uow, command=command, pii=PII, topic=ORDERS, alone=True
        )
        await uow.commit()
    return outcomes


# -- intake ------------------------------------------------------------------------------------


async def test_a_new_order_is_stored_and_announced_in_one_commit() -> None:
    db = FakeDatabase()
    [outcome] = await accept(db, order("111-0000001-0000001"))
    assert isinstance(outcome, handlers.Accepted)
    assert (outcome.result, outcome.version) == (IntakeResult.CREATED, 1)
    assert [e.type for e in db.events(ORDERS)] == [ORDER_CREATED]
    assert db.commits == 1
    stored = db.tables.orders["111-0000001-0000001"]
    assert stored["snapshot"]["buyer_pii"] is not None  # sealed, never in clear


async def test_newer_same_and_older_versions_of_an_order() -> None:
    db = FakeDatabase()
    oid = "111-0000001-0000002"
    await accept(db, order(oid))
    [newer] = await accept(db, order(oid, updated=T0 + timedelta(minutes=5)))
    [same] = await accept(db, order(oid, updated=T0 + timedelta(minutes=5)))
    [older] = await accept(db, order(oid, updated=T0 - timedelta(minutes=5)))
    results = [o.result for o in (newer, same, older) if isinstance(o, handlers.Accepted)]
    assert results == [IntakeResult.UPDATED, IntakeResult.UNCHANGED, IntakeResult.STALE]
    assert [e.type for e in db.events()] == [ORDER_CREATED, ORDER_UPDATED]
    assert db.tables.orders[oid]["version"] == 2


async def test_another_sellers_order_id_is_refused_and_quarantined() -> None:
    db = FakeDatabase()
    oid = "111-0000001-0000003"
    await accept(db, order(oid), seller="S1")
    [outcome] = await accept(db, order(oid, updated=T0 + timedelta(hours=1)), seller="S2")
    assert isinstance(outcome, Rejected) and outcome.status == 409
    assert [q["amazon_order_id"] for q in db.tables.quarantine] == [oid]
    assert db.tables.orders[oid]["seller_id"] == "S1"
    assert len(db.events()) == 1


async def test_an_order_the_database_refuses_is_rejected_alone() -> None:
    db = FakeDatabase(refuse={"111-0000001-0000005"})
    good, bad = order("111-0000001-0000004"), order("111-0000001-0000005")
    first, second = await accept(db, good, bad)
    assert isinstance(first, handlers.Accepted)
    assert isinstance(second, Rejected)
    assert "the database refused this order" in second.reasons[0]["message"]
    assert [e.subject for e in db.events()] == ["111-0000001-0000004"]
    assert set(db.tables.orders) == {"111-0000001-0000004"}
    assert [q["amazon_order_id"] for q in db.tables.quarantine] == ["111-0000001-0000005"]


async def test_invalid_input_is_quarantined_sealed_with_its_reasons() -> None:
    db = FakeDatabase()
    rejected = read_order({"AmazonOrderId": "111-0000001-0000006"})
    assert isinstance(rejected, Rejected)
    command = commands.QuarantineInput(seller_id="S1", source="batch", rejected=rejected)
    async with FakeIntakeUnitOfWork(db) as uow:
        row_id = await handlers.quarantine_input(uow, command=command, pii=PII)
        await uow.commit()
    [kept] = db.tables.quarantine
    assert kept["id"] == row_id and kept["reasons"] and kept["sealed_input"]
    assert "111-0000001-0000006" not in str(kept["sealed_input"])


async def test_work_left_without_commit_is_rolled_back() -> None:
    db = FakeDatabase()
    command = commands.AcceptOrders(
        seller_id="S1", entries=[order("111-0000001-0000007")], source="api"
    )
    async with FakeIntakeUnitOfWork(db) as uow:
        await handlers.accept_orders(uow, command=command, pii=PII, topic=ORDERS)
    assert db.tables.orders == {} and db.events() == [] and db.commits == 0


def ad_row(clicks: int = 3) -> AdPerformance:
    usd = Money(amount=Decimal("1.50"), currency_code="USD")
    return AdPerformance(
        seller_id="S1",
        date=T0.date(),
        campaign_id="C1",
        asin="B08N5WRWNW",
        clicks=clicks,
        spend=usd,
        attributed_orders=1,
        attributed_sales=usd,
    )


async def report(db: FakeDatabase, row: AdPerformance) -> AdRowOutcome:
    async with FakeIntakeUnitOfWork(db) as uow:
        [outcome] = await handlers.report_ad_rows(
            uow, command=commands.ReportAdRows(rows=[row]), topic=ADS
        )
        await uow.commit()
    return outcome


async def test_ad_rows_are_created_restated_or_unchanged() -> None:
    db = FakeDatabase()
    created = await report(db, ad_row())
    unchanged = await report(db, ad_row())
    restated = await report(db, ad_row(clicks=4))
    assert [(o.result, o.version) for o in (created, unchanged, restated)] == [
        ("created", 1),
        ("unchanged", 1),
        ("restated", 2),
    ]
    assert [e.aggregateversion for e in db.events(ADS)] == [1, 2]


def order_report(*order_ids: str) -> bytes:
    header = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\tasin\tquantity"
    rows = [
        f"{oid}\t2026-11-20T10:00:00+00:00\t2026-11-20T11:00:00+00:00\tUnshipped\tMUG\tB000000001\t1"
        for oid in order_ids
    ]
    return "\n".join([header, *rows]).encode() + b"\n"


async def register(db: FakeDatabase, content: bytes) -> tuple[Any, bool]:
    command = commands.RegisterUpload(seller_id="S1", filename="o.txt", content=content)
    async with FakeIntakeUnitOfWork(db) as uow:
        registered = await handlers.register_upload(uow, command=command, pii=PII)
        await uow.commit()
    return registered


async def test_an_upload_is_registered_once_then_processed_in_chunks() -> None:
    db = FakeDatabase()
    content = order_report("111-0000002-0000001", "111-0000002-0000002", "111-0000002-0000003")
    (row, duplicate), (again, duplicate_again) = [await register(db, content) for _ in "12"]
    assert (duplicate, duplicate_again, again.id) == (False, True, row.id)
    assert db.tables.uploads[row.id]["content"] != content  # sealed
    job = uploads.job(
        lambda: FakeIntakeUnitOfWork(db), pii=PII, topic=ORDERS, chunk=2, clock=utc_now
    )
    await upload_jobs.process(job, row.id)
    done = db.tables.uploads[row.id]
    assert done["errors"] == []
    assert (done["status"], done["orders_done"], done["rows_accepted"]) == ("done", 3, 3)
    assert done["content"] == b""
    assert len(db.events(ORDERS)) == 3
    assert db.commits == 2 + 2  # two registrations, then one commit per chunk


async def test_an_unreadable_file_is_refused_before_anything_is_stored() -> None:
    db = FakeDatabase()
    with pytest.raises(UnreadableUpload):
        await register(db, b"not\ta report\n")
    assert db.tables.uploads == {} and db.commits == 0


async def test_an_orders_view_and_an_unknown_order() -> None:
    db = FakeDatabase()
    await accept(db, order("111-0000001-0000009"))
    view = await queries.order(
        FakeIntakeUnitOfWork(db), amazon_order_id="111-0000001-0000009", seller_id="S1"
    )
    assert view is not None and [e.type for e in view.events] == [ORDER_CREATED]
    assert (
        await queries.order(FakeIntakeUnitOfWork(db), amazon_order_id="x", seller_id="S1") is None
    )
    foreign = await queries.order(
        FakeIntakeUnitOfWork(db), amazon_order_id="111-0000001-0000009", seller_id="S2"
    )
    assert foreign is None


# -- the Amazon gateway ------------------------------------------------------------------------

VAULT = Vault(PII)


def new_connection(seller: str = "S1", partner: str = "A1SELLER") -> gateway.AddConnection:
    return gateway.AddConnection(
        seller_id=seller,
        selling_partner_id=partner,
        region=Region.NA,
        marketplace_ids=("ATVPDKIKX0DER",),
        orders_api=OrdersApi.V2026,
        endpoint="http://127.0.0.1:1",
        lwa_token_url=None,
        credentials=Credentials("client-id-1234", "secret", "refresh"),
        sync_from=T0,
    )


async def connect(db: FakeDatabase, command: gateway.AddConnection | None = None) -> Any:
    async with FakeGatewayUnitOfWork(db) as uow:
        row = await gateway_handlers.add_connection(
            uow, command=command or new_connection(), vault=VAULT
        )
        await uow.commit()
    return row


async def test_a_connection_is_added_once_with_sealed_credentials() -> None:
    db = FakeDatabase()
    row = await connect(db)
    assert row.status == "active" and "secret" not in row.sealed_credentials
    assert VAULT.open(row.sealed_credentials).client_id == "client-id-1234"
    with pytest.raises(ConnectionExists):
        await connect(db)
    assert len(db.tables.connections) == 1


async def test_pause_resume_and_an_invalid_transition() -> None:
    db = FakeDatabase()
    row = await connect(db)

    async def change(action: Action) -> Any:
        command = gateway.ChangeConnection(row.id, "S1", action)
        async with FakeGatewayUnitOfWork(db) as uow:
            changed = await gateway_handlers.change_connection(uow, command=command)
            await uow.commit()
        return changed

    assert (await change(Action.PAUSE)).status == "paused"
    with pytest.raises(InvalidTransition):
        await change(Action.PAUSE)
    assert (await change(Action.RESUME)).status == "active"


async def test_removing_another_sellers_connection_is_not_found() -> None:
    db = FakeDatabase()
    row = await connect(db)
    async with FakeGatewayUnitOfWork(db) as uow:
        with pytest.raises(ConnectionNotFound):
            await gateway_handlers.remove_connection(
                uow, command=gateway.RemoveConnection(row.id, "S2")
            )
        await gateway_handlers.remove_connection(
            uow, command=gateway.RemoveConnection(row.id, "S1")
        )
        await uow.commit()
    assert db.tables.connections == {}


def shipment_event(version: int = 1, channel: str | None = "MFN") -> tuple[Any, Shipment]:
    payload = Shipment(
        amazon_order_id="111-0000001-0000010",
        seller_id="S1",
        marketplace_id="ATVPDKIKX0DER",
        fulfillment_channel=channel,
        order_status="Shipped",
        shipment_id="SH1",
        carrier_code="UPS",
        tracking_number="1Z999AA10123456784",
        ship_date=T0,
        items=({"order_item_id": "OI1", "quantity": 1},),  # type: ignore[arg-type]
        on_time=True,
        valid_tracking=True,
    )
    event = build_event(
        topic="fulfillment.v1",
        event_type=SHIPMENT_CONFIRMED,
        payload=payload,
        source="fulfillment",
        subject=payload.amazon_order_id,
        seller_id="S1",
        version=version,
    )
    return event, payload


async def consume(db: FakeDatabase, event: Any, payload: Shipment) -> None:
    handler = handler_table()[event.type]
    async with FakeGatewayUnitOfWork(db) as uow:
        await handler(uow, event, payload)
        await uow.commit()  # the consumer runner commits after the handler


async def test_a_confirmed_shipment_is_recorded_once_for_amazon() -> None:
    db = FakeDatabase()
    await connect(db)
    event, payload = shipment_event()
    await consume(db, event, payload)
    await consume(db, event, payload)  # redelivered: nothing more
    [row] = db.tables.confirmations.values()
    assert (row["status"], row["version"]) == ("pending", 1)
    assert row["payload"]["marketplaceId"] == "ATVPDKIKX0DER"


async def test_shipments_amazon_confirms_itself_or_without_a_connection_are_skipped() -> None:
    db = FakeDatabase()
    await consume(db, *shipment_event(version=1))
    await connect(db)
    await consume(db, *shipment_event(version=2, channel="AFN"))
    rows = sorted(db.tables.confirmations.values(), key=lambda r: r["version"])
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert "no active SP-API connection" in rows[0]["last_error"]
    assert "AFN" in rows[1]["last_error"]


async def test_retry_only_a_failed_confirmation_of_the_newest_version() -> None:
    db = FakeDatabase()
    await connect(db)
    await consume(db, *shipment_event(version=1))
    [first_id] = db.tables.confirmations

    async def retry(confirmation_id: uuid.UUID) -> Any:
        command = gateway.RetryConfirmation(confirmation_id=confirmation_id, seller_id="S1")
        async with FakeGatewayUnitOfWork(db) as uow:
            row = await gateway_handlers.retry_confirmation(uow, command=command)
            await uow.commit()
        return row

    with pytest.raises(InvalidTransition):
        await retry(first_id)  # pending, not failed
    db.tables.confirmations[first_id]["status"] = "failed"
    assert (await retry(first_id)).status == "pending"
    db.tables.confirmations[first_id]["status"] = "failed"
    await consume(db, *shipment_event(version=2))
    db.tables.confirmations[first_id]["status"] = "failed"
    with pytest.raises(InvalidTransition, match="newer version"):
        await retry(first_id)


class FakeSpApi:
    """Answers getOrder from a dict (None: Amazon has no such order), and getOrders with the
    given pages, in order (each a list of orders; the last has no next token)."""

    def __init__(
        self, orders: dict[str, IncomingOrder], pages: list[list[IncomingOrder]] | None = None
    ) -> None:
        self.orders = orders
        self.pages = pages or []
        self.settings = SimpleNamespace(spapi_lease_seconds=300.0, spapi_poll_seconds=60.0)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[None]:
        yield None

    def reader(self, client: Any, row: Any, vault: Vault) -> Any:
        async def get(order_id: str) -> IncomingOrder | None:
            return self.orders.get(order_id)

        async def updated(window: Any, token: str | None) -> OrdersPage:
            if not self.pages:
                raise SpApiUnavailable("SP-API did not answer")
            index = int(token or 0)
            last = index + 1 >= len(self.pages)
            return OrdersPage(self.pages[index], None if last else str(index + 1))

        return SimpleNamespace(order=get, updated=updated)


def notification(notification_id: str, seller: str = "A1SELLER") -> gateway.TakeNotification:
    raw = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-20T10:05:00Z",
        "Payload": {
            "OrderChangeNotification": {
                "SellerId": seller,
                "AmazonOrderId": "111-0000001-0000011",
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": "2026-11-20T10:05:00Z",
                    "ChangeReason": "OrderStatusChange",
                },
                "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped"},
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "app",
            "SubscriptionId": "sub",
            "PublishTime": "2026-11-20T10:05:01Z",
            "NotificationId": notification_id,
        },
    }
    envelope = OrderChangeEnvelope.model_validate(raw)
    return gateway.TakeNotification(envelope=envelope, raw=raw)


async def take(db: FakeDatabase, command: gateway.TakeNotification) -> Any:
    spapi = FakeSpApi({"111-0000001-0000011": order("111-0000001-0000011")})
    return await gateway_handlers.take_notification(
        lambda: FakeGatewayUnitOfWork(db),
        command=command,
        spapi=spapi,  # type: ignore[arg-type]
        vault=VAULT,
        pii=PII,
        topic=ORDERS,
    )


async def test_a_notification_refreshes_its_order_once() -> None:
    db = FakeDatabase()
    await connect(db)
    taken = await take(db, notification("N1"))
    again = await take(db, notification("N1"))
    assert (taken.result, taken.version, again.result) == ("created", 1, "duplicate")
    assert [e.subject for e in db.events(ORDERS)] == ["111-0000001-0000011"]
    assert set(db.tables.notifications) == {"N1"}


async def test_a_notification_for_an_unknown_seller_is_quarantined() -> None:
    db = FakeDatabase()
    with pytest.raises(UnknownSellingPartner):
        await take(db, notification("N2", seller="A9UNKNOWN"))
    [kept] = db.tables.quarantine
    assert kept["source"] == "sp-api" and kept["seller_id"] is None
    assert db.events() == [] and db.tables.notifications == {}


async def test_a_sync_hands_each_page_to_intake_and_moves_the_cursor() -> None:
    db = FakeDatabase()
    row = await connect(db)
    pages = [
        [order("111-0000003-0000001"), order("111-0000003-0000002")],
        [order("111-0000003-0000003")],
    ]
    poller = Poller(
        new_uow=lambda: FakeGatewayUnitOfWork(db),
        spapi=FakeSpApi({}, pages),  # type: ignore[arg-type]
        vault=VAULT,
        pii=PII,
        topic=ORDERS,
        clock=lambda: T0 + timedelta(hours=1),
    )
    assert await poller.sync_once()
    assert [e.subject for e in db.events(ORDERS)] == [
        "111-0000003-0000001",
        "111-0000003-0000002",
        "111-0000003-0000003",
    ]
    synced = db.tables.connections[row.id]
    assert synced["orders_synced"] == 3 and synced["lease_owner"] is None
    assert synced["last_updated_after"] == T0 + timedelta(hours=1) - timedelta(minutes=2)
    assert all(o["intake_source"] == "sp-api" for o in db.tables.orders.values())


async def test_a_failed_sync_is_recorded_on_the_connection() -> None:
    db = FakeDatabase()
    row = await connect(db)
    poller = Poller(
        new_uow=lambda: FakeGatewayUnitOfWork(db),
        spapi=FakeSpApi({}, []),  # type: ignore[arg-type]  # getOrders fails
        vault=VAULT,
        pii=PII,
        topic=ORDERS,
        clock=lambda: T0 + timedelta(hours=1),
    )
    assert await poller.sync_once()
    failed = db.tables.connections[row.id]
    assert failed["last_error"] == "SP-API did not answer" and failed["lease_owner"] is None
    assert db.events() == []
