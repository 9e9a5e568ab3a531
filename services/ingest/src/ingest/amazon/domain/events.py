"""What the gateway consumes and announces.

Consumed (``amazon/entrypoints/kafka/handlers.py``): fulfillment.v1 ``shipment.confirmed`` and
``shipment.updated`` (``shared.events.fulfillment.Shipment``), each recorded as a shipment
confirmation to push to Amazon. Announced (``amazon/adapters/outbox.py``), on orders.v1:
``shipment.amazon_confirmed`` and ``shipment.amazon_confirmation_failed``
(``shared.events.orders.AmazonConfirmation``). The orders the gateway reads are announced by
intake (``order.created`` / ``order.updated``).
"""

from __future__ import annotations

from shared.events.fulfillment import SHIPMENT_CONFIRMED, SHIPMENT_UPDATED
from shared.events.orders import SHIPMENT_AMAZON_CONFIRMATION_FAILED, SHIPMENT_AMAZON_CONFIRMED

CONSUMED = (SHIPMENT_CONFIRMED, SHIPMENT_UPDATED)
ANNOUNCED = (SHIPMENT_AMAZON_CONFIRMED, SHIPMENT_AMAZON_CONFIRMATION_FAILED)
