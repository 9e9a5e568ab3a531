"""Buyer PII: opened only to hash the buyer's e-mail (for search) and for packing slips.

The e-mail is never stored in clear: ``email_hash`` is an HMAC-SHA256, keyed with a key
derived from the PII key, of the trimmed, lower-cased address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from shared.events.common import EncryptedPII
from shared.pii import PIICipher, PIIKeyMissing

log = logging.getLogger(__name__)


class BuyerPII:
    def __init__(self, pii_key: str) -> None:
        self._cipher = PIICipher(pii_key)
        first = pii_key.split(",")[0].strip().encode()
        self._hash_key = hashlib.sha256(b"orderflow-fulfillment-buyer-email:" + first).digest()

    def open(self, sealed: dict[str, Any] | None) -> dict[str, Any]:
        """The buyer's PII in clear (packing slips only); {} when there is none."""
        if not sealed:
            return {}
        return self._cipher.open(EncryptedPII.model_validate(sealed))

    def email_hash(self, email: str | None) -> str | None:
        normalised = (email or "").strip().lower()
        if not normalised:
            return None
        return hmac.digest(self._hash_key, normalised.encode(), "sha256").hex()

    def email_hash_of(self, sealed: EncryptedPII | None) -> str | None:
        if sealed is None:
            return None
        try:
            opened = self._cipher.open(sealed)
        except PIIKeyMissing:
            log.warning("buyer PII sealed with an unknown key; e-mail not searchable")
            return None
        email = opened.get("buyer_email")
        return self.email_hash(email if isinstance(email, str) else None)
