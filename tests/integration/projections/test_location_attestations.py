"""Signed location check-ins of host agents through the registry and the compliance read model,
on SQLite and PostgreSQL: what is recorded, what is refused (writing nothing), and the findings
when units are attested outside their licensed location."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from projections.compliance_queries import FindingFilter
from registry.application import commands as c
from registry.application import location_commands as lc
from registry.domain.errors import IllegalTransition, InvalidField, NotFound
from registry.domain.host_agent import HostAgent
from tests.builders import ACTOR, T0, World
from tests.integration.projections.conftest import ReadSide
from tests.location_agents import Agent

LOCATION_RULES = ("unit-outside-licensed-location", "unit-location-mismatch")


def _installed(w: World, quantity: int = 8) -> tuple[UUID, list[str]]:
    batch = w.order(quantity, buyer_id=w.samsung)
    w.clear(batch, quantity)
    serials = w.serials(batch, quantity, prefix=f"L{batch.hex[:4].upper()}")
    w.ship(batch, serials=serials)
    w.do("receive", c.Receive, batch_id=batch, shipment_id="SHP-1", receiving_party_id=w.samsung,
         site_id=w.site, serials=serials, occurred_at=T0 + timedelta(days=6))
    w.do("install", c.Install, batch_id=batch, site_id=w.site, rack="R1", host="gpu-1", serials=serials,
         occurred_at=T0 + timedelta(days=7))
    return batch, serials


def _register(side: ReadSide) -> Agent:
    agent = Agent(uuid4())
    side.registry.register_host_agent(ACTOR, c.parse(lc.RegisterHostAgent, dict(
        agent_id=agent.agent_id, public_key=agent.public_key, site_id=side.world.site,
        partner_id=side.world.samsung, name="gpu-1", occurred_at=T0)))
    return agent


def _submit(side: ReadSide, fields: dict[str, object]) -> int:
    return side.registry.submit_location_attestation(
        "agent:gpu-1", c.parse(lc.SubmitLocationAttestation, fields)).position


def test_a_check_in_at_the_licensed_site_records_each_serials_last_location_and_raises_nothing(
    read_side: ReadSide,
) -> None:
    batch, serials = _installed(read_side.world)
    agent = _register(read_side)
    at = T0 + timedelta(days=8)
    _submit(read_side, agent.check_in(1, at, serials[:4], "KR", read_side.world.site, "36.99", "127.11", "network"))
    _submit(read_side, agent.check_in(2, at + timedelta(hours=1), serials[:2], "KR", read_side.world.site))
    read_side.runner().catch_up()

    first = read_side.read_models.serial_location(serials[0].lower())
    third = read_side.read_models.serial_location(serials[2])
    assert first is not None and third is not None
    assert (first.batch_id, first.agent_id, first.sequence, first.site_id) == (batch, agent.agent_id, 2, read_side.world.site)
    assert (third.sequence, third.latitude, third.longitude, third.method) == (1, "36.99", "127.11", "network")
    assert read_side.read_models.serial_location(serials[5]) is None
    found, _ = read_side.read_models.list_findings(FindingFilter(rule_ids=LOCATION_RULES))
    assert found == []


def test_units_attested_in_another_country_raise_a_critical_finding_naming_the_serials(read_side: ReadSide) -> None:
    batch, serials = _installed(read_side.world)
    agent = _register(read_side)
    _submit(read_side, agent.check_in(1, T0 + timedelta(days=9), serials[:3], "CN", uuid4()))
    read_side.runner().catch_up()

    [finding] = read_side.read_models.list_findings(FindingFilter(rule_ids=LOCATION_RULES))[0]
    assert (finding.rule_id, finding.severity, finding.batch_id) == ("unit-outside-licensed-location", "critical", batch)
    assert finding.serials == sorted(serials[:3])
    assert finding.partner_id == read_side.world.samsung
    assert "in CN, not the cleared destination KR" in finding.reasons[0]
    assert finding.revealed_event_type == "Attested"


def test_units_attested_at_another_site_in_the_licensed_country_raise_a_location_mismatch(
    read_side: ReadSide,
) -> None:
    batch, serials = _installed(read_side.world)
    agent = _register(read_side)
    _submit(read_side, agent.check_in(1, T0 + timedelta(days=9), serials[:2], "KR", read_side.world.site2))
    read_side.runner().catch_up()

    [finding] = read_side.read_models.list_findings(FindingFilter(rule_ids=LOCATION_RULES))[0]
    assert (finding.rule_id, finding.severity, finding.batch_id) == ("unit-location-mismatch", "high", batch)
    assert finding.site_id == read_side.world.site2
    assert finding.serials == sorted(serials[:2])


def _refused_writes_nothing(side: ReadSide, error: type[Exception], fields: dict[str, object], match: str) -> None:
    before = side.registry.head()
    with pytest.raises(error, match=match):
        _submit(side, fields)
    assert side.registry.head() == before


def test_a_tampered_a_replayed_and_an_unknown_agents_check_in_are_refused_naming_the_rule_and_write_nothing(
    read_side: ReadSide,
) -> None:
    _, serials = _installed(read_side.world)
    agent = _register(read_side)
    at = T0 + timedelta(days=9)
    _submit(read_side, agent.check_in(5, at, serials[:2], "KR", read_side.world.site))

    tampered = agent.check_in(6, at, serials[:2], "KR", read_side.world.site)
    tampered["country"] = "US"
    _refused_writes_nothing(read_side, InvalidField, tampered, "signature: does not verify")
    _refused_writes_nothing(read_side, InvalidField, agent.check_in(5, at, serials[:2], "KR", read_side.world.site),
                            "sequence: must be greater than the agent's last accepted sequence 5")
    stranger = Agent(uuid4())
    _refused_writes_nothing(read_side, NotFound, stranger.check_in(1, at, serials[:2], "KR", read_side.world.site),
                            "host_agent")
    _refused_writes_nothing(read_side, InvalidField, agent.check_in(7, at, ["NOT-A-SERIAL"], "KR", read_side.world.site),
                            r"serials: not registered in the registry: \['NOT-A-SERIAL'\]")


def test_a_revoked_agent_is_refused_and_its_key_stays_on_record(read_side: ReadSide) -> None:
    _, serials = _installed(read_side.world)
    agent = _register(read_side)
    read_side.registry.revoke_host_agent(ACTOR, c.parse(lc.RevokeHostAgent, dict(
        agent_id=agent.agent_id, reason="host retired")))
    _refused_writes_nothing(read_side, IllegalTransition,
                            agent.check_in(1, T0 + timedelta(days=9), serials[:1], "KR", read_side.world.site),
                            "revoked")
    stored = read_side.registry.get("host_agent", agent.agent_id)
    assert isinstance(stored, HostAgent) and stored.revoked and stored.public_key == agent.public_key.hex()


def test_a_retried_check_in_with_its_request_id_answers_the_first_result_and_writes_once(read_side: ReadSide) -> None:
    _, serials = _installed(read_side.world)
    agent = _register(read_side)
    fields = {**agent.check_in(1, T0 + timedelta(days=9), serials[:1], "KR", read_side.world.site),
              "request_id": f"{agent.agent_id}:1"}
    first = read_side.registry.submit_location_attestation("agent", c.parse(lc.SubmitLocationAttestation, fields))
    again = read_side.registry.submit_location_attestation("agent", c.parse(lc.SubmitLocationAttestation, fields))
    assert again.replayed and (again.position, again.version) == (first.position, first.version)


def test_installed_serials_silent_longer_than_the_allowance_or_never_attested_are_overdue(read_side: ReadSide) -> None:
    batch, serials = _installed(read_side.world, 4)
    agent = _register(read_side)
    seen = T0 + timedelta(days=8)
    _submit(read_side, agent.check_in(1, seen, serials[:2], "KR", read_side.world.site))
    _submit(read_side, agent.check_in(2, seen + timedelta(days=5), serials[:1], "KR", read_side.world.site))
    read_side.runner().catch_up()

    [gap] = read_side.read_models.attestation_gaps(seen + timedelta(days=9), 7)
    assert (gap.batch_id, gap.rule_id) == (batch, "location-not-attested")
    assert (gap.stale, gap.never, gap.oldest_seen) == ([serials[1]], sorted(serials[2:]), seen)
    assert read_side.read_models.attestation_gaps(seen + timedelta(days=9), 30)[0].stale == []
    with pytest.raises(InvalidField, match="attestation_days"):
        read_side.read_models.attestation_gaps(seen, 0)


def test_an_older_observation_recorded_later_does_not_replace_a_serials_newer_location(read_side: ReadSide) -> None:
    _, serials = _installed(read_side.world, 2)
    newer, older = _register(read_side), _register(read_side)
    at = T0 + timedelta(days=9)
    _submit(read_side, newer.check_in(1, at, serials, "KR", read_side.world.site))
    _submit(read_side, older.check_in(1, at - timedelta(hours=2), serials[:1], "KR", read_side.world.site))
    read_side.runner().catch_up()

    found = read_side.read_models.serial_location(serials[0])
    assert found is not None and (found.agent_id, found.observed_at) == (newer.agent_id, at)
