"""Small aggregates whose only job is to make something unique across the whole registry.

Their ids are derived from the thing they make unique, so two writers who try to claim the same
thing write the same (id, version 1) and the event store lets only one of them succeed, in the
same atomic write as the batch event that needs the claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.domain.base import Context, RegistryAggregate

_SERIAL_NS = uuid5(NAMESPACE_URL, "urn:gpureg:serial")
_REQUEST_NS = uuid5(NAMESPACE_URL, "urn:gpureg:request")


def normalise_serial(serial: str) -> str:
    """Serials compare without surrounding space and case: ' 1652322011234 ' is '1652322011234'."""
    return serial.strip().upper()


class SerialClaim(RegistryAggregate):
    """Says which batch a GPU serial belongs to. One per serial in the whole registry."""

    class Claimed(RegistryAggregate.Created):
        serial: str
        batch_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.serial = self.serial
            aggregate.batch_id = self.batch_id

    class Moved(RegistryAggregate.Event):
        """The serial moved to another batch (a split)."""

        batch_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.batch_id = self.batch_id

    if TYPE_CHECKING:
        serial: str
        batch_id: UUID

    @staticmethod
    def id_for(serial: str) -> UUID:
        return uuid5(_SERIAL_NS, normalise_serial(serial))

    @classmethod
    def claim(cls, ctx: Context, serial: str, batch_id: UUID) -> SerialClaim:
        return cls._create(
            cls.Claimed, id=cls.id_for(serial), serial=normalise_serial(serial),
            batch_id=batch_id, **ctx.event_kwargs(),
        )

    def move_to(self, ctx: Context, batch_id: UUID) -> None:
        self.trigger_event(self.Moved, batch_id=batch_id, **ctx.event_kwargs())


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

        def apply(self, aggregate: Any) -> None:
            aggregate.command = self.command
            aggregate.fingerprint = self.fingerprint
            aggregate.aggregate_id = self.aggregate_id
            aggregate.aggregate_version = self.aggregate_version

    if TYPE_CHECKING:
        command: str
        fingerprint: str
        aggregate_id: UUID
        aggregate_version: int

    @staticmethod
    def id_for(request_id: str) -> UUID:
        return uuid5(_REQUEST_NS, request_id)

    @classmethod
    def handled(
        cls, ctx: Context, command: str, fingerprint: str, aggregate_id: UUID, aggregate_version: int
    ) -> RequestRecord:
        return cls._create(
            cls.Handled, id=cls.id_for(ctx.request_id), command=command,
            fingerprint=fingerprint, aggregate_id=aggregate_id,
            aggregate_version=aggregate_version, **ctx.event_kwargs(),
        )
