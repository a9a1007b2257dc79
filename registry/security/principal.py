"""The authenticated caller of an RPC: a subject, one role, and for partners and site operators
the party they act for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Role(StrEnum):
    """The roles of the matrix in :mod:`registry.security.policy` (docs/security.md)."""

    ADMIN = "admin"
    COMPLIANCE_OFFICER = "compliance_officer"  # the exporter's export-compliance officer
    LOGISTICS = "logistics"
    PARTNER = "partner"
    SITE_OPERATOR = "site_operator"
    AUDITOR = "auditor"
    REGULATOR = "regulator"


#: Roles whose credentials must name the party they act for.
PARTY_ROLES = frozenset({Role.PARTNER, Role.SITE_OPERATOR})

MAX_SUBJECT_LENGTH = 128


class CredentialError(ValueError):
    """A credential that names no valid principal (the message says what is wrong, never the
    credential itself)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``subject`` is the id recorded as the actor of every event it causes;
    ``via`` says how it was authenticated (``mtls``, ``token`` or ``development``)."""

    subject: str
    role: Role
    party_id: UUID | None = None
    via: str = "token"
    token_id: str | None = None  # a token's jti (for the denial log: never the token itself)

    @classmethod
    def of(cls, subject: str, role: str, party: str | None, via: str, token_id: str | None = None) -> Principal:
        """Validate the parts of a credential; CredentialError names the part that is wrong."""
        subject = subject.strip()
        if not subject or len(subject) > MAX_SUBJECT_LENGTH or not subject.isprintable():
            raise CredentialError(f"subject must be 1 to {MAX_SUBJECT_LENGTH} printable characters")
        try:
            parsed_role = Role(role)
        except ValueError:
            raise CredentialError(f"role must be one of {[r.value for r in Role]}, not {role[:40]!r}") from None
        party_id: UUID | None = None
        if party:
            try:
                party_id = UUID(party)
            except ValueError:
                raise CredentialError("party must be a party id (a UUID)") from None
        if parsed_role in PARTY_ROLES and party_id is None:
            raise CredentialError(f"a {parsed_role.value} credential must name its party id")
        return cls(subject=subject, role=parsed_role, party_id=party_id, via=via, token_id=token_id)

    @property
    def actor(self) -> str:
        """What events record as their actor."""
        return self.subject

    def describe(self) -> str:
        """For logs: subject, role, party, how authenticated (never a secret)."""
        party = f" party={self.party_id}" if self.party_id else ""
        return f"{self.subject} role={self.role.value}{party} via={self.via}"
