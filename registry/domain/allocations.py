"""Partners' allocations in the deal, as events: who set each one, when, why, from which date.

The 260,000-GPU deal splits GPUs between partners (50,000 / 50,000 / 50,000 / 50,000 / 60,000 as
reported). An allocation is a decision of the programme's operator, so it is an event on a small
aggregate per partner (:class:`PartnerAllocation`, id derived from the partner id), not a row an
operator edits in the read-model database: the read models derive it like everything else, so
deleting them is always safe, and a report as of a past time shows the allocations in force then.

``effective_from`` is the business date from which an allocation applies (it may be before or
after the time it is recorded); ``occurred_at`` is when the decision was taken, ``actor`` who took
it and ``reason`` why (a press release, a ministry letter, a contract amendment).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import IllegalTransition, InvalidField

_ALLOCATION_NS = uuid5(NAMESPACE_URL, "urn:gpureg:partner-allocation")
MAX_REASON = 400


class PartnerAllocation(RegistryAggregate):
    """One partner's allocation in the deal, in GPUs, with its history."""

    class Opened(RegistryAggregate.Created):
        partner_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.partner_id = self.partner_id
            aggregate.gpus = None
            aggregate.effective_from = None
            aggregate.history = []

    class Set(RegistryAggregate.Event):
        partner_id: UUID
        gpus: int
        reason: str
        effective_from: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.gpus = self.gpus
            aggregate.effective_from = self.effective_from
            aggregate.history = [*aggregate.history, {
                "gpus": self.gpus, "reason": self.reason, "effective_from": self.effective_from,
                "actor": self.actor, "occurred_at": self.occurred_at,
            }]

    class Removed(RegistryAggregate.Event):
        partner_id: UUID
        reason: str
        effective_from: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.gpus = None
            aggregate.effective_from = self.effective_from
            aggregate.history = [*aggregate.history, {
                "gpus": None, "reason": self.reason, "effective_from": self.effective_from,
                "actor": self.actor, "occurred_at": self.occurred_at,
            }]

    if TYPE_CHECKING:
        partner_id: UUID
        gpus: int | None
        effective_from: datetime | None
        history: list[dict[str, Any]]

    @staticmethod
    def id_for(partner_id: UUID) -> UUID:
        return uuid5(_ALLOCATION_NS, partner_id.hex)

    @classmethod
    def open(cls, ctx: Context, partner_id: UUID) -> PartnerAllocation:
        return cls._create(cls.Opened, id=cls.id_for(partner_id), partner_id=partner_id, **ctx.event_kwargs())

    @staticmethod
    def _check(reason: str, effective_from: datetime) -> str:
        if not reason.strip():
            raise InvalidField.one("reason", "an allocation states why (a press release, a letter, a contract)")
        if len(reason) > MAX_REASON:
            raise InvalidField.one("reason", f"at most {MAX_REASON} characters")
        if effective_from.tzinfo is None:
            raise InvalidField.one("effective_from", "must be timezone-aware")
        return reason.strip()

    def set(self, ctx: Context, gpus: int, reason: str, effective_from: datetime | None = None) -> None:
        """Set (or replace) the allocation from ``effective_from`` (default: the decision's time)."""
        if gpus < 0:
            raise InvalidField.one("gpus", "must be >= 0")
        when = effective_from or ctx.occurred_at
        why = self._check(reason, when)
        self.trigger_event(self.Set, partner_id=self.partner_id, gpus=gpus, reason=why, effective_from=when,
                           **ctx.event_kwargs())

    def remove(self, ctx: Context, reason: str, effective_from: datetime | None = None) -> None:
        if self.gpus is None:
            raise IllegalTransition("remove_allocation", "no allocation", ["set_allocation"],
                                    "the partner has no allocation to remove")
        when = effective_from or ctx.occurred_at
        why = self._check(reason, when)
        self.trigger_event(self.Removed, partner_id=self.partner_id, reason=why, effective_from=when,
                           **ctx.event_kwargs())
