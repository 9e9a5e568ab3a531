"""The outbox, inbox and dead-letter tables, defined on a service's own ``MetaData``.

- ``outbox``: events (and dead letters) waiting for the relay; written in the same transaction
  as the change they announce. ``sent_at`` plus ``kafka_partition``/``kafka_offset`` record where
  each one landed. A statement-level trigger notifies ``CHANNEL`` on every insert.
- ``inbox``: ids of the events a consumer has applied; makes every handler idempotent.
- ``consumer_offsets``: the next Kafka offset of each partition the consumer has applied,
  written in the transaction of the effects (docs/adr/0057-offsets-stored-with-the-data.md).
- ``dead_letters``: messages a consumer gave up on, with why, for operators to list and replay.
- ``idempotency_keys``: the API's ``Idempotency-Key``s and their first responses
  (``shared.db.idempotency``).
- ``audit_log``: one append-only entry per change made through the API (``shared.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.audit import define_audit_log
from shared.db.idempotency import define_idempotency_keys

# The relay LISTENs on this channel. A statement-level trigger on the outbox notifies it, and
# PostgreSQL delivers the notification when the writing transaction commits (once, however many
# rows or statements), so an idle relay wakes at once instead of at its next poll. In the
# database, not in Python: no path that writes to the outbox can forget it, and the writing
# transaction sends no statement for it. See docs/adr/0005-outbox-notify-trigger.md.
CHANNEL = "orderflow_outbox"
NOTIFY_FUNCTION = f"""CREATE OR REPLACE FUNCTION orderflow_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"""
NOTIFY_TRIGGER = """CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION orderflow_outbox_notify()"""


def _create_notify_trigger(target: Table, connection: Connection, **_: Any) -> None:
    connection.exec_driver_sql(NOTIFY_FUNCTION)
    connection.exec_driver_sql(NOTIFY_TRIGGER)


@dataclass(frozen=True)
class PlumbingTables:
    outbox: Table
    inbox: Table
    dead_letters: Table
    consumer_offsets: Table
    idempotency_keys: Table
    audit_log: Table


def define_plumbing(metadata: MetaData) -> PlumbingTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        # Not unique and not indexed: nothing looks ids up here, and consumers' inboxes drop
        # repeats. See docs/adr/0015-no-unread-plumbing-indexes.md.
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("topic", Text, nullable=False),
        Column("message_key", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("aggregate_version", BigInteger, nullable=False, server_default="0"),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Column("kafka_partition", Integer),
        Column("kafka_offset", BigInteger),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_key", "message_key"),
        # Housekeeping finds rows past retention by age through a BRIN index: see
        # docs/adr/0014-brin-for-age-based-deletes.md.
        Index("ix_outbox_created_brin", "created_at", postgresql_using="brin"),
        # The payload is stored out of line, so the relay's sent mark writes a small new row
        # version instead of the payload again: see docs/adr/0013-outbox-payload-out-of-line.md.
        postgresql_with={"toast_tuple_target": 256},
    )
    event.listen(outbox, "after_create", _create_notify_trigger)
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("topic", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("subject", Text),
        Column("aggregate_version", BigInteger),
        Column("kafka_partition", Integer),
        Column("kafka_offset", BigInteger),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # No index on subject: nothing looks the inbox up by it (analytics' order_events is the
        # trace of an order). See docs/adr/0015-no-unread-plumbing-indexes.md.
        Index("ix_inbox_applied_brin", "applied_at", postgresql_using="brin"),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("topic", Text, nullable=False),
        Column("kafka_partition", Integer, nullable=False),
        Column("kafka_offset", BigInteger, nullable=False),
        Column("message_key", Text),
        Column("payload", LargeBinary, nullable=False),
        Column("event_type", Text),
        Column("subject", Text),
        Column("error_type", Text, nullable=False),
        Column("error_message", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("status", Text, nullable=False, server_default="dead"),
        Column("replay_count", Integer, nullable=False, server_default="0"),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("replayed_at", DateTime(timezone=True)),
        Index("ix_dead_letters_status", "status", "id"),
        Index("ix_dead_letters_subject", "subject"),
    )
    consumer_offsets = Table(
        "consumer_offsets",
        metadata,
        Column("topic", Text, primary_key=True),
        Column("kafka_partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return PlumbingTables(
        outbox=outbox,
        inbox=inbox,
        dead_letters=dead_letters,
        consumer_offsets=consumer_offsets,
        idempotency_keys=define_idempotency_keys(metadata),
        audit_log=define_audit_log(metadata),
    )
