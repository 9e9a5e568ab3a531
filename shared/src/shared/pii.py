"""Buyer PII sealing for events and stores.

``ORDERFLOW_PII_KEY`` holds one or more Fernet keys separated by commas; the first seals, all
open (so keys can be rotated). Only services that are given the key can read buyer name,
e-mail, phone or street address.

Sealing is AES-256-GCM (``cryptography``'s AEAD), with a key derived from each configured key by
HKDF-SHA256 and a random 96-bit nonce per value; the ciphertext reads ``v2.<urlsafe base64 of
nonce, ciphertext and tag>`` (see docs/adr/0017-pii-aes-gcm.md). Values sealed with Fernet
(``gAAAAA...`` tokens, in stores and on Kafka until retention) still open. Random nonces are
safe for far more than 2^32 values under one key at this rate; rotate the key long before
(rotation is how keys are replaced anyway).

Whole inputs that hold PII among other things (a flat file kept until its job has run) are
sealed as bytes (``seal_bytes``): ``v2b.`` + the key id + ``.`` + nonce + ciphertext and tag,
under the same keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.events.common import EncryptedPII

SEALED_V2 = "v2."
SEALED_BYTES = b"v2b."
_NONCE_BYTES = 12
_HKDF_INFO = b"orderflow buyer pii aes-256-gcm v2"


class PIIKeyMissing(RuntimeError):
    """The service needs the PII key but none is configured."""


def _aead(key: str) -> AESGCM:
    """The AES-256-GCM key derived from one configured (Fernet) key."""
    material = base64.urlsafe_b64decode(key.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        material
    )
    return AESGCM(derived)


def _key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class PIICipher:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise PIIKeyMissing("ORDERFLOW_PII_KEY is not set")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])  # opens old values
        self._keys = {_key_id(k): _aead(k) for k in reversed(parts)}  # the first key wins
        self.key_id = _key_id(parts[0])
        self._sealing = self._keys[self.key_id]

    def seal(self, value: dict[str, Any]) -> EncryptedPII:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._sealing.encrypt(nonce, orjson.dumps(value), None)
        token = base64.urlsafe_b64encode(nonce + sealed).decode()
        return EncryptedPII(key_id=self.key_id, ciphertext=SEALED_V2 + token)

    def seal_bytes(self, data: bytes) -> bytes:
        """``data`` sealed as it is (no JSON): for whole inputs kept at rest, e.g. a file."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._sealing.encrypt(nonce, data, None)
        return SEALED_BYTES + self.key_id.encode() + b"." + nonce + sealed

    def open_bytes(self, sealed: bytes) -> bytes:
        if not is_sealed_bytes(sealed):
            raise PIIKeyMissing("not bytes sealed by seal_bytes")
        key_id, _, rest = sealed[len(SEALED_BYTES) :].partition(b".")
        named = self._keys.get(key_id.decode(errors="replace"))
        for aead in ([named] if named else []) + [k for k in self._keys.values() if k is not named]:
            try:
                return aead.decrypt(rest[:_NONCE_BYTES], rest[_NONCE_BYTES:], None)
            except (InvalidTag, ValueError):
                continue
        raise PIIKeyMissing("PII was sealed with a key this service does not hold")

    def open(self, sealed: EncryptedPII) -> dict[str, Any]:
        if sealed.ciphertext.startswith(SEALED_V2):
            plain = self._open_v2(sealed)
        else:
            try:
                plain = self._fernet.decrypt(sealed.ciphertext.encode())
            except InvalidToken as exc:
                raise PIIKeyMissing("PII was sealed with a key this service does not hold") from exc
        opened: dict[str, Any] = orjson.loads(plain)
        return opened

    def _open_v2(self, sealed: EncryptedPII) -> bytes:
        """With the key ``key_id`` names first, then any other held (a value stored without
        its key id, such as quarantined input, still opens)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.ciphertext[len(SEALED_V2) :].encode())
        except (binascii.Error, ValueError) as exc:
            raise PIIKeyMissing("sealed PII is not base64") from exc
        named = self._keys.get(sealed.key_id)
        for aead in ([named] if named else []) + [k for k in self._keys.values() if k is not named]:
            try:
                return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
            except (InvalidTag, ValueError):
                continue
        raise PIIKeyMissing("PII was sealed with a key this service does not hold")

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()


def is_sealed_bytes(data: bytes) -> bool:
    return data.startswith(SEALED_BYTES)
