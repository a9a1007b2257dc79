"""Independent black-box scenarios of the rule text's records, documents and field facts, driven
only through the public gRPC API of a real server: record retention (15 CFR 762.6: 5 years from the
LATEST of export, reexport, transshipment, diversion or other termination), legal holds, known
reexports/transshipments/diversions, the Destination Control Statement, the facts of the chain
of custody flagged as findings (discrepancies, two sites, loss, power, location), drawdown, splits,
the BIS red flags, and reports as of a past time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from tests.e2e.conftest import RunningServer
from tests.e2e.scenario_world import T0, Scenario, base_world, now
from tests.e2e.world import new_request_id, ts


@pytest.fixture
def s(server: RunningServer) -> Scenario:
    return base_world(server)


def five_years_after(when: datetime) -> datetime:
    return when.replace(year=when.year + 5)


def onward(s: Scenario, batch: str, serials: list[str], kind: int, country: str, at: datetime) -> str:
    return s.send("RecordOnwardMovement", c.RecordOnwardMovementRequest(
        request_id=new_request_id(), batch_id=s.ids[batch], serials=serials, kind=kind, country=country,
        place="port", note="reported by the consignee", occurred_at=ts(at)))


def rma(s: Scenario, batch: str, serials: list[str], at: datetime) -> str:
    return s.send("ReturnForRma", c.ReturnForRmaRequest(
        request_id=new_request_id(), batch_id=s.ids[batch], serials=serials, rma_number="RMA-1", reason="ECC errors",
        occurred_at=ts(at)))


def decommission(s: Scenario, batch: str, serials: list[str], at: datetime) -> str:
    return s.send("Decommission", c.DecommissionRequest(
        request_id=new_request_id(), batch_id=s.ids[batch], serials=serials, method="shredded", occurred_at=ts(at)))


def lost(s: Scenario, batch: str, serials: list[str], kind: int, at: datetime) -> str:
    return s.send("ReportLost", c.ReportLostRequest(
        request_id=new_request_id(), batch_id=s.ids[batch], serials=serials, kind=kind, note="missing from cage",
        occurred_at=ts(at)))


SERIALS = ["R-1", "R-2", "R-3", "R-4"]


# ------------------------------------------------------------------------ record retention


def test_records_are_kept_five_years_from_the_latest_of_export_reexport_transshipment_diversion_and_termination(
    s: Scenario,
) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    shipped = T0 + timedelta(days=1)
    [export] = s.compliance("b1").exports
    assert export.retention_basis_at.ToDatetime().replace(tzinfo=shipped.tzinfo) == shipped
    assert export.retention_until.ToDatetime().replace(tzinfo=shipped.tzinfo) == five_years_after(shipped)

    steps: list[tuple[Callable[[datetime], Any], datetime]] = [
        (lambda at: onward(s, "b1", ["R-1"], c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, "SG", at), T0 + timedelta(days=30)),
        (lambda at: rma(s, "b1", ["R-2"], at), T0 + timedelta(days=60)),
        (lambda at: onward(s, "b1", ["R-3"], c.ONWARD_MOVEMENT_KIND_REEXPORT, "JP", at), T0 + timedelta(days=90)),
        (lambda at: decommission(s, "b1", ["R-4"], at), T0 + timedelta(days=120)),
    ]
    for step, at in steps:
        step(at)
        [export] = s.compliance("b1").exports
        basis = export.retention_basis_at.ToDatetime().replace(tzinfo=at.tzinfo)
        assert basis == at
        assert export.retention_until.ToDatetime().replace(tzinfo=at.tzinfo) == five_years_after(at)

    # A diversion that happened earlier but is recorded late does not move the basis back.
    onward(s, "b1", ["R-1"], c.ONWARD_MOVEMENT_KIND_DIVERSION, "CN", T0 + timedelta(days=10))
    [export] = s.compliance("b1").exports
    latest = T0 + timedelta(days=120)
    assert export.retention_basis_at.ToDatetime().replace(tzinfo=latest.tzinfo) == latest
    kinds = [(m.kind, m.country) for m in s.compliance("b1").onward_movements]
    assert ("diversion", "CN") in kinds and ("transshipment", "SG") in kinds and ("reexport", "JP") in kinds
    [diverted] = s.findings("b1", "units-diverted")
    assert diverted.severity == cp.FINDING_SEVERITY_CRITICAL


def test_a_loss_is_a_termination_that_moves_retention_and_is_flagged(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    at = T0 + timedelta(days=40)
    lost(s, "b1", ["R-1"], c.LOSS_KIND_STOLEN, at)
    [export] = s.compliance("b1").exports
    assert export.retention_basis_at.ToDatetime().replace(tzinfo=at.tzinfo) == at
    [finding] = s.findings("b1", "units-reported-lost")
    assert finding.severity == cp.FINDING_SEVERITY_HIGH and list(finding.serials) == ["R-1"]


def test_a_legal_hold_keeps_the_records_whatever_the_retention_date_until_it_is_released(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    hold = s.send("PlaceLegalHold", cp.PlaceLegalHoldRequest(
        request_id=new_request_id(), batch_id=s.ids["b1"], agency="BIS Office of Export Enforcement",
        reference="OEE-2026-0042", reason="investigation of diversion", occurred_at=ts(T0 + timedelta(days=20))),
        actor="officer-park")
    got = s.compliance("b1")
    [export] = got.exports
    assert export.held and not export.HasField("destruction_allowed_from")
    [h] = got.legal_holds
    assert (h.agency, h.reference, h.placed_by, h.active) == (
        "BIS Office of Export Enforcement", "OEE-2026-0042", "officer-park", True)

    s.send("ReleaseLegalHold", cp.ReleaseLegalHoldRequest(
        request_id=new_request_id(), hold_id=hold, reason="case closed", occurred_at=ts(T0 + timedelta(days=200))))
    got = s.compliance("b1")
    [export] = got.exports
    assert not export.held
    assert export.destruction_allowed_from == export.retention_until
    assert not got.legal_holds[0].active and got.legal_holds[0].release_reason == "case closed"


def test_each_export_record_carries_the_destination_control_statement_with_the_eccn(s: Scenario) -> None:
    s.model("hgx", {"name": "HGX H100", "dense_tops": {"fp8": "1979"}, "die_area_mm2": "814"}, gpus=8)
    s.order("b1", "samsung", "hgx", 1)
    s.request_clearance("b1", "samsung", "samsung", 1, eccn="4A090.a")
    s.grant("b1", "lic")
    s.serials("b1", ["HGX-1"])
    s.ship("b1", "SH-1", ["HGX-1"], site="site")
    [export] = s.compliance("b1").exports
    assert export.eccn == "4A090.a"
    assert "4A090.a" in export.destination_control_statement
    assert "These items are controlled by the U.S. Government" in export.destination_control_statement


# --------------------------------------------------------------- reexports and transshipments


def test_a_transshipment_through_singapore_is_recorded_without_a_finding_and_a_reexport_to_the_uae_is_flagged(
    s: Scenario,
) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    onward(s, "b1", ["R-1"], c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, "SG", T0 + timedelta(days=20))
    assert s.rules("b1") == []
    onward(s, "b1", ["R-2"], c.ONWARD_MOVEMENT_KIND_REEXPORT, "AE", T0 + timedelta(days=21))
    [finding] = s.findings("b1", "reexport-not-authorized")
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL and list(finding.serials) == ["R-2"]


def test_an_onward_movement_of_units_never_shipped_is_refused_and_writes_nothing(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.request_clearance("b1", "samsung", "samsung", 4)
    s.grant("b1", "lic")
    s.serials("b1", SERIALS)
    refusal = s.refused(lambda: onward(s, "b1", ["R-1"], c.ONWARD_MOVEMENT_KIND_REEXPORT, "JP", T0 + timedelta(days=3)))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION


# ------------------------------------------------------------------ clearance and drawdown


def test_a_clearance_beyond_the_licensed_quantity_is_refused_and_the_ledger_shows_the_drawdown(s: Scenario) -> None:
    s.license("small", number="D2000002", quantity_limit=6, value_limit="180000", currency="USD")
    s.order("b1", "samsung", "h100", 4)
    s.request_clearance("b1", "samsung", "samsung", 4)
    s.grant("b1", "small")
    s.order("b2", "samsung", "h100", 4)
    s.request_clearance("b2", "samsung", "samsung", 4)
    refusal = s.refused(lambda: s.grant("b2", "small"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.subjects, "the refusal names the rule"
    ledger = s.api.compliance.GetAuthorizationLedger(
        cp.GetAuthorizationLedgerRequest(authorization_id=s.ids["small"]), metadata=s.md()).ledger
    assert (ledger.drawn_quantity, ledger.remaining_quantity) == (4, 2)
    assert ledger.remaining_value == "60000.00" or float(ledger.remaining_value) == 60000


def test_a_clearance_to_a_destination_the_license_does_not_list_is_refused(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 2)
    s.party("ae-dc", "AE", name="Abu Dhabi Compute")
    s.request_clearance("b1", "ae-dc", "ae-dc", 2, country="AE")
    refusal = s.refused(lambda: s.grant("b1", "lic"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.reason == "COMPLIANCE_REFUSAL"


def test_a_shipment_dated_after_the_license_expired_is_refused_like_one_without_a_license(s: Scenario) -> None:
    # 15 CFR 736.2(b)(1): an export the license no longer covers is an export without one. The
    # registry owns the shipment decision: refused naming the rule and the license, nothing written.
    s.license("short", number="D3000003", valid_to=T0 + timedelta(days=2))
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.grant("b1", "short")
    s.serials("b1", ["X-1", "X-2"])
    refusal = s.refused(lambda: s.ship("b1", "SH-late", ["X-1", "X-2"], site="site", at=T0 + timedelta(days=5)))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.reason == "COMPLIANCE_REFUSAL"
    assert refusal.subjects == ["authorization-validity"]
    assert "D3000003" in refusal.message
    s.ship("b1", "SH-1", ["X-1", "X-2"], site="site", at=T0 + timedelta(days=1))  # while valid: shipped
    assert s.findings("b1", "export-without-clearance") == []


def test_a_shipment_to_china_under_a_clearance_for_korea_is_refused_by_the_destination_rule(s: Scenario) -> None:
    # 15 CFR 742.6(a)(6)(iii): an H100 to China needs a license; the clearance and the license
    # are for Korea only. The registry owns the shipment decision: refused, nothing written.
    s.party("cn-dc", "CN", name="Shenzhen Compute")
    s.site("shenzhen", "cn-dc", country="CN")
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.grant("b1", "lic")
    s.serials("b1", ["X-1", "X-2"])
    for attempt in (lambda: s.ship("b1", "SH-1", ["X-1", "X-2"], country="CN"),
                    lambda: s.ship("b1", "SH-1", ["X-1", "X-2"], country="KR", site="shenzhen")):
        refusal = s.refused(attempt)
        assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
        assert refusal.reason == "COMPLIANCE_REFUSAL"
        assert refusal.subjects == ["destination-country-group"]
        assert "CN" in refusal.message
    # To Japan (no license needed by the destination rule) it is recorded and flagged instead.
    s.party("jp-dc", "JP", name="Osaka Compute")
    s.site("osaka", "jp-dc", country="JP")
    s.ship("b1", "SH-2", ["X-1"], country="JP", site="osaka")
    [finding] = s.findings("b1", "location-not-authorized")
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL and finding.shipment_id == "SH-2"


def test_a_shipment_before_the_clearance_is_granted_is_refused(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 2)
    s.serials("b1", ["X-1", "X-2"])
    s.request_clearance("b1", "samsung", "samsung", 2)
    refusal = s.refused(lambda: s.ship("b1", "SH-1", ["X-1", "X-2"], site="site"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION


def test_a_split_child_takes_its_share_of_the_clearance_and_the_ledger_records_the_move(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.request_clearance("b1", "samsung", "samsung", 4)
    s.grant("b1", "lic")
    s.serials("b1", SERIALS)
    child = s.send("SplitBatch", c.SplitBatchRequest(request_id=new_request_id(), batch_id=s.ids["b1"],
                                                     serials=["R-3", "R-4"], occurred_at=ts(T0 + timedelta(hours=5))))
    s.ids["child"] = child
    s.ship("child", "SH-C", ["R-3", "R-4"], site="site")
    assert s.rules("child") == []
    ledger = s.api.compliance.GetAuthorizationLedger(
        cp.GetAuthorizationLedgerRequest(authorization_id=s.ids["lic"]), metadata=s.md()).ledger
    assert {(h.batch_id, h.quantity) for h in ledger.holdings} == {(s.ids["b1"], 2), (child, 2)}
    assert any(e.related_batch_id == child for e in ledger.entries)


# ------------------------------------------------------------ facts flagged, never refused


def test_the_discrepancy_log_shows_missing_and_unexpected_serials_and_each_resolution(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.request_clearance("b1", "samsung", "samsung", 4)
    s.grant("b1", "lic")
    s.serials("b1", SERIALS)
    s.ship("b1", "SH-1", SERIALS, site="site")
    s.receive("b1", "SH-1", ["R-1", "R-2", "R-3", "Z-9"], "samsung", "site")
    missing = s.findings("b1", "units-missing-in-transit")
    unexpected = s.findings("b1", "serial-not-shipped")
    assert [list(f.serials) for f in missing] == [["R-4"]]
    assert [list(f.serials) for f in unexpected] == [["Z-9"]]
    assert missing[0].shipment_id == "SH-1"
    s.send("ResolveFinding", cp.ResolveFindingRequest(
        request_id=new_request_id(), finding_id=missing[0].finding_id, note="R-4 found in the carrier's depot"),
        actor="officer-choi")
    [resolved] = s.findings("b1", "units-missing-in-transit")
    assert resolved.status == cp.FINDING_STATUS_RESOLVED
    assert (resolved.trail[-1].action, resolved.trail[-1].actor, resolved.trail[-1].note) == (
        "resolved", "officer-choi", "R-4 found in the carrier's depot")
    assert s.compliance("b1").status == cp.COMPLIANCE_STATUS_FINDINGS_OPEN  # Z-9 is still open


def test_a_serial_installed_at_a_second_site_and_a_site_outside_korea_are_flagged(s: Scenario) -> None:
    s.site("site2", "samsung")
    s.party("jp-cloud", "JP", name="Tokyo Cloud KK")
    s.site("tokyo", "jp-cloud", country="JP")
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    s.install("b1", ["R-1"], "site2", at=T0 + timedelta(days=9))
    [two] = s.findings("b1", "serial-at-two-sites")
    assert list(two.serials) == ["R-1"] and two.severity == cp.FINDING_SEVERITY_HIGH
    s.install("b1", ["R-2"], "tokyo", at=T0 + timedelta(days=10))
    [where] = s.findings("b1", "location-not-authorized")
    assert list(where.serials) == ["R-2"] and where.site_id == s.ids["tokyo"]


def test_a_site_without_the_power_for_what_is_installed_is_a_red_flag(s: Scenario) -> None:
    s.site("tiny", "samsung", power_kw="1")  # 1 kW; four 700 W GPUs need 2.8 kW
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS, site="tiny")
    [finding] = s.findings("b1", "site-power-insufficient")
    assert finding.severity == cp.FINDING_SEVERITY_MEDIUM and finding.site_id == s.ids["tiny"]


def test_the_bis_red_flags_first_large_buyer_residential_address_little_presence_and_unusual_forwarder(
    s: Scenario,
) -> None:
    s.party("newco", "KR", name="NewCo AI", address_type="residential", online_presence="little")
    s.party("fwd", "KR", roles=("forwarder",), name="Quick Forwarding", forwarder_standing="unusual")
    s.order("big", "newco", "h100", 1000)
    assert [f.rule_id for f in s.findings("big")] == ["red-flag-first-time-large-buyer"]
    s.request_clearance("big", "newco", "newco", 16)
    s.grant("big", "lic")
    s.send("Ship", c.ShipRequest(
        request_id=new_request_id(), batch_id=s.ids["big"], shipment_id="SH-1", quantity=16,
        carrier_id=s.ids["carrier"], destination_country="KR", forwarder_id=s.ids["fwd"], itn="X20260000001",
        occurred_at=ts(T0 + timedelta(days=1))))
    assert set(s.rules("big")) == {"red-flag-first-time-large-buyer", "red-flag-address", "red-flag-online-presence",
                                   "red-flag-unusual-forwarder"}


def test_receiving_more_units_than_shipped_is_refused_as_it_cannot_be_counted(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.request_clearance("b1", "samsung", "samsung", 4)
    s.grant("b1", "lic")
    s.send("Ship", c.ShipRequest(
        request_id=new_request_id(), batch_id=s.ids["b1"], shipment_id="SH-1", quantity=2, carrier_id=s.ids["carrier"],
        destination_country="KR", destination_site_id=s.ids["site"], occurred_at=ts(T0 + timedelta(days=1))))
    refusal = s.refused(lambda: s.send("Receive", c.ReceiveRequest(
        request_id=new_request_id(), batch_id=s.ids["b1"], shipment_id="SH-1", quantity=3,
        receiving_party_id=s.ids["samsung"], site_id=s.ids["site"], occurred_at=ts(T0 + timedelta(days=3)))))
    assert refusal.code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)


# ----------------------------------------------------------------- reports as of a past time


def test_a_report_as_of_a_past_time_shows_what_was_recorded_then_and_not_what_came_after(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    before = now()
    s.order("b2", "samsung", "h100", 2)
    s.delivered("b2", "samsung", ["L-1", "L-2"], shipment="SH-LATER")
    s.receive  # noqa: B018 - the second batch is fully delivered after `before`

    def shipments(report: dict[str, Any]) -> set[str]:
        for section in report["report"]["sections"]:
            for block in section["blocks"]:
                if block.get("type") == "table" and block.get("title", "").startswith("Shipments: items"):
                    return {row[0] for row in block["rows"]}
        raise AssertionError("the compliance report has no shipments table")

    assert shipments(s.report(as_of=before)) == {"SH-1"}
    assert shipments(s.report()) == {"SH-1", "SH-LATER"}


# ------------------------------------------------------------------ on PostgreSQL as well


def test_the_korea_lifecycle_with_a_chinese_owned_assignee_is_decided_the_same_on_each_store(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    s = base_world(start_server(store_url))
    s.party("cn-parent", "CN", name="Shanghai Parent")
    s.party("kr-sub", "KR", parent="cn-parent", name="Suwon AI")
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", SERIALS)
    refusal = s.refused(lambda: s.assign("b1", ["R-1"], "kr-sub"))
    assert "headquarters-rule" in refusal.subjects
    s.assign("b1", ["R-1"], "samsung")
    onward(s, "b1", ["R-2"], c.ONWARD_MOVEMENT_KIND_REEXPORT, "CN", T0 + timedelta(days=20))
    assert s.rules("b1") == ["reexport-not-authorized"]
    [export] = s.compliance("b1").exports
    at = T0 + timedelta(days=20)
    assert export.retention_until.ToDatetime().replace(tzinfo=at.tzinfo) == five_years_after(at)


def test_five_years_after_an_export_on_29_february_is_a_valid_date(s: Scenario) -> None:
    from datetime import UTC, datetime

    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    s.license("old", number="D0202024", valid_from=datetime(2024, 1, 1, tzinfo=UTC))
    s.order("b1", "samsung", "h100", 1, at=leap - timedelta(days=2))
    s.request_clearance("b1", "samsung", "samsung", 1, at=leap - timedelta(days=1, hours=2))
    s.grant("b1", "old", at=leap - timedelta(days=1))
    s.serials("b1", ["LEAP-1"], at=leap - timedelta(hours=5))
    s.ship("b1", "SH-LEAP", ["LEAP-1"], site="site", at=leap)
    [export] = s.compliance("b1").exports
    until = export.retention_until.ToDatetime().date().isoformat()
    assert until in ("2029-02-28", "2029-03-01")


def test_a_receipt_in_korea_by_a_subsidiary_of_a_chinese_parent_is_flagged_under_the_headquarters_rule(
    s: Scenario,
) -> None:
    # 742.6(a)(6)(iii)(A): an in-country handover to an entity whose ultimate parent is headquartered
    # in D:5 needs a license. A receipt is a fact (recorded), so it is flagged, critical.
    s.party("cn-parent", "CN", name="Shanghai Parent")
    s.party("kr-sub", "KR", parent="cn-parent", name="Suwon AI")
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.grant("b1", "lic")
    s.serials("b1", ["A-1", "A-2"])
    s.ship("b1", "SH-1", ["A-1", "A-2"], site="site")
    s.receive("b1", "SH-1", ["A-1", "A-2"], "kr-sub", "site")
    [finding] = s.findings("b1", "recipient-not-authorized")
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL and finding.party_id == s.ids["kr-sub"]
    assert sorted(finding.serials) == ["A-1", "A-2"]
    # A receipt by the cleared consignee raises nothing.
    s.order("b2", "samsung", "h100", 1)
    s.delivered("b2", "samsung", ["C-1"], shipment="SH-2")
    assert s.rules("b2") == []
