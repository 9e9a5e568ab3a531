"""The Amazon gateway: sellers' SP-API connections, the orders poller, ORDER_CHANGE
notifications, and shipment confirmations pushed back to Amazon.

Dependency rule: ``ingest.amazon`` may import ``ingest.intake`` (its service layer, domain and
Amazon order parsers: the orders it reads are taken in by intake's handlers); ``ingest.intake``
never imports ``ingest.amazon``.
"""
