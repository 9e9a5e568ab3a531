"""Analytics' errors.

AnalyticsError
├── InvalidTransition   an alert state change the transition table does not allow
└── InvalidQuery        a query that names an impossible range or grouping (answers 422)
"""


class AnalyticsError(Exception):
    """Base of analytics' domain errors."""


class InvalidTransition(AnalyticsError):
    pass


class InvalidQuery(AnalyticsError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
