"""Logical topic names. Physical names add the run's prefix (``ServiceSettings.topic``)."""

ORDERS = "orders.v1"
FULFILLMENT = "fulfillment.v1"
DEFECTS = "defects.v1"
ADS = "ads.v1"
ANALYTICS = "analytics.v1"

ALL = (ORDERS, FULFILLMENT, DEFECTS, ADS)
DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"
