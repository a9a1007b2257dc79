"""A compliance officer's review of one finding of the compliance projection.

Findings are derived: the compliance projection raises them from the log, with ids derived from
the rule and the subject (so a rebuild gives the same ids). What an officer decides about a finding
is a fact of its own, and is recorded here, as events of a small aggregate whose id derives from
the finding id; the projection reads these events to update the finding's status and its trail.

A finding goes open -> acknowledged -> resolved (or straight from open to resolved). Resolved is
final: new evidence about the same subject after a resolution opens a new finding (a new episode,
with its own id) rather than reopening this one. Every decision carries a note, and its actor is
the officer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import IllegalTransition, InvalidField

_REVIEW_NS = uuid5(NAMESPACE_URL, "urn:gpureg:finding-review")
MAX_NOTE = 2000


class FindingStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class FindingReview(RegistryAggregate):
    """The officer's decisions on one finding (``finding_id``): acknowledgements and resolution."""

    class Opened(RegistryAggregate.Created):
        finding_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.finding_id = self.finding_id
            aggregate.status = FindingStatus.OPEN.value
            aggregate.trail = []

    class Acknowledged(RegistryAggregate.Event):
        """The officer has seen the finding and is looking into it."""

        finding_id: UUID
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = FindingStatus.ACKNOWLEDGED.value
            aggregate.trail = [*aggregate.trail, _entry("acknowledged", self)]

    class Resolved(RegistryAggregate.Event):
        """The officer closed the finding, saying why in the note."""

        finding_id: UUID
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = FindingStatus.RESOLVED.value
            aggregate.trail = [*aggregate.trail, _entry("resolved", self)]

    if TYPE_CHECKING:
        finding_id: UUID
        status: str
        trail: list[dict[str, Any]]

    @staticmethod
    def id_for(finding_id: UUID) -> UUID:
        return uuid5(_REVIEW_NS, finding_id.hex)

    @classmethod
    def open(cls, ctx: Context, finding_id: UUID) -> FindingReview:
        return cls._create(cls.Opened, id=cls.id_for(finding_id), finding_id=finding_id, **ctx.event_kwargs())

    def acknowledge(self, ctx: Context, note: str) -> None:
        if self.status != FindingStatus.OPEN:
            raise self._refuse("acknowledge_finding", "only an open finding can be acknowledged")
        self.trigger_event(
            self.Acknowledged, finding_id=self.finding_id, note=_note(note), **ctx.event_kwargs()
        )

    def resolve(self, ctx: Context, note: str) -> None:
        if self.status == FindingStatus.RESOLVED:
            raise self._refuse("resolve_finding", "the finding is already resolved")
        self.trigger_event(self.Resolved, finding_id=self.finding_id, note=_note(note), **ctx.event_kwargs())

    def _refuse(self, action: str, reason: str) -> IllegalTransition:
        allowed = {
            FindingStatus.OPEN: ["acknowledge_finding", "resolve_finding"],
            FindingStatus.ACKNOWLEDGED: ["resolve_finding"],
            FindingStatus.RESOLVED: [],
        }[FindingStatus(self.status)]
        return IllegalTransition(action, f"finding {self.status}", allowed, reason)


def _note(note: str) -> str:
    text = note.strip()
    if not text:
        raise InvalidField.one("note", "say what was checked or decided")
    if len(text) > MAX_NOTE:
        raise InvalidField.one("note", f"at most {MAX_NOTE} characters")
    return text


def _entry(action: str, event: Any) -> dict[str, Any]:
    return {"action": action, "note": event.note, "by": event.actor, "at": event.occurred_at}
