"""Consumer offsets stored with the data, in the transaction of the effects
(docs/adr/0057-offsets-stored-with-the-data.md)
"""

from shared.messaging.migrations import create_consumer_offsets as upgrade
from shared.messaging.migrations import drop_consumer_offsets as downgrade

revision = "0009"
down_revision = "0008"

__all__ = ["downgrade", "upgrade"]
