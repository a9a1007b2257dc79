"""Screening evidence, record retention and the per-shipment audit trail, as the rule text states
them (/work/shared/reference/export-controls.md, "Screening" and "Records and documents"), through
the registry's public API and the compliance read model rebuilt from its log:

* the CSL publishes no deltas: keep each snapshot's hash, the list and entry a hit came from, its
  match score and how it was resolved, by whom;
* BIS diversion red flags (13 May 2025) include data centers that cannot confirm power for the quantity;
* 15 CFR 762.6: keep export records 5 years from the LATEST of the export, any known reexport,
  transshipment or diversion, or other termination of the transaction;
* per shipment an auditor expects the AES/EEI filing (ITN), the parties, the authorization, the
  ECCN with its evidence, the end-use statement and a discrepancy log with each resolution.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from projections.compliance_queries import FindingFilter
from registry.application import commands as c
from registry.application import compliance_commands as cc
from registry.domain.errors import ComplianceRefusal
from tests.integration.compliance_world import World, csl, make_world, rebuilt_read_models


@pytest.fixture
def world(sqlite_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(sqlite_url, t0)
    try:
        yield w
    finally:
        w.registry.close()


def _at(world: World, days: int) -> datetime:
    return world.t0 + timedelta(days=days)


def _site(world: World, kw: str = "20000") -> None:
    world.party("kt", "KT Cloud", roles=("operator", "end_user"))
    world.ids["site"] = world.registry.register_site("admin", c.parse(c.RegisterSite, {
        "name": "Gasan DC", "operator_id": world["kt"], "country": "KR", "power_capacity_kw": kw,
    })).aggregate_id


def _cleared(world: World, quantity: int = 10, kw: str = "20000") -> None:
    _site(world, kw)
    world.authorization("lic", end_users=("samsung", "kt"))
    world.order("po1", quantity)
    world.request("po1", "lic")
    world.grant("po1", "lic")


def _move(world: World, use_case: str, model: type[c.Command], days: int, /, **data: Any) -> Any:
    cmd = c.parse(model, {"batch_id": world["po1"], "occurred_at": _at(world, days), **data})
    return getattr(world.registry, use_case)("ops", cmd)


def _ship_receive_install(world: World, quantity: int = 10, received: int | None = None) -> None:
    _move(world, "ship", c.Ship, 4, shipment_id="S1", destination_country="KR",
          destination_site_id=world["site"], itn="X20260306000001", quantity=quantity)
    _move(world, "receive", c.Receive, 6, shipment_id="S1", receiving_party_id=world["samsung"],
          site_id=world["site"], quantity=received if received is not None else quantity)
    _move(world, "install", c.Install, 8, site_id=world["site"], quantity=received or quantity)


# ------------------------------------------------------------------------------ screening
def test_a_grant_keeps_the_snapshot_hash_list_entry_score_resolution_and_officer_of_each_hit(
    world: World,
) -> None:
    content = csl(("el-1", "SAMSUNG ELECTRONICS CO LTD"))
    world.registry.import_screening_list("officer", cc.ImportScreeningList(source="US CSL", content=content))
    world.resolve("samsung", "false_positive", note="different company: Suwon address, KRX listed", actor="carol")
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic")
    world.grant("po1", "lic")

    evidence = world.registry.history(world["po1"])[-1].evidence  # type: ignore[attr-defined]
    purchaser = next(s for s in evidence["screening"] if s["role"] == "purchaser")
    sha = hashlib.sha256(content).hexdigest()
    assert purchaser["screened"]["US CSL"]["sha256"] == sha
    [hit] = purchaser["hits"]
    assert hit["snapshot_sha256"] == sha
    assert (hit["source_list"], hit["entry_id"], hit["entry_name"]) == (
        "Entity List (EL) - Bureau of Industry and Security", "el-1", "SAMSUNG ELECTRONICS CO LTD")
    assert hit["score"] >= 85
    assert (hit["resolution"], hit["resolved_by"]) == ("false_positive", "carol")
    case = world.registry.screening_case(world["samsung"])
    assert case is not None
    [trail] = case.hits[hit["hit_id"]]["trail"]
    assert trail["note"] == "different company: Suwon address, KRX listed"


def test_a_screening_refusal_names_the_list_entry_score_and_snapshot_hash(world: World) -> None:
    content = csl(("el-9", "Samsung Electronics"))
    world.registry.import_screening_list("officer", cc.ImportScreeningList(source="US CSL", content=content))
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic")
    with pytest.raises(ComplianceRefusal) as refused:
        world.grant("po1", "lic")
    facts = refused.value.facts
    assert refused.value.rule == "screening-hit"
    assert (facts["entry_id"], facts["source_list"], facts["resolution"]) == (
        "el-9", "Entity List (EL) - Bureau of Industry and Security", "open")
    assert facts["snapshot_sha256"] == hashlib.sha256(content).hexdigest()
    assert float(facts["score"]) >= 85


def test_each_snapshot_keeps_its_hash_and_a_list_without_the_entry_lapses_the_hit(world: World) -> None:
    first = world.import_list(("el-1", "Samsung Electronics"))
    second = world.import_list(("el-2", "Unrelated Machinery"))
    lists = world.registry.screening_lists()
    assert lists["US CSL"]["snapshot_id"] == second
    assert world.registry.get_screening_list(first).sha256 != world.registry.get_screening_list(second).sha256
    case = world.registry.screening_case(world["samsung"])
    assert case is not None and case.blocking_hits() == []  # the entry left the list: no longer blocking


# ------------------------------------------------------------------------------ red flags
def test_a_data_center_without_the_power_for_what_is_installed_is_flagged_by_bis_red_flags(
    world: World, tmp_path: Path
) -> None:
    _cleared(world, kw="5")  # 10 x 700 W = 7 kW > 5 kW
    _ship_receive_install(world)
    found, _ = rebuilt_read_models(world, tmp_path).list_findings(FindingFilter(rule_ids=("site-power-insufficient",)))
    assert [f.rule_id for f in found] == ["site-power-insufficient"]


# ----------------------------------------------------------------------- record retention
def test_records_of_an_export_are_kept_5_years_from_the_export_by_762_6(world: World, tmp_path: Path) -> None:
    _cleared(world)
    _ship_receive_install(world)
    [export] = rebuilt_read_models(world, tmp_path).batch_compliance(world["po1"]).exports  # type: ignore[union-attr]
    assert export.retention_basis_at == _at(world, 4)
    assert export.retention_until == _at(world, 4).replace(year=_at(world, 4).year + 5)


@pytest.mark.parametrize(
    ("use_case", "model", "data"),
    [
        ("transfer", c.Transfer, {"to_owner_id": "kt", "reason": "sale"}),
        ("return_for_rma", c.ReturnForRma, {"rma_number": "RMA-7", "reason": "failed HBM"}),  # a reexport
        ("report_lost", c.ReportLost, {"kind": "stolen"}),  # a diversion
        ("decommission", c.Decommission, {"method": "shredded"}),  # termination
    ],
)
def test_retention_runs_5_years_from_the_latest_of_export_reexport_diversion_or_termination_by_762_6(
    world: World, tmp_path: Path, use_case: str, model: type[c.Command], data: dict[str, Any]
) -> None:
    _cleared(world)
    _ship_receive_install(world)
    data = {k: world[v] if k == "to_owner_id" else v for k, v in data.items()}
    _move(world, use_case, model, 400, quantity=2, **data)
    [export] = rebuilt_read_models(world, tmp_path).batch_compliance(world["po1"]).exports  # type: ignore[union-attr]
    latest = _at(world, 400)
    assert export.shipped_at == _at(world, 4)
    assert export.retention_basis_at == latest
    assert export.retention_until == latest.replace(year=latest.year + 5)


# ----------------------------------------------------------------- audit per shipment
def test_a_shipment_records_its_itn_carrier_destination_and_the_clearance_its_eccn_evidence_and_end_use(
    world: World,
) -> None:
    _cleared(world)
    _move(world, "ship", c.Ship, 4, shipment_id="S1", carrier_id=world["nvidia"], destination_country="KR",
          destination_site_id=world["site"], itn="X20260306000001", quantity=10)
    history = world.registry.history(world["po1"])
    shipped = history[-1]
    assert (shipped.itn, shipped.carrier_id, shipped.destination_country) == (  # type: ignore[attr-defined]
        "X20260306000001", world["nvidia"], "KR")
    granted = next(e for e in history if type(e).__name__ == "ClearanceGranted")
    assert granted.eccn == "3A090.a"  # type: ignore[attr-defined]
    cls = granted.evidence["classification"]  # type: ignore[attr-defined]
    assert (cls["tpp"], cls["inputs"]["datacenter_marketed"]) == ("15832", True)
    assert granted.evidence["authorization"]["number"] == "KR-2026-001"  # type: ignore[attr-defined]
    assert granted.evidence["drawdown"]["remaining_quantity"] == 90  # type: ignore[attr-defined]


def test_a_short_receipt_is_in_the_discrepancy_log_until_an_officer_resolves_it_with_a_note(
    world: World, tmp_path: Path
) -> None:
    _cleared(world)
    _ship_receive_install(world, quantity=10, received=9)
    read = rebuilt_read_models(world, tmp_path, "before")
    [finding] = read.list_findings(FindingFilter(rule_ids=("units-missing-in-transit",)))[0]
    assert (finding.shipment_id, finding.quantity, finding.status) == ("S1", 1, "open")

    world.registry.resolve_finding("carol", cc.ResolveFinding(
        finding_id=finding.finding_id, note="one unit held by customs, received on day 12"))
    resolved = rebuilt_read_models(world, tmp_path, "after").finding(finding.finding_id)
    assert resolved is not None and resolved.status == "resolved"
    assert [(t.actor, t.note) for t in resolved.trail if t.action == "resolved"] == [
        ("carol", "one unit held by customs, received on day 12")]
