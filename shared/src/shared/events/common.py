"""Value objects several topics share.

Event fields use the input policy's types (``shared.inputs``): a consumer reads events from
outside its own process, and an event that breaks the policy is dead-lettered when decoded,
never half-applied (a value its columns cannot hold).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from shared import inputs

# Decimal travels as a JSON string: never a float on the wire.
DecimalStr = Annotated[
    Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")
]
# Money in events: decimal strings within the money columns' NUMERIC precision.
AmountStr = Annotated[
    inputs.EventAmount, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")
]
Id = inputs.Identifier
Label = inputs.Code


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: AmountStr
    currency_code: inputs.CurrencyCode


class EncryptedPII(BaseModel):
    """Buyer PII sealed with the platform's PII key; only key holders can open it."""

    model_config = ConfigDict(frozen=True)

    key_id: str = Field(pattern=r"^[A-Za-z0-9._:-]*$", max_length=64)  # "": any key held
    ciphertext: str = Field(pattern=r"^[A-Za-z0-9._=-]*$", max_length=500_000)
