"""Projections that keep the read models: one per topic's event family.

They run in the consumer's transaction (with the inbox insert of the facts: order snapshots take
none, docs/adr/0057), under one ``Batched`` handler for every type
(``entrypoints/kafka/handlers.py``): an event applies only when it is newer than what the read
model holds, and every event, applied or not, is recorded once in ``order_events`` (topic,
partition, offset as the applier read it, ``shared.messaging.inbox.read_from``; version). Order
snapshots are projected a run at a time with a few set-based statements; the other families one
event at a time. Buyer PII (``buyer_pii``) is
ignored: analytics cannot open it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from analytics.service_layer.repositories import ReadModelWrites, SalesFigures, SalesKey
from analytics.service_layer.unit_of_work import UnitOfWork
from shared.events.ads import AdPerformance
from shared.events.defects import ClaimEvent, FeedbackEvent
from shared.events.fulfillment import OrderCanceled, OrderShipLate, Shipment
from shared.events.orders import OrderSnapshot
from shared.events.performance import AmazonAccountHealth
from shared.messaging.envelope import CloudEvent
from shared.messaging.inbox import Events, read_from

Projection = Callable[[ReadModelWrites, CloudEvent, Any], Awaitable[bool]]
RunProjection = Callable[[ReadModelWrites, Events], Awaitable[list[bool]]]
Run = list[tuple[CloudEvent, Any]]


async def project_all(uow: UnitOfWork, events: Events, table: dict[str, RunProjection]) -> None:
    """Each run of consecutive events of one projection of ``table`` is projected at once, then
    every event is recorded, applied or not, in one statement. Runs that may change an order's
    sales (its snapshots, fulfillment's cancel) keep the daily sales rollup in step; the orders
    of the batch have their health rollup rows recomputed (docs/adr/0059).

    The writers of the batch's orders are serialised first, all at once (one statement, in one
    order, so two consumers never wait for each other in a cycle): no other transaction moves
    an order between the rollups' reads of it and this transaction's commit."""
    models = uow.read_models
    touched = {oid for _, payload in events if (oid := _order_of(payload))}
    health_before = {}
    if touched:
        await models.lock_orders(touched)
        health_before = await models.health_contributions(touched)
    applied: list[bool] = []
    for project, run in _runs(events, table):
        sold = {p.amazon_order_id for _, p in run if isinstance(p, OrderSnapshot | OrderCanceled)}
        if sold:
            applied += await _keeping_daily_sales(models, sold, project, run)
        else:
            applied += await project(models, run)
    if touched:
        # Every touched order, applied or not: an event not applied may still have moved
        # fulfillment's row (a shipment's ship-by date); an unchanged row is not rewritten, and
        # adds nothing to the rollup by day.
        await models.refresh_health(touched)
        health_after = await models.health_contributions(touched)
        await models.add_to_health_days(_difference(health_after, health_before))
    await models.record_events(
        [_seen(event, flag) for (event, _), flag in zip(events, applied, strict=True)]
    )


def _order_of(payload: Any) -> str | None:
    """The order an event's payload is about (None: not about one order, e.g. an ad row)."""
    oid = getattr(payload, "amazon_order_id", None)
    return oid if isinstance(oid, str) else None


async def _keeping_daily_sales(
    models: ReadModelWrites, ids: set[str], project: RunProjection, run: Events
) -> list[bool]:
    """Project, and add to the daily sales rollup what the orders ``ids`` add now less what
    they added before (docs/adr/0055): a newer snapshot, a change of status, amount or currency
    or a cancel moves the figures by the difference; a replay changes nothing, so adds nothing.
    The orders' writers are serialised (``project_all``), so no other transaction moves them in
    between."""
    before = await models.sales_contributions(ids)
    applied = await project(models, run)
    if any(applied):
        after = await models.sales_contributions(ids)
        await models.add_to_daily_sales(_difference(after, before))
    return applied


def _difference(
    after: dict[SalesKey, SalesFigures], before: dict[SalesKey, SalesFigures]
) -> dict[SalesKey, SalesFigures]:
    moved = {}
    for key in after.keys() | before.keys():
        zero = (0,) * len(after[key] if key in after else before[key])
        now, was = after.get(key, zero), before.get(key, zero)
        delta = tuple(n - w for n, w in zip(now, was, strict=True))
        if any(delta):
            moved[key] = delta
    return moved


def _runs(events: Events, table: dict[str, RunProjection]) -> list[tuple[RunProjection, Run]]:
    """Consecutive events of one projection, in order."""
    runs: list[tuple[RunProjection, Run]] = []
    for event, payload in events:
        project = table[event.type]
        if runs and runs[-1][0] is project:
            runs[-1][1].append((event, payload))
        else:
            runs.append((project, [(event, payload)]))
    return runs


def _seen(event: CloudEvent, applied: bool) -> dict[str, Any]:
    read = read_from(event)
    return {
        "event_id": event.id,
        "event_type": event.type,
        "source": event.source,
        "subject": event.subject,
        "seller_id": event.sellerid,
        "version": event.aggregateversion,
        "applied": applied,
        "event_time": event.time,
        "topic": read.topic if read else "unknown",
        "kafka_partition": read.partition if read else None,
        "kafka_offset": read.offset if read else None,
    }


def one_by_one(project: Projection) -> RunProjection:
    """A per-event projection applied to each event of a run in turn."""

    async def run(models: ReadModelWrites, events: Events) -> list[bool]:
        return [await project(models, event, payload) for event, payload in events]

    return run


async def project_orders(models: ReadModelWrites, run: Events) -> list[bool]:
    """Snapshots of a run, in order: one applies when its version is newer than the order's
    (as held, or as left by an earlier snapshot of the run); each order is then written once,
    in its newest state, with its items."""
    held = await models.order_versions({o.amazon_order_id for _, o in run})
    stored_before = set(held)
    newest: dict[str, OrderSnapshot] = {}
    applied = []
    for _, order in run:
        oid = order.amazon_order_id
        fresh = oid not in held or held[oid] < order.version
        if fresh:
            held[oid], newest[oid] = order.version, order
        applied.append(fresh)
    rows = [_order_row(order) for order in newest.values()]
    written = await models.upsert_orders(rows)
    items = [item for oid in sorted(written) for item in _items(newest[oid])]
    await models.replace_items(written & stored_before, items)
    return [
        fresh and o.amazon_order_id in written for (_, o), fresh in zip(run, applied, strict=True)
    ]


def _order_row(order: OrderSnapshot) -> dict[str, Any]:
    total = order.order_total
    return {
        "amazon_order_id": order.amazon_order_id,
        "seller_id": order.seller_id,
        "version": order.version,
        "marketplace_id": order.marketplace_id,
        "fulfillment_channel": order.fulfillment_channel,
        "order_status": order.order_status.value,
        "purchase_date": order.purchase_date,
        "last_update_date": order.last_update_date,
        "latest_ship_date": order.latest_ship_date,
        "latest_delivery_date": order.latest_delivery_date,
        "currency_code": total.currency_code if total else None,
        "order_total": total.amount if total else None,
        "units": sum(i.quantity_ordered for i in order.items),
        "is_buyer_requested_cancel": order.is_buyer_requested_cancel,
        "is_replacement_order": order.is_replacement_order,
        "replaced_order_id": order.replaced_order_id,
    }


def _items(order: OrderSnapshot) -> list[dict[str, Any]]:
    return [
        {
            "amazon_order_id": order.amazon_order_id,
            "order_item_id": item.order_item_id,
            "seller_id": order.seller_id,
            "asin": item.asin,
            "seller_sku": item.seller_sku,
            "quantity": item.quantity_ordered,
            "item_price": item.item_price.amount if item.item_price else None,
            "currency_code": item.item_price.currency_code if item.item_price else None,
        }
        for item in order.items
    ]


async def _fulfillment_order(
    models: ReadModelWrites, event: CloudEvent, payload: Any
) -> tuple[Any, bool]:
    """The order's fulfillment row as it was (locked; None when new), and whether this
    event created it or advanced its version."""
    base = {
        "seller_id": payload.seller_id,
        "version": event.aggregateversion,
        "marketplace_id": payload.marketplace_id,
        "fulfillment_channel": payload.fulfillment_channel,
        "order_status": payload.order_status,
    }
    row = await models.lock_fulfillment_order(payload.amazon_order_id)
    if row is None:
        await models.insert_fulfillment_order({"amazon_order_id": payload.amazon_order_id, **base})
        return None, True
    if row.version >= event.aggregateversion:
        return row, False
    newer = {k: v for k, v in base.items() if v is not None}
    await models.update_fulfillment_order(payload.amazon_order_id, newer)
    return row, True


async def project_shipment(models: ReadModelWrites, event: CloudEvent, shipment: Shipment) -> bool:
    await _fulfillment_order(models, event, shipment)
    if shipment.latest_ship_date is not None:
        await models.update_fulfillment_order(
            shipment.amazon_order_id, {"latest_ship_date": shipment.latest_ship_date}
        )
    return await models.upsert_shipment(
        {
            "shipment_id": shipment.shipment_id,
            "amazon_order_id": shipment.amazon_order_id,
            "seller_id": shipment.seller_id,
            "version": event.aggregateversion,
            "fulfillment_channel": shipment.fulfillment_channel,
            "ship_date": shipment.ship_date,
            "latest_ship_date": shipment.latest_ship_date,
            "on_time": shipment.on_time,
            "valid_tracking": shipment.valid_tracking,
            "carrier_code": shipment.carrier_code,
            "latest_delivery_date": shipment.latest_delivery_date,
            "tracking_given_at": shipment.tracking_given_at,
            "first_scan_at": shipment.first_scan_at,
            "delivered_at": shipment.delivered_at,
        },
    )


async def project_cancel(models: ReadModelWrites, event: CloudEvent, cancel: OrderCanceled) -> bool:
    row, _ = await _fulfillment_order(models, event, cancel)
    if row is not None and (row.cancel_version or 0) >= event.aggregateversion:
        return False
    await models.update_fulfillment_order(
        cancel.amazon_order_id,
        {
            "canceled_at": cancel.canceled_at,
            "canceled_by": cancel.canceled_by,
            "cancel_reason": cancel.reason,
            "cancel_buyer_requested": cancel.buyer_requested,
            "cancel_version": event.aggregateversion,
            "purchase_date": cancel.purchase_date,
        },
    )
    return True


async def project_ship_late(
    models: ReadModelWrites, event: CloudEvent, late: OrderShipLate
) -> bool:
    row, _ = await _fulfillment_order(models, event, late)
    if row is not None and (row.ship_late_version or 0) >= event.aggregateversion:
        return False
    await models.update_fulfillment_order(
        late.amazon_order_id,
        {
            "ship_late_at": late.flagged_at,
            "ship_late_version": event.aggregateversion,
            "latest_ship_date": late.latest_ship_date,
        },
    )
    return True


async def project_other_fulfillment(
    models: ReadModelWrites, event: CloudEvent, payload: Any
) -> bool:
    _, advanced = await _fulfillment_order(models, event, payload)
    return advanced


def _case(event: CloudEvent, case: ClaimEvent | FeedbackEvent) -> dict[str, Any]:
    if isinstance(case, ClaimEvent):
        case_id = f"{case.kind}:{case.claim_id}"
        kind = "chargeback" if event.type.startswith("chargeback.") else "a_to_z"
        status = case.status
    else:
        case_id = f"feedback:{case.feedback_id}"
        kind = "negative_feedback" if case.rating <= 2 else "feedback"
        status = "removed" if case.removed_at else f"rating_{case.rating}"
    return {
        "case_id": case_id,
        "kind": kind,
        "amazon_order_id": case.amazon_order_id,
        "seller_id": case.seller_id,
        "version": event.aggregateversion,
        "fulfillment_channel": case.fulfillment_channel,
        "order_purchase_date": case.order_purchase_date,
        "counts_toward_odr": case.counts_toward_odr,
        "odr_rule": case.odr_rule,
        "status": status,
    }


async def project_case(
    models: ReadModelWrites, event: CloudEvent, case: ClaimEvent | FeedbackEvent
) -> bool:
    return await models.upsert_case(_case(event, case))


async def project_ad_row(models: ReadModelWrites, event: CloudEvent, row: AdPerformance) -> bool:
    """The ad row, unless a newer version is held; the daily ads rollup moved by what the row
    adds now less what it added before (docs/adr/0060): a replay changes nothing, so adds
    nothing. The row's writers are serialised first."""
    subjects = {event.subject}
    await models.lock_ads_of(subjects)
    before = await models.ad_contributions(subjects)
    applied = await models.upsert_ad_row(
        {
            "subject": event.subject,
            "seller_id": row.seller_id,
            "version": event.aggregateversion,
            "date": row.date,
            "marketplace_id": row.marketplace_id,
            "campaign_id": row.campaign_id,
            "asin": row.asin,
            "seller_sku": row.seller_sku,
            "impressions": row.impressions,
            "clicks": row.clicks,
            "spend": row.spend.amount,
            "attributed_orders": row.attributed_orders,
            "attributed_units": row.attributed_units,
            "attributed_sales": row.attributed_sales.amount,
            "currency_code": row.spend.currency_code,
        },
    )
    if applied:
        after = await models.ad_contributions(subjects)
        await models.add_to_daily_ads(_difference(after, before))
    return applied


async def project_amazon_health(
    models: ReadModelWrites, event: CloudEvent, report: AmazonAccountHealth
) -> bool:
    """Each marketplace of Amazon's seller performance report, unless a newer report of the
    seller holds it already; True when any was applied."""
    applied = [
        await models.upsert_amazon_health(
            {
                "subject": f"{report.seller_id}:{market.marketplace_id}",
                "seller_id": report.seller_id,
                "marketplace_id": market.marketplace_id,
                "version": event.aggregateversion,
                "report_id": report.report_id,
                "reported_at": report.reported_at,
                "fetched_at": report.fetched_at,
                "account_status": market.account_status,
                "metrics": orjson.dumps(
                    [m.model_dump(mode="json") for m in market.metrics]
                ).decode(),
            }
        )
        for market in report.marketplaces
    ]
    return any(applied)
