"""Shipment confirmations pushed back to Amazon: record, send, retry.

Ingest is Orderflow's gateway to Amazon: the sellers' SP-API credentials live only in its
connections. Fulfillment announces ``shipment.confirmed`` / ``shipment.updated`` on
``fulfillment.v1``; ``record`` (called by ``amazon/entrypoints/kafka/handlers.py``) records one
row per (shipment, fulfillment version) in the consumer's transaction, together with the inbox
row (so nothing is lost, and a
redelivered event records nothing twice). FBA orders and sellers without an active connection
are recorded ``skipped`` with the reason.

The ``Sender`` (a background job; safe with several ingest instances: rows are claimed with
``FOR UPDATE SKIP LOCKED`` and leased) posts pending rows with Orders v0 ``confirmShipment``,
one package per call, through the seller's connection and its token bucket (2/s, burst 10,
times SPAPI_RATE_SCALE). 204 marks a row sent; a 400-class refusal (not 429) marks it failed
with Amazon's message; 429, 5xx and network errors leave it pending until ``next_attempt_at``
(exponential back-off). Sent and failed are announced on ``orders.v1``
(``shipment.amazon_confirmed`` / ``shipment.amazon_confirmation_failed``) through the outbox,
in the transaction that records them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from ingest.amazon.adapters import outbox
from ingest.amazon.adapters.spapi.http import SpApiRequestError
from ingest.amazon.domain import confirmations as dc
from ingest.amazon.domain.confirmations import Action, ShipmentFacts, Status
from ingest.amazon.domain.errors import InvalidTransition, SpApiUnavailable
from ingest.amazon.service_layer.connections import Vault
from ingest.amazon.service_layer.sync import SpApi, spapi_of, uow_factory_of, vault_of
from ingest.amazon.service_layer.unit_of_work import GatewayUnitOfWork as UnitOfWork
from ingest.settings import IngestSettings
from shared import topics
from shared.events import fulfillment as fev
from shared.inputs import scrub
from shared.runtime import Resources

log = logging.getLogger(__name__)


# -- recording (the fulfillment.v1 handler) -------------------------------------------------


def facts_of(payload: fev.Shipment, channel: str | None) -> ShipmentFacts:
    return ShipmentFacts(
        seller_id=payload.seller_id,
        amazon_order_id=payload.amazon_order_id,
        marketplace_id=payload.marketplace_id,
        fulfillment_channel=payload.fulfillment_channel or channel,
        shipment_id=payload.shipment_id,
        carrier_code=payload.carrier_code,
        carrier_name=payload.carrier_name,
        ship_method=payload.ship_method,
        tracking_number=payload.tracking_number,
        ship_date=payload.ship_date,
        items=[(i.order_item_id, i.quantity) for i in payload.items],
    )


async def record(
    uow: UnitOfWork, payload: fev.Shipment, *, version: int, event_type: str
) -> Status | None:
    """Record the confirmation this shipment event asks for; None when already recorded."""
    repo = uow.confirmations
    channel = None
    if payload.fulfillment_channel is None:
        channel = await repo.channel_of_order(payload.amazon_order_id)
    facts = facts_of(payload, channel)
    connection = await repo.active_connection(facts.seller_id, facts.marketplace_id)
    reason = dc.skip_reason(facts, connection)
    marketplace = facts.marketplace_id or (
        connection.marketplace_ids[0] if connection is not None else None
    )
    status = Status.SKIPPED if reason else Status.PENDING
    added = await repo.add(
        id=uuid.uuid4(),
        seller_id=facts.seller_id,
        amazon_order_id=facts.amazon_order_id,
        shipment_id=facts.shipment_id,
        version=version,
        event_type=event_type,
        connection_id=connection.id if connection is not None else None,
        payload=dc.confirm_body(facts, marketplace or ""),
        status=status.value,
        last_error=reason,
    )
    if not added:
        return None
    if status is Status.PENDING:
        await repo.supersede_older(
            facts.shipment_id, version, f"superseded by fulfillment version {version}"
        )
    log.info(
        "amazon confirmation recorded",
        extra={"shipment": facts.shipment_id, "version": version, "status": status.value},
    )
    return status


# -- sending -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    action: Action
    error: str | None = None


@dataclass
class Sender:
    new_uow: Callable[[], UnitOfWork]
    spapi: SpApi
    vault: Vault
    topic: str  # orders.v1, where sent / failed are announced
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rand: Callable[[], float] = random.random
    lease: timedelta = field(default_factory=lambda: timedelta(minutes=5))

    @property
    def settings(self) -> IngestSettings:
        return self.spapi.settings

    async def send_once(self) -> int:
        """Send one batch of due confirmations (sellers side by side); how many were due."""
        async with self.new_uow() as uow:
            rows = await uow.confirmations.claim_due(self.lease, self.settings.spapi_confirm_batch)
            await uow.commit()
        if not rows:
            return 0
        by_seller: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_seller[row.seller_id].append(row)
        async with self.spapi.client() as client:
            await asyncio.gather(*(self._send_all(client, rs) for rs in by_seller.values()))
        return len(rows)

    async def _send_all(self, client: httpx.AsyncClient, rows: list[Any]) -> None:
        for row in rows:  # one seller's rows in order: its bucket paces them
            try:
                outcome = await self._send(client, row)
            except Exception as exc:  # unexpected: keep the row pending, try later
                log.exception("amazon confirmation send failed", extra={"id": str(row.id)})
                outcome = Outcome(Action.DEFER, f"{type(exc).__name__}: {exc}"[:1000])
            await self._record(row, outcome)

    async def _send(self, client: httpx.AsyncClient, row: Any) -> Outcome:
        async with self.new_uow() as uow:
            connection = await uow.confirmations.active_connection(
                row.seller_id, row.payload.get("marketplaceId")
            )
        if connection is None:
            return Outcome(
                Action.FAIL, f"Seller {row.seller_id} has no active SP-API connection any more."
            )
        path = f"/orders/v0/orders/{quote(row.amazon_order_id, safe='')}/shipmentConfirmation"
        try:
            http = self.spapi.http(client, connection, self.vault)
            await http.post(dc.OPERATION, path, row.payload)
        except SpApiRequestError as exc:
            return Outcome(Action.FAIL, dc.error_text(exc.errors, exc.status))
        except SpApiUnavailable as exc:
            return Outcome(Action.DEFER, str(exc)[:1000])
        return Outcome(Action.SENT)

    async def _record(self, row: Any, outcome: Outcome) -> None:
        now = self.clock()
        # Amazon's words (or a stand-in's): made fit for a text column and an event.
        action, error = outcome.action, scrub(outcome.error, 1000) if outcome.error else None
        if action is Action.DEFER and row.attempts >= self.settings.spapi_confirm_max_attempts:
            action = Action.FAIL
            error = f"gave up after {row.attempts} attempts: {error}"
        target = dc.transition(Status.PENDING, action)
        values: dict[str, Any] = {"status": target.value, "last_error": error}
        if action is Action.SENT:
            values |= {"sent_at": now, "last_error": None}
        elif action is Action.DEFER:
            values["next_attempt_at"] = dc.retry_at(
                now,
                row.attempts,
                base=self.settings.spapi_backoff_seconds,
                cap=self.settings.spapi_backoff_cap_seconds,
                rand=self.rand,
            )
        async with self.new_uow() as uow:
            changed = await uow.confirmations.finish(row.id, **values)
            if changed and action in (Action.SENT, Action.FAIL):
                uow.publish([outbox.announcement(row, target, error, now)], topic=self.topic)
            await uow.commit()
        log.info(
            "amazon confirmation",
            extra={"id": str(row.id), "status": target.value, "attempt": row.attempts},
        )


def sender_of(resources: Resources[Any]) -> Sender:
    return Sender(
        new_uow=uow_factory_of(resources),
        spapi=spapi_of(resources),
        vault=vault_of(resources),
        topic=resources.settings.topic(topics.ORDERS),
        lease=timedelta(seconds=spapi_of(resources).settings.spapi_lease_seconds),
    )


async def run_sender(resources: Resources[Any]) -> None:
    """Background job: send due confirmations, forever (unless disabled)."""
    settings = spapi_of(resources).settings
    if not settings.spapi_confirmations_enabled:
        log.info("amazon confirmations disabled (SPAPI_CONFIRMATIONS_ENABLED=false)")
        return
    sender = sender_of(resources)
    while True:
        try:
            busy = await sender.send_once()
        except Exception:  # a database hiccup must not end the job
            log.exception("amazon confirmation pass failed")
            busy = 0
        if not busy:
            await asyncio.sleep(settings.spapi_idle_seconds)


# -- retrying (listing, reading and the retry itself: ``submissions``, kind shipment_confirmation)


async def reopen(uow: UnitOfWork, row: Any) -> None:
    """Make a failed confirmation pending again (due now), unless a newer version of its
    shipment exists: that one carries the whole state and is the one to retry."""
    repo = uow.confirmations
    target = dc.transition(Status(row.status), Action.RETRY)
    newest = await repo.newest_version(row.shipment_id)
    if newest is not None and newest > row.version:
        raise InvalidTransition(
            f"Shipment {row.shipment_id} has a newer version ({newest}) than this confirmation "
            f"({row.version}); retry that one instead."
        )
    await repo.update(row.id, status=target.value, attempts=0, next_attempt_at=datetime.now(UTC))
