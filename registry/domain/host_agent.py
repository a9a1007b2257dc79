"""A location agent on one GPU host: its Ed25519 key, its site, and its signed check-ins.

One aggregate per host agent, not per GPU batch: millions of GPUs checking in append one event to
their own host's agent each time (one small stream per host, snapshotted), never to the batch
aggregates their serials belong to. The aggregate keeps only what the next check-in's rules need
(key, revocation, last sequence and time); the serials and location of each check-in are on its
``Attested`` event, with the batch of each serial as the registry knew it then, so the read
models (the per-serial last-seen location, the compliance findings) need nothing else to replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.domain.attestation import Attestation, public_key_from
from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import IllegalTransition, InvalidField


class HostAgent(RegistryAggregate):
    """An agent registered for one site by one partner; revoked agents attest nothing more."""

    class Registered(RegistryAggregate.Created):
        public_key: str  # raw Ed25519 public key, hex
        site_id: UUID
        partner_id: UUID
        name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.public_key = self.public_key
            aggregate.site_id = self.site_id
            aggregate.partner_id = self.partner_id
            aggregate.name = self.name
            aggregate.revoked = False
            aggregate.last_sequence = 0
            aggregate.last_observed_at = None

    class Revoked(RegistryAggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.revoked = True

    class Attested(RegistryAggregate.Event):
        """One check-in, as signed, plus the batch of each serial (``batches``: batch id -> serials)."""

        sequence: int
        observed_at: datetime
        country: str
        site_id: UUID
        latitude: str
        longitude: str
        method: str
        batches: dict[str, list[str]]
        signature: str  # hex; with the agent's key and the canonical encoding anyone can re-verify

        def apply(self, aggregate: Any) -> None:
            aggregate.last_sequence = self.sequence
            aggregate.last_observed_at = self.observed_at

    if TYPE_CHECKING:
        public_key: str
        site_id: UUID
        partner_id: UUID
        name: str
        revoked: bool
        last_sequence: int
        last_observed_at: datetime | None

    @classmethod
    def register(cls, ctx: Context, agent_id: UUID, public_key: bytes, site_id: UUID, partner_id: UUID,
                 name: str = "") -> HostAgent:
        public_key_from("public_key", public_key)
        if "\n" in name or len(name) > 200:
            raise InvalidField.one("name", "at most 200 characters on one line")
        return cls._create(cls.Registered, id=agent_id, public_key=public_key.hex(), site_id=site_id,
                           partner_id=partner_id, name=name.strip(), **ctx.event_kwargs())

    def revoke(self, ctx: Context, reason: str) -> None:
        if self.revoked:
            raise IllegalTransition("revoke host agent", "revoked", [], "the agent is revoked already")
        if not reason.strip():
            raise InvalidField.one("reason", "a revocation needs a reason")
        self.trigger_event(self.Revoked, reason=reason.strip(), **ctx.event_kwargs())

    def attest(self, ctx: Context, attestation: Attestation, signature: bytes, owners: Mapping[str, UUID]) -> None:
        """Accept a signed check-in. ``owners``: the batch of each of its serials the registry
        knows (from the serial index); a serial missing there is refused."""
        if attestation.agent_id != self.id:
            raise InvalidField.one("agent_id", "the attestation names another agent")
        if self.revoked:
            raise IllegalTransition("accept an attestation", "revoked", [],
                                    "a revoked agent attests nothing more; register a new agent")
        attestation.verify(bytes.fromhex(self.public_key), signature)
        if attestation.sequence <= self.last_sequence:
            raise InvalidField.one(
                "sequence", f"must be greater than the agent's last accepted sequence {self.last_sequence} "
                "(replay protection)")
        unknown = [s for s in attestation.serials if s not in owners]
        if unknown:
            raise InvalidField.one("serials", f"not registered in the registry: {unknown[:5]}"
                                   + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
        batches: dict[str, list[str]] = {}
        for serial in attestation.serials:
            batches.setdefault(owners[serial].hex, []).append(serial)
        loc = attestation.location
        self.trigger_event(
            self.Attested, sequence=attestation.sequence, observed_at=attestation.observed_at,
            country=loc.country, site_id=loc.site_id, latitude=loc.latitude, longitude=loc.longitude,
            method=loc.method, batches=batches, signature=signature.hex(), **ctx.event_kwargs())
