"""Compliance findings through the gRPC API: each rule raised by a minimal event sequence, kept
until an officer resolves it (never removed by later events), and the same after a full rebuild.

Every test runs a real server on port 0 with the projections running in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from projections.compliance import ComplianceFindings, finding_id_for
from projections.db import reading
from projections.engine import active_generation, dump_generation
from projections.runner import rebuild
from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.domain.compliance_rules import RULES
from tests.e2e.conftest import RunningServer
from tests.e2e.findings_world import OFFICER, OPERATOR, T0, FindingsWorld, build_findings_world, ts
from tests.e2e.world import new_request_id

DAY = timedelta(days=1)


def amend(kind: int, target: str, fields: dict[str, object], reason: str, at: datetime) -> c.AmendReferenceRequest:
    request = c.AmendReferenceRequest(request_id=new_request_id(), kind=kind, target_id=target, reason=reason, occurred_at=ts(at))
    request.fields.update(fields)
    return request


# These stories run into 2028: the server accepts occurred_at that far ahead of its clock.
FUTURE_STORIES = {"max_occurred_ahead_seconds": 5 * 366 * 24 * 3600}


@pytest.fixture
def world(start_server: Callable[..., RunningServer], sqlite_url: str) -> FindingsWorld:
    return build_findings_world(start_server(sqlite_url, **FUTURE_STORIES).stubs())


def _resolve_and_check(w: FindingsWorld, finding: cp.Finding) -> None:
    """Acknowledge, then resolve: the finding's trail and status follow, nothing else."""
    w.acknowledge(finding.finding_id)
    assert w.only(finding.rule_id, statuses=[cp.FINDING_STATUS_ACKNOWLEDGED]).finding_id == finding.finding_id
    w.resolve(finding.finding_id)
    resolved = w.api.compliance.GetFinding(
        cp.GetFindingRequest(finding_id=finding.finding_id, min_position=w.position), timeout=30).finding
    assert resolved.status == cp.FINDING_STATUS_RESOLVED
    assert [t.action for t in resolved.trail][-2:] == ["acknowledged", "resolved"]
    assert [t.actor for t in resolved.trail][-2:] == [OFFICER, OFFICER]
    assert resolved.HasField("status_changed_at")
    assert w.findings(statuses=[cp.FINDING_STATUS_OPEN, cp.FINDING_STATUS_ACKNOWLEDGED]) == [
        f for f in w.findings() if f.finding_id != finding.finding_id and f.status != cp.FINDING_STATUS_RESOLVED
    ]


def test_a_clean_batch_delivered_as_cleared_shows_no_findings(world: FindingsWorld) -> None:
    w = world
    batch, serials = w.batch(8)
    w.deliver(batch, serials, T0 + 10 * DAY)

    compliance = w.compliance(batch)
    assert compliance.status == cp.COMPLIANCE_STATUS_COMPLIANT
    assert list(compliance.findings) == [] and list(compliance.serials) == []
    assert compliance.serial_count == 8 and compliance.compliant_serial_count == 8
    assert w.findings() == []
    [export] = compliance.exports
    assert export.shipment_id == "S1" and export.quantity == 8 and export.received == 8
    shipped = datetime(2026, 3, 12, 9, tzinfo=UTC)
    assert export.shipped_at.ToDatetime(tzinfo=UTC) == shipped
    assert export.retention_until.ToDatetime(tzinfo=UTC) == shipped.replace(year=2031)
    assert compliance.as_of.ToDatetime(tzinfo=UTC) == T0 + 22 * DAY  # the latest business time seen


# ------------------------------------------------------------------------ one rule at a time
Scenario = Callable[[FindingsWorld], tuple[str, str]]  # -> (rule id, batch id or "")


def shipped_in_2027_under_nlr(w: FindingsWorld) -> None:
    """A clean shipment in January 2027 (after the license ended: under the NLR determination),
    which moves the log's business time on."""
    batch, serials = w.batch(4, authorization="nlr")
    w.ship(batch, "S1", datetime(2027, 1, 15, tzinfo=UTC), serials)


def shipped_before_the_clearance_was_granted(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + DAY, serials)  # dated before the grant of T0 + 2 days
    return "export-without-clearance", batch


def shipped_to_a_country_the_authorization_does_not_cover(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials, country="JP", site="site_jp")
    return "location-not-authorized", batch


def installed_at_a_site_outside_the_cleared_country(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, serials)
    w.install(batch, T0 + 14 * DAY, serials, site="site_jp")
    return "location-not-authorized", batch


def assigned_to_a_party_not_named_as_end_user(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)  # under the license, whose only end user is the buyer
    w.deliver(batch, serials[:2], T0 + 10 * DAY)
    w.ship(batch, "S2", T0 + 11 * DAY, serials[2:])
    w.receive(batch, "S2", T0 + 13 * DAY, serials[2:])
    w.install(batch, T0 + 15 * DAY, serials[2:])
    w.assign(batch, "tenant", T0 + 16 * DAY, serials[2:])
    return "recipient-not-authorized", batch


def transferred_to_a_party_not_named_as_end_user(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    end = w.deliver(batch, serials, T0 + 10 * DAY)
    w.do("Transfer", c.TransferRequest(request_id=new_request_id(), batch_id=batch, to_owner_id=w.ids["tenant"], reason="resale",
                                       serials=serials[:1], occurred_at=ts(end + DAY)))
    return "recipient-not-authorized", batch


def authorization_amended_below_what_was_drawn(w: FindingsWorld) -> tuple[str, str]:
    w.batch(4)  # draws 4 of the license's 1000
    w.do("AmendReference", amend(c.REFERENCE_KIND_AUTHORIZATION, w.ids["license"], {"quantity_limit": 2},
                                 "licence amended by BIS", T0 + 20 * DAY))
    return "quantity-over-clearance", ""


def received_with_serials_missing(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, serials[:3])
    return "units-missing-in-transit", batch


def received_short_of_a_quantity_shipment(w: FindingsWorld) -> tuple[str, str]:
    batch, _ = w.batch(10, serialized=False)
    w.ship(batch, "S1", T0 + 10 * DAY, quantity=10)
    w.receive(batch, "S1", T0 + 12 * DAY, quantity=7)
    return "units-missing-in-transit", batch


def received_a_serial_nobody_shipped(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, [*serials, "STRANGER-1"])
    return "serial-not-shipped", batch


def installed_at_two_sites(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, serials)
    w.install(batch, T0 + 14 * DAY, serials)
    w.install(batch, T0 + 20 * DAY, serials[:1], site="closet")
    return "serial-at-two-sites", batch


def not_received_within_the_allowance(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.batch(4, at=T0 + 41 * DAY)  # another partner's order moves the log time past 30 days
    return "not-received-in-time", batch


def received_after_the_allowance(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 45 * DAY, serials)  # 35 days: judged by its own times
    return "not-received-in-time", batch


def not_installed_within_the_allowance(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, serials)
    w.batch(4, at=T0 + 73 * DAY)  # the log time passes 60 days after the receipt
    return "not-installed-in-time", batch


def installed_beyond_the_sites_power(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(12)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, serials)
    w.install(batch, T0 + 14 * DAY, serials[:8], site="closet")  # 8 kW of 10: fine
    w.install(batch, T0 + 15 * DAY, serials[8:], site="closet")  # 12 kW
    return "site-power-insufficient", batch


def reported_stolen(w: FindingsWorld) -> tuple[str, str]:
    batch, serials = w.batch(4)
    end = w.deliver(batch, serials, T0 + 10 * DAY)
    w.do("ReportLost", c.ReportLostRequest(request_id=new_request_id(), batch_id=batch, kind=c.LOSS_KIND_STOLEN, note="missing after audit",
                                           serials=serials[:2], occurred_at=ts(end + DAY)))
    return "units-reported-lost", batch


SCENARIOS: list[Scenario] = [
    shipped_before_the_clearance_was_granted,
    shipped_to_a_country_the_authorization_does_not_cover, installed_at_a_site_outside_the_cleared_country,
    assigned_to_a_party_not_named_as_end_user, transferred_to_a_party_not_named_as_end_user,
    authorization_amended_below_what_was_drawn, received_with_serials_missing, received_short_of_a_quantity_shipment,
    received_a_serial_nobody_shipped, installed_at_two_sites, not_received_within_the_allowance,
    received_after_the_allowance, not_installed_within_the_allowance, installed_beyond_the_sites_power, reported_stolen,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_each_rule_is_raised_by_a_minimal_sequence_and_disappears_only_by_resolution(
    world: FindingsWorld, scenario: Scenario
) -> None:
    w = world
    rule_id, batch = scenario(w)

    finding = w.only(rule_id)
    assert finding.status == cp.FINDING_STATUS_OPEN
    assert finding.citation == RULES[rule_id].citation and finding.title == RULES[rule_id].title
    assert finding.batch_id == batch
    assert finding.reasons and finding.severity != cp.FINDING_SEVERITY_UNSPECIFIED
    assert 0 < finding.revealed_by.position <= w.position
    assert finding.trail[0].action == "raised" and finding.trail[0].position == finding.revealed_by.position
    assert finding.first_detected_at.ToDatetime(tzinfo=UTC) == finding.trail[0].recorded_at.ToDatetime(tzinfo=UTC)
    if batch:
        compliance = w.compliance(batch)
        assert compliance.status == cp.COMPLIANCE_STATUS_FINDINGS_OPEN
        assert finding.finding_id in {f.finding_id for f in compliance.findings}
        for s in finding.serials:
            named = next(x for x in compliance.serials if x.serial == s)
            assert named.status == cp.COMPLIANCE_STATUS_FINDINGS_OPEN and finding.finding_id in named.finding_ids

    # Silence: much later, the batch carries on (or nothing happens at all); the finding stays.
    w.batch(2, at=datetime(2028, 6, 1, tzinfo=UTC), authorization="nlr")
    assert w.only(rule_id, statuses=[cp.FINDING_STATUS_OPEN]).finding_id == finding.finding_id

    _resolve_and_check(w, finding)
    if batch and all(f.status == cp.FINDING_STATUS_RESOLVED for f in w.findings(batch_id=batch)):
        assert w.compliance(batch).status == cp.COMPLIANCE_STATUS_FINDINGS_RESOLVED


def test_the_finding_names_what_happened_and_where_for_an_early_shipment(world: FindingsWorld) -> None:
    w = world
    batch, serials = w.batch(4)
    shipped = w.ship(batch, "S1", T0 + DAY, serials)  # dated before the grant of T0 + 2 days

    finding = w.only("export-without-clearance")
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL
    assert finding.shipment_id == "S1" and sorted(finding.serials) == sorted(serials) and finding.quantity == 4
    assert finding.authorization_id == w.ids["license"] and finding.partner_id == w.ids["buyer"]
    assert finding.revealed_by.event_type == "Shipped" and finding.revealed_by.position == shipped.position - 1  # its RequestRecord.Handled follows
    assert finding.revealed_by.aggregate_id == batch
    assert finding.revealed_by.occurred_at.ToDatetime(tzinfo=UTC) == T0 + DAY
    assert "before the clearance was granted" in finding.reasons[0]
    assert finding.trail[0].actor == OPERATOR


def test_a_shipment_after_the_authorization_expired_is_refused_and_writes_nothing(world: FindingsWorld) -> None:
    w = world
    batch, serials = w.batch(4)
    before = w.compliance(batch)
    with pytest.raises(grpc.RpcError) as refused:
        w.ship(batch, "S1", datetime(2027, 1, 15, tzinfo=UTC), serials)  # the license ended 1 Jan 2027
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "authorization" in (refused.value.details() or "") and "2027-01-01" in (refused.value.details() or "")
    assert w.compliance(batch) == before and w.findings(batch_id=batch) == []


def test_a_late_receipt_does_not_clear_a_not_received_finding_and_later_evidence_is_added(
    world: FindingsWorld,
) -> None:
    w = world
    rule_id, batch = not_received_within_the_allowance(w)
    first = w.only(rule_id)
    assert first.revealed_by.event_type == "Ordered" and first.revealed_by.aggregate_id != batch

    w.receive(batch, "S1", T0 + 45 * DAY, w.compliance(batch).findings[0].serials[:4])
    again = w.only(rule_id)
    assert again.finding_id == first.finding_id and again.status == cp.FINDING_STATUS_OPEN


def test_overdue_items_are_evaluated_at_the_callers_time_before_the_log_gets_there(world: FindingsWorld) -> None:
    w = world
    batch, serials = w.batch(4)
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.compliance(batch)  # wait for the read model

    def overdue(at: datetime, **extra: int | bool) -> list[cp.OverdueItem]:
        return list(w.api.compliance.ListOverdueItems(
            cp.ListOverdueItemsRequest(as_of=ts(at), min_position=w.position, **extra), timeout=30).items)

    assert overdue(T0 + 20 * DAY) == []
    [waiting] = overdue(T0 + 20 * DAY, include_waiting=True)
    assert not waiting.overdue and waiting.kind == cp.OVERDUE_KIND_NOT_RECEIVED and waiting.units == 4
    [late] = overdue(T0 + 45 * DAY)
    assert late.overdue and late.days_waiting == 35 and late.finding_id == "" and sorted(late.serials) == serials
    assert late.due.ToDatetime(tzinfo=UTC) == T0 + 40 * DAY
    assert overdue(T0 + 45 * DAY, transit_days=60) == []
    assert w.findings() == []  # the log's own time has not passed the allowance yet

    w.batch(2, at=T0 + 41 * DAY)
    flagged = w.only("not-received-in-time")
    [late] = overdue(T0 + 45 * DAY)
    assert late.finding_id == flagged.finding_id

    with pytest.raises(grpc.RpcError) as refused:
        w.api.compliance.ListOverdueItems(cp.ListOverdueItemsRequest(transit_days=-1), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "as_of" in str(refused.value.details()) and "transit_days" in str(refused.value.details())


def test_a_later_amendment_revealing_a_d5_parent_flags_units_the_party_already_holds(
    postgres_url: str, start_server: Callable[..., RunningServer]
) -> None:
    w = build_findings_world(start_server(postgres_url, **FUTURE_STORIES).stubs())  # the server stops before the schema goes
    batch, serials = w.batch(4, authorization="nlr")  # NLR names the tenant as end user
    w.ship(batch, "S1", T0 + 10 * DAY, serials)
    w.receive(batch, "S1", T0 + 12 * DAY, serials)
    w.install(batch, T0 + 14 * DAY, serials)
    w.assign(batch, "tenant", T0 + 15 * DAY, serials[:2])
    assert w.findings() == []  # an end user on the authorization, headquartered in KR

    amended = w.do("AmendReference", amend(c.REFERENCE_KIND_PARTY, w.ids["tenant"],
                                           {"ultimate_parent_id": w.ids["parent"]}, "ownership disclosure",
                                           T0 + 60 * DAY))

    finding = w.only("recipient-not-authorized")
    assert finding.batch_id == batch and finding.party_id == w.ids["tenant"]
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL
    assert sorted(finding.serials) == sorted(serials[:2])
    assert finding.revealed_by.event_type == "Amended" and finding.revealed_by.aggregate_id == w.ids["tenant"]
    assert finding.revealed_by.position == amended.position - 1  # its RequestRecord.Handled follows
    assert "Red Dragon Holdings" in finding.reasons[0] and "CN" in finding.reasons[0]
    assert w.findings(partner_id=w.ids["tenant"]) == [finding]
    _resolve_and_check(w, finding)

    # New evidence after the resolution (the parent turns out to be in Macau) is a new episode.
    w.do("AmendReference", amend(c.REFERENCE_KIND_PARTY, w.ids["parent"], {"headquarters_country": "MO"},
                                 "registered office moved", T0 + 70 * DAY))
    episodes = w.findings(rule_ids=["recipient-not-authorized"])
    assert [f.status for f in episodes] == [cp.FINDING_STATUS_RESOLVED, cp.FINDING_STATUS_OPEN]
    assert episodes[1].finding_id == str(finding_id_for(
        "recipient-not-authorized", f"recipient:{batch.replace('-', '')}:{w.ids['tenant'].replace('-', '')}", 2))


def test_a_new_screening_hit_on_a_party_holding_units_is_flagged(world: FindingsWorld) -> None:
    w = world
    batch, serials = w.batch(4, authorization="nlr")
    end = w.deliver(batch, serials, T0 + 10 * DAY)
    w.assign(batch, "tenant", end + DAY, serials[:1])
    w.do("ImportScreeningList", cp.ImportScreeningListRequest(request_id=new_request_id(),
        source="US CSL", content=b"name,source,countries\nHanbit Cloud,Entity List (EL),KR\n",
        occurred_at=ts(end + 5 * DAY)))

    finding = w.only("recipient-not-authorized")
    assert finding.party_id == w.ids["tenant"] and finding.serials == serials[:1]
    assert finding.revealed_by.event_type == "Screened"
    assert "Entity List" in finding.reasons[0]


def test_officers_decisions_are_checked_and_recorded_once(world: FindingsWorld) -> None:
    w = world
    rule_id, _ = reported_stolen(w)
    finding = w.only(rule_id)

    with pytest.raises(grpc.RpcError) as unknown:
        w.acknowledge("0d9b2c6e-5b5c-4a43-9a53-2c1f3d4e5f60")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as blank:
        w.resolve(finding.finding_id, note="  ")
    assert blank.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "note" in str(blank.value.details())

    first = w.api.compliance.ResolveFinding(cp.ResolveFindingRequest(
        request_id="resolve-1", finding_id=finding.finding_id, note="recovered"), metadata=[("x-gpureg-actor", OFFICER)])
    again = w.api.compliance.ResolveFinding(cp.ResolveFindingRequest(
        request_id="resolve-1", finding_id=finding.finding_id, note="recovered"), metadata=[("x-gpureg-actor", OFFICER)])
    assert again.replayed and again.position == first.position
    with pytest.raises(grpc.RpcError) as twice:
        w.resolve(finding.finding_id)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    w.position = max(w.position, first.position)
    assert [t.action for t in w.only(rule_id).trail] == ["raised", "resolved"]


def test_findings_are_the_same_after_a_full_rebuild(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url, **FUTURE_STORIES)
    w = build_findings_world(server.stubs())
    for scenario in (received_with_serials_missing, installed_beyond_the_sites_power,
                     not_received_within_the_allowance, reported_stolen, shipped_before_the_clearance_was_granted,
                     shipped_in_2027_under_nlr):
        scenario(w)
    resolved = w.findings()[0]
    w.acknowledge(resolved.finding_id)
    w.resolve(resolved.finding_id)
    before = w.findings()
    # The last shipment (January 2027) moves the log time past the three received units that
    # were never installed, and past the early shipment's units that were never received, too.
    assert sorted(f.rule_id for f in before) == sorted([
        "units-missing-in-transit", "site-power-insufficient", "not-received-in-time", "units-reported-lost",
        "export-without-clearance", "not-installed-in-time", "not-received-in-time",
    ])

    read_side = server.server.read_side
    assert read_side is not None
    projection = ComplianceFindings()
    with reading(read_side.engine) as conn:
        incremental = active_generation(conn, projection.name)
    assert incremental is not None and incremental.position >= w.position
    dumped = dump_generation(read_side.engine, projection, incremental.generation)

    rebuilt = rebuild(server.registry, read_side.engine, projection)
    assert rebuilt.generation != incremental.generation
    assert dump_generation(read_side.engine, projection, rebuilt.generation) == dumped
    assert w.findings() == before
