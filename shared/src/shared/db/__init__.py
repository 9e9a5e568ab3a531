"""Database plumbing: engine and session helpers, and the tables every service has.

``plumbing`` defines the outbox, inbox and dead-letter tables on a service's own ``MetaData``;
``migrations`` creates them from a service's first Alembic revision.
"""
