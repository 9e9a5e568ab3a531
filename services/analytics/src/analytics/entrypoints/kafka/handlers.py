"""What each event type analytics consumes does: the projection that keeps its read model.

One ``Batched`` handler serves every type (``service_layer.projections.project_all``): a batch
is cut into runs of consecutive events of one projection, order snapshots are projected a run
at a time, the other families one event at a time.
"""

from __future__ import annotations

from analytics.service_layer import projections
from analytics.service_layer.projections import Projection, RunProjection, one_by_one
from analytics.service_layer.unit_of_work import UnitOfWork
from shared.events import ads, defects, fulfillment, orders, performance
from shared.messaging.inbox import Batched, Events, Handler


def projection_table() -> dict[str, RunProjection]:
    """Every event type analytics consumes, with its projection."""
    single: dict[str, Projection] = {
        t: projections.project_other_fulfillment for t in fulfillment.PAYLOADS
    }
    single |= {
        fulfillment.SHIPMENT_CONFIRMED: projections.project_shipment,
        fulfillment.SHIPMENT_UPDATED: projections.project_shipment,
        fulfillment.SHIPMENT_SCANNED: projections.project_shipment,
        fulfillment.ORDER_CANCELED: projections.project_cancel,
        fulfillment.ORDER_SHIP_LATE: projections.project_ship_late,
    }
    single |= {t: projections.project_case for t in defects.PAYLOADS}
    single |= {t: projections.project_ad_row for t in ads.PAYLOADS}
    single |= {t: projections.project_amazon_health for t in performance.PAYLOADS}
    table: dict[str, RunProjection] = {t: projections.project_orders for t in orders.SNAPSHOT_TYPES}
    table |= {t: one_by_one(project) for t, project in single.items()}
    return table


def handlers() -> dict[str, Handler[UnitOfWork]]:
    """The handler table: one handler for every type."""
    table = projection_table()

    async def apply(uow: UnitOfWork, events: Events) -> None:
        await projections.project_all(uow, events, table)

    return dict.fromkeys(table, Batched(apply))
