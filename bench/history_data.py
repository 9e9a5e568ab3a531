"""The orders ``make bench-history`` loads: one big seller's history and many small sellers'.

The big seller (``SELLER``) sells at a constant rate, so that ``BENCH_HISTORY_ORDERS`` orders
fill ``HISTORY_DAYS`` days ending now; each size of the run is more history behind the same
present (the newest orders first: 10,000 orders are the last week, 100,000 the last ten
weeks). Each of the seller's orders has a twin at the same moment for one of ``OTHERS`` other
sellers, so the other sellers together hold as many orders as the big one.

Everything is drawn from a seeded random generator: the same run loads the same orders.
Orders are SP-API Orders v0 documents (``orderflow_testkit.samples.amazon_order``) with a
realistic mix: FBA and FBM, three marketplaces, four ship services, Prime and business
orders, one to three items from a catalogue of ``CATALOGUE`` products, repeat buyers; the
newest orders are Pending or Unshipped, older ones Shipped (3% Canceled).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from orderflow_testkit.samples import amazon_order, iso

SELLER = "A2SELLERBENCH"
OTHERS = 1000
HISTORY_DAYS = 730
CATALOGUE = 2000
BUYERS = 300_000
MARKETPLACES = (  # (marketplace, sales channel, currency, share)
    ("ATVPDKIKX0DER", "Amazon.com", "USD", 0.8),
    ("A2EUQ1WTGCTBG2", "Amazon.ca", "CAD", 0.1),
    ("A1F83G8C2ARO7P", "Amazon.co.uk", "GBP", 0.1),
)
SHIP_SERVICES = ("Std US D2D Dom", "Expedited", "SecondDay", "NextDay")
WORDS = (
    "ceramic mug blue green red steel bottle insulated travel kettle glass teapot bamboo "
    "cutting board cast iron skillet linen napkin cotton towel wooden spoon silicone lid "
    "espresso cup saucer wool blanket candle holder brass lamp oak shelf"
).split()
# One in SHIP_EVERY of the seller's older FBM orders arrives Unshipped and is shipped by the
# seller through fulfillment's own confirm_shipment (a tracking number and carrier); the
# others arrive Shipped from Amazon.
SHIP_EVERY = 10
# One in CLAIM_EVERY of the seller's orders of the last CLAIM_DAYS days gets an A-to-z claim
# (defects' file_claim), still open: problem orders stays the same size as history grows.
CLAIM_EVERY = 200
CLAIM_DAYS = 60
# The seller's sponsored-products rows a day (one per advertised ASIN): 40 at 1,370 orders a
# day (1,000,000 over two years), fewer for a smaller seller, at least one.
ADS_PER_DAY = 40


def ads_per_day(total: int) -> int:
    return max(1, min(ADS_PER_DAY, total * ADS_PER_DAY // 1_000_000))


@dataclass(frozen=True)
class Product:
    sku: str
    asin: str
    title: str
    price: float


def catalogue(rng: random.Random) -> list[Product]:
    out = []
    for n in range(CATALOGUE):
        title = " ".join(rng.sample(WORDS, 4)).capitalize() + f", model {n}"
        asin = f"B0{n:08d}"
        out.append(Product(f"SKU-{n:05d}", asin, title, round(rng.uniform(5, 120), 2)))
    return out


@dataclass(frozen=True)
class Planned:
    """One order to load, and what the bench does with it after the snapshot."""

    seller_id: str
    document: dict[str, Any]
    purchased: datetime
    ship: tuple[str, str] | None  # (carrier, tracking number) to confirm through fulfillment
    claim: bool  # file an A-to-z claim through defects


class History:
    """The run's orders, newest first, handed out size by size (``take``)."""

    def __init__(self, total: int, now: datetime, others: int = OTHERS, seed: int = 7) -> None:
        self.total = total  # the big seller's orders at the largest size
        self.others = others
        self.now = now
        self.rng = random.Random(seed)
        self.products = catalogue(self.rng)
        self.interval = timedelta(days=HISTORY_DAYS) / max(1, total)
        self.loaded = 0  # the big seller's orders handed out so far

    @property
    def oldest(self) -> datetime:
        """The purchase date of the oldest order handed out so far."""
        return self.now - self.interval * self.loaded

    def take(self, count: int) -> Iterator[Planned]:
        """The next ``count`` of the seller's orders (older than every one before), each with
        its twin for another seller."""
        for _ in range(count):
            i = self.loaded
            self.loaded += 1
            purchased = self.now - self.interval * (i + 1) + timedelta(seconds=1)
            yield self._planned(SELLER, i, purchased, own=True)
            other = f"A3OTHER{i % self.others:04d}"
            yield self._planned(other, self.total + i, purchased, own=False)

    def _planned(self, seller: str, n: int, purchased: datetime, *, own: bool) -> Planned:
        rng = self.rng
        oid = f"{111 + n % 888:03d}-{n * 7919 % 10_000_000:07d}-{n:07d}"
        age = self.now - purchased
        channel = "AFN" if rng.random() < 0.6 else "MFN"
        ship: tuple[str, str] | None = None
        if age < timedelta(hours=6):
            status = "Pending" if rng.random() < 0.3 else "Unshipped"
        elif age < timedelta(days=2):
            status = "Shipped" if channel == "AFN" else "Unshipped"
        elif rng.random() < 0.03:
            status = "Canceled"
        else:
            status = "Shipped"
            if own and channel == "MFN" and n % SHIP_EVERY == 0:
                status = "Unshipped"
                ship = _tracking(rng, n)
        market, sales_channel, currency, _ = rng.choices(
            MARKETPLACES, weights=[m[3] for m in MARKETPLACES]
        )[0]
        lines = rng.choices(self.products[: CATALOGUE if own else 200], k=rng.choice((1, 1, 2, 3)))
        items: list[dict[str, Any]] = []
        total = 0.0
        units = 0
        for k, p in enumerate(lines):
            quantity = rng.choice((1, 1, 1, 2, 3))
            total += round(p.price * quantity, 2)
            units += quantity
            items.append(
                {
                    "ASIN": p.asin,
                    "SellerSKU": p.sku,
                    "OrderItemId": f"{n:07d}{k:04d}",
                    "Title": p.title,
                    "QuantityOrdered": quantity,
                    "QuantityShipped": quantity if status == "Shipped" else 0,
                    "ItemPrice": {"CurrencyCode": currency, "Amount": f"{p.price * quantity:.2f}"},
                }
            )
        shipped = status == "Shipped"
        document = amazon_order(
            amazon_order_id=oid,
            status=status,
            channel=channel,
            purchased=purchased,
            updated=purchased + timedelta(hours=1 if shipped else 0, minutes=5),
            items=items,
            SalesChannel=sales_channel,
            MarketplaceId=market,
            ShipServiceLevel=rng.choice(SHIP_SERVICES),
            IsPrime=rng.random() < 0.3,
            IsBusinessOrder=rng.random() < 0.05,
            NumberOfItemsShipped=units if shipped else 0,
            NumberOfItemsUnshipped=0 if shipped else units,
        )
        if "OrderTotal" in document:
            document["OrderTotal"] = {"CurrencyCode": currency, "Amount": f"{total:.2f}"}
            buyer = rng.randrange(BUYERS)
            document["BuyerInfo"]["BuyerEmail"] = f"buyer{buyer}@marketplace.amazon.com"
        claim = own and age < timedelta(days=CLAIM_DAYS) and n % CLAIM_EVERY == 7
        return Planned(seller, document, purchased, ship, claim and status != "Pending")


def _tracking(rng: random.Random, n: int) -> tuple[str, str]:
    if n % 3:
        return "UPS", f"1Z{rng.randrange(16**6):06X}{n:010d}"
    return "FedEx", f"{n:012d}"


def ad_days(start: date, end: date) -> Iterator[date]:
    """Every day from ``start`` to ``end``, both included."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def ship_date(planned: Planned) -> datetime:
    return planned.purchased + timedelta(days=1)


def stamp(moment: datetime) -> str:
    return iso(moment)
