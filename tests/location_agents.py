"""A host agent for tests: a real Ed25519 key that signs check-ins as docs/locations.md says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.domain.attestation import Attestation, ObservedLocation, serials_of


@dataclass
class Agent:
    """A host agent's key; ``check_in`` gives the fields of a signed SubmitLocationAttestation."""

    agent_id: UUID
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def check_in(self, sequence: int, observed_at: datetime, serials: list[str], country: str, site_id: UUID,
                 latitude: str = "", longitude: str = "", method: str = "") -> dict[str, Any]:
        statement = Attestation(self.agent_id, sequence, observed_at, serials_of(serials),
                                ObservedLocation(country, site_id, latitude, longitude, method))
        return dict(agent_id=self.agent_id, sequence=sequence, observed_at=observed_at, serials=serials,
                    country=country, site_id=site_id, latitude=latitude, longitude=longitude, method=method,
                    signature=self.key.sign(statement.canonical()))
