"""Changes a client may ask analytics for.

None: analytics is a read side. Its API only reads (sales, account health, advertising, the
trace, alerts, the operators' overview); its state changes only by the events it consumes
(``entrypoints/kafka/handlers.py``) and by its background jobs (alerts, event-log retention).
A change a client asks for (e.g. acknowledging an alert) is a frozen dataclass here, named in the
imperative, with one handler in ``service_layer/handlers.py``.
"""
