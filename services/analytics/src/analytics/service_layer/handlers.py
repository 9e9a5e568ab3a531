"""Command handlers: none, as analytics accepts no commands (``domain/commands.py``).

Analytics' use cases are elsewhere in the service layer, by role: ``queries.py`` (every read
of the API), ``projections.py`` (the events it consumes, wired in
``entrypoints/kafka/handlers.py``), ``alerting.py`` and ``event_log.py`` (background jobs),
``trace.py`` and ``ops.py`` (reads that also ask other services).
"""
