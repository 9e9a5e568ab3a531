"""Analytics' errors.

AnalyticsError
├── InvalidTransition   an alert state change the transition table does not allow
├── AlertRaced          another process raised the same alert first (the evaluation of that
│                       seller is dropped; the next one sees the stored alert)
├── NotThisSellersOrder nothing of the order is under this seller's key, whether it is another
│                       seller's or nobody's (one 404 for both)
└── InvalidQuery        a query that names an impossible range or grouping (answers 422)
"""


class AnalyticsError(Exception):
    """Base of analytics' domain errors."""


class InvalidTransition(AnalyticsError):
    pass


class AlertRaced(AnalyticsError):
    def __init__(self, seller_id: str, metric: str, scope: str) -> None:
        super().__init__(f"alert {metric} ({scope}) of {seller_id} raised elsewhere first")
        self.seller_id = seller_id


class NotThisSellersOrder(AnalyticsError):
    """``findings``: "never received" first, then what the viewer's own Amazon connections
    tell (``connection``); both depend on the viewer only, never on whose order it is."""

    def __init__(
        self,
        amazon_order_id: str,
        findings: list[dict[str, object]],
        *,
        connection: dict[str, object] | None = None,
    ) -> None:
        super().__init__(str(findings[0]["message"]))
        self.amazon_order_id = amazon_order_id
        self.findings = findings
        self.connection = connection


class InvalidQuery(AnalyticsError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
