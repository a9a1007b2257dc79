"""Things unique across the whole registry: request ids (an aggregate) and serials (an index).

A ``RequestRecord``'s id is derived from the request id, so two writers handling the same request
write the same (id, version 1) and the event store lets only one succeed, in the same atomic write
as the command's events. Serials are kept unique by an index written in the same transaction as
``SerialsRegistered`` (see registry/infrastructure/recorders.py); here is how serials compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.domain.base import Context, RegistryAggregate

_REQUEST_NS = uuid5(NAMESPACE_URL, "urn:gpureg:request")


def normalise_serial(serial: str) -> str:
    """Serials compare without surrounding space and case: ' 1652322011234 ' is '1652322011234'."""
    return serial.strip().upper()


def normalise_serials(serials: list[str]) -> list[str]:
    """:func:`normalise_serial` of each serial, in order (one pass, for lists of thousands)."""
    return [s.strip().upper() for s in serials]


class RequestRecord(RegistryAggregate):
    """Remembers that a request_id was handled, and what it answered (AIP-155 idempotency).

    Written in the same atomic save as the command's events, so "acknowledged" and "remembered"
    cannot diverge. ``fingerprint`` is a digest of the command's payload: the same request_id with
    a different payload is refused rather than silently answered with the old result.
    """

    class Handled(RegistryAggregate.Created):
        command: str
        fingerprint: str
        aggregate_id: UUID
        aggregate_version: int
        #: the EPCIS event the command was captured from, as captured ('' otherwise; also for
        #: records stored before the field existed: the class default)
        captured: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.captured = self.captured
            aggregate.command = self.command
            aggregate.fingerprint = self.fingerprint
            aggregate.aggregate_id = self.aggregate_id
            aggregate.aggregate_version = self.aggregate_version

    if TYPE_CHECKING:
        command: str
        fingerprint: str
        aggregate_id: UUID
        aggregate_version: int
        captured: str

    @staticmethod
    def id_for(request_id: str) -> UUID:
        return uuid5(_REQUEST_NS, request_id)

    @classmethod
    def handled(
        cls, ctx: Context, command: str, fingerprint: str, aggregate_id: UUID, aggregate_version: int,
        captured: str = "",
    ) -> RequestRecord:
        return cls._create(
            cls.Handled, id=cls.id_for(ctx.request_id), command=command,
            fingerprint=fingerprint, aggregate_id=aggregate_id,
            aggregate_version=aggregate_version, captured=captured, **ctx.event_kwargs(),
        )
