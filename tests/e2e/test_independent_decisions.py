"""Independent black-box scenarios of the registry's decisions against the rule text, through the
public gRPC API of a real server: decisions under the ruleset in force at their business time
(the AI Diffusion framework on, then off from 13 May 2025), the headquarters rule through a chain
of immediate parents, Hong Kong treated as China, the ECCN a clearance must be requested under,
NLR and its limits, screening by alternate name and a lapsed hit, drawdown on shipment, and the
auditor's per-shipment record in the compliance report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.domain.classification import NOV_2023, RulesetRegistry
from tests.e2e.conftest import RunningServer
from tests.e2e.scenario_world import T0, Scenario, base_world, csl, now
from tests.e2e.world import new_request_id, ts


@pytest.fixture
def s(server: RunningServer) -> Scenario:
    return base_world(server)


def case(s: Scenario, party: str) -> cp.ScreeningCase:
    return s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids[party]),
                                             metadata=s.md()).screening_case


# ------------------------------------------------ decisions under the rules in force at the time

DIFFUSION_ON = datetime(2025, 1, 15, tzinfo=UTC)
DIFFUSION_OFF = datetime(2025, 5, 13, tzinfo=UTC)


def test_a_clearance_to_israel_under_nlr_is_refused_while_the_ai_diffusion_rule_is_in_force_and_granted_after(
    s: Scenario,
) -> None:
    diffusion = replace(NOV_2023, ruleset_id="ai-diffusion-2025-01", title="AI Diffusion framework",
                        effective_from=DIFFUSION_ON, carve_out_groups=("A:5",))
    rescinded = replace(NOV_2023, ruleset_id="3A090-2025-05-13", title="AI Diffusion not enforced",
                        effective_from=DIFFUSION_OFF)
    s.server.registry.configure_compliance(
        rulesets=RulesetRegistry([NOV_2023, diffusion, rescinded]), actor="officer-independent",
        reason="AI Diffusion framework announced not enforced on 13 May 2025")
    s.party("il-lab", "IL", name="Tel Aviv AI Lab")
    s.license("nlr", countries=("IL",), auth_type=c.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED, number="")
    during = datetime(2025, 3, 3, 9, tzinfo=UTC)
    after = datetime(2025, 6, 2, 9, tzinfo=UTC)
    s.order("b1", "samsung", "h100", 2, at=during)
    s.request_clearance("b1", "il-lab", "il-lab", 2, country="IL", at=during + timedelta(hours=1))
    refusal = s.refused(lambda: s.grant("b1", "nlr", at=during + timedelta(hours=2)))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.subjects == ["destination-country-group"]
    s.grant("b1", "nlr", at=after)  # the framework is off: Israel is carved out again (A:6)


# ------------------------------------------------------------------ the headquarters rule


def test_the_headquarters_rule_follows_a_chain_of_immediate_parents_to_a_chinese_top(s: Scenario) -> None:
    s.party("cn-top", "CN", name="Hangzhou Group")
    s.party("kr-mid", "KR", immediate="cn-top", name="Korea Holdings (mid)")
    s.party("kr-leaf", "KR", immediate="kr-mid", name="Gwangju DC Leaf")
    got = s.requirements("h100", "KR", {"end_user": "kr-leaf"})
    assert [r.rule_id for r in got.requirements] == ["headquarters-rule"]
    [check] = got.headquarters_checks
    assert check.triggered_by_party_id == s.ids["cn-top"]


def test_hong_kong_is_treated_as_china(s: Scenario) -> None:
    got = s.requirements("h100", "HK")
    assert got.license_required
    assert [sorted(r.license_exceptions) for r in got.requirements] == [["NAC"]]
    s.party("hk-entity", "KR", hq="HK", name="Kowloon Trading")
    assert [r.rule_id for r in s.requirements("h100", "KR", {"end_user": "hk-entity"}).requirements] == [
        "headquarters-rule"]


def test_a_clearance_for_a_korean_end_user_with_a_chinese_parent_under_nlr_is_refused_by_the_headquarters_rule(
    s: Scenario,
) -> None:
    s.party("cn-parent", "CN", name="Wuhan Parent")
    s.party("kr-sub", "KR", parent="cn-parent", name="Daegu AI")
    s.license("nlr", auth_type=c.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED, number="")
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "kr-sub", "kr-sub", 2)
    refusal = s.refused(lambda: s.grant("b1", "nlr"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.subjects == ["headquarters-rule"]
    s.order("b2", "samsung", "h100", 2)
    s.request_clearance("b2", "samsung", "samsung", 2)
    s.grant("b2", "nlr")  # Korea, Korean parties: no license required


# ----------------------------------------------------------------- classification on clearance


def test_a_clearance_requested_under_another_eccn_than_the_computed_one_is_refused(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2, eccn="3A090.b")
    refusal = s.refused(lambda: s.grant("b1", "lic"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.subjects == ["classification-mismatch"]
    assert "TPP 15832" in refusal.message


# ------------------------------------------------------------------------------- screening


def test_an_alternate_name_on_the_entity_list_blocks_and_a_hit_that_lapses_from_a_new_snapshot_stops_blocking(
    s: Scenario,
) -> None:
    s.party("alias", "KR", name="Seoul Quantum Compute")
    s.import_list(csl(("EL-5", "Red Dragon Holdings", "Shenzhen, CN", "Seoul Quantum Compute")))
    assert case(s, "alias").blocking
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "alias", "alias", 2)
    refusal = s.refused(lambda: s.grant("b1", "lic"))
    assert refusal.subjects == ["screening-hit"]
    # The next snapshot no longer lists the entry: the hit lapses and stops blocking.
    s.import_list(csl(("EL-6", "Unrelated Trading LLC", "Dubai, AE", "")), at=T0 - timedelta(days=5))
    got = case(s, "alias")
    assert not got.blocking and not got.hits[0].current
    s.grant("b1", "lic")


def test_an_entity_listed_carrier_blocks_the_shipment(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.grant("b1", "lic")
    s.serials("b1", ["X-1", "X-2"])
    s.import_list(csl(("EL-8", "Korean Air Cargo", "Seoul, KR", "")), at=T0 + timedelta(hours=4))
    refusal = s.refused(lambda: s.ship("b1", "SH-1", ["X-1", "X-2"], site="site"))
    assert refusal.subjects == ["screening-hit"]


# ------------------------------------------------------------------------ quantity on shipment


def test_shipping_more_than_the_cleared_quantity_is_refused(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 4)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.grant("b1", "lic")
    s.serials("b1", ["X-1", "X-2", "X-3", "X-4"])
    refusal = s.refused(lambda: s.ship("b1", "SH-1", ["X-1", "X-2", "X-3"], site="site"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "cleared quantity 2" in refusal.message


# ------------------------------------------------------------------ the auditor's record list


def _table(report: dict[str, Any], title: str) -> list[dict[str, Any]]:
    for section in report["report"]["sections"]:
        for block in section["blocks"]:
            if block.get("type") == "table" and block.get("title", "").startswith(title):
                keys = [col["key"] for col in block["columns"]]
                return [dict(zip(keys, row, strict=True)) for row in block["rows"]]
    raise AssertionError(f"the report has no table {title!r}")


def test_the_compliance_report_gives_the_auditor_each_shipments_items_eccn_evidence_authorization_parties_and_filing(
    s: Scenario,
) -> None:
    s.party("cn-parent", "CN", name="Chengdu Parent")
    s.party("kr-sub", "KR", parent="cn-parent", name="Jeju AI Services")
    s.license("named", number="D5555555", end_user_ids=[s.ids["samsung"], s.ids["kr-sub"]],
              valid_to=datetime(2027, 6, 30, tzinfo=UTC))
    s.order("b1", "samsung", "h100", 3)
    s.request_clearance("b1", "samsung", "kr-sub", 3)
    s.grant("b1", "named")
    s.serials("b1", ["A-1", "A-2", "A-3"])
    s.ship("b1", "SH-9", ["A-1", "A-2", "A-3"], site="site")
    report = s.report()

    [items] = _table(report, "Shipments: items")
    assert (items["shipment"], items["model"], items["units"], items["eccn"], items["authorization"]) == (
        "SH-9", "H100 SXM", 3, "3A090.a", "D5555555")
    [detail] = _table(report, "Shipments: part number")
    assert (detail["part_number"], str(detail["value"]), detail["currency"], detail["datacenter"],
            detail["gpus_per_unit"], detail["end_use"]) == (
        "PN-h100", "90000.00", "USD", "yes", 1, "Sovereign AI model training")
    [filing] = _table(report, "Shipments: export filing")
    assert filing["itn"].startswith("X2026") and filing["carrier"] == "Korean Air Cargo"
    [parties] = _table(report, "Shipments: parties")
    assert (parties["purchaser"], parties["consignee"], parties["end_user"]) == (
        "Samsung Electronics", "Samsung Electronics", "Jeju AI Services")
    end_user = [p for p in _table(report, "Parties of each cleared batch") if p["role"] == "end user"]
    assert [(p["parent"], p["parent_hq"]) for p in end_user] == [("Chengdu Parent", "CN")]
    [classification] = _table(report, "Classification per clearance")
    assert (str(classification["tpp"]), classification["eccn"]) == ("15832", "3A090.a")
    assert str(classification["pd"]).startswith("19.4")
    [authorization] = [a for a in _table(report, "Authorizations") if a["authorization"].startswith("D5555555")]
    assert authorization["valid_to"].startswith("2027-06-30")
    [drawn] = [d for d in _table(report, "Drawdown per authorization: units") if d["authorization"].startswith("D5555555")]
    assert drawn["drawn"] == 3
    [dcs] = _table(report, "Destination Control Statement")
    assert "3A090.a" in dcs["statement"]
    [retention] = _table(report, "Record retention per export")
    assert retention["until"].startswith("2031-02-03")


# ---------------------------------------------------------------- more decisions the registry owns


def test_assigning_to_a_korean_party_with_an_open_entity_list_hit_is_refused(s: Scenario) -> None:
    s.party("listed", "KR", name="Mokpo Compute Ltd")
    s.order("b1", "samsung", "h100", 2)
    s.delivered("b1", "samsung", ["X-1", "X-2"])
    s.import_list(csl(("EL-3", "Mokpo Compute Ltd", "Mokpo, KR", "")), at=T0 + timedelta(days=7))
    refusal = s.refused(lambda: s.assign("b1", ["X-1"], "listed"))
    assert refusal.subjects == ["screening-hit"]
    assert "EL-3" in refusal.message or "Mokpo" in refusal.message


def test_a_denied_or_revoked_clearance_cannot_be_shipped_and_the_revocation_returns_the_drawdown(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.send("DenyClearance", c.DenyClearanceRequest(request_id=new_request_id(), batch_id=s.ids["b1"],
                                                   rule="end-use-concern", reason="end use unclear"))
    s.serials("b1", ["D-1", "D-2"])
    assert s.refused(lambda: s.ship("b1", "SH-1", ["D-1", "D-2"], site="site")).code == grpc.StatusCode.FAILED_PRECONDITION

    s.order("b2", "samsung", "h100", 2)
    s.request_clearance("b2", "samsung", "samsung", 2)
    s.grant("b2", "lic")
    s.send("RevokeClearance", c.RevokeClearanceRequest(request_id=new_request_id(), batch_id=s.ids["b2"],
                                                       reason="license suspended", occurred_at=ts(T0 + timedelta(hours=3))))
    s.serials("b2", ["V-1", "V-2"])
    assert s.refused(lambda: s.ship("b2", "SH-2", ["V-1", "V-2"], site="site")).code == grpc.StatusCode.FAILED_PRECONDITION
    ledger = s.api.compliance.GetAuthorizationLedger(
        cp.GetAuthorizationLedgerRequest(authorization_id=s.ids["lic"]), metadata=s.md()).ledger
    assert (ledger.drawn_quantity, ledger.returned_quantity) == (2, 2)


def test_a_transfer_to_a_korean_owner_but_a_site_abroad_is_refused_as_leaving_the_country(s: Scenario) -> None:
    s.party("kr-clean", "KR", name="Changwon Cloud")
    s.party("jp-ops", "JP", name="Fukuoka Ops")
    s.site("fukuoka", "jp-ops", country="JP")
    s.order("b1", "samsung", "h100", 2)
    s.delivered("b1", "samsung", ["T-1", "T-2"])
    refusal = s.refused(lambda: s.transfer("b1", ["T-1"], "kr-clean", to_site="fukuoka"))
    assert refusal.subjects == ["in-country-transfer"]


def test_a_4a090_server_needs_a_license_to_china_and_to_korea_only_under_the_headquarters_rule(s: Scenario) -> None:
    s.model("nvl72", {"name": "GB200 NVL72", "dense_tops": {"fp8": "5000"}, "die_area_mm2": "1600"}, gpus=72)
    assert s.classify("nvl72").eccn == "4A090.a"
    assert [r.rule_id for r in s.requirements("nvl72", "CN").requirements] == ["destination-country-group"]
    assert not s.requirements("nvl72", "KR").license_required


def test_a_report_as_of_before_a_discrepancy_shows_no_finding_and_one_after_shows_it(s: Scenario) -> None:
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "samsung", "samsung", 2)
    s.grant("b1", "lic")
    s.serials("b1", ["P-1", "P-2"])
    s.ship("b1", "SH-1", ["P-1", "P-2"], site="site")
    before = now()
    s.receive("b1", "SH-1", ["P-1"], "samsung", "site")
    assert _table(s.report(as_of=before), "Findings") == []
    assert [f["rule"] for f in _table(s.report(), "Findings")] == ["units-missing-in-transit"]


def test_the_compliance_report_shows_each_screening_hit_of_a_clearance_with_its_list_entry_score_and_resolver(
    s: Scenario,
) -> None:
    s.import_list(csl(("EL-42", "Samsung Electronic", "Hong Kong, HK", "")))
    [hit] = case(s, "samsung").hits
    s.send("ResolveScreeningHit", cp.ResolveScreeningHitRequest(
        request_id=new_request_id(), party_id=s.ids["samsung"], hit_id=hit.hit_id,
        resolution=cp.HIT_RESOLUTION_FALSE_POSITIVE, note="different company, Seoul registry checked"),
        actor="officer-lee")
    s.order("b1", "samsung", "h100", 1)
    s.request_clearance("b1", "samsung", "samsung", 1)
    s.grant("b1", "lic")
    [row] = _table(s.report(), "Destination, license requirements and screening")
    assert row["screening"].startswith("US CSL ")
    assert "EL-42" in row["hits"] and "Entity List" in row["hits"]
    assert f"score {hit.score}" in row["hits"]
    assert "false positive by officer-lee" in row["hits"]
