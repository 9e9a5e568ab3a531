"""Buyer PII is sealed at rest after every intake path: no database holds it in clear.

The four services run in-process, each on its own database, ingest with its SP-API poller
against the stand-in (``tests/spapi_standin``). Orders with buyer names, e-mails, phones and
streets that carry a marker of their own path come in by every way ingest takes orders: one
JSON order (and a newer version of it), getOrder's wrapped form, a batch, a flat file, the
SP-API poller (v2026 and v0) and an ORDER_CHANGE notification, plus refused input (a bad order,
malformed JSON, a bad batch entry, a bad file row). They flow through Kafka to fulfillment,
defects and analytics; packing slips (the one place PII is opened) are printed.

Then the stored bytes of the four databases are searched for every marker, three ways:

- every table of every database, as ``COPY ... TO STDOUT`` gives it (text, and bytea in hex);
- the relation files themselves (tables, TOAST, indexes, the catalogs and their statistics),
  after a ``CHECKPOINT``: they still hold row versions an UPDATE or DELETE left behind. Every
  variable-length column is set to ``STORAGE EXTERNAL`` first, so PostgreSQL stores it
  uncompressed and a marker is in the file as it was written;
- the WAL written during the test (a replication slot keeps it from being recycled): the issue
  found the flat-file PII there, and it holds every value ever written, even one overwritten
  or removed since.

None may hold a marker: PII is only ever stored sealed (AES-256-GCM, ``shared.pii``), and a
sealed value contains no marker. Two controls keep the search honest: a canary written in clear
to a scratch database must be found by all three scans, and ingest's sealed columns must open
(with the key) to each path's markers, so the PII was taken in, not dropped. The file and WAL
scans need the server's data directory on this machine (the test server is); with a remote
``POSTGRES_URL`` only the COPY scan runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from ingest.adapters import orm as ingest_orm
from orderflow_testkit.harness import RunningService, eventually, running_service
from orderflow_testkit.samples import amazon_order
from shared.events.common import EncryptedPII
from shared.pii import PIICipher
from shared.settings import ServiceSettings

from .conftest import KEYS, PII_KEY, SERVICES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spapi_standin import StandIn, running_standin
from spapi_standin.orders import iso, v2026_order

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

A = {"Authorization": "Bearer k-seller"}
SYSTEM = {"Authorization": "Bearer k-sys"}
SELLER = "A2SELLER1EXAMPLE"
TOKEN = secrets.token_hex(4)


@dataclass(frozen=True)
class Buyer:
    """One intake path's buyer: every PII field carries the path's marker."""

    path: str

    @property
    def marker(self) -> str:
        return f"zq{self.path}{TOKEN}"

    @property
    def digits(self) -> str:  # phones are digits: their marker is the path's own number
        return f"{int(self.marker.encode().hex(), 16) % 10**10:010d}"

    @property
    def name(self) -> str:
        return f"Zebulon {self.marker.capitalize()}"

    @property
    def email(self) -> str:
        return f"{self.marker}@example.org"

    @property
    def phone(self) -> str:
        return f"+1{self.digits}"

    @property
    def street(self) -> str:
        return f"42 {self.marker} Lane"

    @property
    def needles(self) -> tuple[str, ...]:
        return (self.marker, self.digits)


PATHS = (
    "json",  # POST /v1/orders
    "update",  # the same order again, newer, with another buyer
    "wrapped",  # getOrder's {"payload": ...}
    "refused",  # POST /v1/orders refused (422) and malformed (400)
    "batch",  # POST /v1/orders/batch, accepted and refused entries
    "upload",  # POST /v1/uploads, accepted and rejected rows
    "syncnew",  # the SP-API poller, Orders v2026-01-01
    "syncold",  # the SP-API poller, Orders v0
    "notify",  # POST /v1/notifications/sp-api (ORDER_CHANGE, then getOrder)
)
BUYERS = {path: Buyer(path) for path in PATHS}


def _with(order: dict[str, Any], buyer: Buyer) -> dict[str, Any]:
    order["BuyerInfo"] = {"BuyerEmail": buyer.email, "BuyerName": buyer.name}
    order["ShippingAddress"] = {
        **order["ShippingAddress"],
        "Name": buyer.name,
        "AddressLine1": buyer.street,
        "Phone": buyer.phone,
    }
    return order


def _v2026(buyer: Buyer, now: datetime) -> dict[str, Any]:
    order = v2026_order(created=now - timedelta(hours=2), updated=now - timedelta(minutes=30))
    order["buyer"] = {"buyerName": buyer.name, "buyerEmail": buyer.email}
    address = order["recipient"]["deliveryAddress"]
    address |= {"name": buyer.name, "addressLine1": buyer.street, "phone": buyer.phone}
    return order


FILE_COLUMNS = (
    "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\t"
    "sku\tasin\tquantity\tcurrency\titem-price\tship-city\tship-state\tship-postal-code\t"
    "ship-country\tbuyer-email\tbuyer-name\tbuyer-phone-number\trecipient-name\tship-address-1"
)


def _flat_file(buyer: Buyer, good: str, bad: str) -> bytes:
    def row(oid: str, price: str) -> str:
        fields = [oid, "2026-11-20T10:00:00+00:00", "2026-11-20T11:00:00+00:00", "Unshipped"]
        fields += ["MFN", "SKU-A", "B08N5WRWNW", "1", "USD", price, "Seattle", "WA", "98101"]
        fields += ["US", buyer.email, buyer.name, buyer.phone, buyer.name, buyer.street]
        return "\t".join(fields)

    return f"{FILE_COLUMNS}\n{row(good, '10.00')}\n{row(bad, 'ten')}\n".encode()


@dataclass
class Intake:
    """What went in: the orders accepted (by path) and the paths whose input was refused."""

    accepted: dict[str, list[str]] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)

    def add(self, path: str, *order_ids: str) -> None:
        self.accepted.setdefault(path, []).extend(order_ids)

    @property
    def order_ids(self) -> set[str]:
        return {oid for ids in self.accepted.values() for oid in ids}


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{service}.settings")
    [cls] = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    return cls


@contextlib.contextmanager
def _standins() -> Iterator[tuple[StandIn, StandIn]]:
    with (
        running_standin(StandIn(seller_id="A9STANDINNEW", scale=1000)) as new,
        running_standin(StandIn(seller_id="A9STANDINOLD", scale=1000)) as old,
    ):
        yield new, old


@contextlib.asynccontextmanager
async def _platform(
    make_database: Callable[[str], str], kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[dict[str, RunningService]]:
    prefix = f"{topic_prefix}rest{secrets.token_hex(3)}."
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        for name in SERVICES:
            database = make_database(f"{name}_rest")
            await _store_uncompressed(database, name)
            extra: dict[str, Any] = {}
            if name == "ingest":
                extra = {
                    "SPAPI_POLLER_ENABLED": True,
                    "SPAPI_RATE_SCALE": 1000.0,
                    "SPAPI_POLL_SECONDS": 0.2,
                    "SPAPI_IDLE_SECONDS": 0.1,
                    "SPAPI_BACKOFF_SECONDS": 0.05,
                }
            settings = _settings_class(name)(
                DATABASE_URL=database,
                KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
                KAFKA_TOPIC_PREFIX=prefix,
                ORDERFLOW_API_KEYS=KEYS,
                ORDERFLOW_PII_KEY=PII_KEY,
                RATE_LIMIT_PER_SECOND=100_000,
                RATE_LIMIT_BURST=100_000,
                **extra,
            )
            spec = importlib.import_module(f"{name}.bootstrap").SPEC
            running[name] = await stack.enter_async_context(
                running_service(spec, settings, roles=("worker", "relay", "background"))
            )
        yield running


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _store_uncompressed(database: str, service: str) -> None:
    """Migrate now and set every variable-length column to STORAGE EXTERNAL (out of line when
    large, never compressed), so a value is in the relation files as it was written."""
    from shared.db.migrations import upgrade_to_head

    spec = importlib.import_module(f"{service}.bootstrap").SPEC
    await asyncio.to_thread(upgrade_to_head, spec.migrations_dir, database)
    conn = await asyncpg.connect(_libpq(database))
    try:
        columns = await conn.fetch(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            " AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attlen = -1"
        )
        for table, column in columns:
            await conn.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STORAGE EXTERNAL'
            )
    finally:
        await conn.close()


async def _take_orders_in(svc: dict[str, RunningService], new: StandIn, old: StandIn) -> Intake:
    ingest = svc["ingest"].client
    intake = Intake()
    now = datetime.now(UTC)

    async def post(body: Any, *codes: int, path: str = "/v1/orders") -> dict[str, Any]:
        response = await ingest.post(path, json=body, headers=A)
        assert response.status_code in codes, (path, response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    # JSON: one order, then a newer version of it with another buyer; getOrder's wrapper.
    first = _with(amazon_order(), BUYERS["json"])
    await post(first, 201)
    newer = _with(dict(first), BUYERS["update"])
    newer["LastUpdateDate"] = iso(now)
    assert (await post(newer, 200))["result"] == "updated"
    wrapped = _with(amazon_order(), BUYERS["wrapped"])
    await post({"payload": wrapped}, 201)
    intake.add("json", first["AmazonOrderId"])
    intake.add("update", first["AmazonOrderId"])
    intake.add("wrapped", wrapped["AmazonOrderId"])

    # Refused: a bad amount, and JSON that does not parse.
    refused = BUYERS["refused"]
    bad = _with(amazon_order(), refused)
    bad["OrderTotal"] = {"CurrencyCode": "USD", "Amount": "lots"}
    await post(bad, 422)
    malformed = f'{{"BuyerInfo": {{"BuyerEmail": "{refused.email}", "BuyerName": "{refused.name}"'
    response = await ingest.post(
        "/v1/orders", content=malformed.encode(), headers={**A, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    intake.refused.add("refused")

    # A batch: two accepted, one refused.
    batch = [_with(amazon_order(), BUYERS["batch"]) for _ in range(3)]
    batch[2]["OrderTotal"] = {"CurrencyCode": "USD", "Amount": "lots"}
    answer = await post({"orders": batch}, 200, path="/v1/orders/batch")
    assert (answer["accepted"], answer["rejected"]) == (2, 1), answer
    intake.add("batch", *(o["AmazonOrderId"] for o in batch[:2]))
    intake.refused.add("batch")

    # A flat file: one row accepted, one rejected.
    good, bad_row = f"903-{TOKEN_DIGITS}-0000001", f"903-{TOKEN_DIGITS}-0000002"
    files = {"file": ("orders.txt", _flat_file(BUYERS["upload"], good, bad_row), "text/plain")}
    uploaded = await ingest.post("/v1/uploads", files=files, headers=A)
    assert uploaded.status_code == 202, uploaded.text
    upload_url = f"/v1/uploads/{uploaded.json()['upload_id']}"

    async def upload_done() -> dict[str, Any] | None:
        body: dict[str, Any] = (await ingest.get(upload_url, headers=A)).json()
        return body if body["status"] == "done" else None

    done = await eventually(upload_done, timeout=60)
    assert (done["rows_accepted"], done["rows_rejected"]) == (1, 1), done
    intake.add("upload", good)
    intake.refused.add("upload")

    # The SP-API poller: Orders v2026-01-01 and v0, each from its own Amazon account.
    synced_new = [_v2026(BUYERS["syncnew"], now) for _ in range(2)]
    synced_old = _v2026(BUYERS["syncold"], now)
    notified = _v2026(BUYERS["notify"], now)
    for order in synced_new:
        new.put(order)
    old.put(synced_old)
    for standin, api in ((new, "v2026-01-01"), (old, "v0")):
        connection = {
            "selling_partner_id": standin.seller_id,
            "region": "NA",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "orders_api": api,
            "endpoint": standin.base_url,
            "lwa_token_url": f"{standin.base_url}/auth/o2/token",
            "credentials": {
                "client_id": standin.client_id,
                "client_secret": standin.client_secret,
                "refresh_token": standin.refresh_token,
            },
            "sync_from": iso(now - timedelta(days=1)),
        }
        await post(connection, 201, path="/v1/connections")
    intake.add("syncnew", *(o["orderId"] for o in synced_new))
    intake.add("syncold", synced_old["orderId"])

    # An ORDER_CHANGE notification: ingest reads the order with getOrder.
    new.put(notified)
    change = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": notified["lastUpdatedTime"],
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": new.seller_id,
                "AmazonOrderId": notified["orderId"],
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": notified["lastUpdatedTime"],
                    "ChangeReason": "Order status changed",
                },
                "Summary": {
                    "MarketplaceId": "ATVPDKIKX0DER",
                    "OrderStatus": "Unshipped",
                    "PurchaseDate": notified["createdTime"],
                    "FulfillmentType": "MFN",
                    "OrderItems": [],
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.standin",
            "SubscriptionId": str(uuid.uuid4()),
            "PublishTime": notified["lastUpdatedTime"],
            "NotificationId": str(uuid.uuid4()),
        },
    }
    taken = await ingest.post("/v1/notifications/sp-api", json=change, headers=SYSTEM)
    assert taken.status_code == 200, taken.text
    assert taken.json()["result"] in ("created", "updated", "unchanged"), taken.text
    intake.add("notify", notified["orderId"])
    return intake


TOKEN_DIGITS = f"{int(TOKEN, 16) % 10**7:07d}"


async def _everywhere(svc: dict[str, RunningService], intake: Intake) -> None:
    """Every accepted order reached fulfillment and analytics; its slip is printed (the one
    place PII is opened); every outbox is drained."""
    fulfillment, analytics = svc["fulfillment"].client, svc["analytics"].client

    async def arrived() -> bool:
        for oid in intake.order_ids:
            if (await fulfillment.get(f"/v1/orders/{oid}", headers=A)).status_code != 200:
                return False
            if (await analytics.get(f"/v1/orders/{oid}/trace", headers=A)).status_code != 200:
                return False
        return True

    await eventually(arrived, timeout=90, interval=0.5)
    for oid in intake.order_ids:
        slip = await fulfillment.get(f"/v1/orders/{oid}/packing-slip", headers=A)
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF"), slip.text[:300]
    found = await fulfillment.get(
        "/v1/orders", params={"buyer_email": BUYERS["batch"].email}, headers=A
    )
    assert {o["amazon_order_id"] for o in found.json()["items"]} >= set(intake.accepted["batch"])

    async def drained() -> bool:
        for running in svc.values():
            outbox = running.resources.tables.outbox
            async with running.resources.sessions() as session:
                stmt = select(outbox.c.id).where(outbox.c.sent_at.is_(None)).limit(1)
                if (await session.execute(stmt)).first() is not None:
                    return False
        return True

    await eventually(drained, timeout=60)


# --- the scans --------------------------------------------------------------------------------


def _hits(data: bytes, needles: dict[str, tuple[str, ...]]) -> set[str]:
    """The paths whose needles are in ``data`` (as text, or hex as bytea prints)."""
    lowered = data.lower()
    return {
        path
        for path, words in needles.items()
        for word in words
        if word.lower().encode() in lowered or word.encode().hex().encode() in lowered
    }


async def _copy_scan(database: str, needles: dict[str, tuple[str, ...]]) -> list[str]:
    """``COPY`` every table of the database: where any needle is."""
    found = []
    conn = await asyncpg.connect(_libpq(database))
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        for schema, table in tables:
            buffer = io.BytesIO()
            await conn.copy_from_table(table, schema_name=schema, output=buffer)
            if paths := _hits(buffer.getvalue(), needles):
                found.append(f"table {schema}.{table}: {sorted(paths)}")
    finally:
        await conn.close()
    return found


async def _file_scan(
    database: str, data_dir: Path, needles: dict[str, tuple[str, ...]]
) -> list[str]:
    """Every relation file of the database (after a CHECKPOINT): where any needle is."""
    found = []
    conn = await asyncpg.connect(_libpq(database))
    try:
        relations = await conn.fetch(
            "SELECT relname, pg_relation_filepath(oid) AS path FROM pg_class"
            " WHERE relkind IN ('r', 't', 'i', 'm') AND pg_relation_filepath(oid) IS NOT NULL"
        )
    finally:
        await conn.close()
    for name, path in relations:
        base = data_dir / path
        for segment in [base, *sorted(base.parent.glob(f"{base.name}.[0-9]*"))]:
            with contextlib.suppress(FileNotFoundError):
                if paths := _hits(segment.read_bytes(), needles):
                    found.append(f"relation {name} ({segment.name}): {sorted(paths)}")
    return found


class Server:
    """The PostgreSQL server: its data directory when on this machine, and the WAL kept from
    the start of the test by a temporary replication slot (gone with this connection)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.data_dir: Path | None = None
        self.start = 0
        self._conn: asyncpg.Connection | None = None

    @property
    def conn(self) -> asyncpg.Connection:
        assert self._conn is not None
        return self._conn

    async def __aenter__(self) -> Server:
        self._conn = await asyncpg.connect(self.url)
        try:
            data_dir = Path(await self.conn.fetchval("SHOW data_directory"))
        except asyncpg.InsufficientPrivilegeError:  # a server of someone else's: COPY only
            return self
        if (data_dir / "PG_VERSION").is_file():
            self.data_dir = data_dir
            lsn = await self.conn.fetchval(
                "SELECT lsn::text FROM pg_create_physical_replication_slot($1, true, true)",
                f"pii_at_rest_{TOKEN}",
            )
            self.start = _lsn(lsn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()

    async def checkpoint(self) -> int:
        """Flush every buffer to the relation files; the WAL position now."""
        if self.data_dir is None:
            return 0
        await self.conn.execute("CHECKPOINT")
        return _lsn(await self.conn.fetchval("SELECT pg_current_wal_lsn()::text"))

    async def wal_scan(self, end: int, needles: dict[str, tuple[str, ...]]) -> list[str]:
        """The WAL written between the slot's creation and ``end``: where any needle is."""
        assert self.data_dir is not None
        size = int(
            await self.conn.fetchval(
                "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"
            )
        )
        found, at = [], self.start - self.start % size

        while at < end:
            # (an LSN on a segment's first byte is named for the segment before: ask past it)
            name = await self.conn.fetchval(
                "SELECT pg_walfile_name($1::text::pg_lsn)", _text(at + 1)
            )
            data = (self.data_dir / "pg_wal" / name).read_bytes()
            low, high = max(self.start - at, 0), min(end - at, size)
            if paths := _hits(data[low:high], needles):
                found.append(f"WAL segment {name}: {sorted(paths)}")
            at += size
        return found


def _lsn(value: Any) -> int:
    high, _, low = str(value).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def _text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


async def _sealed_markers(ingest: RunningService) -> dict[str, str]:
    """Ingest's sealed columns, opened with the key: which path's buyer each one holds."""
    cipher = PIICipher(PII_KEY)
    opened: dict[str, str] = {}
    async with ingest.resources.sessions() as session:
        orders = (await session.execute(select(ingest_orm.orders))).all()
        quarantined = (await session.execute(select(ingest_orm.quarantine))).all()
    for row in orders:
        sealed = row.snapshot.get("buyer_pii")
        opened[row.amazon_order_id] = (
            "" if sealed is None else str(cipher.open(EncryptedPII(**sealed)))
        )
    for row in quarantined:
        if row.sealed_input:
            text = cipher.open(EncryptedPII(key_id="", ciphertext=row.sealed_input))["input"]
            opened[f"quarantine {row.id}"] = str(text)
    return opened


async def test_no_database_holds_buyer_pii_in_clear_after_any_intake_path(
    make_database: Callable[[str], str],
    kafka_bootstrap: str,
    topic_prefix: str,
    postgres_server: str,
) -> None:
    needles = {path: buyer.needles for path, buyer in BUYERS.items()}
    canary = {"canary": (f"canary{TOKEN}",)}
    scratch = make_database("pii_canary")
    async with Server(postgres_server) as server:
        with _standins() as (new, old):
            async with _platform(make_database, kafka_bootstrap, topic_prefix) as svc:
                intake = await _take_orders_in(svc, new, old)
                await _everywhere(svc, intake)
                opened = await _sealed_markers(svc["ingest"])
                databases = {n: s.resources.settings.database_url for n, s in svc.items()}
                conn = await asyncpg.connect(_libpq(scratch))
                try:
                    await conn.execute("CREATE TABLE canary (v text)")
                    await conn.execute("INSERT INTO canary VALUES ($1)", canary["canary"][0])
                finally:
                    await conn.close()
                end = await server.checkpoint()
                leaks: list[str] = []
                controls: list[str] = []
                for name, database in databases.items():
                    leaks += [f"{name}: {hit}" for hit in await _copy_scan(database, needles)]
                controls += await _copy_scan(scratch, canary)
                if server.data_dir is not None:
                    for name, database in databases.items():
                        hits = await _file_scan(database, server.data_dir, needles)
                        leaks += [f"{name}: {hit}" for hit in hits]
                    controls += await _file_scan(scratch, server.data_dir, canary)
                    leaks += await server.wal_scan(end, needles)
                    controls += await server.wal_scan(end, canary)

    # The scans find a value stored in clear: the canary, in the table, its file and the WAL.
    layers = {"table", "relation", "WAL"} if server.data_dir is not None else {"table"}
    assert {control.split()[0] for control in controls} == layers, controls
    assert sorted(intake.accepted) == sorted(set(PATHS) - {"refused"})
    # Every path's PII was taken in and is stored sealed, and is nowhere in clear.
    unsealed = [
        f"{path}: order {oid} holds no sealed PII of its buyer"
        for path, order_ids in intake.accepted.items()
        if path != "json"  # its buyer was replaced by the update's
        for oid in order_ids
        if BUYERS[path].marker not in opened.get(oid, "")
    ]
    unsealed += [
        f"{path}: no sealed quarantined input holds its buyer"
        for path in sorted(intake.refused)
        if not any(BUYERS[path].marker in text for key, text in opened.items() if "quar" in key)
    ]
    problems = [f"stored in clear: {leak}" for leak in leaks] + unsealed
    assert not problems, "\n".join(problems)
