"""The evidence packet: what the service can show Amazon about an order, assembled by itself.

From orders.v1 (the promise: ship-by and deliver-by dates) and fulfillment.v1 (shipments with
carrier and tracking, on time or not, Buy Shipping; refunds; cancellation; returns), plus a few
plain-language findings a seller can paste into a response.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from defects.domain.model import Claim, ClaimReason, Money, OrderFacts


def money(m: Money | None) -> dict[str, str] | None:
    return None if m is None else {"amount": str(m.amount), "currency_code": m.currency_code}


def build_packet(claim: Claim, facts: OrderFacts | None) -> dict[str, Any]:
    if facts is None:
        facts = OrderFacts(claim.amazon_order_id, claim.seller_id)
    return {
        "order_known": facts.known,
        "order": _order(facts),
        "delivery_promise": {
            "latest_ship_date": facts.latest_ship_date,
            "earliest_delivery_date": facts.earliest_delivery_date,
            "latest_delivery_date": facts.latest_delivery_date,
        },
        "shipments": [asdict(s) for s in facts.shipments],
        "refunds": [{**asdict(r), "total": money(r.total)} for r in facts.refunds],
        "refunded_total": _refunded_total(facts),
        "refunded_totals": _refunded_totals(facts),
        "cancellation": asdict(facts.cancellation) if facts.cancellation else None,
        "returns": [asdict(r) for r in facts.returns],
        "ship_late_flagged_at": facts.ship_late_flagged_at,
        "findings": findings(claim, facts),
    }


def _order(facts: OrderFacts) -> dict[str, Any] | None:
    if not facts.known:
        return None
    return {
        "purchase_date": facts.purchase_date,
        "fulfillment_channel": facts.fulfillment_channel,
        "order_status": facts.order_status,
        "marketplace_id": facts.marketplace_id,
        "ship_service_level": facts.ship_service_level,
        "order_total": money(facts.order_total),
    }


def _refunded_totals(facts: OrderFacts) -> list[dict[str, str] | None]:
    """The refunds summed per currency (never across currencies), in currency order."""
    totals: dict[str, Decimal] = {}
    for r in facts.refunds:
        totals[r.total.currency_code] = (
            totals.get(r.total.currency_code, Decimal(0)) + r.total.amount
        )
    return [money(Money(amount, currency)) for currency, amount in sorted(totals.items())]


def _refunded_total(facts: OrderFacts) -> dict[str, str] | None:
    """The refunded sum when every refund is in one currency (an order's always are); ``None``
    when there are none, or several currencies (``refunded_totals`` then has one per currency)."""
    totals = _refunded_totals(facts)
    return totals[0] if len(totals) == 1 else None


def findings(claim: Claim, facts: OrderFacts) -> list[str]:
    notes: list[str] = []
    if not facts.known:
        notes.append("The order has not reached this service yet; facts appear when it does.")
    for s in facts.shipments:
        timing = "on time" if s.on_time else "late"
        promise = f" (ship-by {s.latest_ship_date.isoformat()})" if s.latest_ship_date else ""
        notes.append(
            f"Shipped {timing} on {s.ship_date.isoformat()}{promise} with {s.carrier_code}, "
            f"tracking {s.tracking_number}"
            + ("" if s.valid_tracking else " (tracking number not valid for the carrier)")
            + "."
        )
        if s.is_buy_shipping and s.on_time and claim.reason is ClaimReason.ITEM_NOT_RECEIVED:
            notes.append(
                "Label bought with Amazon Buy Shipping and shipped on time: the delivery claim "
                "is covered by Buy Shipping claims protection."
            )
    if facts.known and not facts.shipments and facts.cancellation is None:
        notes.append("No shipment confirmation is on record for this order.")
    for r in facts.refunds:
        notes.append(
            f"Refunded {r.total.amount} {r.total.currency_code} on {r.refunded_at.isoformat()} "
            f"({r.reason})."
        )
    if facts.cancellation is not None:
        c = facts.cancellation
        notes.append(
            f"Canceled by {c.canceled_by} on {c.canceled_at.isoformat()} ({c.reason}"
            + (", buyer-requested" if c.buyer_requested else "")
            + ")."
        )
    return notes
