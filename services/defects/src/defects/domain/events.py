"""What happened to a case here; each is published on defects.v1 with the case's version.

An event holds the case as it was when the event happened (a copy) and what the service knew
of its order then: the ODR verdict it carries is computed from both
(``defects.adapters.outbox``). Amazon's information request and the start of a review have no
event of their own: the next event carries the version that counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

from defects.domain.model import Claim, Feedback, OrderFacts


@dataclass(frozen=True, kw_only=True)
class ClaimEvent:
    claim: Claim
    facts: OrderFacts

    @classmethod
    def of(cls, claim: Claim, facts: OrderFacts) -> Self:
        return cls(claim=replace(claim), facts=facts)


class ClaimFiled(ClaimEvent):
    pass


class ClaimResponded(ClaimEvent):
    pass


class ClaimDecided(ClaimEvent):
    pass


class ClaimAppealed(ClaimEvent):
    pass


class ClaimAppealDecided(ClaimEvent):
    pass


class ClaimOverdue(ClaimEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class FeedbackEvent:
    feedback: Feedback
    facts: OrderFacts

    @classmethod
    def of(cls, feedback: Feedback, facts: OrderFacts) -> Self:
        return cls(feedback=replace(feedback), facts=facts)


class FeedbackReceived(FeedbackEvent):
    pass


class FeedbackRemoved(FeedbackEvent):
    pass


Event = ClaimEvent | FeedbackEvent
