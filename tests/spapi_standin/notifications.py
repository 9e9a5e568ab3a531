"""The stand-in's Notifications API (v1), from Amazon's model
(selling-partner-api-models, models/notifications-api-model/notifications.json), and delivery of
notifications to the destination's SQS queue as Amazon does.

- Destinations belong to the application and are grantless: ``createDestination``
  (``POST /notifications/v1/destinations``, body ``{"name", "resourceSpecification": {"sqs":
  {"arn"}}}``), ``getDestinations``, ``getDestination``, ``deleteDestination`` need an access
  token from LWA's ``client_credentials`` grant with scope ``sellingpartnerapi::notifications``;
  a seller's token is refused (403), as Amazon does. The same ARN twice answers 409.
- Subscriptions belong to a seller (the seller's token): ``createSubscription``
  (``POST /notifications/v1/subscriptions/{notificationType}``, body ``{"payloadVersion",
  "destinationId"}``; 409 if that seller already has one of that type), ``getSubscription``,
  ``getSubscriptionById``, ``deleteSubscriptionById``.
- Every answer wraps ``payload`` (or ``errors``) as Amazon's ``*Response`` shapes do; every
  operation's plan is Amazon's (1 per second, burst 5) times the stand-in's ``scale``.

Delivery: :meth:`Notifications.publish` puts a notification body on the SQS queue that the
seller's subscription's destination ARN names (``arn:aws:sqs:<region>:<account>:<queue>`` maps
to ``<sqs_endpoint>/<account>/<queue>``, ElasticMQ's queue URL); nothing is sent without a
subscription, as with Amazon. :func:`order_change` and :func:`feed_processing_finished` build
Amazon's bodies.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiobotocore.session import get_session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from spapi_standin.server import StandIn

GRANTLESS = "grantless:notifications"
SCOPE = "sellingpartnerapi::notifications"
APPLICATION_ID = "amzn1.sellerapps.app.standin"
OPERATIONS = (
    "createDestination",
    "getDestinations",
    "getDestination",
    "deleteDestination",
    "createSubscription",
    "getSubscription",
    "getSubscriptionById",
    "deleteSubscriptionById",
)
# Amazon's default plan for every Notifications API operation: rate 1 per second, burst 5.
PLANS: dict[str, tuple[float, int]] = dict.fromkeys(OPERATIONS, (1.0, 5))


def _errors(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status)


def queue_url_of(arn: str, sqs_endpoint: str) -> str:
    """ElasticMQ's URL of the queue an SQS ARN names."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return f"{sqs_endpoint.rstrip('/')}/{parts[4]}/{parts[5]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Notifications:
    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.sqs_endpoint = ""  # set by the test: the sqs_endpoint fixture's value
        self.destinations: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[tuple[str, str], dict[str, Any]] = {}  # (seller, type)
        self.published: list[dict[str, Any]] = []

    # -- LWA's client_credentials grant (grantless operations) ------------------------------

    def grantless_token(self, form: Any) -> Response:
        standin = self.standin
        if (form.get("client_id"), form.get("client_secret")) != (
            standin.client_id,
            standin.client_secret,
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("scope") != SCOPE:
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        access = "Atza|" + secrets.token_urlsafe(24)
        with standin._lock:
            standin._access[access] = GRANTLESS
            standin.tokens_issued += 1
        return JSONResponse({"access_token": access, "token_type": "bearer", "expires_in": 3600})

    def _gate(self, request: Request, operation: str, *, grantless: bool) -> Response | str:
        caller, refused = self.standin._gate(request, operation)
        if refused is not None:
            return refused
        if (caller == GRANTLESS) != grantless or caller is None:
            self.standin._record(operation, 403, caller)
            return _errors(403, "Unauthorized", "Access to requested resource is denied.")
        return caller

    # -- destinations ---------------------------------------------------------------------

    async def create_destination(self, request: Request) -> Response:
        caller = self._gate(request, "createDestination", grantless=True)
        if isinstance(caller, Response):
            return caller
        body = await _json(request)
        arn = ((body.get("resourceSpecification") or {}).get("sqs") or {}).get("arn")
        name = body.get("name")
        if (
            not isinstance(name, str)
            or not isinstance(arn, str)
            or not arn.startswith("arn:aws:sqs:")
        ):
            self.standin._record("createDestination", 400, caller)
            return _errors(400, "InvalidInput", "name and resourceSpecification.sqs.arn needed")
        if any(d["resource"]["sqs"]["arn"] == arn for d in self.destinations.values()):
            self.standin._record("createDestination", 409, caller)
            return _errors(409, "Conflict", "A destination with this ARN already exists.")
        destination = {
            "name": name,
            "destinationId": str(uuid.uuid4()),
            "resource": {"sqs": {"arn": arn}},
        }
        self.destinations[destination["destinationId"]] = destination
        return self.standin._ok("createDestination", caller, {"payload": destination})

    async def get_destinations(self, request: Request) -> Response:
        caller = self._gate(request, "getDestinations", grantless=True)
        if isinstance(caller, Response):
            return caller
        payload = list(self.destinations.values())
        return self.standin._ok("getDestinations", caller, {"payload": payload})

    async def get_destination(self, request: Request) -> Response:
        caller = self._gate(request, "getDestination", grantless=True)
        if isinstance(caller, Response):
            return caller
        found = self.destinations.get(request.path_params["destination_id"])
        if found is None:
            self.standin._record("getDestination", 404, caller)
            return _errors(404, "NotFound", "The requested destination was not found.")
        return self.standin._ok("getDestination", caller, {"payload": found})

    async def delete_destination(self, request: Request) -> Response:
        caller = self._gate(request, "deleteDestination", grantless=True)
        if isinstance(caller, Response):
            return caller
        if self.destinations.pop(request.path_params["destination_id"], None) is None:
            self.standin._record("deleteDestination", 404, caller)
            return _errors(404, "NotFound", "The requested destination was not found.")
        return self.standin._ok("deleteDestination", caller, {})

    # -- subscriptions --------------------------------------------------------------------

    async def create_subscription(self, request: Request) -> Response:
        seller = self._gate(request, "createSubscription", grantless=False)
        if isinstance(seller, Response):
            return seller
        kind = request.path_params["notification_type"]
        body = await _json(request)
        destination_id, version = body.get("destinationId"), body.get("payloadVersion")
        if destination_id not in self.destinations or not isinstance(version, str):
            self.standin._record("createSubscription", 400, seller)
            return _errors(400, "InvalidInput", "destinationId and payloadVersion needed")
        if (seller, kind) in self.subscriptions:
            self.standin._record("createSubscription", 409, seller)
            return _errors(409, "Conflict", f"A subscription for {kind} already exists.")
        subscription = {
            "subscriptionId": str(uuid.uuid4()),
            "payloadVersion": version,
            "destinationId": destination_id,
        }
        self.subscriptions[(seller, kind)] = subscription
        return self.standin._ok("createSubscription", seller, {"payload": subscription})

    async def get_subscription(self, request: Request) -> Response:
        seller = self._gate(request, "getSubscription", grantless=False)
        if isinstance(seller, Response):
            return seller
        found = self.subscriptions.get((seller, request.path_params["notification_type"]))
        if found is None:
            self.standin._record("getSubscription", 404, seller)
            return _errors(404, "NotFound", "The subscription was not found.")
        return self.standin._ok("getSubscription", seller, {"payload": found})

    async def get_subscription_by_id(self, request: Request) -> Response:
        seller = self._gate(request, "getSubscriptionById", grantless=True)
        if isinstance(seller, Response):
            return seller
        found = self._by_id(request)
        if found is None:
            self.standin._record("getSubscriptionById", 404, seller)
            return _errors(404, "NotFound", "The subscription was not found.")
        return self.standin._ok("getSubscriptionById", seller, {"payload": found[1]})

    async def delete_subscription_by_id(self, request: Request) -> Response:
        seller = self._gate(request, "deleteSubscriptionById", grantless=True)
        if isinstance(seller, Response):
            return seller
        found = self._by_id(request)
        if found is None:
            self.standin._record("deleteSubscriptionById", 404, seller)
            return _errors(404, "NotFound", "The subscription was not found.")
        del self.subscriptions[found[0]]
        return self.standin._ok("deleteSubscriptionById", seller, {})

    def _by_id(self, request: Request) -> tuple[tuple[str, str], dict[str, Any]] | None:
        kind, wanted = request.path_params["notification_type"], request.path_params["sub_id"]
        for key, subscription in self.subscriptions.items():
            if key[1] == kind and subscription["subscriptionId"] == wanted:
                return key, subscription
        return None

    def routes(self) -> list[Route]:
        base = "/notifications/v1"
        one = base + "/subscriptions/{notification_type}/{sub_id}"
        return [
            Route(f"{base}/destinations", self.create_destination, methods=["POST"]),
            Route(f"{base}/destinations", self.get_destinations, methods=["GET"]),
            Route(f"{base}/destinations/{{destination_id}}", self.get_destination),
            Route(
                f"{base}/destinations/{{destination_id}}",
                self.delete_destination,
                methods=["DELETE"],
            ),
            Route(
                f"{base}/subscriptions/{{notification_type}}",
                self.create_subscription,
                methods=["POST"],
            ),
            Route(f"{base}/subscriptions/{{notification_type}}", self.get_subscription),
            Route(one, self.get_subscription_by_id),
            Route(one, self.delete_subscription_by_id, methods=["DELETE"]),
        ]

    # -- delivery, as Amazon does ---------------------------------------------------------

    def queue_url(self, notification_type: str, seller: str | None = None) -> str:
        """The SQS queue URL that ``seller``'s subscription to ``notification_type`` delivers to."""
        subscription = self.subscriptions.get((seller or self.standin.seller_id, notification_type))
        if subscription is None:
            raise LookupError(f"no subscription to {notification_type}: Amazon sends nothing")
        arn = self.destinations[subscription["destinationId"]]["resource"]["sqs"]["arn"]
        return queue_url_of(arn, self.sqs_endpoint)

    async def publish(self, body: dict[str, Any] | str, *, seller: str | None = None) -> str:
        """Put ``body`` (a notification built by :func:`order_change` or
        :func:`feed_processing_finished`, or any text) on the subscribed destination's queue;
        returns the SQS MessageId."""
        kind = (
            body.get("NotificationType") or body.get("notificationType")
            if isinstance(body, dict)
            else None
        )
        url = self.queue_url(str(kind or "ORDER_CHANGE"), seller)
        text = body if isinstance(body, str) else json.dumps(body)
        creator = get_session().create_client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=self.sqs_endpoint,
            aws_access_key_id="standin",
            aws_secret_access_key="standin",
        )
        async with creator as client:
            sent = await client.send_message(QueueUrl=url, MessageBody=text)
        if isinstance(body, dict):
            self.published.append(body)
        return str(sent["MessageId"])

    def subscription_id(self, notification_type: str, seller: str | None = None) -> str:
        key = (seller or self.standin.seller_id, notification_type)
        found = self.subscriptions.get(key)
        return str(found["subscriptionId"]) if found else str(uuid.uuid4())


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def order_change(
    order: dict[str, Any],
    *,
    seller: str,
    subscription_id: str = "",
    notification_id: str | None = None,
    marketplace_id: str = "ATVPDKIKX0DER",
) -> dict[str, Any]:
    """Amazon's ORDER_CHANGE body for a v2026 stand-in order (PascalCase, Amazon's names)."""
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": order["lastUpdatedTime"],
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller,
                "AmazonOrderId": order["orderId"],
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": order["lastUpdatedTime"],
                    "ChangeReason": "Order status changed",
                },
                "Summary": {"MarketplaceId": marketplace_id, "FulfillmentType": "MFN"},
            }
        },
        "NotificationMetadata": {
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": subscription_id or str(uuid.uuid4()),
            "PublishTime": _now(),
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }


def feed_processing_finished(
    *,
    seller: str,
    feed_id: str,
    feed_type: str,
    processing_status: str = "DONE",
    result_feed_document_id: str | None = None,
    subscription_id: str = "",
) -> dict[str, Any]:
    """Amazon's FEED_PROCESSING_FINISHED body (camelCase, Amazon's names)."""
    finished: dict[str, Any] = {
        "sellerId": seller,
        "accountId": f"amzn1.merchant.o.{seller}",
        "feedId": feed_id,
        "feedType": feed_type,
        "processingStatus": processing_status,
    }
    if result_feed_document_id:
        finished["resultFeedDocumentId"] = result_feed_document_id
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": "FEED_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": _now(),
        "payload": {"feedProcessingFinishedNotification": finished},
        "notificationMetadata": {
            "applicationId": APPLICATION_ID,
            "subscriptionId": subscription_id or str(uuid.uuid4()),
            "publishTime": _now(),
            "notificationId": str(uuid.uuid4()),
        },
    }
