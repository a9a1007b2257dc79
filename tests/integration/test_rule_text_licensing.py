"""Where a license is needed for a 3A090 / 4A090 item, as the rule text states it
(/work/shared/reference/export-controls.md, "Where a license is needed"), through the registry's
public API (``license_requirements_for``, ``RequestClearance`` / ``GrantClearance``, ``Assign``,
``Transfer``, ``configure_compliance``):

* a license to destinations in D:1, D:4, D:5 or Macau not also in A:5 or A:6 (15 CFR 742.6(a)(6)(iii));
  the Republic of Korea is in none of the D groups;
* the headquarters rule (742.6(a)(6)(iii)(A)): a license to ANY destination for an entity headquartered,
  or whose ultimate parent is headquartered, in Macau or D:5, in-country transfers and assignments included;
* the Entity List and the other restricted-party lists apply to every destination and item;
* license exceptions (15 CFR 740.8): NAC (notified: it has an authorization number) for D:5/Macau and
  headquarters-rule cases, ACA (no notification) for D:1/D:4;
* rules as versioned rulesets with effective dates (the AI Diffusion framework, not enforced from
  13 May 2025), past decisions keeping the ruleset they were made under.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from projections.compliance_queries import FindingFilter
from registry.application import commands as c
from registry.domain.base import Context
from registry.domain.classification import NOV_2023, RulesetRegistry
from registry.domain.country_groups import A6, EAR_2025, CountryGroups
from registry.domain.errors import ComplianceRefusal, InvalidField
from tests.integration.compliance_world import World, make_world, rebuilt_read_models
from tests.integration.test_compliance_registry import _cleared_and_installed, _install


@pytest.fixture
def world(sqlite_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(sqlite_url, t0)  # Samsung (KR, no parent) and an H100 (3A090.a)
    try:
        yield w
    finally:
        w.registry.close()


def _refusal(action: Any) -> ComplianceRefusal:
    with pytest.raises(ComplianceRefusal) as e:
        action()
    return e.value


def _rules(world: World, country: str, parties: tuple[str, ...] = (), at: datetime | None = None) -> list[str]:
    found = world.registry.license_requirements_for(
        world["h100"], country, [("end_user", world[p]) for p in parties], at=at
    )
    return [r.rule for r in found]


def _clear(world: World, auth: str, *, country: str = "KR", end_user: str = "samsung", key: str = "po1") -> Any:
    world.order(key, 10)
    world.request(key, auth, country=country, end_user=end_user, consignee=end_user)
    return world.grant(key, auth)


# --------------------------------------------------------------------- destination rule
def test_korea_is_in_no_d_group_so_3a090_needs_no_license_there_by_742_6_a_6_iii(world: World) -> None:
    assert _rules(world, "KR") == []
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    _clear(world, "nlr")
    evidence = world.registry.history(world["po1"])[-1].evidence  # type: ignore[attr-defined]
    assert evidence["country_groups"]["destination_groups"] == ["A:5"]
    assert evidence["license_requirements"] == []


@pytest.mark.parametrize(
    ("country", "groups"),
    [
        ("CN", "D:1, D:4, D:5"),
        ("MO", "D:1, D:4, Macau"),
        ("HK", "D:1, D:4, D:5"),  # treated as China
        ("RU", "D:1, D:4, D:5"),
        ("KZ", "D:1"),
        ("VN", "D:1"),
        ("AE", "D:4"),
        ("SA", "D:4"),
        ("CU", "D:5"),
    ],
)
def test_a_destination_in_d1_d4_d5_or_macau_needs_a_license_by_742_6_a_6_iii(
    world: World, country: str, groups: str
) -> None:
    [requirement] = world.registry.license_requirements_for(world["h100"], country, [])
    assert (requirement.rule, requirement.citation) == ("destination-country-group", "15 CFR 742.6(a)(6)(iii)")
    assert f"is in {groups} and not in A:5 or A:6" in requirement.detail


@pytest.mark.parametrize("country", ["IL", "TW", "IN", "JP", "US", "DE", "SG"])
def test_a_destination_also_in_a5_or_a6_or_in_no_d_group_needs_no_license_by_742_6_a_6_iii(
    world: World, country: str
) -> None:
    assert _rules(world, country) == []  # Israel is in D:4 and A:6: carved out


def test_an_export_to_a_d4_destination_under_nlr_is_refused_naming_the_rule(world: World) -> None:
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None, countries=("AE",))
    refusal = _refusal(lambda: _clear(world, "nlr", country="AE"))
    assert (refusal.rule, refusal.citation) == ("destination-country-group", "15 CFR 742.6(a)(6)(iii)")
    assert world.registry.get_batch(world["po1"]).clearance_status == "requested"


# -------------------------------------------------------------------- license exceptions
def test_aca_needs_no_notification_so_it_is_registered_without_a_number_by_740_8(world: World) -> None:
    world.authorization("aca", auth_type="license_exception", number="", exception_code="ACA",
                        countries=("AE",))
    _clear(world, "aca", country="AE")
    batch = world.registry.get_batch(world["po1"])
    assert batch.clearance_status == "granted"
    assert batch.clearance["authorization_number"] == "ACA"


def test_aca_covers_a_d1_only_destination_by_740_8(world: World) -> None:
    world.authorization("aca", auth_type="license_exception", number="", exception_code="ACA",
                        countries=("KZ",))
    _clear(world, "aca", country="KZ")
    assert world.registry.get_batch(world["po1"]).clearance_status == "granted"


def test_nac_is_notified_so_it_must_carry_its_authorization_number_by_740_8(world: World) -> None:
    head = world.registry.head()
    with pytest.raises(InvalidField) as refused:
        world.authorization("nac", auth_type="license_exception", number="", exception_code="NAC",
                            countries=("CN",))
    assert refused.value.violations[0][0] == "number"
    assert "NAC" in refused.value.violations[0][1]
    assert world.registry.head() == head


def test_a_license_must_carry_its_number(world: World) -> None:
    with pytest.raises(InvalidField) as refused:
        world.authorization("lic", auth_type="license", number="  ")
    assert refused.value.violations[0][0] == "number"


def test_macau_takes_nac_and_refuses_aca_by_740_8(world: World) -> None:
    world.authorization("aca", auth_type="license_exception", number="", exception_code="ACA", countries=("MO",))
    world.authorization("nac", auth_type="license_exception", number="NAC-2026-0042", exception_code="NAC",
                        countries=("MO",))
    refusal = _refusal(lambda: _clear(world, "aca", country="MO"))
    assert refusal.rule == "destination-country-group"
    assert refusal.facts["usable_exceptions"] == "NAC"
    world.grant("po1", "nac")
    batch = world.registry.get_batch(world["po1"])
    assert (batch.clearance_status, batch.clearance["authorization_number"]) == ("granted", "NAC-2026-0042")


# ---------------------------------------------------------------------- headquarters rule
def test_an_entity_headquartered_in_china_needs_a_license_even_in_korea_by_742_6_a_6_iii_a(
    world: World,
) -> None:
    world.party("kr-sub", "Seoul Branch of a Beijing Firm", hq="CN")  # located in KR, HQ in CN
    assert _rules(world, "KR", ("kr-sub",)) == ["headquarters-rule"]
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    refusal = _refusal(lambda: _clear(world, "nlr", end_user="kr-sub"))
    assert (refusal.rule, refusal.citation) == ("headquarters-rule", "15 CFR 742.6(a)(6)(iii)(A)")


def test_an_ultimate_parent_headquartered_in_macau_brings_the_headquarters_rule_by_742_6_a_6_iii_a(
    world: World,
) -> None:
    world.party("macau", "Macau Gaming Holdings", hq="MO", country="MO")
    world.party("kr-sub", "Incheon Cloud", hq="KR", parent="macau")
    [requirement] = world.registry.license_requirements_for(world["h100"], "KR", [("end_user", world["kr-sub"])])
    assert requirement.rule == "headquarters-rule" and "Macau Gaming Holdings" in requirement.detail
    assert world.registry.headquarters_check(world["kr-sub"]).decided_by == "ultimate parent"


def test_an_ultimate_parent_in_a_d1_only_country_is_not_the_headquarters_rule_by_742_6_a_6_iii_a(
    world: World,
) -> None:
    world.party("kz", "Astana Holdings", hq="KZ", country="KZ")  # D:1, not D:5 or Macau
    world.party("kr-sub", "Busan Compute", hq="KR", parent="kz")
    assert _rules(world, "KR", ("kr-sub",)) == []


def test_an_intermediate_owner_in_china_is_not_the_headquarters_rule_by_742_6_a_6_iii_a(world: World) -> None:
    world.party("top", "Tokyo Holdings", hq="JP", country="JP")
    world.party("mid", "Shanghai Holdco", hq="CN", country="CN", immediate="top")
    world.party("kr-sub", "Daejeon Compute", hq="KR", immediate="mid")
    check = world.registry.headquarters_check(world["kr-sub"])
    assert not check.applies and [p.name for p in check.intermediate_flags] == ["Shanghai Holdco"]
    assert _rules(world, "KR", ("kr-sub",)) == []


def test_the_headquarters_rule_takes_nac_naming_the_entity_and_refuses_aca_by_740_8(world: World) -> None:
    world.party("kr-sub", "Seoul Branch of a Beijing Firm", hq="CN")
    world.authorization("aca", auth_type="license_exception", number="", exception_code="ACA",
                        end_users=("kr-sub",))
    world.authorization("nac", auth_type="license_exception", number="NAC-2026-7", exception_code="NAC",
                        end_users=("kr-sub",))
    refusal = _refusal(lambda: _clear(world, "aca", end_user="kr-sub"))
    assert refusal.rule == "headquarters-rule" and refusal.facts["usable_exceptions"] == "NAC"
    world.grant("po1", "nac")
    assert world.registry.get_batch(world["po1"]).clearance_status == "granted"


def test_the_headquarters_rule_does_not_reach_an_item_outside_3a090_by_note_2(world: World) -> None:
    world.model("gaming", "599", "300", datacenter=False)  # Note 2: not 3A090
    world.party("kr-sub", "Seoul Branch of a Beijing Firm", hq="CN")
    found = world.registry.license_requirements_for(world["gaming"], "CN", [("end_user", world["kr-sub"])])
    assert found == []


def _assign(world: World, party: str) -> Any:
    return world.registry.assign("ops", c.parse(c.Assign, {
        "batch_id": world["po1"], "assignee_id": world[party], "purpose": "inference", "quantity": 2}))


def _transfer(world: World, party: str) -> Any:
    return world.registry.transfer("ops", c.parse(c.Transfer, {
        "batch_id": world["po1"], "to_owner_id": world[party], "reason": "sale", "quantity": 2}))


def test_an_in_country_assignment_in_korea_to_a_d5_headquartered_entity_without_a_license_is_refused(
    world: World,
) -> None:
    _cleared_and_installed(world)  # cleared under a license that names no end user, installed in KR
    _install(world)
    world.party("mainland", "Beijing AI Group", hq="CN", country="CN")
    world.party("kr-sub", "Pangyo AI Lab", hq="KR", parent="mainland")
    version = world.registry.get_batch(world["po1"]).version
    for action in (_assign, _transfer):
        refusal = _refusal(lambda action=action: action(world, "kr-sub"))  # type: ignore[misc]
        assert (refusal.rule, refusal.citation) == ("headquarters-rule", "15 CFR 742.6(a)(6)(iii)(A)")
        assert refusal.facts["decided_by"] == "ultimate parent"
    assert world.registry.get_batch(world["po1"]).version == version


def test_an_in_country_transfer_to_a_d5_headquartered_entity_named_on_the_license_is_allowed(
    world: World,
) -> None:
    world.party("kt", "KT Cloud", roles=("operator", "end_user"))
    world.party("mainland", "Beijing AI Group", hq="CN", country="CN")
    world.party("kr-sub", "Pangyo AI Lab", hq="KR", parent="mainland")
    world.ids["site"] = world.registry.register_site("admin", c.parse(c.RegisterSite, {
        "name": "Gasan DC", "operator_id": world["kt"], "country": "KR", "power_capacity_kw": "20000",
    })).aggregate_id
    world.authorization("lic", end_users=("samsung", "kr-sub"))
    world.order("po1", 10)
    world.request("po1", "lic")
    world.grant("po1", "lic")
    _install(world)
    _transfer(world, "kr-sub")
    assert type(world.registry.history(world["po1"])[-1]).__name__ == "Transferred"


# ------------------------------------------------------------------ restricted parties
def test_the_entity_list_applies_to_an_item_outside_3a090_in_korea_by_744_supp_4(world: World) -> None:
    world.model("gaming", "100", "300", datacenter=False)  # not controlled at all
    world.party("listed", "Hefei Listed Computing")
    world.ids["nlr"] = world.registry.register_authorization("admin", c.parse(c.RegisterAuthorization, {
        "auth_type": "no_license_required", "number": "", "eccns": [], "destination_countries": ["KR"],
        "valid_from": world.t0 - timedelta(days=1),
    })).aggregate_id
    world.import_list(("el-77", "Hefei Listed Computing Co., Ltd."))
    world.order("po1", 4, model="gaming")
    world.request("po1", "nlr", eccn="5A992", consignee="listed", end_user="listed")
    refusal = _refusal(lambda: world.grant("po1", "nlr"))
    assert refusal.rule == "screening-hit"
    assert refusal.facts["entry_id"] == "el-77"


# -------------------------------------------------------------------- versioned rulesets
DIFFUSION_ON = datetime(2025, 1, 15, tzinfo=UTC)
DIFFUSION_OFF = datetime(2025, 5, 13, tzinfo=UTC)


def _with_diffusion(world: World) -> None:
    """The AI Diffusion framework as a ruleset from 15 Jan 2025 (here: A:6 destinations such as
    Israel lose their carve-out, as Tier 2 countries did), switched off on 13 May 2025 by a ruleset
    with the November 2023 figures again."""
    diffusion = replace(NOV_2023, ruleset_id="ai-diffusion-2025-01", title="AI Diffusion framework",
                        effective_from=DIFFUSION_ON, carve_out_groups=("A:5",))
    rescinded = replace(NOV_2023, ruleset_id="3A090-2025-05-13", title="AI Diffusion not enforced",
                        effective_from=DIFFUSION_OFF)
    world.registry.configure_compliance(
        rulesets=RulesetRegistry([NOV_2023, diffusion, rescinded]), actor="officer",
        reason="AI Diffusion framework announced not enforced on 13 May 2025",
    )


def test_a_ruleset_applies_from_its_effective_date_and_the_ai_diffusion_rule_is_off_from_13_may_2025(
    world: World,
) -> None:
    _with_diffusion(world)
    assert _rules(world, "IL", at=DIFFUSION_ON - timedelta(seconds=1)) == []
    assert _rules(world, "IL", at=DIFFUSION_ON) == ["destination-country-group"]
    assert _rules(world, "IL", at=DIFFUSION_OFF - timedelta(seconds=1)) == ["destination-country-group"]
    assert _rules(world, "IL", at=DIFFUSION_OFF) == []
    assert world.registry.classify_model(world["h100"], at=DIFFUSION_OFF).ruleset_id == "3A090-2025-05-13"
    assert world.registry.classify_model(world["h100"], at=datetime(2025, 3, 1, tzinfo=UTC)).ruleset_id == (
        "ai-diffusion-2025-01"
    )


def test_a_decision_records_the_ruleset_in_force_so_it_can_be_re_evaluated_under_it(world: World) -> None:
    _with_diffusion(world)
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None, countries=("IL",))
    _clear(world, "nlr", country="IL")  # at the registry's time (2026): the diffusion rule is off
    evidence = world.registry.history(world["po1"])[-1].evidence  # type: ignore[attr-defined]
    assert evidence["classification"]["ruleset_id"] == "3A090-2025-05-13"
    assert evidence["ruleset"]["carve_out_groups"] == ["A:5", "A:6"]
    # re-evaluated under the ruleset it names, and under another: the recorded evidence is not rewritten
    again = world.registry.classify_model(world["h100"], ruleset_id=evidence["classification"]["ruleset_id"])
    assert again.eccn == evidence["classification"]["eccn"] == "3A090.a"
    assert world.registry.classify_model(world["h100"], ruleset_id="ai-diffusion-2025-01").eccn == "3A090.a"


def _ship(world: World, batch: str = "po1") -> Any:
    return world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world[batch], "shipment_id": "S1", "destination_country": "KR", "quantity": 10}))


def test_a_consignee_found_under_the_headquarters_rule_after_the_grant_is_not_shipped_to_under_nlr(
    world: World,
) -> None:
    world.party("kr-co", "Gwangju Compute", hq="KR")
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    _clear(world, "nlr", end_user="kr-co")  # nothing needed a license at the grant
    world.party("mainland", "Shenzhen Capital", hq="CN", country="CN")
    world.registry.amend_reference("admin", c.parse(c.AmendReference, {
        "kind": "party", "target_id": world["kr-co"], "fields": {"ultimate_parent_id": world["mainland"]},
        "reason": "ownership review found the ultimate parent"}))
    version = world.registry.get_batch(world["po1"]).version
    refusal = _refusal(lambda: _ship(world))
    assert (refusal.rule, refusal.citation) == ("headquarters-rule", "15 CFR 742.6(a)(6)(iii)(A)")
    assert refusal.facts["role"] == "consignee"
    assert world.registry.get_batch(world["po1"]).version == version


def test_a_shipment_under_a_license_goes_to_a_consignee_under_the_headquarters_rule(world: World) -> None:
    world.party("mainland", "Shenzhen Capital", hq="CN", country="CN")
    world.party("kr-co", "Gwangju Compute", hq="KR", parent="mainland")
    world.authorization("lic", end_users=("kr-co",))
    _clear(world, "lic", end_user="kr-co")
    _ship(world)
    assert type(world.registry.history(world["po1"])[-1]).__name__ == "Shipped"


def test_a_nac_grant_records_its_number_and_aes_license_code_c67_by_740_8(world: World) -> None:
    world.authorization("nac", auth_type="license_exception", number="NAC-2026-0042", exception_code="NAC",
                        countries=("MO",), days=400)
    _clear(world, "nac", country="MO")
    authorization = world.registry.history(world["po1"])[-1].evidence["authorization"]  # type: ignore[attr-defined]
    assert (authorization["exception_code"], authorization["number"], authorization["aes_license_code"]) == (
        "NAC", "NAC-2026-0042", "C67")
    assert authorization["valid_to"] is not None  # expiry, for the auditor


def test_the_aes_license_code_is_ruleset_data_a_user_can_correct(world: World) -> None:
    corrected = replace(NOV_2023, ruleset_id="aes-codes-corrected", effective_from=world.t0 - timedelta(days=1),
                        aes_license_codes=("NAC=C67", "ACA=C68"))
    world.registry.configure_compliance(rulesets=world.registry.rulesets.with_ruleset(corrected),
                                        reason="AES code of ACA added")
    world.authorization("aca", auth_type="license_exception", number="", exception_code="ACA", countries=("AE",))
    _clear(world, "aca", country="AE")
    authorization = world.registry.history(world["po1"])[-1].evidence["authorization"]  # type: ignore[attr-defined]
    assert authorization["aes_license_code"] == "C68"


def test_an_entity_headquartered_in_hong_kong_is_treated_as_china_for_the_headquarters_rule(world: World) -> None:
    world.party("hk", "Kowloon Compute", hq="HK", country="KR")
    assert _rules(world, "KR", ("hk",)) == ["headquarters-rule"]


def test_a_destination_that_came_under_the_destination_rule_after_the_grant_is_not_shipped_to_under_nlr(
    world: World,
) -> None:
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None, countries=("IL",))
    world.order("po1", 10)
    world.request("po1", "nlr", country="IL")
    world.grant("po1", "nlr")  # Israel: D:4 and A:6, carved out
    without_a6 = CountryGroups(
        version_id="test-il-out-of-a6", effective_from=world.t0 + timedelta(days=1), source="test correction",
        members=MappingProxyType({**EAR_2025.members, A6: EAR_2025.members[A6] - {"IL"}}),
        treated_as=EAR_2025.treated_as,
    )
    world.registry.configure_compliance(
        country_groups=world.registry.country_groups.with_version(without_a6), reason="IL out of A:6 (test)")
    ship = {"batch_id": world["po1"], "destination_country": "IL", "quantity": 5}
    world.registry.ship("dock", c.parse(c.Ship, {**ship, "shipment_id": "S1", "occurred_at": world.t0}))
    refusal = _refusal(lambda: world.registry.ship("dock", c.parse(c.Ship, {
        **ship, "shipment_id": "S2", "occurred_at": world.t0 + timedelta(days=2)})))
    assert (refusal.rule, refusal.citation) == ("destination-country-group", "15 CFR 742.6(a)(6)(iii)")
    assert "test-il-out-of-a6" in refusal.detail


def test_a_logged_shipment_to_a_party_under_the_headquarters_rule_under_nlr_is_flagged_as_an_export_without_license(
    world: World, tmp_path: Path
) -> None:
    """A log written before shipments were checked (or by another system) may hold such a
    shipment: the compliance projection flags it by the same policy that now refuses it."""
    world.party("kr-sub", "Seoul Branch of a Beijing Firm", hq="CN")
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    world.order("po1", 10)
    world.request("po1", "nlr", consignee="kr-sub", end_user="kr-sub")
    batch = world.registry.get_batch(world["po1"])
    ctx = Context("old-system", "", world.t0)
    batch.grant_clearance(ctx, world["nlr"], "NLR", "3A090.a", 10)  # the domain alone: no license rules
    batch.ship(ctx, "S1", None, "Santa Clara, US", "KR", None, "X1", 10, [])
    world.registry.save(batch)

    found, _ = rebuilt_read_models(world, tmp_path).list_findings(FindingFilter(rule_ids=("export-without-clearance",)))
    [finding] = found
    assert (finding.shipment_id, finding.severity) == ("S1", "critical")
    assert any("Seoul Branch of a Beijing Firm is headquartered in CN" in r and "742.6(a)(6)(iii)(A)" in r
               for r in finding.reasons)
