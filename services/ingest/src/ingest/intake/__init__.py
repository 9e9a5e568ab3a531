"""Order intake: orders as Amazon shapes them (one, a batch, a flat-file report), the
quarantine of what cannot be accepted, and ad performance rows; published through the outbox.

Dependency rule: ``ingest.intake`` never imports ``ingest.amazon``. The Amazon gateway calls
intake's service layer (a sync or a notification hands the orders it read to
``intake.service_layer.handlers``); nothing points back.
"""
