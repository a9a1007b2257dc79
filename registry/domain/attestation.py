"""A GPU host's location attestation: what it says, its canonical bytes, and its Ed25519 check.

An agent on each GPU host signs, with its own Ed25519 key, the canonical byte encoding of what
it observed (docs/locations.md): which serials it hosts, where, and when, under a sequence
number that only grows. The encoding is text, one ``name=value`` line each, in a fixed order,
every line ending in ``\\n`` (UTF-8; values never contain a line break)::

    gpureg-location-attestation/v1
    agent_id=<UUID, lower case, hyphenated>
    sequence=<decimal, no leading zeros>
    observed_at=<UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>
    country=<ISO 3166-1 alpha-2, upper case>
    site_id=<UUID, lower case, hyphenated>
    latitude=<as sent, or empty>
    longitude=<as sent, or empty>
    method=<as sent, or empty>
    serials=<count>
    <serial>                       (one line each: normalised, upper case, sorted, no duplicates)

Nothing here reads a clock, a key store or the network: the registry's application passes the
agent's registered key and the serials' owners in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.domain.errors import InvalidField
from registry.domain.reference_codes import country_code

DOMAIN_LINE = "gpureg-location-attestation/v1"
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
MAX_SERIALS = 4096  # per host: far above any server's GPU count
#: How the agent knows where it is: satellite fix, network/latency measurement, the site's
#: declared location, or the operator's manual entry.
METHODS = frozenset({"", "gnss", "network", "latency", "declared", "manual"})
_COORDINATE = re.compile(r"^-?\d{1,3}(\.\d{1,2})?$")  # coarse: at most 2 decimals (~1 km)
_SERIAL = re.compile(r"^[0-9A-Z._/-]{1,64}$")


def public_key_from(field: str, key: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key of 32 raw bytes; InvalidField on ``field`` otherwise."""
    if len(key) != PUBLIC_KEY_BYTES:
        raise InvalidField.one(field, f"must be a raw Ed25519 public key of {PUBLIC_KEY_BYTES} bytes")
    return Ed25519PublicKey.from_public_bytes(key)


def _coordinate(field: str, text: str, limit: int) -> str:
    if text == "":
        return text
    if not _COORDINATE.match(text):
        raise InvalidField.one(field, "a coarse decimal of at most 2 fractional digits, like 37.56, or empty")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits decimals only
        raise InvalidField.one(field, "not a decimal") from None
    if abs(value) > limit:
        raise InvalidField.one(field, f"must lie within -{limit}..{limit}")
    return text


def utc_text(when: datetime) -> str:
    """``observed_at`` as the encoding writes it: UTC, microseconds, a trailing Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ObservedLocation:
    """Where the agent observed itself to be: country and site, optionally coarse coordinates."""

    country: str
    site_id: UUID
    latitude: str = ""
    longitude: str = ""
    method: str = ""

    def __post_init__(self) -> None:
        country_code("country", self.country)
        _coordinate("latitude", self.latitude, 90)
        _coordinate("longitude", self.longitude, 180)
        if (self.latitude == "") != (self.longitude == ""):
            missing = "latitude" if self.latitude == "" else "longitude"
            raise InvalidField.one(missing, "latitude and longitude come together, or neither")
        if self.method not in METHODS:
            raise InvalidField.one("method", f"one of {sorted(METHODS - {''})}, or empty")


@dataclass(frozen=True)
class Attestation:
    """What one check-in states. ``serials`` are normalised, sorted and unique (see :func:`serials_of`)."""

    agent_id: UUID
    sequence: int
    observed_at: datetime
    serials: tuple[str, ...]
    location: ObservedLocation

    def __post_init__(self) -> None:
        if self.sequence < 1:
            raise InvalidField.one("sequence", "must be a positive integer (1 for an agent's first check-in)")
        if self.observed_at.tzinfo is None:
            raise InvalidField.one("observed_at", "must be timezone-aware")
        if list(self.serials) != sorted(set(self.serials)):
            raise InvalidField.one("serials", "must be normalised, sorted and unique (use serials_of)")

    def canonical(self) -> bytes:
        """The bytes the agent signs (module docstring)."""
        loc = self.location
        lines = [
            DOMAIN_LINE,
            f"agent_id={self.agent_id}",
            f"sequence={self.sequence}",
            f"observed_at={utc_text(self.observed_at)}",
            f"country={loc.country}",
            f"site_id={loc.site_id}",
            f"latitude={loc.latitude}",
            f"longitude={loc.longitude}",
            f"method={loc.method}",
            f"serials={len(self.serials)}",
            *self.serials,
        ]
        return "".join(f"{line}\n" for line in lines).encode()

    def verify(self, public_key: bytes, signature: bytes) -> None:
        """InvalidField on ``signature`` unless it is the agent's Ed25519 signature of :meth:`canonical`."""
        if len(signature) != SIGNATURE_BYTES:
            raise InvalidField.one("signature", f"must be an Ed25519 signature of {SIGNATURE_BYTES} bytes")
        try:
            public_key_from("public_key", public_key).verify(signature, self.canonical())
        except InvalidSignature:
            raise InvalidField.one(
                "signature",
                "does not verify: not the agent's Ed25519 signature of this attestation's canonical "
                f"encoding ({DOMAIN_LINE}, docs/locations.md)",
            ) from None


def serials_of(serials: Sequence[str]) -> tuple[str, ...]:
    """The serials as the encoding lists them: stripped, upper case, sorted; a duplicate, an empty
    list or a serial with characters outside ``0-9 A-Z . _ / -`` is refused naming it."""
    if not serials:
        raise InvalidField.one("serials", "an attestation names at least one serial the host holds")
    if len(serials) > MAX_SERIALS:
        raise InvalidField.one("serials", f"at most {MAX_SERIALS} per attestation")
    out: list[str] = []
    for i, raw in enumerate(serials):
        s = raw.strip().upper()
        if not _SERIAL.match(s):
            raise InvalidField.one(f"serials[{i}]", "1 to 64 characters of 0-9 A-Z . _ / -")
        out.append(s)
    unique = sorted(set(out))
    if len(unique) != len(out):
        dupes = sorted({s for s in out if out.count(s) > 1})
        raise InvalidField.one("serials", f"each serial once; repeated: {dupes[:5]}")
    return tuple(unique)
