"""Independent black-box scenarios of the rule text (docs: /work/shared/reference/export-controls.md),
driven only through the public gRPC API of a real server: classification (3A090/4A090, Note 2, the
reference figures), where a license is needed (destination groups, the headquarters rule, the
Entity List everywhere), and versioned rulesets with effective dates (the AI Diffusion framework,
not enforced from 13 May 2025).

Each test names the rule text it checks; a refusal is checked for its status code, the rule or
field named in its details, and that nothing was written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest

from registry.api.v1 import compliance_pb2 as cp
from registry.domain.classification import NOV_2023, RulesetRegistry
from tests.e2e.conftest import RunningServer
from tests.e2e.scenario_world import H100, T0, Scenario, base_world, csl


@pytest.fixture
def s(server: RunningServer) -> Scenario:
    return base_world(server)


# ------------------------------------------------------------------------ classification


def test_an_h100_classifies_as_3a090_a_with_tpp_15832_and_pd_about_19_4(s: Scenario) -> None:
    got = s.classify("h100")
    assert got.status == cp.CONTROL_STATUS_CONTROLLED
    assert got.eccn == "3A090.a"
    assert Decimal(got.tpp) == Decimal(15832)
    assert got.governing_precision == "fp8"
    assert Decimal(got.performance_density).quantize(Decimal("0.1")) == Decimal("19.4")
    assert "3A090.a.1" in got.paragraphs and "3A090.a.2" in got.paragraphs


def test_an_a100_classifies_as_3a090_a_with_tpp_4992_from_624_int8_tops(s: Scenario) -> None:
    got = s.classify("a100")
    assert (got.eccn, Decimal(got.tpp)) == ("3A090.a", Decimal(4992))
    assert Decimal(got.tpp_by_precision["int8"]) == Decimal(4992)


def test_the_bis_example_4800_is_600_int8_tops_or_300_fp16_tflops(s: Scenario) -> None:
    s.model("int8-600", {"name": "int8 600", "dense_tops": {"int8": "600"}, "die_area_mm2": "5000"})
    s.model("fp16-300", {"name": "fp16 300", "dense_tops": {"fp16": "300"}, "die_area_mm2": "5000"})
    for key in ("int8-600", "fp16-300"):
        got = s.classify(key)
        assert (Decimal(got.tpp), got.eccn) == (Decimal(4800), "3A090.a"), key


@pytest.mark.parametrize(
    ("int8", "die_area", "eccn", "why"),
    [
        ("600", "100000", "3A090.a", "TPP 4800 >= 4800: .a.1 whatever the density (PD 0.048)"),
        ("599.9", "10000", "", "TPP 4799.2, PD 0.48: below every test"),
        ("200", "270.27", "3A090.a", "TPP 1600 and PD 5.92 (5.9200...): .a.2"),
        ("200", "271", "3A090.b", "TPP 1600, PD 5.90 >= 3.2: .b.2"),
        ("300", "1500", "3A090.b", "TPP 2400, PD 1.6: .b.1"),
        ("300", "1501", "", "TPP 2400, PD just below 1.6 and below 3.2: nothing"),
        ("200", "500", "3A090.b", "TPP 1600, PD 3.2: .b.2"),
        ("199.99", "400", "", "TPP 1599.92: below 1600, PD 3.9998 does not matter"),
    ],
)
def test_the_3a090_tpp_and_pd_boundaries_of_the_rule_text(
    s: Scenario, int8: str, die_area: str, eccn: str, why: str
) -> None:
    key = f"m-{int8}-{die_area}"
    s.model(key, {"name": key, "dense_tops": {"int8": int8}, "die_area_mm2": die_area})
    got = s.classify(key)
    assert got.eccn == eccn, why


def test_note_2_excludes_a_card_not_marketed_for_datacenters_only_below_tpp_4800(s: Scenario) -> None:
    # A gaming card: high density, TPP below 4800, not designed or marketed for datacenters.
    s.model("gaming", {"name": "gaming", "dense_tops": {"fp8": "590"}, "die_area_mm2": "600"}, datacenter=False)
    # The same chip marketed for datacenters: 3A090.a.2 (TPP 4720, PD 7.87).
    s.model("dc-twin", {"name": "dc twin", "dense_tops": {"fp8": "590"}, "die_area_mm2": "600"}, datacenter=True)
    # Not for datacenters but TPP 4800: Note 2 does not reach it.
    s.model("big-gaming", {"name": "big gaming", "dense_tops": {"fp8": "600"}, "die_area_mm2": "600"}, datacenter=False)

    gaming = s.classify("gaming")
    assert (gaming.status, gaming.eccn) == (cp.CONTROL_STATUS_EXCLUDED_NOTE_2, "")
    assert s.classify("dc-twin").eccn == "3A090.a"
    big = s.classify("big-gaming")
    assert (big.status, big.eccn) == (cp.CONTROL_STATUS_CONTROLLED, "3A090.a")
    # An excluded card needs no license even to China.
    assert not s.requirements("gaming", "CN").license_required


def test_a_system_containing_3a090_ics_is_4a090_of_the_same_paragraph(s: Scenario) -> None:
    s.model("hgx-h100", {**H100, "name": "HGX H100 8-GPU"}, gpus=8)
    s.model("b-chip", {"name": "b chip", "dense_tops": {"int8": "300"}, "die_area_mm2": "1500"})
    s.model("b-server", {"name": "b server", "dense_tops": {"int8": "300"}, "die_area_mm2": "1500"}, gpus=8)
    s.model("small-server", {"name": "small", "dense_tops": {"int8": "50"}, "die_area_mm2": "1500"}, gpus=8)
    assert s.classify("hgx-h100").eccn == "4A090.a"
    assert s.classify("b-chip").eccn == "3A090.b"
    assert s.classify("b-server").eccn == "4A090.b"
    assert s.classify("small-server").status == cp.CONTROL_STATUS_NOT_CONTROLLED


# ------------------------------------------------------------------ where a license is needed


@pytest.mark.parametrize(
    ("country", "required", "exceptions"),
    [
        ("KR", False, []),  # in none of the D groups (and in A:5)
        ("CN", True, ["NAC"]),  # D:1, D:4, D:5: only NAC
        ("MO", True, ["NAC"]),  # Macau
        ("RU", True, ["NAC"]),  # D:5
        ("AE", True, ["ACA"]),  # D:4, not A:5/A:6: ACA (740.8: NAC is for D:5/Macau and HQ-rule cases)
        ("VN", True, ["ACA"]),  # D:1 only: ACA
        ("IL", False, []),  # D:4 but also A:6: carved out
        ("JP", False, []),
    ],
)
def test_the_destination_rule_needs_a_license_to_d1_d4_d5_and_macau_unless_also_in_a5_or_a6(
    s: Scenario, country: str, required: bool, exceptions: list[str]
) -> None:
    got = s.requirements("h100", country)
    assert got.license_required is required
    rules = {r.rule_id: sorted(r.license_exceptions) for r in got.requirements}
    if required:
        assert rules == {"destination-country-group": exceptions}
    else:
        assert rules == {}


def test_an_uncontrolled_model_needs_no_license_even_to_d5(s: Scenario) -> None:
    s.model("weak", {"name": "weak", "dense_tops": {"int8": "50"}, "die_area_mm2": "800"})
    assert not s.requirements("weak", "CN").license_required


def test_the_headquarters_rule_needs_a_license_to_korea_for_a_subsidiary_of_a_chinese_parent(s: Scenario) -> None:
    s.party("cn-parent", "CN", name="Shenzhen Parent Holdings")
    s.party("kr-sub", "KR", parent="cn-parent", name="Seoul Subsidiary")
    s.party("mo-entity", "KR", hq="MO", name="Macau-headquartered Trading")
    s.party("kr-clean", "KR", name="Clean Korean Cloud")

    got = s.requirements("h100", "KR", {"end_user": "kr-sub"})
    assert got.license_required
    [req] = got.requirements
    assert (req.rule_id, req.party_id, req.role) == ("headquarters-rule", s.ids["kr-sub"], "end_user")
    assert list(req.license_exceptions) == ["NAC"]
    [check] = got.headquarters_checks
    assert check.applies and check.triggered_by_party_id == s.ids["cn-parent"]
    assert [(link.party_id, link.relation, link.headquarters_country) for link in check.chain][-1] == (
        s.ids["cn-parent"], "ultimate parent", "CN")

    own = s.requirements("h100", "KR", {"consignee": "mo-entity"})
    assert [r.rule_id for r in own.requirements] == ["headquarters-rule"]
    assert not s.requirements("h100", "KR", {"end_user": "kr-clean"}).license_required


# ------------------------------------------------------------ the HQ rule in an in-country move


def _korea_with_a_chinese_owned_subsidiary(s: Scenario) -> list[str]:
    s.party("cn-parent", "CN", name="Beijing Parent Group")
    s.party("kr-sub", "KR", parent="cn-parent", name="Incheon AI Services")
    s.party("kr-clean", "KR", name="Daejeon Research Cloud")
    serials = ["H1-0001", "H1-0002", "H1-0003", "H1-0004"]
    s.order("b1", "samsung", "h100", 4)
    s.delivered("b1", "samsung", serials)
    return serials


def test_assigning_to_a_korean_subsidiary_of_a_chinese_parent_is_refused_by_the_headquarters_rule(
    s: Scenario,
) -> None:
    serials = _korea_with_a_chinese_owned_subsidiary(s)
    refusal = s.refused(lambda: s.assign("b1", serials[:2], "kr-sub"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.reason == "COMPLIANCE_REFUSAL"
    assert "headquarters-rule" in refusal.subjects
    s.assign("b1", serials[:2], "kr-clean")  # a clean Korean party: accepted
    assert s.rules("b1") == []


def test_transferring_in_korea_to_a_subsidiary_of_a_chinese_parent_is_refused_and_nothing_is_written(
    s: Scenario,
) -> None:
    serials = _korea_with_a_chinese_owned_subsidiary(s)
    refusal = s.refused(lambda: s.transfer("b1", serials[2:], "kr-sub"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "headquarters-rule" in refusal.subjects


def test_a_transfer_to_a_subsidiary_of_a_chinese_parent_is_allowed_under_a_license_naming_it(s: Scenario) -> None:
    s.party("cn-parent", "CN", name="Beijing Parent Group")
    s.party("kr-sub", "KR", parent="cn-parent", name="Incheon AI Services")
    s.license("named", number="D7777777", end_user_ids=[s.ids["samsung"], s.ids["kr-sub"]])
    s.order("b1", "samsung", "h100", 2)
    s.delivered("b1", "samsung", ["N-1", "N-2"], authorization="named")
    s.transfer("b1", ["N-1"], "kr-sub")
    assert s.rules("b1") == []


def test_a_transfer_out_of_korea_is_refused_as_not_in_country(s: Scenario) -> None:
    serials = _korea_with_a_chinese_owned_subsidiary(s)
    s.party("jp-cloud", "JP", name="Tokyo Cloud KK")
    s.site("tokyo", "jp-cloud", country="JP")
    refusal = s.refused(lambda: s.transfer("b1", serials[:1], "jp-cloud", to_site="tokyo"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "in-country-transfer" in refusal.subjects


def test_a_later_amendment_revealing_a_chinese_parent_flags_the_units_the_party_already_holds(s: Scenario) -> None:
    serials = _korea_with_a_chinese_owned_subsidiary(s)
    s.assign("b1", serials[:2], "kr-clean")
    from google.protobuf.struct_pb2 import Struct

    from registry.api.v1 import commands_pb2 as c
    from tests.e2e.world import new_request_id

    fields = Struct()
    fields.update({"ultimate_parent_id": s.ids["cn-parent"]})
    s.send("AmendReference", c.AmendReferenceRequest(
        request_id=new_request_id(), kind=c.REFERENCE_KIND_PARTY, target_id=s.ids["kr-clean"], fields=fields,
        reason="ownership disclosed"))
    [finding] = s.findings("b1", "recipient-not-authorized")
    assert finding.severity == cp.FINDING_SEVERITY_CRITICAL
    assert finding.party_id == s.ids["kr-clean"]
    assert sorted(finding.serials) == serials[:2]


# ------------------------------------------------------- Entity List for every destination


def test_an_entity_listed_korean_party_blocks_clearance_in_korea_and_the_evidence_is_kept(s: Scenario) -> None:
    s.party("listed", "KR", name="Gangnam Compute Ltd", address="5 Teheran-ro, Seoul, KR")
    content = csl(("EL-77", "Gangnam Compute Ltd.", "5 Teheran-ro, Seoul, KR", ""),
                  ("EL-78", "Unrelated Trading LLC", "Dubai, AE", ""))
    s.import_list(content)
    s.order("b1", "samsung", "h100", 2)
    s.request_clearance("b1", "listed", "listed", 2)
    refusal = s.refused(lambda: s.grant("b1", "lic"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert any(subject.startswith("screening") for subject in refusal.subjects), refusal.subjects

    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["listed"]),
                                             metadata=s.md()).screening_case
    assert case.blocking
    [hit] = case.hits
    import hashlib

    assert hit.sha256 == hashlib.sha256(content).hexdigest()
    assert (hit.source, hit.entry.entry_id, hit.entry.source_list) == ("US CSL", "EL-77", "Entity List (EL) - Bureau of Industry and Security")
    assert hit.score >= 85
    assert hit.resolution == cp.HIT_RESOLUTION_OPEN

    s.send("ResolveScreeningHit", cp.ResolveScreeningHitRequest(
        request_id="r-fp-1", party_id=s.ids["listed"], hit_id=hit.hit_id,
        resolution=cp.HIT_RESOLUTION_FALSE_POSITIVE, note="different registration number"), actor="officer-lee")
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["listed"]),
                                             metadata=s.md()).screening_case
    [step] = case.hits[0].trail
    assert (step.resolution, step.actor, step.note) == (
        cp.HIT_RESOLUTION_FALSE_POSITIVE, "officer-lee", "different registration number")
    assert not case.blocking
    s.grant("b1", "lic", at=T0 + timedelta(hours=5))  # now accepted


def test_a_confirmed_entity_list_hit_refuses_a_transfer_inside_korea(s: Scenario) -> None:
    s.party("listed", "KR", name="Busan Hyperscale Co")
    serials = ["E-1", "E-2"]
    s.order("b1", "samsung", "h100", 2)
    s.delivered("b1", "samsung", serials)
    s.import_list(csl(("EL-9", "Busan Hyperscale Co", "Busan, KR", "")), at=T0 + timedelta(days=7))
    case = s.api.compliance.GetScreeningCase(cp.GetScreeningCaseRequest(party_id=s.ids["listed"]),
                                             metadata=s.md()).screening_case
    s.send("ResolveScreeningHit", cp.ResolveScreeningHitRequest(
        request_id="r-confirm", party_id=s.ids["listed"], hit_id=case.hits[0].hit_id,
        resolution=cp.HIT_RESOLUTION_CONFIRMED, note="same entity"))
    refusal = s.refused(lambda: s.transfer("b1", serials, "listed"))
    assert refusal.code == grpc.StatusCode.FAILED_PRECONDITION
    assert any(subject.startswith("screening") for subject in refusal.subjects), refusal.subjects


# ----------------------------------------------- versioned rulesets: AI Diffusion on and off

DIFFUSION_ON = datetime(2025, 1, 15, tzinfo=UTC)
DIFFUSION_OFF = datetime(2025, 5, 13, tzinfo=UTC)


def test_the_ai_diffusion_ruleset_applies_from_its_effective_date_and_is_off_from_13_may_2025(s: Scenario) -> None:
    # The operator configures the rulesets (not an RPC): a framework from 15 Jan 2025 that drops the
    # A:6 carve-out (Israel then needs a license), and its rescission from 13 May 2025.
    diffusion = replace(NOV_2023, ruleset_id="ai-diffusion-2025-01", title="AI Diffusion framework",
                        effective_from=DIFFUSION_ON, carve_out_groups=("A:5",))
    rescinded = replace(NOV_2023, ruleset_id="3A090-2025-05-13", title="AI Diffusion not enforced",
                        effective_from=DIFFUSION_OFF)
    s.server.registry.configure_compliance(
        rulesets=RulesetRegistry([NOV_2023, diffusion, rescinded]), actor="officer-independent",
        reason="AI Diffusion framework announced not enforced on 13 May 2025")

    def required(at: datetime) -> bool:
        return s.requirements("h100", "IL", as_of=at).license_required

    assert not required(DIFFUSION_ON - timedelta(seconds=1))
    assert required(DIFFUSION_ON)
    assert required(DIFFUSION_OFF - timedelta(seconds=1))
    assert not required(DIFFUSION_OFF)
    assert s.classify("h100", as_of=DIFFUSION_OFF - timedelta(days=1)).ruleset_id == "ai-diffusion-2025-01"
    assert s.classify("h100", as_of=DIFFUSION_OFF).ruleset_id == "3A090-2025-05-13"
    assert s.classify("h100").ruleset_id == "3A090-2025-05-13"  # now (2026): the rescission is in force



def test_the_operation_giving_the_highest_tpp_counts(s: Scenario) -> None:
    s.model("mixed", {"name": "mixed", "dense_tops": {"int8": "700", "fp16": "200", "fp8": "350"},
                      "die_area_mm2": "10000"})
    got = s.classify("mixed")
    assert (Decimal(got.tpp), got.governing_precision, got.eccn) == (Decimal(5600), "int8", "3A090.a")
    assert {k: Decimal(v) for k, v in got.tpp_by_precision.items()} == {
        "int8": Decimal(5600), "fp16": Decimal(3200), "fp8": Decimal(2800)}


def test_korea_is_in_no_d_group_and_china_is_in_d1_d4_and_d5(s: Scenario) -> None:
    assert not any(g.startswith("D:") for g in s.requirements("h100", "KR").destination_groups)
    assert {"D:1", "D:4", "D:5"} <= set(s.requirements("h100", "CN").destination_groups)
