"""Value objects several topics share."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Decimal travels as a JSON string: never a float on the wire.
DecimalStr = Annotated[
    Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")
]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: DecimalStr
    currency_code: str = Field(min_length=3, max_length=3)


class EncryptedPII(BaseModel):
    """Buyer PII sealed with the platform's PII key; only key holders can open it."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    ciphertext: str
