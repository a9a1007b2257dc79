"""The authorization as it stands at each act, over the wire (CommandService.Ship, Assign,
AmendReference, RecordOnwardMovement; ComplianceService.ListFindings) on one real gRPC server
shared by the module: what tests/integration/test_rule_text_authorization_in_force.py pins on the
application also holds for a client in another language. Each test uses batches and parties of
its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import queries_pb2 as q
from registry.config import Settings
from tests.e2e.conftest import RunningServer
from tests.e2e.scenario_world import T0, Scenario, base_world
from tests.e2e.world import new_request_id, ts


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    path: Path = tmp_path_factory.mktemp("authorization-in-force")
    server = RunningServer(Settings(database_url=f"sqlite:///{path}/registry.db", listen="127.0.0.1:0",
                                    projection_process=False, subscription_poll_seconds=0.2)).start()
    try:
        world = base_world(server)
        world.party("mainland", "CN", name="Mainland Holdings")
        yield world
    finally:
        server.stop()


def _amend_authorization(s: Scenario, key: str, fields: dict[str, object], at: timedelta) -> None:
    request = c.AmendReferenceRequest(request_id=new_request_id(), kind=c.REFERENCE_KIND_AUTHORIZATION,
                                      target_id=s.ids[key], reason="license amended by BIS", occurred_at=ts(T0 + at))
    request.fields.update(fields)
    s.send("AmendReference", request)


def test_ship_refuses_once_an_amendment_no_longer_names_the_batchs_ultimate_consignee(s: Scenario) -> None:
    s.party("kt", "KR", name="KT Cloud")
    s.license("named", number="D7000001", consignee_ids=[s.ids["samsung"]], end_user_ids=[s.ids["samsung"]])
    s.order("amended", "samsung", "h100", 2)
    s.request_clearance("amended", "samsung", "samsung", 2)
    s.grant("amended", "named")
    s.serials("amended", ["AM-1", "AM-2"])
    _amend_authorization(s, "named", {"consignee_ids": [s.ids["kt"]]}, timedelta(hours=5))
    refusal = s.refused(lambda: s.ship("amended", "SH-A", ["AM-1", "AM-2"], site="site"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION and refusal.reason == "COMPLIANCE_REFUSAL"
    assert refusal.subjects == ["authorization-consignee"] and "D7000001" in refusal.message


def test_ship_refuses_after_the_license_expired_naming_the_rule(s: Scenario) -> None:
    s.license("short", number="D7000002", valid_to=T0 + timedelta(days=2))
    s.order("late", "samsung", "h100", 2)
    s.request_clearance("late", "samsung", "samsung", 2)
    s.grant("late", "short")
    s.serials("late", ["LT-1", "LT-2"])
    refusal = s.refused(lambda: s.ship("late", "SH-L", ["LT-1", "LT-2"], site="site", at=T0 + timedelta(days=3)))
    assert refusal.subjects == ["authorization-validity"] and "D7000002" in refusal.message


def test_an_assignment_to_a_headquarters_rule_party_after_the_license_naming_it_expired_is_refused(
    s: Scenario,
) -> None:
    s.party("pangyo", "KR", parent="mainland", name="Pangyo Compute")
    s.license("hq", number="D7000003", valid_to=T0 + timedelta(days=20),
              end_user_ids=[s.ids["samsung"], s.ids["pangyo"]])
    s.order("hq-b", "samsung", "h100", 4)
    s.delivered("hq-b", "samsung", ["HQ-1", "HQ-2", "HQ-3", "HQ-4"], authorization="hq", shipment="SH-HQ")
    s.assign("hq-b", ["HQ-1"], "pangyo", at=T0 + timedelta(days=10))  # while the license is valid
    refusal = s.refused(lambda: s.assign("hq-b", ["HQ-2"], "pangyo", at=T0 + timedelta(days=25)))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION and refusal.subjects == ["headquarters-rule"]
    assert "not valid at" in refusal.message


def test_a_reexport_recorded_with_a_headquarters_rule_recipient_the_license_does_not_name_is_a_critical_finding(
    s: Scenario,
) -> None:
    s.party("tokyo", "JP", parent="mainland", name="Tokyo Subsidiary of Mainland")
    s.license("kr-jp", number="D7000004", countries=("KR", "JP"))
    s.order("onward", "samsung", "h100", 2)
    s.delivered("onward", "samsung", ["ON-1", "ON-2"], authorization="kr-jp", shipment="SH-ON")

    def reexport(recipient: str) -> str:
        return s.send("RecordOnwardMovement", c.RecordOnwardMovementRequest(
            request_id=new_request_id(), batch_id=s.ids["onward"], serials=["ON-1"],
            kind=c.ONWARD_MOVEMENT_KIND_REEXPORT, country="JP", place="Yokohama", note="reported by the consignee",
            recipient_id=recipient, occurred_at=ts(T0 + timedelta(days=30))))

    missing = s.refused(lambda: reexport("00000000-0000-4000-8000-000000000000"))
    assert missing.code == grpc.StatusCode.NOT_FOUND and "recipient_id" in missing.message
    reexport(s.ids["tokyo"])  # a fact: recorded, then flagged
    [finding] = s.findings("onward", "reexport-not-authorized")
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL
    assert "Tokyo Subsidiary of Mainland has ultimate parent Mainland Holdings" in finding.reasons[0]
    assert "license D7000004 does not name the recipient as consignee or end user" in finding.reasons[0]
    # the recipient shows to the exporter's staff: the batch's onward movements and its custody trail
    [movement] = s.compliance("onward").onward_movements
    assert (movement.kind, movement.country, movement.recipient_id) == ("reexport", "JP", s.ids["tokyo"])
    trail = s.api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(
        batch_id=s.ids["onward"], min_position=s.position), metadata=s.md(), timeout=30).entries
    [entry] = [e for e in trail if e.event_type == "OnwardMovementRecorded"]
    assert json.loads(entry.detail_json)["recipient_id"] == s.ids["tokyo"]
