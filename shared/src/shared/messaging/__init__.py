"""Messaging: how a service publishes and consumes events, exactly once in effect.

- ``envelope``: the CloudEvents envelope every event travels in.
- ``tables``: the outbox, inbox and dead-letter tables on a service's own ``MetaData``.
- ``outbox``: queue events in the caller's transaction; ``relay`` publishes them to Kafka.
- ``decoding``: read a Kafka record into an envelope and its typed payload.
- ``inbox``: apply a decoded event once per event id, through the service's handler.
- ``runner``: the consumer loop (batches, retries, dead letters, offsets after commit).
- ``deadletters`` and ``deadletters_api``: stored dead letters, their replay and their routes.
- ``housekeeping``: prune what the outbox and inbox no longer need.
"""
