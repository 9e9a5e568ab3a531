"""The SP-API stand-in: a Starlette app served by uvicorn on a free port in a thread.

It answers like SP-API, from Amazon's published models: the LWA token endpoint
(``POST /auth/o2/token``), Orders v0 ``getOrders`` (``NextToken`` pages, ``LastUpdatedAfter`` /
``LastUpdatedBefore``), ``getOrder`` and ``getOrderItems``, and Orders v2026-01-01
``searchOrders`` (``paginationToken``) and ``getOrder`` with ``includedData``, and Orders v0
``confirmShipment`` (``POST /orders/v0/orders/{orderId}/shipmentConfirmation``, 204; every
accepted body is kept in ``confirmations``; a body missing a required field answers 400
``InvalidInput`` as Amazon does), and the Notifications API with delivery to SQS
(``notifications.py``: destinations, subscriptions, ``standin.notifications.publish``). It
refuses a
``LastUpdatedBefore`` later than two minutes before now, as Amazon does.

Throttling: its own token bucket per (seller, operation) with Amazon's default rates times
``scale``; an empty bucket answers 429 with ``x-amzn-RateLimit-Limit``. Every request is
recorded (operation, time, status) so a test can measure what the client did. Faults can be
injected per operation (e.g. 500 after two good pages). The sandbox's static test cases answer
as documented (see ``sandbox.py``). The Feeds API lives in ``feeds.py`` (``standin.feeds``),
the Reports API in ``reports.py`` (``standin.reports``).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from spapi_standin import feeds, reports, sandbox
from spapi_standin import notifications as notifications_api
from spapi_standin import orders as shapes

# Amazon's default plans (rate per second, burst).
PLANS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "searchOrders": (0.0056, 20),
    "getOrder2026": (0.5, 30),
    "confirmShipment": (2.0, 10),
    **feeds.PLANS,
    **reports.PLANS,
    **notifications_api.PLANS,
}


@dataclass
class Fault:
    """Answer ``status`` to ``operation`` after ``after`` good answers, ``times`` times."""

    operation: str
    status: int
    after: int = 0
    times: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    code: str = "InternalFailure"
    message: str = "We encountered an internal error."
    seen: int = 0
    fired: int = 0


@dataclass(frozen=True)
class Record:
    operation: str
    at: float
    status: int
    seller: str | None


class _Bucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"code": code, "message": message}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else None


class StandIn:
    def __init__(
        self,
        *,
        seller_id: str,
        client_id: str = "amzn1.application-oa2-client.standin",
        client_secret: str = "standin-secret",
        refresh_token: str = "Atzr|standin-refresh",
        scale: float = 1.0,
        burst: dict[str, int] | None = None,
    ) -> None:
        self.seller_id = seller_id
        self.client_id, self.client_secret, self.refresh_token = (
            client_id,
            client_secret,
            refresh_token,
        )
        self.scale = scale
        self.plans = {
            op: (rate * scale, (burst or {}).get(op, b)) for op, (rate, b) in PLANS.items()
        }
        self.orders: dict[str, dict[str, Any]] = {}
        self.records: list[Record] = []
        self.faults: list[Fault] = []
        self.tokens_issued = 0
        self.confirmations: list[tuple[str, dict[str, Any]]] = []  # (orderId, body) accepted
        self._access: dict[str, str] = {}
        self._pages: dict[str, tuple[str, int]] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self.base_url = ""
        self.feeds = feeds.FeedsStandIn(self)
        self.reports = reports.ReportsStandIn(self)
        self.notifications = notifications_api.Notifications(self)

    # -- what tests set up and read --------------------------------------------------------

    def put(self, order: dict[str, Any]) -> None:
        with self._lock:
            self.orders[order["orderId"]] = order

    def requests_of(self, operation: str, status: int | None = None) -> list[Record]:
        with self._lock:
            return [
                r
                for r in self.records
                if r.operation == operation and (status is None or r.status == status)
            ]

    def max_excess(self, operation: str) -> float:
        """How far the served requests exceeded the bucket at worst (<= 0: plan obeyed).

        For every pair of served requests i <= j, a bucket of ``burst`` refilled at ``rate``
        allows at most ``burst + rate * (t_j - t_i)`` requests in between.
        """
        rate, burst = self.plans[operation]
        times = [r.at for r in self.requests_of(operation) if r.status != 429]
        worst = float("-inf")
        for i in range(len(times)):
            for j in range(i, len(times)):
                worst = max(worst, (j - i + 1) - (burst + rate * (times[j] - times[i])))
        return worst

    def access_tokens(self) -> list[str]:
        with self._lock:
            return list(self._access)

    def expire_page_tokens(self) -> None:
        with self._lock:
            self._pages.clear()

    # -- plumbing ----------------------------------------------------------------------------

    def _record(self, operation: str, status: int, seller: str | None) -> None:
        with self._lock:
            self.records.append(Record(operation, time.monotonic(), status, seller))

    def _gate(self, request: Request, operation: str) -> tuple[str | None, Response | None]:
        """Authenticate, throttle and inject faults; a Response means: answer that."""
        seller = self._access.get(request.headers.get("x-amz-access-token", ""))
        if seller is None:
            self._record(operation, 403, None)
            return None, _error(403, "Unauthorized", "Access to requested resource is denied.")
        rate, burst = self.plans[operation]
        with self._lock:
            bucket = self._buckets.setdefault((seller, operation), _Bucket(rate, burst))
            allowed = bucket.take()
        if not allowed:
            self._record(operation, 429, seller)
            return seller, _error(
                429,
                "QuotaExceeded",
                "You exceeded your quota for the requested resource.",
                **{"x-amzn-RateLimit-Limit": f"{rate:.6g}"},
            )
        for fault in self.faults:
            if fault.operation != operation:
                continue
            fault.seen += 1
            if fault.seen > fault.after and (fault.times is None or fault.fired < fault.times):
                fault.fired += 1
                self._record(operation, fault.status, seller)
                return seller, _error(fault.status, fault.code, fault.message, **fault.headers)
        return seller, None

    def _ok(self, operation: str, seller: str | None, body: Any, status: int = 200) -> JSONResponse:
        self._record(operation, status, seller)
        rate, _ = self.plans[operation]
        return JSONResponse(
            body, status_code=status, headers={"x-amzn-RateLimit-Limit": f"{rate:.6g}"}
        )

    def _page_token(self, query: str, offset: int) -> str:
        token = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode()
        with self._lock:
            self._pages[token] = (query, offset)
        return token

    def _window(
        self, after: datetime, before: datetime | None, marketplaces: set[str]
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = [
                o
                for o in self.orders.values()
                if after <= _instant(o["lastUpdatedTime"])  # type: ignore[operator]
                and (before is None or _instant(o["lastUpdatedTime"]) <= before)  # type: ignore[operator]
                and o["salesChannel"]["marketplaceId"] in marketplaces
            ]
        return sorted(found, key=lambda o: (o["createdTime"], o["orderId"]))

    def _too_recent(self, before: datetime | None) -> bool:
        return before is not None and before > datetime.now(UTC) - timedelta(minutes=2)

    # -- endpoints -----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") == "client_credentials":
            return self.notifications.grantless_token(form)
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status_code=401,
            )
        if form.get("refresh_token") != self.refresh_token:  # revoked, or never issued
            return JSONResponse(
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : "
                    "refresh_token",
                },
                status_code=400,
            )
        access = "Atza|" + secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = self.seller_id
            self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": self.refresh_token,
            }
        )

    async def get_orders(self, request: Request) -> Response:
        seller, refused = self._gate(request, "getOrders")
        if refused:
            return refused
        q = request.query_params
        marketplaces = set(q.get("MarketplaceIds", "").split(","))
        if q.get("CreatedAfter") == "TEST_CASE_200" and marketplaces == {"ATVPDKIKX0DER"}:
            return self._ok("getOrders", seller, sandbox.GET_ORDERS_200)
        if q.get("CreatedAfter") == "TEST_CASE_400":
            return self._ok("getOrders", seller, sandbox.ERROR_400_V0, 400)
        size = int(q.get("MaxResultsPerPage", "100"))
        if token := q.get("NextToken"):
            with self._lock:
                saved = self._pages.get(token)
            if saved is None:
                return self._ok(
                    "getOrders",
                    seller,
                    {"errors": [{"code": "InvalidInput", "message": "Invalid NextToken"}]},
                    400,
                )
            query, offset = saved
            params = orjson.loads(query)
        else:
            params, offset = dict(q), 0
        after = _instant(params.get("LastUpdatedAfter"))
        before = _instant(params.get("LastUpdatedBefore"))
        if after is None or not marketplaces - {""}:
            return self._ok(
                "getOrders",
                seller,
                {
                    "errors": [
                        {
                            "code": "InvalidInput",
                            "message": "LastUpdatedAfter and MarketplaceIds are required",
                        }
                    ]
                },
                400,
            )
        if self._too_recent(before):
            return self._ok(
                "getOrders",
                seller,
                {
                    "errors": [
                        {
                            "code": "InvalidInput",
                            "message": "LastUpdatedBefore must be at least 2 minutes before now",
                        }
                    ]
                },
                400,
            )
        found = self._window(after, before, marketplaces)
        page = found[offset : offset + size]
        payload: dict[str, Any] = {"Orders": [shapes.to_v0(o) for o in page]}
        if offset + size < len(found):
            payload["NextToken"] = self._page_token(orjson.dumps(params).decode(), offset + size)
        if before:
            payload["LastUpdatedBefore"] = shapes.iso(before)
        return self._ok("getOrders", seller, {"payload": payload})

    async def get_order_v0(self, request: Request) -> Response:
        seller, refused = self._gate(request, "getOrder")
        if refused:
            return refused
        order_id = request.path_params["order_id"]
        if order_id == "TEST_CASE_200":
            return self._ok("getOrder", seller, sandbox.GET_ORDER_200)
        if order_id == "TEST_CASE_400":
            return self._ok("getOrder", seller, sandbox.ERROR_400_V0, 400)
        order = self.orders.get(order_id)
        if order is None:
            return self._ok(
                "getOrder",
                seller,
                {"errors": [{"code": "NotFound", "message": "Order not found"}]},
                404,
            )
        return self._ok("getOrder", seller, {"payload": shapes.to_v0(order)})

    async def get_order_items(self, request: Request) -> Response:
        seller, refused = self._gate(request, "getOrderItems")
        if refused:
            return refused
        order = self.orders.get(request.path_params["order_id"])
        if order is None:
            return self._ok(
                "getOrderItems",
                seller,
                {"errors": [{"code": "NotFound", "message": "Order not found"}]},
                404,
            )
        payload = {"AmazonOrderId": order["orderId"], "OrderItems": shapes.items_v0(order)}
        return self._ok("getOrderItems", seller, {"payload": payload})

    async def search_orders(self, request: Request) -> Response:
        seller, refused = self._gate(request, "searchOrders")
        if refused:
            return refused
        q = request.query_params
        if q.get("createdAfter") == "TEST_CASE_400":
            return self._ok("searchOrders", seller, sandbox.ERROR_400_SEARCH, 400)
        size = int(q.get("maxResultsPerPage", "100"))
        query = orjson.dumps(
            {
                k: v
                for k, v in q.items()
                if k not in ("paginationToken", "maxResultsPerPage", "includedData")
            }
        ).decode()
        offset = 0
        if token := q.get("paginationToken"):
            with self._lock:
                saved = self._pages.get(token)
            if saved is None or saved[0] != query:
                return self._ok(
                    "searchOrders",
                    seller,
                    {"errors": [{"code": "InvalidInput", "message": "Invalid paginationToken"}]},
                    400,
                )
            offset = saved[1]
        after = _instant(q.get("lastUpdatedAfter"))
        before = _instant(q.get("lastUpdatedBefore"))
        if after is None:
            return self._ok(
                "searchOrders",
                seller,
                {"errors": [{"code": "InvalidInput", "message": "lastUpdatedAfter is required"}]},
                400,
            )
        if self._too_recent(before):
            return self._ok(
                "searchOrders",
                seller,
                {
                    "errors": [
                        {
                            "code": "InvalidInput",
                            "message": "lastUpdatedBefore must be two minutes before now",
                        }
                    ]
                },
                400,
            )
        included = set(q.get("includedData", "").split(","))
        found = self._window(after, before, set(q.get("marketplaceIds", "").split(",")))
        page = found[offset : offset + size]
        body: dict[str, Any] = {"orders": [shapes.without(o, included) for o in page]}
        if offset + size < len(found):
            body["pagination"] = {"nextToken": self._page_token(query, offset + size)}
        if before:
            body["lastUpdatedBefore"] = shapes.iso(before)
        return self._ok("searchOrders", seller, body)

    async def get_order_2026(self, request: Request) -> Response:
        seller, refused = self._gate(request, "getOrder2026")
        if refused:
            return refused
        order_id = request.path_params["order_id"]
        if order_id == "TEST_CASE_400":
            return self._ok("getOrder2026", seller, sandbox.ERROR_400_GET, 400)
        if order_id == sandbox.GET_ORDER_2026_ID:
            return self._ok("getOrder2026", seller, sandbox.GET_ORDER_2026)
        order = self.orders.get(order_id)
        if order is None:
            return self._ok(
                "getOrder2026",
                seller,
                {"errors": [{"code": "NotFound", "message": "Order not found"}]},
                404,
            )
        included = set(request.query_params.get("includedData", "").split(","))
        return self._ok("getOrder2026", seller, {"order": shapes.without(order, included)})

    async def confirm_shipment(self, request: Request) -> Response:
        operation = "confirmShipment"
        seller, refused = self._gate(request, operation)
        if refused:
            return refused
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        package = body.get("packageDetail") if isinstance(body, dict) else None
        missing = (
            ["packageDetail"]
            if not isinstance(package, dict)
            else [
                f"packageDetail.{name}"
                for name in ("packageReferenceId", "carrierCode", "shipDate", "orderItems")
                if not package.get(name)
            ]
        )
        if not isinstance(body, dict) or not body.get("marketplaceId"):
            missing.insert(0, "marketplaceId")
        if missing:
            return self._ok(
                operation,
                seller,
                {
                    "errors": [
                        {
                            "code": "InvalidInput",
                            "message": f"Missing required field(s): {', '.join(missing)}",
                        }
                    ]
                },
                400,
            )
        assert isinstance(body, dict)
        with self._lock:
            self.confirmations.append((request.path_params["order_id"], body))
        self._record(operation, 204, seller)
        rate, _ = self.plans[operation]
        return Response(status_code=204, headers={"x-amzn-RateLimit-Limit": f"{rate:.6g}"})

    def confirmations_of(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for oid, body in self.confirmations if oid == order_id]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/auth/o2/token", self.token, methods=["POST"]),
                Route("/orders/v0/orders", self.get_orders),
                Route("/orders/v0/orders/{order_id}", self.get_order_v0),
                Route("/orders/v0/orders/{order_id}/orderItems", self.get_order_items),
                Route(
                    "/orders/v0/orders/{order_id}/shipmentConfirmation",
                    self.confirm_shipment,
                    methods=["POST"],
                ),
                Route("/orders/2026-01-01/orders", self.search_orders),
                Route("/orders/2026-01-01/orders/{order_id}", self.get_order_2026),
                *self.feeds.routes(),
                *self.reports.routes(),
                *self.notifications.routes(),
            ]
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_standin(standin: StandIn) -> Iterator[StandIn]:
    """Serve ``standin`` on 127.0.0.1 in a background thread until the block ends."""
    port = _free_port()
    config = uvicorn.Config(
        standin.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="spapi-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    standin.base_url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(timeout=10)
