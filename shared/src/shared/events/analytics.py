"""``analytics.v1``: alerts raised by analytics when an account-health metric crosses its target.

``subject`` is ``<seller>:<metric>:<scope>``; ``aggregateversion`` is ``2 * alert id`` for
``alert.raised`` and ``2 * alert id + 1`` for ``alert.cleared``, so it only grows per subject.
An alert is raised once per crossing and cleared when the metric is back on target; both events
carry the ``AlertRaised`` payload (``cleared_at`` set on the second).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import DecimalStr

ALERT_RAISED = "alert.raised"
ALERT_CLEARED = "alert.cleared"


class AlertRaised(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert_id: int
    seller_id: str
    metric: str = Field(description="e.g. order_defect_rate, late_shipment_rate")
    scope: str = Field(description="channel or window the metric covers, e.g. MFN or 10d")
    status: str = Field(description="at_risk or critical")
    value: DecimalStr | None = None
    numerator: int
    denominator: int
    threshold: DecimalStr = Field(description="the target the value crossed")
    raised_at: datetime
    cleared_at: datetime | None = None
    message: str


PAYLOADS: dict[str, type[BaseModel]] = {ALERT_RAISED: AlertRaised, ALERT_CLEARED: AlertRaised}
