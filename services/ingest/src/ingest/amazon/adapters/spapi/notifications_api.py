"""Notifications API v1 on ``SpApiHttp``: the SQS destination and a seller's subscriptions.

From Amazon's model (selling-partner-api-models, models/notifications-api-model/
notifications.json) and its notifications use case guide:

- Destinations belong to the application, not to a seller: ``getDestinations``
  (``GET /notifications/v1/destinations``) and ``createDestination`` (``POST``, body
  ``{"name", "resourceSpecification": {"sqs": {"arn"}}}``) are grantless operations, called
  with an access token from LWA's ``client_credentials`` grant with scope
  ``sellingpartnerapi::notifications`` (:class:`GrantlessTokens`), never a seller's token.
  A second destination for the same ARN is refused with 409.
- Subscriptions belong to a seller (the seller's token): ``createSubscription``
  (``POST /notifications/v1/subscriptions/{notificationType}``, body ``{"payloadVersion",
  "destinationId"}``) answers 409 when the seller already has one of that type;
  ``getSubscription`` (``GET`` on the same path) reads it.
- Every answer wraps ``payload`` (or ``errors``); every operation's plan is 1 per second,
  burst 5 (``amazon/domain/throttle.py``).

Errors are ``SpApiHttp``'s: ``SpApiRequestError`` (a 4xx other than 429, with Amazon's
``errors``), ``SpApiUnavailable`` (no useful answer after the bounded retries).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import httpx

from ingest.amazon.adapters.spapi.http import SpApiHttp, SpApiRequestError, TokenCache, _Token
from ingest.amazon.domain.connections import Credentials, SpApiUnavailable

BASE = "/notifications/v1"
SCOPE = "sellingpartnerapi::notifications"
# The bucket key of the application's own (grantless) calls: no selling partner's.
APPLICATION = "grantless"


class GrantlessTokens(TokenCache):
    """LWA access tokens from the ``client_credentials`` grant, for grantless operations."""

    async def _fetch(self, client: httpx.AsyncClient, url: str, creds: Credentials) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "scope": SCOPE,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }
        try:
            response = await client.post(url, data=form)
        except httpx.HTTPError as exc:
            raise SpApiUnavailable(
                f"LWA token endpoint unreachable: {type(exc).__name__}"
            ) from None
        body = _json(response)
        if response.status_code != 200:
            error = body.get("error", "unknown error")
            raise SpApiUnavailable(
                f"LWA refused the grantless token ({response.status_code}: {error})"
            )
        expires = float(body.get("expires_in", 3600))
        return _Token(value=str(body["access_token"]), expires_at=self._clock() + expires)


@dataclass(frozen=True)
class Destination:
    destination_id: str
    name: str
    arn: str | None


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    destination_id: str
    payload_version: str


class NotificationsApi:
    """One connection's Notifications API: ``seller`` calls with the seller's token, the
    destination calls with a grantless token of the same application (client id and secret)."""

    def __init__(self, seller: SpApiHttp) -> None:
        self.seller = seller
        self.application = dataclasses.replace(
            seller, tokens=GrantlessTokens(), selling_partner_id=APPLICATION
        )

    async def destinations(self) -> list[Destination]:
        body = await self.application.get("getDestinations", f"{BASE}/destinations", {})
        return [_destination(d) for d in body.get("payload") or []]

    async def create_destination(self, *, name: str, arn: str) -> Destination:
        spec = {"name": name, "resourceSpecification": {"sqs": {"arn": arn}}}
        body = await self.application.post("createDestination", f"{BASE}/destinations", spec)
        return _destination(body.get("payload") or {})

    async def destination_for(self, *, arn: str, name: str) -> Destination:
        """The destination of ``arn``: an existing one, else a new one (the application has
        one destination per queue, shared by all its sellers)."""
        found = await self._of_arn(arn)
        if found is not None:
            return found
        try:
            return await self.create_destination(name=name, arn=arn)
        except SpApiRequestError as exc:
            if exc.status != 409:
                raise
        found = await self._of_arn(arn)  # created meanwhile by another caller
        if found is None:
            raise SpApiUnavailable(f"Amazon says a destination for {arn} exists but lists none")
        return found

    async def _of_arn(self, arn: str) -> Destination | None:
        return next((d for d in await self.destinations() if d.arn == arn), None)

    async def subscription(self, notification_type: str) -> Subscription | None:
        try:
            body = await self.seller.get(
                "getSubscription", f"{BASE}/subscriptions/{notification_type}", {}
            )
        except SpApiRequestError as exc:
            if exc.status == 404:
                return None
            raise
        return _subscription(body.get("payload") or {})

    async def subscribe(
        self, notification_type: str, *, destination_id: str, payload_version: str
    ) -> Subscription:
        """The seller's subscription to ``notification_type``: created, or the one it already
        has (Amazon answers 409, then ``getSubscription`` reads it)."""
        wanted = {"payloadVersion": payload_version, "destinationId": destination_id}
        path = f"{BASE}/subscriptions/{notification_type}"
        try:
            body = await self.seller.post("createSubscription", path, wanted)
            return _subscription(body.get("payload") or {})
        except SpApiRequestError as exc:
            if exc.status != 409:
                raise
        existing = await self.subscription(notification_type)
        if existing is None:
            raise SpApiUnavailable(f"Amazon says a {notification_type} subscription exists")
        return existing


def _destination(raw: dict[str, Any]) -> Destination:
    sqs = (raw.get("resource") or {}).get("sqs") or {}
    return Destination(
        destination_id=str(raw["destinationId"]), name=str(raw.get("name", "")), arn=sqs.get("arn")
    )


def _subscription(raw: dict[str, Any]) -> Subscription:
    return Subscription(
        subscription_id=str(raw["subscriptionId"]),
        destination_id=str(raw.get("destinationId", "")),
        payload_version=str(raw.get("payloadVersion", "")),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
