"""Reexports, transshipments and intermediate consignees held to the license rules, as the rule text
states them (/work/shared/reference/export-controls.md, "Where a license is needed" and "Records and
documents"), through the registry's public API and the compliance read model rebuilt from its log:

* 15 CFR 742.6(a)(6)(iii): 3A090 / 4A090 need a license to destinations in Country Groups D:1, D:4
  or D:5 (and Macau) not also in A:5 or A:6; a known reexport (15 CFR 734.14) or transshipment is
  held to it with the country groups in force at the movement. The headquarters rule
  (742.6(a)(6)(iii)(A), first 744.23(a)(3)) is about parties, not places: a movement names none.
* 15 CFR 740.8: NAC for D:5/Macau, ACA for D:1/D:4 only.
* A license names its parties (exporter, intermediate consignee, ultimate consignee, end user):
  shipping through an intermediate consignee it does not name is shipping outside it.

Recording a reexport is recording a known fact: it is never refused; the projection flags it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from projections.compliance_queries import BatchCompliance, FindingFilter
from registry.application import commands as c
from registry.domain.base import Context
from registry.domain.country_groups import A6, EAR_2025, CountryGroups
from registry.domain.errors import ComplianceRefusal
from tests.integration.compliance_world import World, make_world, rebuilt_read_models


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)  # Samsung (KR, no parent) and an H100 (3A090.a)
    try:
        yield w
    finally:
        w.registry.close()


def _at(world: World, days: int) -> datetime:
    return world.t0 + timedelta(days=days)


def _move(world: World, use_case: str, model: type[c.Command], days: int, /, **data: Any) -> Any:
    cmd = c.parse(model, {"batch_id": world["po1"], "occurred_at": _at(world, days), **data})
    return getattr(world.registry, use_case)("ops", cmd)


def _exported(world: World, auth: str = "lic", country: str = "KR", **auth_terms: Any) -> None:
    """10 H100 cleared under ``auth`` to ``country`` and shipped there on day 4."""
    world.authorization(auth, countries=auth_terms.pop("countries", (country,)), **auth_terms)
    world.order("po1", 10)
    world.request("po1", auth, country=country)
    world.grant("po1", auth)
    _move(world, "ship", c.Ship, 4, shipment_id="S1", destination_country=country, quantity=10)


def _onward(world: World, kind: str, country: str, days: int = 30, **data: Any) -> Any:
    return _move(world, "record_onward_movement", c.RecordOnwardMovement, days,
                 **{"kind": kind, "country": country, "place": "port", "quantity": 2, **data})


def _reexport_findings(world: World, tmp_path: Path) -> list[Any]:
    found, _ = rebuilt_read_models(world, tmp_path).list_findings(
        FindingFilter(rule_ids=("reexport-not-authorized",)))
    return list(found)


# --------------------------------------------------------------------- reexports, transshipments
@pytest.mark.parametrize(("kind", "country"), [("reexport", "CN"), ("transshipment", "MO"), ("reexport", "VN")])
def test_a_reexport_or_transshipment_to_a_d_group_or_macau_under_a_license_for_korea_only_is_a_critical_finding_by_742_6_a_6_iii(
    world: World, tmp_path: Path, kind: str, country: str
) -> None:
    _exported(world)
    _onward(world, kind, country)
    [finding] = _reexport_findings(world, tmp_path)
    assert (finding.severity, finding.status, finding.quantity) == ("critical", "open", 2)
    assert "742.6(a)(6)(iii)" in finding.citation and "734.14" in finding.citation
    [reason] = finding.reasons
    how = "reexport to" if kind == "reexport" else "transshipment through"
    assert f"{how} {country}: destination {country} is in D:" in reason
    assert f"license KR-2026-001 does not list {country} (it lists KR)" in reason


def test_recording_a_reexport_to_a_d5_country_is_not_refused_it_records_the_known_fact(world: World) -> None:
    _exported(world)
    version = world.registry.get_batch(world["po1"]).version
    _onward(world, "reexport", "CN")
    assert world.registry.get_batch(world["po1"]).version == version + 1
    assert type(world.registry.history(world["po1"])[-1]).__name__ == "OnwardMovementRecorded"


@pytest.mark.parametrize("country", ["KR", "SG", "JP", "IL"])  # A:5, A:6, A:5, D:4 and A:6 (carved out)
def test_a_reexport_to_a_country_in_no_d_group_or_also_in_a5_or_a6_needs_no_license_by_742_6_a_6_iii(
    world: World, tmp_path: Path, country: str
) -> None:
    _exported(world)
    _onward(world, "reexport", country)
    assert _reexport_findings(world, tmp_path) == []


def test_a_reexport_to_a_country_the_license_lists_is_covered_by_it(world: World, tmp_path: Path) -> None:
    _exported(world, countries=("KR", "AE"))
    _onward(world, "reexport", "AE")
    assert _reexport_findings(world, tmp_path) == []


def test_aca_covers_a_reexport_to_a_d4_only_country_but_not_to_china_in_d5_by_740_8(
    world: World, tmp_path: Path
) -> None:
    _exported(world, "aca", country="AE", auth_type="license_exception", number="", exception_code="ACA")
    _onward(world, "reexport", "SA", days=20)  # D:4 only: ACA is available there
    _onward(world, "reexport", "CN", days=30)  # D:5: NAC or a license
    [finding] = _reexport_findings(world, tmp_path)
    [reason] = finding.reasons
    assert "reexport to CN" in reason
    assert "license exception ACA" in reason and "usable: NAC or a license listing CN" in reason


def test_nlr_covers_no_reexport_to_a_destination_needing_a_license(world: World, tmp_path: Path) -> None:
    _exported(world, "nlr", auth_type="no_license_required", number="", quantity=None)
    _onward(world, "transshipment", "CN")
    [finding] = _reexport_findings(world, tmp_path)
    assert "is no_license_required, but a license listing CN is required" in finding.reasons[0]


def test_a_diversion_is_units_diverted_and_not_also_a_reexport_finding(world: World, tmp_path: Path) -> None:
    _exported(world)
    _onward(world, "diversion", "CN")
    found, _ = rebuilt_read_models(world, tmp_path).list_findings(
        FindingFilter(rule_ids=("units-diverted", "reexport-not-authorized")))
    assert [f.rule_id for f in found] == ["units-diverted"]


def test_the_country_groups_in_force_at_the_movement_decide_not_those_at_the_export(
    world: World, tmp_path: Path
) -> None:
    _exported(world)
    without_a6 = CountryGroups(
        version_id="test-il-out-of-a6", effective_from=_at(world, 50), source="test correction",
        members=MappingProxyType({**EAR_2025.members, A6: EAR_2025.members[A6] - {"IL"}}),
        treated_as=EAR_2025.treated_as,
    )
    world.registry.configure_compliance(
        country_groups=world.registry.country_groups.with_version(without_a6), reason="IL out of A:6 (test)")
    _onward(world, "reexport", "IL", days=40)  # IL still carved out (A:6)
    _onward(world, "reexport", "IL", days=60)  # IL only in D:4 now
    [finding] = _reexport_findings(world, tmp_path)
    assert "test-il-out-of-a6" in finding.reasons[0]
    assert f"{_at(world, 60):%Y-%m-%d}" in finding.reasons[0]


def test_the_headquarters_rule_is_about_parties_not_the_places_a_reexport_passes(
    world: World, tmp_path: Path
) -> None:
    """An end user headquartered in China, named on a license for Korea: a reexport to Singapore
    (A:6) needs no license by the destination rule, and the movement names no party."""
    world.party("kr-sub", "Seoul Branch of a Beijing Firm", hq="CN")
    world.authorization("lic", end_users=("kr-sub",))
    world.order("po1", 10)
    world.request("po1", "lic", consignee="kr-sub", end_user="kr-sub")
    world.grant("po1", "lic")
    _move(world, "ship", c.Ship, 4, shipment_id="S1", destination_country="KR", quantity=10)
    _onward(world, "reexport", "SG")
    assert _reexport_findings(world, tmp_path) == []


# ---------------------------------------------------------------------- intermediate consignees
def _licensed_with_consignees(world: World, *consignees: str, intermediates: tuple[str, ...] = ()) -> None:
    world.party("hub", "Incheon Bonded Logistics", roles=("consignee",))
    world.authorization("lic", end_users=("samsung",), consignees=consignees, intermediate_consignees=intermediates)
    world.order("po1", 10)
    world.request("po1", "lic")
    world.grant("po1", "lic")


def _ship_through(world: World, *through: str) -> Any:
    return world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world["po1"], "shipment_id": "S1", "destination_country": "KR", "quantity": 10,
        "intermediate_consignee_ids": [world[p] for p in through]}))


def test_a_shipment_through_an_intermediate_consignee_the_license_does_not_name_is_refused_naming_it(
    world: World,
) -> None:
    world.party("port", "Pyeongtaek Port Terminal", roles=("consignee",))
    _licensed_with_consignees(world, "samsung", intermediates=("port",))
    version = world.registry.get_batch(world["po1"]).version
    with pytest.raises(ComplianceRefusal) as refused:
        _ship_through(world, "port", "hub")
    assert (refused.value.rule, refused.value.citation) == ("authorization-consignee", "terms of the license")
    assert refused.value.facts["role"] == "intermediate_consignee_ids[1]"
    assert refused.value.facts["party_id"] == str(world["hub"])
    assert "intermediate_consignee_ids[1]" in refused.value.detail and "KR-2026-001" in refused.value.detail
    assert world.registry.get_batch(world["po1"]).version == version  # nothing written


def test_a_shipment_through_an_intermediate_consignee_the_license_names_goes(world: World) -> None:
    _licensed_with_consignees(world, "samsung", intermediates=("hub",))
    _ship_through(world, "hub")
    assert world.registry.get_batch(world["po1"]).shipments["S1"].intermediate_consignee_ids == [world["hub"]]


def test_a_license_that_names_no_consignees_holds_no_intermediate_consignee_to_a_list(world: World) -> None:
    _licensed_with_consignees(world)
    _ship_through(world, "hub")
    assert "S1" in world.registry.get_batch(world["po1"]).shipments


def test_a_logged_shipment_through_an_unnamed_intermediate_consignee_is_flagged_as_an_export_outside_the_license(
    world: World, tmp_path: Path
) -> None:
    """A log written before Ship checked it (or by another system): the projection flags it by the
    same policy that now refuses it."""
    _licensed_with_consignees(world, "samsung")
    batch = world.registry.get_batch(world["po1"])
    batch.ship(Context("old-system", "", world.t0), "S1", None, "Santa Clara, US", "KR", None, "X1", 10, [],
               [world["hub"]], None)
    world.registry.save(batch)
    compliance: BatchCompliance | None = rebuilt_read_models(world, tmp_path).batch_compliance(world["po1"])
    assert compliance is not None
    [finding] = [f for f in compliance.findings if f.rule_id == "export-without-clearance"]
    assert (finding.shipment_id, finding.severity) == ("S1", "critical")
    [reason] = finding.reasons
    assert "intermediate_consignee_ids[0]: the intermediate consignee is not named on license" in reason
