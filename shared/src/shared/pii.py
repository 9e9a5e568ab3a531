"""Buyer PII sealing for events and stores.

``ORDERFLOW_PII_KEY`` holds one or more Fernet keys separated by commas; the first seals, all
open (so keys can be rotated). Only services that are given the key can read buyer name,
e-mail, phone or street address.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.events.common import EncryptedPII


class PIIKeyMissing(RuntimeError):
    """The service needs the PII key but none is configured."""


class PIICipher:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise PIIKeyMissing("ORDERFLOW_PII_KEY is not set")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        self.key_id = hashlib.sha256(parts[0].encode()).hexdigest()[:12]

    def seal(self, value: dict[str, Any]) -> EncryptedPII:
        token = self._fernet.encrypt(orjson.dumps(value))
        return EncryptedPII(key_id=self.key_id, ciphertext=token.decode())

    def open(self, sealed: EncryptedPII) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = orjson.loads(self._fernet.decrypt(sealed.ciphertext.encode()))
        except InvalidToken as exc:
            raise PIIKeyMissing("PII was sealed with a key this service does not hold") from exc
        return opened

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()
