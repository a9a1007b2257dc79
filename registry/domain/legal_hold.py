"""A legal hold on a batch's export records (15 CFR 762.6: nothing is destroyed once an agency has
asked for it).

A hold is its own small aggregate, not an event of the batch: it is the compliance officer's fact
about the records, not about the units, and it is confidential to the exporter (an agency's request
need not be shown to the partner holding the batch, whose event stream carries its batch's events
only). One hold names one batch, the agency that asked, the agency's reference and why; it is placed
once and released once (who and when are the events' actor and business time). While any hold of a
batch is in place, the batch's records are never eligible for destruction, whatever their
retention date says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import IllegalTransition, InvalidField

MAX_TEXT = 2000


class LegalHold(RegistryAggregate):
    """An agency's hold on one batch's export records: placed, then (perhaps) released."""

    class Placed(RegistryAggregate.Created):
        batch_id: UUID
        agency: str
        reference: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.batch_id = self.batch_id
            aggregate.agency = self.agency
            aggregate.reference = self.reference
            aggregate.reason = self.reason
            aggregate.placed_at = self.occurred_at
            aggregate.released = False

    class Released(RegistryAggregate.Event):
        batch_id: UUID
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.released = True

    if TYPE_CHECKING:
        batch_id: UUID
        agency: str
        reference: str
        reason: str
        placed_at: Any
        released: bool

    @classmethod
    def place(
        cls, ctx: Context, hold_id: UUID, batch_id: UUID, agency: str, reference: str, reason: str
    ) -> LegalHold:
        """Place a hold: ``agency`` (who asked), ``reference`` (the agency's case or request
        number) and ``reason`` are required; who and when are the context's actor and time."""
        return cls._create(
            cls.Placed, id=hold_id, batch_id=batch_id, agency=_text("agency", agency, 400),
            reference=_text("reference", reference, 400), reason=_text("reason", reason, MAX_TEXT),
            **ctx.event_kwargs(),
        )

    def release(self, ctx: Context, reason: str) -> None:
        """Release the hold (the agency withdrew its request or the matter closed), saying why.
        A hold is released once; its release is not before its placement."""
        if self.released:
            raise IllegalTransition("release_legal_hold", "legal hold released", [],
                                    "the legal hold is already released")
        if ctx.occurred_at < self.placed_at:
            raise InvalidField.one(
                "occurred_at",
                f"a hold is released after it was placed ({self.placed_at.isoformat()}), "
                f"not at {ctx.occurred_at.isoformat()}",
            )
        self.trigger_event(self.Released, batch_id=self.batch_id, reason=_text("reason", reason, MAX_TEXT),
                           **ctx.event_kwargs())


def _text(field: str, value: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise InvalidField.one(field, "must not be empty (a legal hold names the agency, its reference and why)")
    if len(text) > limit:
        raise InvalidField.one(field, f"at most {limit} characters")
    return text
