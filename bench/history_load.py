"""Loading ``make bench-history``'s orders through the stores' own write paths, in process.

One database per consumer service (fulfillment, defects, analytics) on the bench PostgreSQL,
migrated to head. Every batch of ``BENCH_HISTORY_BATCH`` orders goes where Kafka would take it,
with no Kafka in between:

1. the ``order.created`` events, built as ingest builds them (SP-API document parsed by
   ingest's adapter, ingest's snapshot with sealed PII, a CloudEvent), into each service's
   ``EventApplier.apply_many`` (what the consumer runner does for a fetch), one transaction;
2. the seller's shipments through fulfillment's ``handlers.confirm_shipment`` (one unit of
   work for the batch) and its A-to-z claims through defects' ``handlers.file_claim``;
3. what each service's outbox then holds, in the order written, into the ``apply_many`` of
   every service that subscribes to its topic (fulfillment.v1 to defects and analytics,
   defects.v1 to analytics), then deleted, as the relay and the outbox's housekeeping would;
4. the seller's daily sponsored-products rows (``ads.v1``) into analytics.

Each size ends with ``VACUUM (ANALYZE)`` of every database: what autovacuum would have done
to a store that grew over months, and a plan made on the tables' real sizes.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from bench.history_data import SELLER, History, Planned, ad_days, ads_per_day, ship_date
from devstack import config
from ingest.intake.adapters import amazon
from ingest.intake.domain.model import IncomingOrder
from ingest.intake.service_layer.handlers import order_event  # as ingest writes them
from shared import topics
from shared.events.ads import AD_PERFORMANCE_REPORTED, AdPerformance
from shared.events.common import Money as EventMoney
from shared.events.registry import build_event
from shared.messaging.decoding import Message
from shared.pii import PIICipher
from shared.runtime import Resources
from shared.settings import ServiceSettings

SERVICES = ("fulfillment", "defects", "analytics")


def spec_of(service: str) -> Any:
    return importlib.import_module(f"{service}.bootstrap").SPEC


def settings_of(service: str, database_url: str, api_keys: str) -> ServiceSettings:
    module = importlib.import_module(f"{service}.settings")
    [cls] = [
        v
        for k, v in vars(module).items()
        if k.endswith("Settings") and isinstance(v, type) and issubclass(v, ServiceSettings)
        if v is not ServiceSettings
    ]
    settings: ServiceSettings = cls(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",  # never used: nothing here talks to Kafka
        ORDERFLOW_PII_KEY=config.pii_key(),
        ORDERFLOW_API_KEYS=api_keys,
        RATE_LIMIT_PER_SECOND=1_000_000,
        RATE_LIMIT_BURST=1_000_000,
    )
    return settings


@dataclass
class Samples:
    """Values of the seller's loaded orders that the searches look up."""

    order_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tracking: list[str] = field(default_factory=list)

    def keep(self, planned: Planned, every: int) -> None:
        doc = planned.document
        if len(self.order_ids) < 200 and int(doc["AmazonOrderId"][-7:]) % every == 0:
            self.order_ids.append(doc["AmazonOrderId"])
            if "BuyerInfo" in doc and len(self.emails) < 200:
                self.emails.append(doc["BuyerInfo"]["BuyerEmail"])
        if planned.ship is not None and len(self.tracking) < 200:
            self.tracking.append(planned.ship[1])


class Loader:
    """The three stores, grown size by size."""

    def __init__(self, resources: dict[str, Resources[Any]], history: History, batch: int) -> None:
        self.resources = resources
        self.history = history
        self.batch = batch
        self.pii = PIICipher(config.pii_key())
        self.samples = Samples()
        self.offset = 0
        self.ads_until: date | None = None  # the oldest day whose ads rows are loaded
        self.shipments = 0
        self.claims = 0

    def topic(self, service: str, logical: str) -> str:
        return str(self.resources[service].settings.topic(logical))

    async def grow(self, count: int) -> float:
        """Load the next ``count`` of the seller's orders (and their twins); seconds taken."""
        started = time.perf_counter()
        left = count
        while left > 0:
            n = min(self.batch, left)
            left -= n
            planned = list(self.history.take(n))
            for p in planned:
                if p.seller_id == SELLER:
                    self.samples.keep(p, max(1, count // 2000))
            await self._apply_orders(planned)
            await self._ship(planned)
            await self._claims(planned)
            await self._forward()
        await self._ads()
        await self._forward()
        await self.vacuum()
        return time.perf_counter() - started

    async def skip(self, count: int) -> None:
        """Take the next ``count`` orders as already loaded (databases kept from an earlier run
        of the same ``BENCH_HISTORY_ORDERS`` and sellers): the same seeded orders, so the
        samples are orders the stores hold; then ``VACUUM (ANALYZE)``, for the indexes the
        migrations just built."""
        if not count:
            return
        for p in self.history.take(count):
            if p.seller_id == SELLER:
                self.samples.keep(p, max(1, count // 2000))
                self.shipments += p.ship is not None
                self.claims += p.claim
        self.ads_until = self.history.oldest.date()
        await self.vacuum()

    async def _apply_orders(self, planned: Sequence[Planned]) -> None:
        messages = []
        topic = self.topic("fulfillment", topics.ORDERS)
        for p in planned:
            order = amazon.parse(p.document)
            assert isinstance(order, IncomingOrder), order
            event = order_event(
                order, seller_id=p.seller_id, version=1, source="batch", pii=self.pii
            )
            messages.append(self._message(topic, order.amazon_order_id, event.payload))
        # The three stores at once, as their consumers would: one's PostgreSQL work overlaps
        # another's Python.
        await asyncio.gather(*(self._apply(service, messages) for service in SERVICES))

    def _message(self, topic: str, key: str, value: bytes) -> Message:
        self.offset += 1
        return Message(topic, 0, self.offset, key, value)

    async def _apply(self, service: str, messages: Sequence[Message]) -> None:
        resources = self.resources[service]
        async with resources.sessions() as session, session.begin():
            await resources.applier.apply_many(session, messages)

    async def _ship(self, planned: Sequence[Planned]) -> None:
        from fulfillment.domain.commands import ConfirmShipment
        from fulfillment.service_layer import handlers

        todo = [p for p in planned if p.ship is not None]
        if not todo:
            return
        uow = self.resources["fulfillment"].deps.uow()
        async with uow:
            for p in todo:
                assert p.ship is not None
                carrier, tracking = p.ship
                command = ConfirmShipment(
                    amazon_order_id=p.document["AmazonOrderId"],
                    seller_id=p.seller_id,
                    carrier_code=carrier,
                    tracking_number=tracking,
                    ship_date=ship_date(p),
                )
                await handlers.confirm_shipment(uow, command, now=ship_date(p))
            await uow.commit()
        self.shipments += len(todo)

    async def _claims(self, planned: Sequence[Planned]) -> None:
        from defects.domain.commands import FileClaim
        from defects.domain.model import ClaimKind, ClaimReason, Money
        from defects.service_layer import handlers

        deps = self.resources["defects"].deps
        for p in planned:
            if not p.claim:
                continue
            total = p.document["OrderTotal"]
            filed = p.purchased + timedelta(days=min(20, (self.history.now - p.purchased).days))
            command = FileClaim(
                seller_id=p.seller_id,
                amazon_order_id=p.document["AmazonOrderId"],
                kind=ClaimKind.A_TO_Z,
                reason=ClaimReason.ITEM_NOT_RECEIVED,
                amount=Money(Decimal(total["Amount"]), total["CurrencyCode"]),
                filed_at=filed,
            )
            await handlers.file_claim(deps.uow(), command, now=filed)
            self.claims += 1

    async def _ads(self) -> None:
        """The seller's ad rows for the days loaded since the last size."""
        oldest = self.history.oldest.date()
        newest = self.ads_until - timedelta(days=1) if self.ads_until else self.history.now.date()
        topic = self.topic("analytics", topics.ADS)
        products = self.history.products[: ads_per_day(self.history.total)]
        messages: list[Message] = []
        for day in ad_days(oldest, newest):
            for n, p in enumerate(products):
                clicks = 20 + (day.toordinal() * 7 + n * 13) % 60
                row = AdPerformance(
                    seller_id=SELLER,
                    date=day,
                    marketplace_id="ATVPDKIKX0DER",
                    campaign_id=f"C{n % 8:03d}",
                    asin=p.asin,
                    seller_sku=p.sku,
                    impressions=clicks * 40,
                    clicks=clicks,
                    spend=EventMoney(currency_code="USD", amount=f"{clicks * 0.45:.2f}"),
                    attributed_orders=clicks // 10,
                    attributed_units=clicks // 9,
                    attributed_sales=EventMoney(currency_code="USD", amount=f"{clicks * 2.1:.2f}"),
                )
                subject = f"{SELLER}:{day.isoformat()}:{row.campaign_id}:{p.asin}"
                event = build_event(
                    topic=topic,
                    event_type=AD_PERFORMANCE_REPORTED,
                    payload=row,
                    source="ingest",
                    subject=subject,
                    seller_id=SELLER,
                    version=1,
                )
                messages.append(self._message(topic, subject, event.to_bytes()))
        for i in range(0, len(messages), self.batch):
            await self._apply("analytics", messages[i : i + self.batch])
        self.ads_until = oldest

    async def _forward(self) -> None:
        """Each service's outbox, in order, into every service subscribing to its topics."""
        for source in SERVICES:
            resources = self.resources[source]
            async with resources.sessions() as session, session.begin():
                rows = (
                    await session.execute(
                        text("SELECT id, topic, message_key, payload FROM outbox ORDER BY id")
                    )
                ).all()
                if rows:
                    await session.execute(
                        text("DELETE FROM outbox WHERE id <= :last"), {"last": rows[-1].id}
                    )
            for target in SERVICES:
                if target == source:
                    continue
                wanted = {self.topic(target, t) for t in spec_of(target).subscribes}
                messages = [
                    self._message(r.topic, r.message_key, bytes(r.payload))
                    for r in rows
                    if r.topic in wanted
                ]
                for i in range(0, len(messages), self.batch):
                    await self._apply(target, messages[i : i + self.batch])

    async def vacuum(self) -> None:
        for resources in self.resources.values():
            async with resources.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM (ANALYZE)"))

    async def sizes(self) -> dict[str, float]:
        """Each database's size, MiB."""
        out = {}
        for service, resources in self.resources.items():
            async with resources.engine.connect() as conn:
                size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
            out[service] = round(int(size or 0) / 2**20, 1)
        return out


def today(now: datetime) -> date:
    return now.astimezone(UTC).date()
