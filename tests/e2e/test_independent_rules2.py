"""Independent black-box scenarios of the rule text (/work/shared/reference/export-controls.md), a
second round, in the areas the other independent suites cover least: classification exactly at
its boundaries (no rounding across a threshold, each precision's own bit length, Note 2 and 4A090
for systems), a corrected estimated figure and a proposed ruleset re-evaluated, the AI Diffusion
framework in force at a shipment, license exceptions held to their own scope at the grant, legal
holds over later exports and several holds, the Destination Control Statement of a 3A090.b item,
screening resolutions across snapshots and renames, the red flags at their thresholds (GPUs in
servers, commercial quantities, a site that cannot confirm its power), the auditor's per-shipment
export record, the chain of custody, and units that left the chain (decommissioned, lost).

Everything goes through the public gRPC API of one real server shared by the module (one world,
each test its own batches, serials and party names), so the file adds a few seconds to CI. The
rulesets are the operator's configuration (no RPC), set as the other independent suites set them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import queries_pb2 as q
from registry.config import Settings
from registry.domain.classification import NOV_2023, RulesetRegistry
from tests.e2e.conftest import RunningServer
from tests.e2e.scenario_world import H100, T0, Scenario, base_world, csl
from tests.e2e.security_world import Credentials
from tests.e2e.world import new_request_id, ts


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    path = tmp_path_factory.mktemp("rules2")
    server = RunningServer(Settings(database_url=f"sqlite:///{path}/registry.db", listen="127.0.0.1:0",
                                    subscription_poll_seconds=0.2, projection_process=False)).start()
    world = base_world(server)
    yield server, dict(world.ids)
    server.stop()


@pytest.fixture
def s(shared: tuple[RunningServer, dict[str, str]]) -> Scenario:
    server, ids = shared
    scenario = Scenario(server, server.stubs(), ids=dict(ids))
    scenario.position = server.head()
    return scenario


def amend(s: Scenario, kind: int, target: str, reason: str, **values: Any) -> str:
    fields = Struct()
    fields.update(values)
    return s.send("AmendReference", c.AmendReferenceRequest(
        request_id=new_request_id(), kind=kind, target_id=s.ids[target], fields=fields, reason=reason,
        occurred_at=ts(T0 - timedelta(days=1))))


def export_of(s: Scenario, batch: str, shipment: str) -> cp.ExportRecord:
    [record] = [e for e in s.compliance(batch).exports if e.shipment_id == shipment]
    return record


def utc(stamp: Any) -> datetime:
    return stamp.ToDatetime().replace(tzinfo=UTC)


# ------------------------------------------------------------------ classification math


def test_a_density_a_hair_below_5_92_is_not_rounded_up_into_3a090_a(s: Scenario) -> None:
    # TPP 1600 (200 INT8 TOPS x 8) over 270.2705 mm2: PD 5.919998..., below 5.92 (shown as 5.9200
    # when rounded to 4 places). 3A090.a.2 needs PD >= 5.92: it is 3A090.b.2 (TPP >= 1600, PD >= 3.2).
    s.model("pd-hair", {"name": "pd hair", "dense_tops": {"int8": "200"}, "die_area_mm2": "270.2705"})
    got = s.classify("pd-hair")
    assert got.eccn == "3A090.b"
    assert "3A090.a.2" not in got.paragraphs


@pytest.mark.parametrize(
    ("int8", "die_area", "why"),
    [
        ("200", "500.001", "TPP 1600, PD 3.199994 (3.2000 rounded): below 3.2 and TPP below 2400: nothing"),
        ("300", "1500.001", "TPP 2400, PD 1.5999989 (1.6000 rounded): below 1.6, and below 3.2: nothing"),
    ],
)
def test_the_lower_density_thresholds_are_not_met_by_rounding_either(s: Scenario, int8: str, die_area: str, why: str) -> None:
    key = f"round-{int8}-{die_area}"
    s.model(key, {"name": key, "dense_tops": {"int8": int8}, "die_area_mm2": die_area})
    assert s.classify(key).eccn == "", why


def test_a_tpp_a_hair_below_4800_is_not_rounded_up_into_3a090_a(s: Scenario) -> None:
    # 599.99999 INT8 TOPS x 8 = 4799.99992 < 4800; the density (0.048) meets no test.
    s.model("tpp-hair", {"name": "tpp hair", "dense_tops": {"int8": "599.99999"}, "die_area_mm2": "100000"})
    got = s.classify("tpp-hair")
    assert Decimal(got.tpp) == Decimal("4799.99992")
    assert (got.status, got.eccn) == (cp.CONTROL_STATUS_NOT_CONTROLLED, "")


def test_tpp_uses_each_precisions_own_bit_length_so_1200_fp4_tops_make_4800(s: Scenario) -> None:
    s.model("fp4", {"name": "fp4 chip", "dense_tops": {"fp4": "1200", "fp16": "290"}, "die_area_mm2": "100000"})
    got = s.classify("fp4")
    assert (Decimal(got.tpp), got.governing_precision, got.eccn) == (Decimal(4800), "fp4", "3A090.a")
    assert Decimal(got.tpp_by_precision["fp16"]) == Decimal(4640)


def test_a_card_later_marketed_for_datacenters_loses_the_note_2_exclusion(s: Scenario) -> None:
    s.model("remarketed", {"name": "remarketed", "dense_tops": {"fp8": "590"}, "die_area_mm2": "600"}, datacenter=False)
    assert s.classify("remarketed").status == cp.CONTROL_STATUS_EXCLUDED_NOTE_2
    amend(s, c.REFERENCE_KIND_GPU_MODEL, "remarketed", "now sold as a datacenter SKU", datacenter_marketed=True)
    got = s.classify("remarketed")
    assert (got.status, got.eccn) == (cp.CONTROL_STATUS_CONTROLLED, "3A090.a")
    assert s.requirements("remarketed", "CN").license_required


def test_a_card_not_for_datacenters_that_meets_no_parameter_is_not_controlled_rather_than_excluded(s: Scenario) -> None:
    s.model("small-gaming", {"name": "small gaming", "dense_tops": {"int8": "100"}, "die_area_mm2": "600"},
            datacenter=False)
    assert s.classify("small-gaming").status == cp.CONTROL_STATUS_NOT_CONTROLLED


def test_a_server_of_cards_excluded_by_note_2_is_not_4a090(s: Scenario) -> None:
    # 4A090 covers systems containing ICs that MEET 3A090.a/.b; a Note 2 card does not.
    s.model("gaming-box", {"name": "gaming box", "dense_tops": {"fp8": "590"}, "die_area_mm2": "600"},
            datacenter=False, gpus=8)
    got = s.classify("gaming-box")
    assert got.eccn == ""
    assert got.status in (cp.CONTROL_STATUS_EXCLUDED_NOTE_2, cp.CONTROL_STATUS_NOT_CONTROLLED)
    assert not s.requirements("gaming-box", "CN").license_required


def test_correcting_an_estimated_tpp_reclassifies_the_model_and_the_next_grant_follows_the_corrected_figure(
    s: Scenario,
) -> None:
    # RTX PRO 6000 Blackwell Server Edition: no official TPP; ~1000 dense FP8 TFLOPS (est.) -> 8000.
    s.model("rtx6000", {"name": "RTX PRO 6000 Blackwell SE (est.)", "dense_tops": {"fp8": "1000"},
                        "die_area_mm2": "750"})
    assert s.classify("rtx6000").eccn == "3A090.a"
    s.order("rtx-b1", "samsung", "rtx6000", 2)
    s.request_clearance("rtx-b1", "samsung", "samsung", 2, eccn="3A090.a")
    # The user corrects the estimate: 500 dense FP8 TFLOPS -> TPP 4000, PD 5.33: 3A090.b.
    amend(s, c.REFERENCE_KIND_GPU_MODEL, "rtx6000", "vendor datasheet: dense figure is half the estimate",
          dense_tops={"fp8": "500"})
    got = s.classify("rtx6000")
    assert (Decimal(got.tpp), got.eccn) == (Decimal(4000), "3A090.b")
    refusal = s.refused(lambda: s.grant("rtx-b1", "lic"))
    assert refusal.subjects == ["classification-mismatch"]
    s.order("rtx-b2", "samsung", "rtx6000", 2)
    s.request_clearance("rtx-b2", "samsung", "samsung", 2, eccn="3A090.b")
    s.grant("rtx-b2", "lic")
    s.serials("rtx-b2", ["RTX-1", "RTX-2"])
    s.ship("rtx-b2", "SH-RTX", ["RTX-1", "RTX-2"], site="site")
    record = export_of(s, "rtx-b2", "SH-RTX")
    assert (record.eccn, Decimal(record.tpp)) == ("3A090.b", Decimal(4000))


def test_a_proposed_ruleset_lists_each_model_whose_eccn_would_change_with_its_batches(s: Scenario) -> None:
    s.model("a100-like", {"name": "A100-like", "dense_tops": {"int8": "624"}, "die_area_mm2": "826"})
    s.order("imp-b1", "samsung", "a100-like", 3)
    s.request_clearance("imp-b1", "samsung", "samsung", 3)
    proposal = cp.ProposedRuleset(ruleset_id="draft-2027", title="draft", tpp_a="5000", pd_a2="7")
    got = s.api.compliance.GetRuleChangeImpact(cp.GetRuleChangeImpactRequest(proposed_ruleset=proposal),
                                               metadata=s.md())
    [impact] = [m for m in got.models if m.model_id == s.ids["a100-like"]]
    assert (impact.before.eccn, impact.after.eccn) == ("3A090.a", "3A090.b")
    [batch] = [b for b in impact.batches if b.batch_id == s.ids["imp-b1"]]
    assert (batch.quantity, batch.clearance_status, batch.clearance_eccn, batch.destination_country) == (
        3, "requested", "3A090.a", "KR")
    assert s.ids["h100"] not in {m.model_id for m in got.models}  # TPP 15832: 3A090.a under both


def test_shipping_a_batch_cleared_under_an_eccn_its_corrected_model_no_longer_has_is_refused(s: Scenario) -> None:
    # The DCS and the AES filing would carry the old ECCN: the export would go out misclassified.
    s.model("est-b", {"name": "estimated b card", "dense_tops": {"int8": "300"}, "die_area_mm2": "1500"})
    s.order("mis-b1", "samsung", "est-b", 2)
    s.request_clearance("mis-b1", "samsung", "samsung", 2, eccn="3A090.b")
    s.grant("mis-b1", "lic")
    s.serials("mis-b1", ["MIS-1", "MIS-2"])
    amend(s, c.REFERENCE_KIND_GPU_MODEL, "est-b", "measured die area is a third of the estimate", die_area_mm2="500")
    assert s.classify("est-b").eccn == "3A090.b"  # TPP 2400, PD 4.8: still .b
    amend(s, c.REFERENCE_KIND_GPU_MODEL, "est-b", "dense INT8 is 700, not 300", dense_tops={"int8": "700"})
    assert s.classify("est-b").eccn == "3A090.a"  # TPP 5600
    refusal = s.refused(lambda: s.ship("mis-b1", "SH-MIS", ["MIS-1", "MIS-2"], site="site"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.subjects == ["classification-mismatch"]


def test_correcting_a_models_figures_flags_the_batches_already_exported_under_the_old_eccn(s: Scenario) -> None:
    # The invoice's Destination Control Statement and the EEI carried 3A090.b; the item is 3A090.a.
    s.model("est-b2", {"name": "estimated b card 2", "dense_tops": {"int8": "300"}, "die_area_mm2": "1500"})
    s.order("mis-b2", "samsung", "est-b2", 1)
    s.request_clearance("mis-b2", "samsung", "samsung", 1, eccn="3A090.b")
    s.grant("mis-b2", "lic")
    s.serials("mis-b2", ["MIS2-1"])
    s.ship("mis-b2", "SH-MIS2", ["MIS2-1"], site="site")
    assert s.rules("mis-b2") == []
    amend(s, c.REFERENCE_KIND_GPU_MODEL, "est-b2", "dense INT8 is 700, not 300", dense_tops={"int8": "700"})
    assert s.rules("mis-b2") == ["exported-under-another-eccn"]


def test_correcting_an_uncontrolled_models_figures_to_controlled_ones_refuses_its_shipment_to_china_under_nlr(
    s: Scenario,
) -> None:
    s.party("cn-lab", "CN", name="Suzhou Vision Lab")
    s.site("suzhou", "cn-lab", country="CN")
    s.license("nlr-cn", countries=("CN",), eccns=("3A991",),
              auth_type=c.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED, number="")
    s.model("weak-est", {"name": "weak (est.)", "dense_tops": {"int8": "100"}, "die_area_mm2": "800"})
    s.order("cn-b1", "samsung", "weak-est", 2)
    s.request_clearance("cn-b1", "cn-lab", "cn-lab", 2, eccn="3A991", country="CN")
    s.grant("cn-b1", "nlr-cn")
    s.serials("cn-b1", ["CNW-1", "CNW-2"])
    amend(s, c.REFERENCE_KIND_GPU_MODEL, "weak-est", "vendor figure: 650 dense INT8 TOPS", dense_tops={"int8": "650"})
    assert s.classify("weak-est").eccn == "3A090.a"
    refusal = s.refused(lambda: s.ship("cn-b1", "SH-CNW", ["CNW-1", "CNW-2"], country="CN", site="suzhou"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.subjects[0] in ("destination-country-group", "classification-mismatch")


def test_a_license_for_3a090_does_not_cover_a_4a090_server_and_one_for_3a090_b_does_not_cover_3a090_a(
    s: Scenario,
) -> None:
    s.model("hgx8e", {"name": "HGX H100 8-GPU e", "dense_tops": {"fp8": "1979"}, "die_area_mm2": "814"}, gpus=8)
    s.license("chips-only", number="D5050505", eccns=("3A090",))
    s.license("b-only", number="D6060606", eccns=("3A090.b",))
    s.order("ecc-b1", "samsung", "hgx8e", 1)
    s.request_clearance("ecc-b1", "samsung", "samsung", 1, eccn="4A090.a")
    assert s.refused(lambda: s.grant("ecc-b1", "chips-only")).subjects == ["authorization-eccn"]
    s.order("ecc-b2", "samsung", "h100", 1)
    s.request_clearance("ecc-b2", "samsung", "samsung", 1, eccn="3A090.a")
    assert s.refused(lambda: s.grant("ecc-b2", "b-only")).subjects == ["authorization-eccn"]
    s.grant("ecc-b2", "chips-only")


def test_a_precision_without_its_bit_length_is_refused_naming_bit_lengths_and_writes_nothing(s: Scenario) -> None:
    refusal = s.refused(lambda: s.send("RegisterGpuModel", c.RegisterGpuModelRequest(
        request_id=new_request_id(), vendor="NVIDIA", name="no bits", part_number="PN-nobits",
        dense_tops={"fp8": "1000", "int8": "1000"}, bit_lengths={"fp8": 8}, die_area_mm2="800",
        datacenter_marketed=True, tdp_watts=700)))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "bit_lengths" in refusal.message or any("bit_lengths" in f for f in refusal.fields)


# ------------------------------------------------------------- where a license is needed


def test_aca_cannot_cover_a_korean_subsidiary_of_a_chinese_parent_but_nac_with_its_number_can(s: Scenario) -> None:
    s.party("cn-top-x", "CN", name="Nanjing Top Holdings")
    s.party("kr-sub-x", "KR", parent="cn-top-x", name="Ulsan Inference Services")
    s.license("aca", auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="ACA", number="")
    s.license("nac", auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="NAC", number="NAC-2026-0001")
    s.order("hq-b1", "samsung", "h100", 2)
    s.request_clearance("hq-b1", "kr-sub-x", "kr-sub-x", 2)
    refusal = s.refused(lambda: s.grant("hq-b1", "aca"))
    assert refusal.subjects == ["headquarters-rule"]
    s.grant("hq-b1", "nac")


def test_nac_does_not_cover_a_destination_only_in_d1_and_aca_does(s: Scenario) -> None:
    s.party("vn-dc", "VN", name="Hanoi Compute JSC")
    s.license("nac-vn", countries=("VN",), auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="NAC",
              number="NAC-2026-0002")
    s.license("aca-vn", countries=("VN",), auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="ACA",
              number="")
    s.order("vn-b1", "samsung", "h100", 2)
    s.request_clearance("vn-b1", "vn-dc", "vn-dc", 2, country="VN")
    refusal = s.refused(lambda: s.grant("vn-b1", "nac-vn"))
    assert refusal.subjects == ["destination-country-group"]
    s.grant("vn-b1", "aca-vn")


def test_a_license_is_not_valid_at_its_exclusive_end(s: Scenario) -> None:
    end = T0 + timedelta(hours=2)
    s.license("ends", number="D4040404", valid_to=end)
    s.order("end-b1", "samsung", "h100", 1)
    s.request_clearance("end-b1", "samsung", "samsung", 1)
    refusal = s.refused(lambda: s.grant("end-b1", "ends", at=end))
    assert refusal.subjects == ["authorization-validity"]
    s.grant("end-b1", "ends", at=end - timedelta(seconds=1))


def test_a_shipment_after_the_license_was_amended_to_drop_the_end_user_is_refused_or_flagged(s: Scenario) -> None:
    s.party("other-eu", "KR", name="Gumi Research Institute")
    s.license("named-eu", number="D2323232", end_user_ids=[s.ids["samsung"]])
    s.order("aeu-b1", "samsung", "h100", 1)
    s.request_clearance("aeu-b1", "samsung", "samsung", 1)
    s.grant("aeu-b1", "named-eu")
    s.serials("aeu-b1", ["AEU-1"])
    amend(s, c.REFERENCE_KIND_AUTHORIZATION, "named-eu", "BIS amended the license: end user replaced",
          end_user_ids=[s.ids["other-eu"]])
    try:
        s.ship("aeu-b1", "SH-AEU", ["AEU-1"], site="site")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        return
    assert "export-without-clearance" in s.rules("aeu-b1"), "exported for an end user the license no longer names"


def test_a_license_is_not_valid_before_its_start(s: Scenario) -> None:
    start = T0 + timedelta(hours=2)
    s.license("starts", number="D4141414", valid_from=start)
    s.order("start-b1", "samsung", "h100", 1)
    s.request_clearance("start-b1", "samsung", "samsung", 1)
    assert s.refused(lambda: s.grant("start-b1", "starts", at=start - timedelta(seconds=1))).subjects == [
        "authorization-validity"]
    s.grant("start-b1", "starts", at=start)


def test_nac_must_carry_its_notification_number_and_aca_needs_none(s: Scenario) -> None:
    refusal = s.refused(lambda: s.license("nac-nonumber", auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION,
                                          exception_code="NAC", number=""))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and "number" in refusal.message
    s.license("aca-nonumber", countries=("VN",), auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION,
              exception_code="ACA", number="")


def test_a_shipment_under_nac_shows_the_auditor_its_aes_license_code_c67(s: Scenario) -> None:
    s.party("cn-top-z", "CN", name="Xiamen Top Holdings")
    s.party("kr-sub-z", "KR", parent="cn-top-z", name="Gyeongju Inference")
    s.license("nac-z", auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="NAC", number="NAC-2026-0099")
    s.order("nac-b1", "samsung", "h100", 1)
    s.request_clearance("nac-b1", "kr-sub-z", "kr-sub-z", 1)
    s.grant("nac-b1", "nac-z")
    s.serials("nac-b1", ["NAC-1"])
    s.ship("nac-b1", "SH-NAC", ["NAC-1"], site="site")
    record = export_of(s, "nac-b1", "SH-NAC")
    assert (record.exception_code, record.authorization_number, record.aes_license_code) == (
        "NAC", "NAC-2026-0099", "C67")
    rows = [str(row) for section in s.report()["report"]["sections"] for block in section["blocks"]
            if block.get("type") == "table" and block.get("title", "").startswith("Shipments")
            for row in block["rows"] if "SH-NAC" in str(row)]
    assert any("C67" in row for row in rows), rows


def test_an_intermediate_consignee_owned_from_china_refuses_the_shipment_under_the_headquarters_rule(
    s: Scenario,
) -> None:
    s.party("cn-top-i", "CN", name="Qingdao Logistics Group")
    s.party("kr-ic", "KR", roles=("consignee",), parent="cn-top-i", name="Busan Bonded Transit")
    # Korea needs no license for Korean parties (NLR); the intermediate consignee takes possession of
    # the item and its ultimate parent is headquartered in China: a license is needed.
    s.license("nlr-kr", auth_type=c.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED, number="")
    s.order("ic-b1", "samsung", "h100", 1)
    s.request_clearance("ic-b1", "samsung", "samsung", 1)
    s.grant("ic-b1", "nlr-kr")
    s.serials("ic-b1", ["ICX-1"])
    refusal = s.refused(lambda: s.ship("ic-b1", "SH-IC", ["ICX-1"], site="site",
                                       intermediate_consignee_ids=[s.ids["kr-ic"]]))
    assert refusal.subjects == ["headquarters-rule"]


# ----------------------------------------------- rulesets with effective dates, at a shipment

DIFFUSION_ON = datetime(2025, 1, 15, tzinfo=UTC)
DIFFUSION_OFF = datetime(2025, 5, 13, tzinfo=UTC)


def test_a_clearance_to_israel_granted_under_nlr_before_the_ai_diffusion_rule_cannot_ship_while_it_is_in_force(
    s: Scenario,
) -> None:
    diffusion = replace(NOV_2023, ruleset_id="ai-diffusion-2025-01", title="AI Diffusion framework",
                        effective_from=DIFFUSION_ON, carve_out_groups=("A:5",))
    rescinded = replace(NOV_2023, ruleset_id="3A090-2025-05-13", title="AI Diffusion not enforced",
                        effective_from=DIFFUSION_OFF)
    s.server.registry.configure_compliance(
        rulesets=RulesetRegistry([NOV_2023, diffusion, rescinded]), actor="officer-independent",
        reason="AI Diffusion framework announced not enforced on 13 May 2025")
    s.party("il-dc", "IL", name="Haifa Compute Ltd")
    s.site("haifa", "il-dc", country="IL")
    s.license("nlr-il", countries=("IL",), auth_type=c.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED, number="",
              valid_from=datetime(2024, 12, 1, tzinfo=UTC))
    before = datetime(2025, 1, 6, 9, tzinfo=UTC)
    s.order("il-b1", "samsung", "h100", 2, at=before)
    s.request_clearance("il-b1", "il-dc", "il-dc", 2, country="IL", at=before + timedelta(hours=1))
    s.grant("il-b1", "nlr-il", at=before + timedelta(hours=2))  # Israel is in A:6: no license needed
    s.serials("il-b1", ["IL-1", "IL-2"], at=before + timedelta(hours=3))
    during = datetime(2025, 2, 3, 9, tzinfo=UTC)
    refusal = s.refused(lambda: s.ship("il-b1", "SH-IL", ["IL-1", "IL-2"], country="IL", site="haifa", at=during))
    assert refusal.subjects == ["destination-country-group"]
    s.ship("il-b1", "SH-IL", ["IL-1", "IL-2"], country="IL", site="haifa", at=datetime(2025, 5, 20, tzinfo=UTC))
    assert "export-without-clearance" not in s.rules("il-b1")
    assert export_of(s, "il-b1", "SH-IL").classification_ruleset_id == NOV_2023.ruleset_id  # the grant's


def test_no_3a090_classification_is_made_under_rules_not_yet_in_force(s: Scenario) -> None:
    # 88 FR 73458 (the 3A090 thresholds modelled) took effect on 17 Nov 2023.
    as_of = datetime(2023, 6, 1, tzinfo=UTC)
    request = cp.ClassifyModelRequest(model_id=s.ids["h100"])
    request.as_of.CopyFrom(ts(as_of))
    try:
        got = s.api.compliance.ClassifyModel(request, metadata=s.md())
    except grpc.RpcError as error:
        assert error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND,
                                grpc.StatusCode.INVALID_ARGUMENT)
        return
    assert utc(got.ruleset.effective_from) <= as_of, (got.ruleset.ruleset_id, got.ruleset.effective_from)


def _diffusion_configured(s: Scenario) -> None:
    """The AI Diffusion framework from 15 Jan 2025 (no A:6 carve-out), not enforced from 13 May 2025
    (recorded once: configuring the same rule data again records nothing)."""
    diffusion = replace(NOV_2023, ruleset_id="ai-diffusion-2025-01", title="AI Diffusion framework",
                        effective_from=DIFFUSION_ON, carve_out_groups=("A:5",))
    rescinded = replace(NOV_2023, ruleset_id="3A090-2025-05-13", title="AI Diffusion not enforced",
                        effective_from=DIFFUSION_OFF)
    s.server.registry.configure_compliance(
        rulesets=RulesetRegistry([NOV_2023, diffusion, rescinded]), actor="officer-independent",
        reason="AI Diffusion framework announced not enforced on 13 May 2025")


def test_a_transshipment_through_israel_is_flagged_only_while_the_ai_diffusion_rule_was_in_force(s: Scenario) -> None:
    _diffusion_configured(s)
    for key, moved in (("dif-b1", datetime(2025, 2, 10, tzinfo=UTC)), ("dif-b2", datetime(2025, 6, 10, tzinfo=UTC))):
        start = moved - timedelta(days=9)
        s.order(key, "samsung", "h100", 1, at=start)
        s.request_clearance(key, "samsung", "samsung", 1, at=start + timedelta(hours=1))
        s.grant(key, "lic", at=start + timedelta(hours=2))
        s.serials(key, [f"{key.upper()}-1"], at=start + timedelta(hours=3))
        s.ship(key, f"SH-{key}", [f"{key.upper()}-1"], site="site", at=start + timedelta(days=1))
        s.send("RecordOnwardMovement", c.RecordOnwardMovementRequest(
            request_id=new_request_id(), batch_id=s.ids[key], serials=[f"{key.upper()}-1"],
            kind=c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, country="IL", place="Haifa port", note="routing",
            occurred_at=ts(moved)))
    assert "reexport-not-authorized" in s.rules("dif-b1")  # Israel needed a license then
    assert "reexport-not-authorized" not in s.rules("dif-b2")  # carved out again (A:6)


def test_an_unknown_die_area_is_taken_as_meeting_every_density_test(s: Scenario) -> None:
    # TPP 1600: only the density decides between 3A090.a.2 and nothing; unknown is the conservative .a
    s.model("no-die", {"name": "no die area", "dense_tops": {"int8": "200"}, "die_area_mm2": "0"})
    got = s.classify("no-die")
    assert (got.eccn, got.performance_density) == ("3A090.a", "")


def test_classifying_under_a_named_ruleset_and_an_unknown_ruleset_id_is_not_found(s: Scenario) -> None:
    got = s.api.compliance.ClassifyModel(cp.ClassifyModelRequest(model_id=s.ids["h100"], ruleset_id=NOV_2023.ruleset_id),
                                         metadata=s.md())
    assert (got.classification.ruleset_id, got.classification.eccn) == (NOV_2023.ruleset_id, "3A090.a")
    with pytest.raises(grpc.RpcError) as error:
        s.api.compliance.ClassifyModel(cp.ClassifyModelRequest(model_id=s.ids["h100"], ruleset_id="no-such-rule"),
                                       metadata=s.md())
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------------ record keeping


def _shipped(s: Scenario, batch: str, serials: list[str], shipment: str, at: datetime) -> None:
    s.order(batch, "samsung", "h100", len(serials))
    s.request_clearance(batch, "samsung", "samsung", len(serials))
    s.grant(batch, "lic")
    s.serials(batch, serials)
    s.ship(batch, shipment, serials, site="site", at=at)


def hold(s: Scenario, batch: str, reference: str, at: datetime) -> str:
    return s.send("PlaceLegalHold", cp.PlaceLegalHoldRequest(
        request_id=new_request_id(), batch_id=s.ids[batch], agency="BIS Office of Export Enforcement",
        reference=reference, reason="subpoena", occurred_at=ts(at)), actor="officer-kim")


def release(s: Scenario, hold_id: str, at: datetime) -> str:
    return s.send("ReleaseLegalHold", cp.ReleaseLegalHoldRequest(
        request_id=new_request_id(), hold_id=hold_id, reason="case closed", occurred_at=ts(at)))


def test_a_legal_hold_placed_before_the_export_holds_the_export_records_made_afterwards(s: Scenario) -> None:
    s.order("hold-b1", "samsung", "h100", 2)
    hold(s, "hold-b1", "OEE-PRE-1", T0 + timedelta(minutes=30))
    s.request_clearance("hold-b1", "samsung", "samsung", 2)
    s.grant("hold-b1", "lic")
    s.serials("hold-b1", ["HLD-1", "HLD-2"])
    s.ship("hold-b1", "SH-HLD", ["HLD-1", "HLD-2"], site="site")
    record = export_of(s, "hold-b1", "SH-HLD")
    assert record.held and not record.HasField("destruction_allowed_from")


def test_with_two_legal_holds_releasing_one_keeps_the_records_held_until_the_last_is_released(s: Scenario) -> None:
    _shipped(s, "hold-b2", ["HL2-1"], "SH-HL2", T0 + timedelta(days=1))
    first = hold(s, "hold-b2", "OEE-A", T0 + timedelta(days=2))
    second = hold(s, "hold-b2", "DOJ-B", T0 + timedelta(days=3))
    release(s, first, T0 + timedelta(days=4))
    record = export_of(s, "hold-b2", "SH-HL2")
    assert record.held and not record.HasField("destruction_allowed_from")
    release(s, second, T0 + timedelta(days=5))
    record = export_of(s, "hold-b2", "SH-HL2")
    assert not record.held and record.destruction_allowed_from == record.retention_until


def test_a_legal_hold_on_a_batch_also_holds_the_exports_of_a_batch_split_from_it(s: Scenario) -> None:
    # The agency asked for the records of this order; a part split off and shipped later is the same order.
    s.order("hold-b4", "samsung", "h100", 4)
    s.request_clearance("hold-b4", "samsung", "samsung", 4)
    s.grant("hold-b4", "lic")
    s.serials("hold-b4", ["HL4-1", "HL4-2", "HL4-3", "HL4-4"])
    hold(s, "hold-b4", "OEE-SPLIT", T0 + timedelta(hours=4))
    s.ids["hold-b4-child"] = s.send("SplitBatch", c.SplitBatchRequest(
        request_id=new_request_id(), batch_id=s.ids["hold-b4"], serials=["HL4-3", "HL4-4"],
        occurred_at=ts(T0 + timedelta(hours=5))))
    s.ship("hold-b4-child", "SH-HL4C", ["HL4-3", "HL4-4"], site="site")
    record = export_of(s, "hold-b4-child", "SH-HL4C")
    assert record.held and not record.HasField("destruction_allowed_from")


def test_a_legal_hold_without_the_requesting_agency_is_refused_naming_the_field(s: Scenario) -> None:
    s.order("hold-b5", "samsung", "h100", 1)
    refusal = s.refused(lambda: s.send("PlaceLegalHold", cp.PlaceLegalHoldRequest(
        request_id=new_request_id(), batch_id=s.ids["hold-b5"], agency="", reference="OEE-X", reason="subpoena",
        occurred_at=ts(T0 + timedelta(days=1)))))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and "agency" in refusal.message


def test_a_hold_cannot_be_released_before_it_was_placed_nor_twice(s: Scenario) -> None:
    _shipped(s, "hold-b3", ["HL3-1"], "SH-HL3", T0 + timedelta(days=1))
    placed = hold(s, "hold-b3", "OEE-C", T0 + timedelta(days=3))
    early = s.refused(lambda: release(s, placed, T0 + timedelta(days=2)))
    assert early.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    release(s, placed, T0 + timedelta(days=4))
    assert s.refused(lambda: release(s, placed, T0 + timedelta(days=5))).code == grpc.StatusCode.FAILED_PRECONDITION


def test_an_in_country_transfer_moves_the_retention_basis_as_a_termination(s: Scenario) -> None:
    s.party("kr-buyer-t", "KR", name="Gimhae Data Co")
    s.order("ret-b1", "samsung", "h100", 2)
    s.delivered("ret-b1", "samsung", ["RT-1", "RT-2"], shipment="SH-RT")
    at = T0 + timedelta(days=12)
    s.transfer("ret-b1", ["RT-1"], "kr-buyer-t", at=at)
    record = export_of(s, "ret-b1", "SH-RT")
    assert utc(record.retention_basis_at) == at
    assert utc(record.retention_until) == at.replace(year=at.year + 5)


def test_a_report_as_of_before_a_transfer_shows_the_retention_date_known_then(s: Scenario) -> None:
    from tests.e2e.scenario_world import now

    s.party("kr-buyer-r", "KR", name="Sejong Data Co")
    s.order("ret-b2", "samsung", "h100", 2)
    s.delivered("ret-b2", "samsung", ["RT2-1", "RT2-2"], shipment="SH-RT2")
    before = now()
    s.transfer("ret-b2", ["RT2-1"], "kr-buyer-r", at=T0 + timedelta(days=12))

    def until(report: dict[str, Any]) -> str:
        for section in report["report"]["sections"]:
            for block in section["blocks"]:
                if block.get("type") == "table" and block.get("title", "").startswith("Record retention"):
                    keys = [col["key"] for col in block["columns"]]
                    [row] = [r for r in (dict(zip(keys, x, strict=True)) for x in block["rows"]) if r["shipment"] == "SH-RT2"]
                    return str(row["until"])
        raise AssertionError("no retention table")

    assert until(s.report(as_of=before)).startswith("2031-02-03")
    assert until(s.report()).startswith("2031-02-14")


# ------------------------------------------------------- Destination Control Statement


def test_a_3a090_b_item_ships_with_a_destination_control_statement_naming_3a090_b_and_the_destination(
    s: Scenario,
) -> None:
    s.model("b-card", {"name": "b card", "dense_tops": {"int8": "300"}, "die_area_mm2": "1500"})
    s.order("dcs-b1", "samsung", "b-card", 1)
    s.request_clearance("dcs-b1", "samsung", "samsung", 1, eccn="3A090.b")
    s.grant("dcs-b1", "lic")
    s.serials("dcs-b1", ["DCS-1"])
    s.ship("dcs-b1", "SH-DCS", ["DCS-1"], site="site")
    record = export_of(s, "dcs-b1", "SH-DCS")
    assert record.eccn == "3A090.b"
    assert record.destination_control_statement.startswith("ECCN 3A090.b")
    assert "controlled by the U.S. Government" in record.destination_control_statement
    assert "may not be resold, transferred, or otherwise disposed of" in record.destination_control_statement
    assert "KR" in record.destination_control_statement or "Korea" in record.destination_control_statement


# ------------------------------------------------------------------------------ screening


def test_renaming_a_party_to_a_listed_name_screens_it_at_once_and_blocks_its_clearance(s: Scenario) -> None:
    s.import_list(csl(("EL-R1", "Crimson Lattice Computing", "Vladivostok, RU", "")), source="RENAME LIST")
    s.party("renamed", "KR", name="Pohang Green Compute")
    s.order("scr-b1", "samsung", "h100", 1)
    s.request_clearance("scr-b1", "renamed", "renamed", 1)
    amend(s, c.REFERENCE_KIND_PARTY, "renamed", "merger: new legal name", name="Crimson Lattice Computing")
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["renamed"]),
                                             metadata=s.md()).screening_case
    assert case.blocking
    refusal = s.refused(lambda: s.grant("scr-b1", "lic"))
    assert refusal.subjects == ["screening-hit"]


def test_a_false_positive_carries_to_the_next_snapshot_with_the_same_entry_but_a_changed_entry_needs_a_new_resolution(
    s: Scenario,
) -> None:
    source = "CARRY LIST"
    s.party("carry", "KR", name="Yeosu Vector Labs")
    entry = ("EL-C1", "Yeosu Vector Laboratories", "Tianjin, CN", "")
    s.import_list(csl(entry), source=source)
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["carry"]),
                                             metadata=s.md()).screening_case
    [hit] = [h for h in case.hits if h.current]
    s.send("ResolveScreeningHit", cp.ResolveScreeningHitRequest(
        request_id=new_request_id(), party_id=s.ids["carry"], hit_id=hit.hit_id,
        resolution=cp.HIT_RESOLUTION_FALSE_POSITIVE, note="Korean registry number differs"), actor="officer-yoon")
    s.import_list(csl(entry, ("EL-C2", "Unrelated Harbor Trading", "Dubai, AE", "")), source=source)
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["carry"]),
                                             metadata=s.md()).screening_case
    assert not case.blocking
    s.import_list(csl(("EL-C1", "Yeosu Vector Laboratories", "Yeosu, KR", "")), source=source)
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["carry"]),
                                             metadata=s.md()).screening_case
    assert case.blocking


def test_a_false_positive_does_not_carry_over_to_a_new_name_of_the_party(s: Scenario) -> None:
    source = "RENAME FP LIST"
    s.party("fp-renamed", "KR", name="Jinju Nimbus Systems")
    s.import_list(csl(("EL-F1", "Jinju Nimbus Systems Group", "Harbin, CN", "Nimbus Systems Jinju")), source=source)
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["fp-renamed"]),
                                             metadata=s.md()).screening_case
    [hit] = [h for h in case.hits if h.current]
    s.send("ResolveScreeningHit", cp.ResolveScreeningHitRequest(
        request_id=new_request_id(), party_id=s.ids["fp-renamed"], hit_id=hit.hit_id,
        resolution=cp.HIT_RESOLUTION_FALSE_POSITIVE, note="different company"), actor="officer-yoon")
    amend(s, c.REFERENCE_KIND_PARTY, "fp-renamed", "new trade name", name="Nimbus Systems Jinju")
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["fp-renamed"]),
                                             metadata=s.md()).screening_case
    assert case.blocking


def test_a_new_snapshot_of_another_list_does_not_lapse_a_hit_from_the_first(s: Scenario) -> None:
    s.party("two-src", "KR", name="Gunsan Meridian Compute")
    s.import_list(csl(("SDN-1", "Gunsan Meridian Compute", "Pyongyang, KP", "")), source="LIST ONE")
    s.import_list(csl(("X-1", "Entirely Unrelated Shipping", "Lagos, NG", "")), source="LIST TWO")
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["two-src"]),
                                             metadata=s.md()).screening_case
    assert case.blocking
    assert [h.entry.entry_id for h in case.hits if h.current] == ["SDN-1"]


def test_a_party_registered_after_the_list_import_is_screened_at_once_and_its_clearance_refused(s: Scenario) -> None:
    s.import_list(csl(("EL-LATE", "Tidewater Quantum Works", "Dalian, CN", "")), source="LATE LIST")
    s.party("late", "KR", name="Tidewater Quantum Works")
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["late"]),
                                             metadata=s.md()).screening_case
    assert case.blocking
    s.order("late-b1", "samsung", "h100", 1)
    s.request_clearance("late-b1", "late", "late", 1)
    assert s.refused(lambda: s.grant("late-b1", "lic")).subjects == ["screening-hit"]


def test_every_imported_snapshot_keeps_its_hash_and_only_the_latest_is_marked_as_screened_against(
    s: Scenario,
) -> None:
    source = "HASH LIST"
    first = csl(("EL-H1", "Obsidian Relay Systems", "Minsk, BY", ""))
    second = csl(("EL-H1", "Obsidian Relay Systems", "Minsk, BY", ""), ("EL-H2", "Basalt Vector GmbH", "Moscow, RU", ""))
    s.import_list(first, source=source)
    s.import_list(second, source=source)
    got = s.api.compliance.ListScreeningLists(cp.ListScreeningListsRequest(source=source), metadata=s.md())
    assert [(x.sha256, x.entry_count, x.latest) for x in got.snapshots] == [
        (hashlib.sha256(first).hexdigest(), 1, False), (hashlib.sha256(second).hexdigest(), 2, True)]
    assert {x.imported_by for x in got.snapshots} == {"officer-independent"}


# ------------------------------------------------------------------------------ red flags


def test_the_first_time_large_buyer_flag_counts_gpus_in_servers_and_fires_on_the_first_order_only(s: Scenario) -> None:
    s.model("hgx8", {"name": "HGX H100 8-GPU", "dense_tops": {"fp8": "1979"}, "die_area_mm2": "814"}, gpus=8)
    s.party("big-new", "KR", name="Cheongju Hyperscale")
    s.party("almost-big", "KR", name="Suncheon Hyperscale")
    s.order("rf-b1", "big-new", "hgx8", 125)  # 1000 GPUs
    s.order("rf-b2", "big-new", "hgx8", 125)
    s.order("rf-b3", "almost-big", "hgx8", 124)  # 992 GPUs
    assert s.rules("rf-b1") == ["red-flag-first-time-large-buyer"]
    assert "red-flag-first-time-large-buyer" not in s.rules("rf-b2")
    assert "red-flag-first-time-large-buyer" not in s.rules("rf-b3")


def test_a_vague_address_is_flagged_for_a_commercial_quantity_of_gpus_and_not_for_a_single_card(s: Scenario) -> None:
    s.model("hgx8b", {"name": "HGX H100 8-GPU b", "dense_tops": {"fp8": "1979"}, "die_area_mm2": "814"}, gpus=8)
    s.party("vague", "KR", name="Mokdong Trading Post", address="somewhere in Seoul", address_type="vague")
    s.order("va-b1", "vague", "h100", 1)
    s.delivered("va-b1", "vague", ["VA-1"], shipment="SH-VA1")
    assert "red-flag-address" not in s.rules("va-b1")
    s.order("va-b2", "vague", "hgx8b", 1)
    s.request_clearance("va-b2", "vague", "vague", 1, eccn="4A090.a")
    s.grant("va-b2", "lic")
    s.serials("va-b2", ["VA-S1"])
    s.ship("va-b2", "SH-VA2", ["VA-S1"], site="site")
    assert "red-flag-address" in s.rules("va-b2")


def test_a_site_that_cannot_confirm_its_power_is_not_registered_and_one_powered_for_7_gpus_is_flagged_for_an_8_gpu_server(
    s: Scenario,
) -> None:
    # 13 May 2025 guidance: data centers that cannot confirm power and cooling for the quantity.
    refusal = s.refused(lambda: s.send("RegisterSite", c.RegisterSiteRequest(
        request_id=new_request_id(), name="unconfirmed", operator_id=s.ids["samsung"], country="KR",
        occurred_at=ts(T0 - timedelta(days=30)))))
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT and "power_capacity_kw" in refusal.message
    s.model("hgx8p", {"name": "HGX H100 8-GPU p", "dense_tops": {"fp8": "1979"}, "die_area_mm2": "814"}, gpus=8)
    s.site("small-room", "samsung", power_kw="4.9")  # 7 x 700 W
    s.order("pw-b1", "samsung", "hgx8p", 1)
    s.request_clearance("pw-b1", "samsung", "samsung", 1, eccn="4A090.a")
    s.grant("pw-b1", "lic")
    s.serials("pw-b1", ["PW-S1"])
    s.ship("pw-b1", "SH-PW", ["PW-S1"], site="small-room")
    s.receive("pw-b1", "SH-PW", ["PW-S1"], "samsung", "small-room")
    s.install("pw-b1", ["PW-S1"], "small-room")
    [finding] = s.findings("pw-b1", "site-power-insufficient")
    assert finding.site_id == s.ids["small-room"]


def test_a_shipment_to_a_data_center_without_the_power_for_the_quantity_is_flagged_when_it_ships(s: Scenario) -> None:
    # The guidance is pre-export due diligence: the exporter learns the site's capacity before it ships.
    s.site("closet", "samsung", power_kw="1")  # 1 kW; four 700 W GPUs need 2.8 kW
    s.order("pws-b1", "samsung", "h100", 4)
    s.request_clearance("pws-b1", "samsung", "samsung", 4)
    s.grant("pws-b1", "lic")
    s.serials("pws-b1", ["PWS-1", "PWS-2", "PWS-3", "PWS-4"])
    s.ship("pws-b1", "SH-PWS", ["PWS-1", "PWS-2", "PWS-3", "PWS-4"], site="closet")
    [finding] = s.findings("pws-b1", "site-power-insufficient")
    assert finding.site_id == s.ids["closet"]


def test_a_transfer_of_a_commercial_quantity_to_a_party_at_a_residential_address_is_a_red_flag(s: Scenario) -> None:
    s.party("flat", "KR", name="Yongin Home Servers", address_type="residential")
    s.order("trf-b1", "samsung", "h100", 8)
    serials = [f"TRF-{i}" for i in range(8)]
    s.delivered("trf-b1", "samsung", serials, shipment="SH-TRF")
    assert "red-flag-address" not in s.rules("trf-b1")
    s.transfer("trf-b1", serials, "flat")
    assert "red-flag-address" in s.rules("trf-b1")


def test_amending_a_holders_address_to_residential_flags_the_commercial_quantity_it_already_holds(s: Scenario) -> None:
    s.party("later-res", "KR", name="Bucheon Home Compute", address_type="commercial")
    s.order("res-b1", "later-res", "h100", 8)
    s.delivered("res-b1", "later-res", [f"RES-{i}" for i in range(8)], shipment="SH-RES")
    assert "red-flag-address" not in s.rules("res-b1")
    amend(s, c.REFERENCE_KIND_PARTY, "later-res", "site visit: a flat", address_type="residential")
    assert "red-flag-address" in s.rules("res-b1")


# ------------------------------------------------------- the auditor's per-shipment record


def test_each_export_record_gives_the_auditor_value_end_use_itn_parties_authorization_drawdown_and_evidence(
    s: Scenario,
) -> None:
    s.party("fwd-a", "KR", roles=("forwarder",), name="Incheon Freight Partners")
    s.party("ic-a", "JP", roles=("consignee",), name="Narita Bonded Logistics")
    s.license("audit-lic", number="D8888888", quantity_limit=10, value_limit="1000000", currency="USD",
              valid_to=datetime(2028, 3, 31, tzinfo=UTC))
    s.order("au-b1", "samsung", "h100", 3, price="30000.00")
    s.send("CorrectOrder", c.CorrectOrderRequest(request_id=new_request_id(), batch_id=s.ids["au-b1"],
                                                 unit_price="31500.00", reason="price revised",
                                                 occurred_at=ts(T0 + timedelta(minutes=30))))
    s.request_clearance("au-b1", "samsung", "samsung", 3)
    s.grant("au-b1", "audit-lic")
    s.serials("au-b1", ["AU-1", "AU-2", "AU-3"])
    s.ship("au-b1", "SH-AU", ["AU-1", "AU-2"], site="site", forwarder_id=s.ids["fwd-a"],
           intermediate_consignee_ids=[s.ids["ic-a"]])
    record = export_of(s, "au-b1", "SH-AU")
    assert record.quantity == 2
    assert (Decimal(record.value), record.currency) == (Decimal("63000.00"), "USD")
    assert record.end_use == "Sovereign AI model training"
    assert record.itn.startswith("X2026")
    assert (record.exporter_id, record.carrier_id, record.forwarder_id, list(record.intermediate_consignee_ids)) == (
        s.ids["nvidia"], s.ids["carrier"], s.ids["fwd-a"], [s.ids["ic-a"]])
    assert (record.authorization_id, record.authorization_number) == (s.ids["audit-lic"], "D8888888")
    assert utc(record.authorization_valid_to) == datetime(2028, 3, 31, tzinfo=UTC)
    assert (record.authorization_drawn_quantity, record.authorization_remaining_quantity) == (3, 7)
    assert Decimal(record.authorization_remaining_value) == Decimal("1000000") - 3 * Decimal("31500.00")
    assert (Decimal(record.tpp), record.datacenter_marketed, record.eccn) == (Decimal(15832), True, "3A090.a")
    assert Decimal(record.performance_density).quantize(Decimal("0.1")) == Decimal("19.4")
    assert "3A090.a.1" in record.classification_paragraphs and record.classification_ruleset_id


def test_the_report_gives_an_intermediate_consignees_ultimate_parent_and_its_headquarters_country(s: Scenario) -> None:
    s.party("jp-hold", "JP", name="Kansai Logistics Holdings")
    s.party("ic-owned", "KR", roles=("consignee",), parent="jp-hold", name="Pyeongtaek Bonded Store")
    s.order("icp-b1", "samsung", "h100", 1)
    s.request_clearance("icp-b1", "samsung", "samsung", 1)
    s.grant("icp-b1", "lic")
    s.serials("icp-b1", ["ICP-1"])
    s.ship("icp-b1", "SH-ICP", ["ICP-1"], site="site", intermediate_consignee_ids=[s.ids["ic-owned"]])
    rows = [str(row) for section in s.report()["report"]["sections"] for block in section["blocks"]
            if block.get("type") == "table" for row in block["rows"]
            if "Pyeongtaek Bonded Store" in str(row) and "PO-icp-b1" in str(row)]
    assert any("Kansai Logistics Holdings" in row and "JP" in row for row in rows), rows


def test_each_export_record_shows_the_drawdown_as_it_stood_when_its_units_left(s: Scenario) -> None:
    s.license("run-lic", number="D9090909", quantity_limit=10)
    _shipped_under = [("run-b1", ["RUN-1", "RUN-2", "RUN-3"], "SH-RUN1"), ("run-b2", ["RUN-4", "RUN-5", "RUN-6", "RUN-7"], "SH-RUN2")]
    for batch, serials, shipment in _shipped_under:
        s.order(batch, "samsung", "h100", len(serials))
        s.request_clearance(batch, "samsung", "samsung", len(serials))
        s.grant(batch, "run-lic")
        s.serials(batch, serials)
        s.ship(batch, shipment, serials, site="site")
    first, second = export_of(s, "run-b1", "SH-RUN1"), export_of(s, "run-b2", "SH-RUN2")
    assert (first.authorization_drawn_quantity, first.authorization_remaining_quantity) == (3, 7)
    assert (second.authorization_drawn_quantity, second.authorization_remaining_quantity) == (7, 3)


def test_a_price_corrected_after_the_grant_that_takes_the_shipment_past_the_licenses_value_limit_is_refused_or_flagged(
    s: Scenario,
) -> None:
    s.license("val-lic", number="D7070707", value_limit="100000", currency="USD")
    s.order("val-b1", "samsung", "h100", 3, price="30000.00")
    s.request_clearance("val-b1", "samsung", "samsung", 3)
    s.grant("val-b1", "val-lic")  # draws 90,000 of 100,000
    s.send("CorrectOrder", c.CorrectOrderRequest(request_id=new_request_id(), batch_id=s.ids["val-b1"],
                                                 unit_price="36000.00", reason="invoice corrected",
                                                 occurred_at=ts(T0 + timedelta(hours=2, minutes=30))))
    s.serials("val-b1", ["VAL-1", "VAL-2", "VAL-3"])
    try:
        s.ship("val-b1", "SH-VAL", ["VAL-1", "VAL-2", "VAL-3"], site="site")
    except grpc.RpcError as error:  # refused: 108,000 would exceed the 100,000 licensed
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        return
    assert Decimal(export_of(s, "val-b1", "SH-VAL").value) == Decimal("108000.00")
    assert "quantity-over-clearance" in s.rules("val-b1"), "108,000 shipped against a 100,000 value limit"


def test_a_short_receipt_of_a_quantity_only_shipment_is_a_discrepancy_with_the_missing_count(s: Scenario) -> None:
    s.order("qty-b1", "samsung", "h100", 10)
    s.request_clearance("qty-b1", "samsung", "samsung", 10)
    s.grant("qty-b1", "lic")
    s.send("Ship", c.ShipRequest(
        request_id=new_request_id(), batch_id=s.ids["qty-b1"], shipment_id="SH-QTY", quantity=10,
        carrier_id=s.ids["carrier"], destination_country="KR", destination_site_id=s.ids["site"], itn="X20260000777",
        occurred_at=ts(T0 + timedelta(days=1))))
    s.send("Receive", c.ReceiveRequest(
        request_id=new_request_id(), batch_id=s.ids["qty-b1"], shipment_id="SH-QTY", quantity=7,
        receiving_party_id=s.ids["samsung"], site_id=s.ids["site"], discrepancy_note="3 cartons missing",
        occurred_at=ts(T0 + timedelta(days=4))))
    [finding] = s.findings("qty-b1", "units-missing-in-transit")
    assert finding.shipment_id == "SH-QTY"
    assert finding.quantity == 3


def test_an_authorization_expiring_within_the_window_is_listed_with_its_days_left(s: Scenario) -> None:
    s.license("expiring", number="D3131313", valid_to=T0 + timedelta(days=20))
    request = cp.ListExpiringAuthorizationsRequest(within_days=30)
    request.as_of.CopyFrom(ts(T0))
    got = s.api.compliance.ListExpiringAuthorizations(request, metadata=s.md())
    [mine] = [a for a in got.authorizations if a.authorization_id == s.ids["expiring"]]
    assert mine.days_left == 20


def test_the_custody_trail_shows_ship_receive_install_assign_and_transfer_with_times_and_places(s: Scenario) -> None:
    s.party("kr-next", "KR", name="Iksan Cloud")
    s.site("site-b", "kr-next")
    s.order("cu-b1", "samsung", "h100", 2)
    s.delivered("cu-b1", "samsung", ["CU-1", "CU-2"], shipment="SH-CU")
    s.assign("cu-b1", ["CU-1"], "samsung", at=T0 + timedelta(days=8))
    s.transfer("cu-b1", ["CU-2"], "kr-next", to_site="site-b", at=T0 + timedelta(days=10))
    trail = s.api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id=s.ids["cu-b1"], min_position=s.position),
                                          metadata=s.md()).entries
    moves = [(e.event_type, utc(e.occurred_at), e.site_id, list(e.serials)) for e in trail
             if e.event_type in ("Shipped", "Received", "Installed", "Assigned", "Transferred")]
    assert [m[0] for m in moves] == ["Shipped", "Received", "Installed", "Assigned", "Transferred"]
    assert moves[0][1] == T0 + timedelta(days=1) and moves[1][1] == T0 + timedelta(days=4)
    assert moves[1][2] == s.ids["site"] and moves[2][2] == s.ids["site"]
    assert moves[3][3] == ["CU-1"] and moves[4][3] == ["CU-2"]
    assert moves[4][2] == s.ids["site-b"]
    assert all(e.actor for e in trail)


def test_the_custody_trail_of_a_split_batch_starts_with_its_parents_order_and_clearance(s: Scenario) -> None:
    s.order("sp-b1", "samsung", "h100", 4)
    s.request_clearance("sp-b1", "samsung", "samsung", 4)
    s.grant("sp-b1", "lic")
    s.serials("sp-b1", ["SP-1", "SP-2", "SP-3", "SP-4"])
    child = s.send("SplitBatch", c.SplitBatchRequest(request_id=new_request_id(), batch_id=s.ids["sp-b1"],
                                                     serials=["SP-3", "SP-4"], occurred_at=ts(T0 + timedelta(hours=5))))
    trail = s.api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id=child, min_position=s.position),
                                          metadata=s.md()).entries
    types = [(e.event_type, e.batch_id) for e in trail]
    assert ("Ordered", s.ids["sp-b1"]) in types and ("ClearanceGranted", s.ids["sp-b1"]) in types
    assert types[-1] == ("SplitFrom", child)


def test_received_units_not_installed_within_60_days_are_overdue_and_a_short_receipt_is_a_discrepancy(
    s: Scenario,
) -> None:
    s.order("od-b1", "samsung", "h100", 3)
    s.request_clearance("od-b1", "samsung", "samsung", 3)
    s.grant("od-b1", "lic")
    s.serials("od-b1", ["OD-1", "OD-2", "OD-3"])
    s.ship("od-b1", "SH-OD", ["OD-1", "OD-2", "OD-3"], site="site")
    s.receive("od-b1", "SH-OD", ["OD-1", "OD-2"], "samsung", "site")
    s.install("od-b1", ["OD-1"], "site")
    [missing] = s.findings("od-b1", "units-missing-in-transit")
    assert list(missing.serials) == ["OD-3"]
    got = s.api.compliance.ListOverdueItems(cp.ListOverdueItemsRequest(
        as_of=ts(T0 + timedelta(days=70)), min_position=s.position), metadata=s.md())
    mine = [i for i in got.items if i.batch_id == s.ids["od-b1"]]
    assert [(i.rule_id, list(i.serials), i.overdue) for i in mine] == [("not-installed-in-time", ["OD-2"], True)]


def test_a_transshipment_through_hong_kong_is_held_to_the_rule_for_china(s: Scenario) -> None:
    s.order("hk-b1", "samsung", "h100", 2)
    s.delivered("hk-b1", "samsung", ["HKT-1", "HKT-2"], shipment="SH-HKT")
    s.send("RecordOnwardMovement", c.RecordOnwardMovementRequest(
        request_id=new_request_id(), batch_id=s.ids["hk-b1"], serials=["HKT-1"],
        kind=c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, country="HK", place="Kwai Chung", note="carrier's routing",
        occurred_at=ts(T0 + timedelta(days=15))))
    [finding] = s.findings("hk-b1", "reexport-not-authorized")
    assert list(finding.serials) == ["HKT-1"]


def test_units_received_at_another_site_than_the_shipment_was_declared_for_are_a_location_anomaly(s: Scenario) -> None:
    s.site("other-site", "samsung")
    s.order("loc-b1", "samsung", "h100", 2)
    s.request_clearance("loc-b1", "samsung", "samsung", 2)
    s.grant("loc-b1", "lic")
    s.serials("loc-b1", ["LOC-1", "LOC-2"])
    s.ship("loc-b1", "SH-LOC", ["LOC-1", "LOC-2"], site="site")
    s.receive("loc-b1", "SH-LOC", ["LOC-1", "LOC-2"], "samsung", "other-site")
    assert s.findings("loc-b1"), "shipped to one site, received at another: an auditor's location anomaly"


def test_a_nac_clearance_to_china_is_granted_and_aca_to_china_is_refused(s: Scenario) -> None:
    s.party("cn-uni", "CN", name="Chengdu University AI Lab")
    s.license("nac-cn", countries=("CN",), auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="NAC",
              number="NAC-2026-0777")
    s.license("aca-cn", countries=("CN",), auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, exception_code="ACA",
              number="")
    s.order("cnx-b1", "samsung", "h100", 1)
    s.request_clearance("cnx-b1", "cn-uni", "cn-uni", 1, country="CN")
    assert s.refused(lambda: s.grant("cnx-b1", "aca-cn")).subjects == ["destination-country-group"]
    s.grant("cnx-b1", "nac-cn")


def test_an_intermediate_consignee_with_a_vague_address_is_a_red_flag_for_a_commercial_quantity(s: Scenario) -> None:
    s.party("ic-vague", "KR", roles=("consignee",), name="Daegu Transit Desk", address_type="vague")
    s.order("icv-b1", "samsung", "h100", 8)
    s.request_clearance("icv-b1", "samsung", "samsung", 8)
    s.grant("icv-b1", "lic")
    serials = [f"ICV-{i}" for i in range(8)]
    s.serials("icv-b1", serials)
    s.ship("icv-b1", "SH-ICV", serials, site="site", intermediate_consignee_ids=[s.ids["ic-vague"]])
    assert "red-flag-address" in s.rules("icv-b1")


def test_a_unit_missing_at_receipt_then_reported_installed_is_refused_or_flagged(s: Scenario) -> None:
    s.order("mi-b1", "samsung", "h100", 2)
    s.request_clearance("mi-b1", "samsung", "samsung", 2)
    s.grant("mi-b1", "lic")
    s.serials("mi-b1", ["MI-1", "MI-2"])
    s.ship("mi-b1", "SH-MI", ["MI-1", "MI-2"], site="site")
    s.receive("mi-b1", "SH-MI", ["MI-1"], "samsung", "site")
    try:
        s.install("mi-b1", ["MI-1", "MI-2"], "site")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        return
    flagged = [f for f in s.findings("mi-b1") if "MI-2" in f.serials and f.rule_id != "units-missing-in-transit"]
    assert flagged, "a unit installed without having been received is a discrepancy"


# -------------------------------------------------- units that left the chain of custody


def test_a_decommissioned_unit_cannot_be_assigned_or_transferred(s: Scenario) -> None:
    s.party("kr-after", "KR", name="Andong Cloud")
    s.order("dc-b1", "samsung", "h100", 2)
    s.delivered("dc-b1", "samsung", ["DC-1", "DC-2"], shipment="SH-DC")
    s.send("Decommission", c.DecommissionRequest(
        request_id=new_request_id(), batch_id=s.ids["dc-b1"], serials=["DC-1"], method="shredded",
        occurred_at=ts(T0 + timedelta(days=7))))
    assert s.refused(lambda: s.assign("dc-b1", ["DC-1"], "samsung")).code == grpc.StatusCode.FAILED_PRECONDITION
    assert s.refused(lambda: s.transfer("dc-b1", ["DC-1"], "kr-after")).code == grpc.StatusCode.FAILED_PRECONDITION
    s.assign("dc-b1", ["DC-2"], "samsung")


def test_a_unit_reported_stolen_cannot_be_transferred(s: Scenario) -> None:
    s.party("kr-fence", "KR", name="Jecheon Resale")
    s.order("ls-b1", "samsung", "h100", 2)
    s.delivered("ls-b1", "samsung", ["LS-1", "LS-2"], shipment="SH-LS")
    s.send("ReportLost", c.ReportLostRequest(
        request_id=new_request_id(), batch_id=s.ids["ls-b1"], serials=["LS-1"], kind=c.LOSS_KIND_STOLEN,
        note="cage broken", occurred_at=ts(T0 + timedelta(days=7))))
    assert s.refused(lambda: s.transfer("ls-b1", ["LS-1"], "kr-fence")).code == grpc.StatusCode.FAILED_PRECONDITION


def test_a_unit_returned_for_rma_is_no_longer_at_the_site(s: Scenario) -> None:
    s.order("rm-b1", "samsung", "h100", 2)
    s.delivered("rm-b1", "samsung", ["RM-1", "RM-2"], shipment="SH-RM")
    s.send("ReturnForRma", c.ReturnForRmaRequest(
        request_id=new_request_id(), batch_id=s.ids["rm-b1"], serials=["RM-1"], rma_number="RMA-77",
        reason="ECC errors", occurred_at=ts(T0 + timedelta(days=7))))
    batch = s.api.queries.GetBatch(q.GetBatchRequest(batch_id=s.ids["rm-b1"]), metadata=s.md()).batch
    units = {u.serial: u for u in batch.units}
    assert units["RM-1"].stage != units["RM-2"].stage
    assert units["RM-1"].site_id != s.ids["site"]
    assert s.refused(lambda: s.assign("rm-b1", ["RM-1"], "samsung")).code == grpc.StatusCode.FAILED_PRECONDITION



# ----------------------------------------------------------- an audit report as of a past time


def test_a_report_as_of_before_a_findings_resolution_shows_it_open_and_one_after_shows_who_resolved_it(
    s: Scenario,
) -> None:
    from tests.e2e.scenario_world import now

    s.order("rep-b1", "samsung", "h100", 2)
    s.request_clearance("rep-b1", "samsung", "samsung", 2)
    s.grant("rep-b1", "lic")
    s.serials("rep-b1", ["REP-1", "REP-2"])
    s.ship("rep-b1", "SH-REP", ["REP-1", "REP-2"], site="site")
    s.receive("rep-b1", "SH-REP", ["REP-1"], "samsung", "site")
    [finding] = s.findings("rep-b1", "units-missing-in-transit")
    before = now()
    s.send("ResolveFinding", cp.ResolveFindingRequest(
        request_id=new_request_id(), finding_id=finding.finding_id, note="REP-2 found at the depot"),
        actor="officer-han")

    def rows(report: dict[str, Any], title: str) -> list[dict[str, Any]]:
        for section in report["report"]["sections"]:
            for block in section["blocks"]:
                if block.get("type") == "table" and block.get("title", "") == title:
                    keys = [col["key"] for col in block["columns"]]
                    return [r for r in (dict(zip(keys, row, strict=True)) for row in block["rows"])
                            if r["finding"] == finding.finding_id]
        raise AssertionError(f"the compliance report has no table {title!r}")

    then, later = s.report(as_of=before), s.report()
    assert [r["status"] for r in rows(then, "Findings")] == ["open"]
    assert [r["action"] for r in rows(then, "Resolution trail")] == ["raised"]
    assert [r["status"] for r in rows(later, "Findings")] == ["resolved"]
    [resolved] = [r for r in rows(later, "Resolution trail") if r["action"] == "resolved"]
    assert (resolved["actor"], resolved["note"]) == ("officer-han", "REP-2 found at the depot")


# ------------------------------------------- a unit transferred to another partner, with tokens


class _TokenScenario(Scenario):
    admin: list[tuple[str, str]] = []

    def md(self, actor: str = "") -> list[tuple[str, str]]:
        return self.admin


@pytest.fixture(scope="module")
def partners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_TokenScenario, Credentials]]:
    path = tmp_path_factory.mktemp("rules2-partners")
    creds = Credentials.create(path)
    server = RunningServer(Settings(database_url=f"sqlite:///{path}/registry.db", listen="127.0.0.1:0",
                                    subscription_poll_seconds=0.2, projection_process=False,
                                    **creds.settings())).start()
    s = _TokenScenario(server, server.stubs())
    s.admin = creds.md("admin", subject="registry-admin")
    s.party("nvidia", "US", roles=("supplier", "exporter"), name="NVIDIA Corporation")
    s.party("carrier", "KR", roles=("carrier",), name="Korean Air Cargo")
    s.party("samsung", "KR", roles=("purchaser", "consignee", "end_user", "operator"), name="Samsung Electronics")
    s.party("kakao", "KR", roles=("purchaser", "consignee", "end_user", "operator"), name="Kakao Corp")
    s.site("site", "samsung")
    s.site("kakao-dc", "kakao")
    s.model("h100", H100)
    s.license("lic", number="D1000001")
    s.order("b1", "samsung", "h100", 3)
    s.delivered("b1", "samsung", ["TK-1", "TK-2", "TK-3"])
    s.transfer("b1", ["TK-1"], "kakao", to_site="kakao-dc")
    yield s, creds
    server.stop()


def test_a_partner_can_report_the_decommission_of_a_unit_transferred_to_it_and_sees_none_of_the_sellers_other_units(
    partners: tuple[_TokenScenario, Credentials],
) -> None:
    s, creds = partners
    kakao = creds.md("partner", party=s.ids["kakao"], subject="kakao-ops")
    samsung = creds.md("partner", party=s.ids["samsung"], subject="samsung-ops")
    # The seller no longer holds TK-1: its ownership counts two units, the buyer's one.
    def held(md: list[tuple[str, str]], party: str) -> int:
        got = s.api.queries.GetOwnership(q.GetOwnershipRequest(min_position=s.position), metadata=md)
        return sum(p.gpus_held for p in got.partners if p.partner_id == s.ids[party])
    assert held(samsung, "samsung") == 2
    assert held(kakao, "kakao") == 1
    assert held(kakao, "samsung") == 0  # nothing of the other partner's rows
    # The holder reports its unit's end of life.
    response = s.api.commands.Decommission(c.DecommissionRequest(
        request_id=new_request_id(), batch_id=s.ids["b1"], serials=["TK-1"], method="shredded",
        occurred_at=ts(T0 + timedelta(days=20))), metadata=kakao)
    assert response.position > 0
    # ... and may not touch the seller's units.
    with pytest.raises(grpc.RpcError) as refused:
        s.api.commands.Decommission(c.DecommissionRequest(
            request_id=new_request_id(), batch_id=s.ids["b1"], serials=["TK-2"], method="shredded",
            occurred_at=ts(T0 + timedelta(days=20))), metadata=kakao)
    assert refused.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
                                    grpc.StatusCode.FAILED_PRECONDITION)
