"""Validated commands of GPU location attestation (docs/locations.md): registering and revoking a
host agent, and one signed check-in."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from registry.application.commands import Command, Name

Coordinate = Annotated[str, StringConstraints(max_length=16)]


class _Binary(Command):
    """A command with raw bytes (a key, a signature): base64 in its fingerprint's JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64")


class RegisterHostAgent(_Binary):
    agent_id: UUID | None = None
    public_key: bytes  # raw Ed25519 public key (32 bytes); the domain checks it
    site_id: UUID
    partner_id: UUID
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class RevokeHostAgent(Command):
    agent_id: UUID
    reason: Name


class SubmitLocationAttestation(_Binary):
    agent_id: UUID
    sequence: Annotated[int, Field(ge=1, le=2**63 - 1)]
    observed_at: AwareDatetime
    serials: list[Annotated[str, StringConstraints(max_length=64)]] = Field(min_length=1, max_length=4096)
    country: Annotated[str, StringConstraints(max_length=2)]
    site_id: UUID
    latitude: Coordinate = ""
    longitude: Coordinate = ""
    method: Annotated[str, StringConstraints(max_length=16)] = ""
    signature: bytes

