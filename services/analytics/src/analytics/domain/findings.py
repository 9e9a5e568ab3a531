"""One finding of the trace: a code, a sentence for the seller (with the fix), its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    details: dict[str, object] = field(default_factory=dict)
