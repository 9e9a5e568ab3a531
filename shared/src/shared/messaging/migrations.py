"""Alembic steps for the outbox, inbox and dead-letter tables (``shared.messaging.tables``).

Every service's migration history calls these steps, in this order, so the plumbing tables are
the same in every database and a change to them is written once, here, as a new pair of steps
that every history calls in a new revision. A step is never edited once a revision calls it:
databases already migrated ran it as it was (so the steps spell out their DDL rather than
reading ``shared.messaging.tables``, which describes the tables as they are now).

1. ``create_plumbing_tables``: the tables as first created.
2. ``store_outbox_payload_out_of_line``: docs/adr/0013-outbox-payload-out-of-line.md.
3. ``create_plumbing_brin_indexes``: docs/adr/0014-brin-for-age-based-deletes.md.
4. ``drop_unread_plumbing_indexes``: docs/adr/0015-no-unread-plumbing-indexes.md.
5. ``create_outbox_notify_trigger``: docs/adr/0005-outbox-notify-trigger.md.
6. ``create_consumer_offsets``: docs/adr/0057-offsets-stored-with-the-data.md.

Each has its reverse for the revision's ``downgrade()``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_plumbing_tables() -> None:
    _create_dead_letters()
    _create_inbox()
    _create_outbox()


def drop_plumbing_tables() -> None:
    op.drop_index(
        "ix_outbox_unsent", table_name="outbox", postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_index("ix_outbox_key", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_inbox_subject", table_name="inbox")
    op.drop_table("inbox")
    op.drop_index("ix_dead_letters_subject", table_name="dead_letters")
    op.drop_index("ix_dead_letters_status", table_name="dead_letters")
    op.drop_table("dead_letters")


def _create_dead_letters() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("error_type", sa.Text(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), server_default="dead", nullable=False),
        sa.Column("replay_count", sa.Integer(), server_default="0", nullable=False),
        _now("failed_at"),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dead_letters_status", "dead_letters", ["status", "id"], unique=False)
    op.create_index("ix_dead_letters_subject", "dead_letters", ["subject"], unique=False)


def _create_inbox() -> None:
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("aggregate_version", sa.BigInteger(), nullable=True),
        sa.Column("kafka_partition", sa.Integer(), nullable=True),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
        _now("applied_at"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_inbox_subject", "inbox", ["subject"], unique=False)


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("aggregate_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        _now("created_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kafka_partition", sa.Integer(), nullable=True),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_outbox_key", "outbox", ["message_key"], unique=False)
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def store_outbox_payload_out_of_line() -> None:
    """The relay's sent mark writes a new row version; with ``toast_tuple_target = 256`` the
    payload lives in the TOAST table and the new version only points at it."""
    op.execute("ALTER TABLE outbox SET (toast_tuple_target = 256)")


def store_outbox_payload_inline() -> None:
    op.execute("ALTER TABLE outbox RESET (toast_tuple_target)")


def create_plumbing_brin_indexes() -> None:
    """Housekeeping finds outbox and inbox rows past retention by age through these."""
    op.create_index("ix_outbox_created_brin", "outbox", ["created_at"], postgresql_using="brin")
    op.create_index("ix_inbox_applied_brin", "inbox", ["applied_at"], postgresql_using="brin")


def drop_plumbing_brin_indexes() -> None:
    op.drop_index("ix_inbox_applied_brin", table_name="inbox")
    op.drop_index("ix_outbox_created_brin", table_name="outbox")


def drop_unread_plumbing_indexes() -> None:
    """Nothing looks the inbox up by subject or the outbox up by event id; each index cost a
    write per event."""
    op.drop_index("ix_inbox_subject", table_name="inbox")
    op.drop_constraint("outbox_event_id_key", "outbox", type_="unique")


def restore_unread_plumbing_indexes() -> None:
    op.create_unique_constraint("outbox_event_id_key", "outbox", ["event_id"])
    op.create_index("ix_inbox_subject", "inbox", ["subject"], unique=False)


def create_outbox_notify_trigger() -> None:
    """A statement-level trigger notifies the relay once per writing transaction, on commit."""
    op.execute(
        "CREATE OR REPLACE FUNCTION orderflow_outbox_notify() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('orderflow_outbox', ''); "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION orderflow_outbox_notify()"
    )


def drop_outbox_notify_trigger() -> None:
    op.execute("DROP TRIGGER outbox_notify ON outbox")
    op.execute("DROP FUNCTION orderflow_outbox_notify()")


def create_consumer_offsets() -> None:
    """Each partition's next offset to apply, written in the transaction of the effects."""
    op.create_table(
        "consumer_offsets",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("topic", "kafka_partition"),
    )


def drop_consumer_offsets() -> None:
    op.drop_table("consumer_offsets")
