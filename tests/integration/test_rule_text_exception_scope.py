"""License exceptions held to their own scope (15 CFR 740.8), as the rule text states it
(/work/shared/reference/export-controls.md, "Where a license is needed"): "NAC (notified, for
D:5/Macau and HQ-rule cases ...) and ACA (D:1/D:4, no notification)". Through the registry's public
API and the compliance read model rebuilt from its log, on SQLite and PostgreSQL:

* at the clearance and at ``Ship``: NAC is not the exception for a destination only in D:1 or D:4
  (ACA is), unless the export is for an entity under the headquarters rule (NAC covers such an
  entity wherever it is); ACA never covers a headquarters-rule case nor D:5 or Macau;
* on a known reexport or transshipment (``RecordOnwardMovement``): the batch's exception must have
  the new country in its scope, else ``reexport-not-authorized`` (critical).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from projections.compliance_queries import FindingFilter
from registry.application import commands as c
from registry.domain.errors import ComplianceRefusal
from tests.integration.compliance_world import World, make_world, rebuilt_read_models


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)  # Samsung (KR, no parent) and an H100 (3A090.a)
    try:
        yield w
    finally:
        w.registry.close()


def _nac(world: World, *countries: str) -> None:
    world.authorization("nac", auth_type="license_exception", number="NAC-2026-0042", exception_code="NAC",
                        countries=countries)


def _aca(world: World, *countries: str) -> None:
    world.authorization("aca", auth_type="license_exception", number="", exception_code="ACA", countries=countries)


def _clear(world: World, auth: str, country: str, party: str = "samsung") -> Any:
    world.order("po1", 10)
    world.request("po1", auth, country=country, consignee=party, end_user=party)
    return world.grant("po1", auth)


def _refused(action: Any) -> ComplianceRefusal:
    with pytest.raises(ComplianceRefusal) as e:
        action()
    return e.value


def _ship_and_move(world: World, country: str, *moves: tuple[str, str, int]) -> None:
    world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world["po1"], "shipment_id": "S1", "destination_country": country, "quantity": 10,
        "occurred_at": world.t0 + timedelta(days=4)}))
    for kind, to, days in moves:
        world.registry.record_onward_movement("ops", c.parse(c.RecordOnwardMovement, {
            "batch_id": world["po1"], "kind": kind, "country": to, "place": "port", "quantity": 2,
            "occurred_at": world.t0 + timedelta(days=days)}))


def _reexport_reasons(world: World, tmp_path: Path) -> list[str]:
    found, _ = rebuilt_read_models(world, tmp_path).list_findings(
        FindingFilter(rule_ids=("reexport-not-authorized",)))
    assert all(f.severity == "critical" for f in found)
    return [r for f in found for r in f.reasons]


# ------------------------------------------------------------------ the clearance and the shipment
@pytest.mark.parametrize("country", ["VN", "AE"])  # D:1 only, D:4 only
def test_nac_is_not_the_exception_for_a_destination_only_in_d1_or_d4_so_the_clearance_is_refused_by_740_8(
    world: World, country: str
) -> None:
    _nac(world, country)
    refusal = _refused(lambda: _clear(world, "nac", country))
    assert refusal.rule == "destination-country-group"
    assert refusal.facts["usable_exceptions"] == "ACA"
    assert "license exception NAC is not available for this case; usable: ACA or a license" in refusal.detail
    assert world.registry.get_batch(world["po1"]).clearance_status == "requested"


@pytest.mark.parametrize("country", ["CN", "MO"])
def test_nac_covers_a_destination_in_d5_or_macau_by_740_8(world: World, country: str) -> None:
    _nac(world, country)
    _clear(world, "nac", country)
    assert world.registry.get_batch(world["po1"]).clearance_status == "granted"


def test_nac_covers_an_entity_under_the_headquarters_rule_wherever_it_is_even_in_a_d1_only_country_by_740_8(
    world: World,
) -> None:
    world.party("vn-sub", "Hanoi Subsidiary of a Shenzhen Group", hq="CN", country="VN")
    _nac(world, "VN")
    _clear(world, "nac", "VN", party="vn-sub")
    evidence = world.registry.history(world["po1"])[-1].evidence  # type: ignore[attr-defined]
    assert sorted(r["rule"] for r in evidence["license_requirements"]) == [
        "destination-country-group", "headquarters-rule", "headquarters-rule"]


def test_aca_covers_a_d1_only_destination_but_not_an_entity_under_the_headquarters_rule_there_by_740_8(
    world: World,
) -> None:
    world.party("vn-sub", "Hanoi Subsidiary of a Shenzhen Group", hq="CN", country="VN")
    _aca(world, "VN")
    refusal = _refused(lambda: _clear(world, "aca", "VN", party="vn-sub"))
    assert refusal.rule == "headquarters-rule"
    assert "license exception ACA is not available for this case; usable: NAC or a license" in refusal.detail


# ----------------------------------------------------------------- reexports and transshipments
def test_a_reexport_to_a_d1_only_country_under_nac_is_outside_nacs_scope_and_a_critical_finding_by_740_8(
    world: World, tmp_path: Path
) -> None:
    _nac(world, "CN", "MO", "VN")  # notified for all three: only the scope decides
    _clear(world, "nac", "CN")
    _ship_and_move(world, "CN", ("reexport", "MO", 20), ("reexport", "VN", 30))
    [reason] = _reexport_reasons(world, tmp_path)  # Macau is in NAC's scope, Vietnam (D:1 only) is not
    assert "reexport to VN: destination VN is in D:1 and" in reason
    assert "license exception NAC (NAC-2026-0042) is not available there; usable: ACA or a license listing VN" in reason


def test_a_transshipment_through_a_d4_only_country_of_units_exported_under_nac_for_a_headquarters_rule_entity_is_a_finding(
    world: World, tmp_path: Path
) -> None:
    """NAC covered the export to Korea because the end user's parent is headquartered in China; a
    movement names no party, so only the place is judged: the UAE (D:4 only) is ACA's scope."""
    world.party("parent", "Shenzhen Group", hq="CN", country="CN")
    world.party("kr-sub", "Seoul Subsidiary", hq="KR", parent="parent")
    _nac(world, "KR")
    _clear(world, "nac", "KR", party="kr-sub")
    _ship_and_move(world, "KR", ("transshipment", "AE", 20))
    [reason] = _reexport_reasons(world, tmp_path)
    assert "transshipment through AE: destination AE is in D:4 and" in reason
    assert "usable: ACA or a license listing AE" in reason


def test_a_reexport_under_aca_stays_in_acas_scope_only_in_d1_or_d4_outside_d5_and_macau_by_740_8(
    world: World, tmp_path: Path
) -> None:
    _aca(world, "VN")
    _clear(world, "aca", "VN")
    _ship_and_move(world, "VN", ("reexport", "KZ", 20), ("transshipment", "AE", 25), ("reexport", "MO", 30))
    [reason] = _reexport_reasons(world, tmp_path)
    assert "reexport to MO: destination MO is in D:1, D:4, Macau and" in reason
    assert "license exception ACA" in reason and "usable: NAC or a license listing MO" in reason
