"""Defects' errors.

DefectsError
├── NotFound                 no such case (or file) for this seller
├── InvalidTransition        the case's state machine does not allow this step now (409)
├── DeadlinePassed           the step came too late, e.g. an appeal 30 days after the grant (409)
├── AlreadyRecorded          the same claim or feedback was recorded before with other details (409)
└── InvalidInput             a value the domain refuses, naming its field (422)
    └── RejectedEvidence     an evidence file of a type or size we do not keep (415/413/422)
"""

from __future__ import annotations


class DefectsError(Exception):
    """Base of the defects service's domain errors."""


class NotFound(DefectsError):
    pass


class InvalidTransition(DefectsError):
    def __init__(
        self,
        machine: str,
        status: str,
        action: str,
        allowed: tuple[str, ...],
        *,
        why: str | None = None,
    ) -> None:
        can = ", ".join(allowed) if allowed else "nothing (final)"
        super().__init__(
            why or f"A {machine} in status '{status}' cannot '{action}'; from it: {can}."
        )
        self.status = status
        self.action = action


class DeadlinePassed(DefectsError):
    pass


class AlreadyRecorded(DefectsError):
    """A claim (order, kind, filing time) or feedback (order, time received) that is already
    here with other details: not a retry, and not a new one either."""


class InvalidInput(DefectsError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RejectedEvidence(InvalidInput):
    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        super().__init__(field, message)
        self.status = status
