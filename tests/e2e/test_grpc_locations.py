"""LocationService through a real server on port 0 with bearer tokens, on SQLite and PostgreSQL:
a partner registers an agent at its own site, the agent's check-ins are signed with a real Ed25519
key, a partner reads only its own serials' locations, and a tampered, replayed or unknown agent's
check-in is refused naming the rule and writing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import compliance_pb2_grpc, locations_pb2_grpc
from registry.api.v1 import locations_pb2 as pb
from registry.application import commands as c
from tests.builders import T0, World, make_world
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials
from tests.e2e.test_grpc_errors import field_violations
from tests.location_agents import Agent

TIMEOUT = 60


def ts(when: Any) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def _installed(w: World, n: int = 4) -> list[str]:
    batch = w.order(n, buyer_id=w.samsung)
    w.clear(batch, n)
    serials = w.serials(batch, n, prefix="E2E")
    w.ship(batch, serials=serials)
    w.do("receive", c.Receive, batch_id=batch, shipment_id="SHP-1", receiving_party_id=w.samsung,
         site_id=w.site, serials=serials, occurred_at=T0 + timedelta(days=6))
    w.do("install", c.Install, batch_id=batch, site_id=w.site, rack="R1", host="gpu-1", serials=serials,
         occurred_at=T0 + timedelta(days=7))
    return serials


def request(agent: Agent, sequence: int, serials: list[str], country: str, site: uuid.UUID,
            ) -> pb.SubmitLocationAttestationRequest:
    fields = agent.check_in(sequence, T0 + timedelta(days=9, minutes=sequence), serials, country, site, "36.99",
                            "127.11", "gnss")
    return pb.SubmitLocationAttestationRequest(
        request_id=f"{agent.agent_id}:{sequence}", agent_id=str(agent.agent_id), sequence=sequence,
        observed_at=ts(fields["observed_at"]), serials=serials, country=country, site_id=str(site),
        latitude="36.99", longitude="127.11", method="gnss", signature=fields["signature"])


@pytest.fixture
def setup(start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path,
          ) -> tuple[RunningServer, World, Credentials]:
    creds = Credentials.create(tmp_path)
    server = start_server(store_url, **creds.settings())
    return server, make_world(server.registry), creds


def refused(call: Callable[[], object], code: grpc.StatusCode) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, info.value.details()
    return info.value


def test_a_partners_agent_checks_in_with_a_real_signature_and_the_partner_reads_its_serials_location(
    setup: tuple[RunningServer, World, Credentials],
) -> None:
    server, w, creds = setup
    serials = _installed(w)
    channel = server.channel()
    locations = locations_pb2_grpc.LocationServiceStub(channel)
    samsung = creds.md("partner", party=str(w.samsung))
    naver = creds.md("partner", party=str(w.naver))
    agent = Agent(uuid.uuid4())
    registered = locations.RegisterHostAgent(pb.RegisterHostAgentRequest(
        request_id=str(uuid.uuid4()), agent_id=str(agent.agent_id), public_key=agent.public_key,
        site_id=str(w.site), partner_id=str(w.samsung), name="gpu-1"), metadata=samsung, timeout=TIMEOUT)
    assert registered.aggregate_id == str(agent.agent_id)

    done = locations.SubmitLocationAttestation(request(agent, 1, serials[:2], "KR", w.site), metadata=samsung,
                                               timeout=TIMEOUT)
    found = locations.GetSerialLocation(pb.GetSerialLocationRequest(serial=serials[0], min_position=done.position),
                                        metadata=samsung, timeout=TIMEOUT).location
    assert (found.serial, found.agent_id, found.sequence, found.country, found.site_id, found.method) == (
        serials[0], str(agent.agent_id), 1, "KR", str(w.site), "gnss")

    # another partner: not its serial, not its site, not its agent (NOT_FOUND as for nothing)
    refused(lambda: locations.GetSerialLocation(pb.GetSerialLocationRequest(serial=serials[0]), metadata=naver,
                                                timeout=TIMEOUT), grpc.StatusCode.NOT_FOUND)
    refused(lambda: locations.RegisterHostAgent(pb.RegisterHostAgentRequest(
        request_id=str(uuid.uuid4()), public_key=Agent(uuid.uuid4()).public_key, site_id=str(w.site),
        partner_id=str(w.naver)), metadata=naver, timeout=TIMEOUT), grpc.StatusCode.NOT_FOUND)
    refused(lambda: locations.SubmitLocationAttestation(request(agent, 2, serials[:2], "KR", w.site),
                                                        metadata=naver, timeout=TIMEOUT), grpc.StatusCode.NOT_FOUND)
    refused(lambda: locations.RevokeHostAgent(pb.RevokeHostAgentRequest(
        request_id=str(uuid.uuid4()), agent_id=str(agent.agent_id), reason="not theirs"), metadata=naver,
        timeout=TIMEOUT), grpc.StatusCode.NOT_FOUND)


def test_a_tampered_replayed_or_unknown_agents_check_in_is_refused_naming_the_rule_and_writes_nothing(
    setup: tuple[RunningServer, World, Credentials],
) -> None:
    server, w, creds = setup
    serials = _installed(w)
    locations = locations_pb2_grpc.LocationServiceStub(server.channel())
    admin = creds.md("admin", subject="registry-admin")
    agent = Agent(uuid.uuid4())
    locations.RegisterHostAgent(pb.RegisterHostAgentRequest(
        request_id=str(uuid.uuid4()), agent_id=str(agent.agent_id), public_key=agent.public_key,
        site_id=str(w.site), partner_id=str(w.samsung)), metadata=admin, timeout=TIMEOUT)
    locations.SubmitLocationAttestation(request(agent, 3, serials, "KR", w.site), metadata=admin, timeout=TIMEOUT)
    before = server.head()

    tampered = request(agent, 4, serials, "KR", w.site)
    tampered.country = "CN"
    error = refused(lambda: locations.SubmitLocationAttestation(tampered, metadata=admin, timeout=TIMEOUT),
                    grpc.StatusCode.INVALID_ARGUMENT)
    assert "does not verify" in field_violations(error)["signature"]

    replayed = request(agent, 3, serials, "KR", w.site)
    replayed.request_id = str(uuid.uuid4())
    error = refused(lambda: locations.SubmitLocationAttestation(replayed, metadata=admin, timeout=TIMEOUT),
                    grpc.StatusCode.INVALID_ARGUMENT)
    assert "last accepted sequence 3" in field_violations(error)["sequence"]

    stranger = Agent(uuid.uuid4())
    error = refused(lambda: locations.SubmitLocationAttestation(request(stranger, 1, serials, "KR", w.site),
                                                                metadata=admin, timeout=TIMEOUT),
                    grpc.StatusCode.NOT_FOUND)
    assert str(stranger.agent_id) in (error.details() or "")
    assert server.head() == before


def test_units_attested_abroad_are_a_critical_finding_in_list_findings(
    setup: tuple[RunningServer, World, Credentials],
) -> None:
    server, w, creds = setup
    serials = _installed(w)
    channel = server.channel()
    locations = locations_pb2_grpc.LocationServiceStub(channel)
    compliance = compliance_pb2_grpc.ComplianceServiceStub(channel)
    samsung = creds.md("partner", party=str(w.samsung))
    agent = Agent(uuid.uuid4())
    locations.RegisterHostAgent(pb.RegisterHostAgentRequest(
        request_id=str(uuid.uuid4()), agent_id=str(agent.agent_id), public_key=agent.public_key,
        site_id=str(w.site), partner_id=str(w.samsung)), metadata=samsung, timeout=TIMEOUT)
    done = locations.SubmitLocationAttestation(request(agent, 1, serials[:1], "CN", uuid.uuid4()), metadata=samsung,
                                               timeout=TIMEOUT)

    page = compliance.ListFindings(cp.ListFindingsRequest(rule_ids=["unit-outside-licensed-location"],
                                                          min_position=done.position),
                                   metadata=creds.md("compliance_officer"), timeout=TIMEOUT)
    [finding] = page.findings
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL
    assert list(finding.serials) == serials[:1]
    own = compliance.ListFindings(cp.ListFindingsRequest(rule_ids=["unit-outside-licensed-location"],
                                                         min_position=done.position), metadata=samsung,
                                  timeout=TIMEOUT)
    assert [f.finding_id for f in own.findings] == [finding.finding_id]


def test_list_overdue_items_names_installed_units_not_attested_within_attestation_days(
    setup: tuple[RunningServer, World, Credentials],
) -> None:
    server, w, creds = setup
    serials = _installed(w)
    channel = server.channel()
    locations = locations_pb2_grpc.LocationServiceStub(channel)
    compliance = compliance_pb2_grpc.ComplianceServiceStub(channel)
    admin = creds.md("admin", subject="registry-admin")
    agent = Agent(uuid.uuid4())
    locations.RegisterHostAgent(pb.RegisterHostAgentRequest(
        request_id=str(uuid.uuid4()), agent_id=str(agent.agent_id), public_key=agent.public_key,
        site_id=str(w.site), partner_id=str(w.samsung)), metadata=admin, timeout=TIMEOUT)
    done = locations.SubmitLocationAttestation(request(agent, 1, serials[:3], "KR", w.site), metadata=admin,
                                               timeout=TIMEOUT)
    as_of = T0 + timedelta(days=30)

    def items(days: int) -> list[cp.OverdueItem]:
        return [i for i in compliance.ListOverdueItems(cp.ListOverdueItemsRequest(
            as_of=ts(as_of), attestation_days=days, min_position=done.position), metadata=admin,
            timeout=TIMEOUT).items if i.kind == cp.OVERDUE_KIND_NOT_ATTESTED]

    stale, never = items(7)
    assert (list(stale.serials), stale.rule_id, stale.overdue) == (sorted(serials[:3]), "location-not-attested", True)
    assert list(never.serials) == serials[3:] and not never.HasField("since")
    assert [list(i.serials) for i in items(60)] == [serials[3:]]
    assert items(0) == []
