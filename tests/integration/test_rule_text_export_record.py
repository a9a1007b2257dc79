"""The export record per shipment holds what the rule text's auditor expects ("Records and
documents", /work/shared/reference/export-controls.md): "item (... quantity, value) ...
authorization (license number and expiry, or the exception and its number, or NLR) with its running
drawdown ... end-use statement, AES/EEI filing (ITN)". Through the registry's public API and the
compliance read model rebuilt from its log (``BatchCompliance.exports``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from projections.compliance_queries import BatchCompliance
from projections.queries import ReadModels
from registry.application import commands as c
from tests.integration.compliance_world import World, make_world, rebuilt_read_models


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)  # Samsung (KR, no parent) and an H100 (3A090.a)
    try:
        yield w
    finally:
        w.registry.close()


def _cleared(world: World, key: str, auth: str, quantity: int, end_use: str, country: str = "KR") -> None:
    world.order(key, quantity)
    batch = world.registry.get_batch(world[key])
    world.registry.request_clearance("admin", c.parse(c.RequestClearance, {
        "batch_id": batch.id, "authorization_id": world[auth], "eccn": "3A090.a", "destination_country": country,
        "consignee_id": world["samsung"], "end_user_id": world["samsung"], "quantity": quantity,
        "end_use": end_use}))
    world.grant(key, auth)


def _ship(world: World, key: str, shipment: str, quantity: int, itn: str = "", days: int = 4,
          country: str = "KR") -> None:
    world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world[key], "shipment_id": shipment, "destination_country": country, "quantity": quantity,
        "itn": itn, "occurred_at": world.t0 + timedelta(days=days)}))


def _exports(models: ReadModels, world: World, key: str) -> dict[str, Any]:
    compliance: BatchCompliance | None = models.batch_compliance(world[key])
    assert compliance is not None
    return {e.shipment_id: e for e in compliance.exports}


def test_an_export_record_carries_its_itn_end_use_statement_and_value(world: World, tmp_path: Path) -> None:
    world.authorization("lic", quantity=100, value="5000000")
    _cleared(world, "po1", "lic", 10, "training foundation models at the Pyeongtaek AI factory")
    _ship(world, "po1", "S1", 4, itn="X20260306000001")
    _ship(world, "po1", "S2", 6, days=6)  # no filing number given
    exports = _exports(rebuilt_read_models(world, tmp_path), world, "po1")
    first = exports["S1"]
    assert (first.itn, first.end_use) == (
        "X20260306000001", "training foundation models at the Pyeongtaek AI factory")
    assert (first.value, first.currency) == (Decimal("100000"), "USD")  # 4 x 25,000
    assert exports["S2"].itn == "" and exports["S2"].value == Decimal("150000")


def test_an_export_record_names_the_license_its_number_and_expiry_and_the_running_drawdown_when_it_left(
    world: World, tmp_path: Path
) -> None:
    world.authorization("lic", quantity=100, value="5000000")
    _cleared(world, "po1", "lic", 10, "AI training")
    _ship(world, "po1", "S1", 10)
    _cleared(world, "po2", "lic", 20, "AI inference")
    _ship(world, "po2", "S2", 20, days=5)
    models = rebuilt_read_models(world, tmp_path)
    first, second = _exports(models, world, "po1")["S1"], _exports(models, world, "po2")["S2"]
    assert (first.authorization_id, first.authorization_number, first.authorization_type, first.exception_code) == (
        world["lic"], "KR-2026-001", "license", "")
    assert first.aes_license_code == "C30"  # the EEI's license code for a BIS license (AESTIR Appendix F)
    assert first.authorization_valid_to == world.t0 - timedelta(days=30) + timedelta(days=365)
    # the drawdown as it stood when each export left: 10 drawn, then 30 of 100
    assert (first.authorization_drawn_quantity, first.authorization_remaining_quantity) == (10, 90)
    assert (second.authorization_drawn_quantity, second.authorization_remaining_quantity) == (30, 70)
    assert second.authorization_remaining_value == Decimal("5000000") - 30 * Decimal("25000")


def test_an_export_record_names_the_license_exception_and_its_number_or_nlr(world: World, tmp_path: Path) -> None:
    world.authorization("nac", auth_type="license_exception", number="NAC-2026-0042", exception_code="NAC",
                        countries=("CN",), quantity=None)
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    _cleared(world, "po1", "nac", 10, "cloud services", country="CN")
    _ship(world, "po1", "S1", 10, country="CN")
    _cleared(world, "po2", "nlr", 10, "AI training")
    _ship(world, "po2", "S2", 10)
    models = rebuilt_read_models(world, tmp_path)
    nac, nlr = _exports(models, world, "po1")["S1"], _exports(models, world, "po2")["S2"]
    assert (nac.authorization_type, nac.exception_code, nac.authorization_number) == (
        "license_exception", "NAC", "NAC-2026-0042")
    assert (nac.authorization_drawn_quantity, nac.authorization_remaining_quantity) == (10, None)  # unlimited
    assert (nlr.authorization_type, nlr.authorization_number, nlr.exception_code) == ("no_license_required", "", "")
    # the license code each EEI filing carries: NAC's from the ruleset (15 CFR 740.8), NLR's C33
    assert (nac.aes_license_code, nlr.aes_license_code) == ("C67", "C33")


def test_an_export_record_carries_the_eccns_classification_evidence_tpp_pd_and_datacenter_marketing(
    world: World, tmp_path: Path
) -> None:
    world.authorization("lic", quantity=100)
    _cleared(world, "po1", "lic", 10, "AI training")
    world.ids["child"] = world.registry.split_batch("ops", c.parse(c.SplitBatch, {
        "batch_id": world["po1"], "quantity": 4})).aggregate_id
    _ship(world, "po1", "S1", 6)
    _ship(world, "child", "S2", 4)  # a split-off batch carries its parent's clearance and its evidence
    models = rebuilt_read_models(world, tmp_path)
    for record in (_exports(models, world, "po1")["S1"], _exports(models, world, "child")["S2"]):
        # H100: 1,979 dense FP8 TFLOPS x 8 = TPP 15,832; PD 15,832 / 814 mm^2
        assert (record.eccn, record.tpp, record.datacenter_marketed) == ("3A090.a", "15832", True)
        assert record.performance_density.startswith("19.4")
        assert "3A090.a.1" in record.classification_paragraphs
        assert record.classification_ruleset_id == "3A090-2023-11"
