"""A host agent's signed location check-ins on their own: the canonical bytes, the signature,
the sequence and the serials rules; no infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.domain.attestation import Attestation, ObservedLocation, serials_of
from registry.domain.base import Context
from registry.domain.errors import IllegalTransition, InvalidField
from registry.domain.host_agent import HostAgent

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CTX = Context(actor="agent-host-17", request_id="", occurred_at=T0)
SITE, PARTNER, BATCH = uuid4(), uuid4(), uuid4()
AGENT = UUID("0b7c4ad6-3b7e-4f55-9a38-6c1c6c0a9e11")


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def attestation(sequence: int = 1, serials: tuple[str, ...] = ("1652-A", "1652-B"), country: str = "KR",
                site: UUID = SITE) -> Attestation:
    return Attestation(AGENT, sequence, T0 + timedelta(minutes=sequence), serials,
                       ObservedLocation(country, site, "37.00", "127.10", "network"))


def agent(key: Ed25519PrivateKey) -> HostAgent:
    return HostAgent.register(CTX, AGENT, raw(key), SITE, PARTNER, "rack 7 host 3")


OWNERS = {"1652-A": BATCH, "1652-B": BATCH}


def test_the_canonical_encoding_is_the_documented_lines_in_order() -> None:
    a = Attestation(AGENT, 7, datetime(2026, 12, 1, 9, 30, 0, 120, tzinfo=UTC), serials_of([" 1652-b", "1652-A"]),
                    ObservedLocation("KR", UUID("11111111-2222-3333-4444-555555555555")))
    assert a.canonical() == (
        b"gpureg-location-attestation/v1\n"
        b"agent_id=0b7c4ad6-3b7e-4f55-9a38-6c1c6c0a9e11\n"
        b"sequence=7\n"
        b"observed_at=2026-12-01T09:30:00.000120Z\n"
        b"country=KR\n"
        b"site_id=11111111-2222-3333-4444-555555555555\n"
        b"latitude=\nlongitude=\nmethod=\n"
        b"serials=2\n1652-A\n1652-B\n"
    )


def test_a_check_in_signed_by_the_agents_key_is_recorded_with_each_serials_batch() -> None:
    key = Ed25519PrivateKey.generate()
    host = agent(key)
    a = attestation()
    host.attest(CTX, a, key.sign(a.canonical()), OWNERS)
    event = host.collect_events()[-1]
    assert isinstance(event, HostAgent.Attested)
    assert (event.sequence, event.country, event.site_id) == (1, "KR", SITE)
    assert event.batches == {BATCH.hex: ["1652-A", "1652-B"]}
    assert host.last_sequence == 1


def test_a_tampered_attestation_is_refused_naming_the_signature_rule() -> None:
    key = Ed25519PrivateKey.generate()
    host = agent(key)
    signed = key.sign(attestation(country="KR").canonical())
    with pytest.raises(InvalidField) as refused:
        host.attest(CTX, attestation(country="CN"), signed, OWNERS)
    assert refused.value.violations[0][0] == "signature"
    assert "does not verify" in str(refused.value)
    assert host.last_sequence == 0


def test_a_signature_by_another_key_is_refused() -> None:
    host = agent(Ed25519PrivateKey.generate())
    a = attestation()
    with pytest.raises(InvalidField, match="signature: does not verify"):
        host.attest(CTX, a, Ed25519PrivateKey.generate().sign(a.canonical()), OWNERS)


def test_a_replayed_or_older_sequence_is_refused_naming_the_last_accepted_one() -> None:
    key = Ed25519PrivateKey.generate()
    host = agent(key)
    second = attestation(sequence=2)
    host.attest(CTX, second, key.sign(second.canonical()), OWNERS)
    for sequence in (2, 1):
        again = attestation(sequence=sequence)
        with pytest.raises(InvalidField, match="sequence: must be greater than the agent's last accepted sequence 2"):
            host.attest(CTX, again, key.sign(again.canonical()), OWNERS)
    assert len(host.collect_events()) == 2  # registered, the one check-in


def test_a_serial_the_registry_does_not_know_is_refused_by_name() -> None:
    key = Ed25519PrivateKey.generate()
    host = agent(key)
    a = attestation(serials=("1652-A", "9999-X"))
    with pytest.raises(InvalidField, match=r"serials: not registered in the registry: \['9999-X'\]"):
        host.attest(CTX, a, key.sign(a.canonical()), OWNERS)


def test_a_revoked_agent_attests_nothing_more() -> None:
    key = Ed25519PrivateKey.generate()
    host = agent(key)
    host.revoke(CTX, "host decommissioned")
    a = attestation()
    with pytest.raises(IllegalTransition, match="revoked"):
        host.attest(CTX, a, key.sign(a.canonical()), OWNERS)
    with pytest.raises(IllegalTransition):
        host.revoke(CTX, "again")


def test_registration_needs_a_raw_32_byte_ed25519_key() -> None:
    with pytest.raises(InvalidField, match="public_key: must be a raw Ed25519 public key of 32 bytes"):
        HostAgent.register(CTX, uuid4(), b"\x01" * 31, SITE, PARTNER)


@pytest.mark.parametrize(("field", "build"), [
    ("country", lambda: ObservedLocation("kr", SITE)),
    ("latitude", lambda: ObservedLocation("KR", SITE, "37.12345", "127.1")),
    ("latitude", lambda: ObservedLocation("KR", SITE, "95", "127.1")),
    ("longitude", lambda: ObservedLocation("KR", SITE, "37.1", "")),
    ("method", lambda: ObservedLocation("KR", SITE, method="guess")),
    ("serials", lambda: serials_of([])),
    ("serials", lambda: serials_of(["A1", "a1 "])),
    ("serials[1]", lambda: serials_of(["A1", "bad serial"])),
    ("sequence", lambda: attestation(sequence=0)),
])
def test_malformed_attestation_fields_are_refused_naming_the_field(field: str, build: object) -> None:
    with pytest.raises(InvalidField) as refused:
        build()  # type: ignore[operator]
    assert refused.value.violations[0][0] == field


def test_replay_of_the_events_rebuilds_the_same_state_without_checking_again() -> None:
    key = Ed25519PrivateKey.generate()
    host = agent(key)
    for sequence in (1, 5):
        a = attestation(sequence=sequence)
        host.attest(CTX, a, key.sign(a.canonical()), OWNERS)
    events = host.collect_events()
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert isinstance(replayed, HostAgent)
    assert (replayed.last_sequence, replayed.revoked, replayed.site_id) == (5, False, SITE)
