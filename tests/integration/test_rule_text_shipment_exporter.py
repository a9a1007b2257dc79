"""The exporter named per shipment, as the rule text's auditor list has it ("parties (exporter,
purchaser, intermediate consignee, ultimate consignee, end user, ultimate parent and its HQ country,
forwarder)", /work/shared/reference/export-controls.md, "Records and documents"), and screened like
every other party ("Entity List and other restricted-party lists apply to every destination"):
``Ship.exporter_id``, the batch's supplier when not given, recorded on ``GpuBatch.Shipped`` (v5),
in the compliance read model's export record and the compliance report's shipment parties. On
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from projections.compliance_queries import BatchCompliance
from registry.application import commands as c
from registry.domain.batch import GpuBatch
from registry.domain.errors import ComplianceRefusal, NotFound
from tests.integration.compliance_world import World, make_world, rebuilt_read_models


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)  # NVIDIA (US, supplier and exporter), Samsung (KR), an H100 (3A090.a)
    w.party("nvkr", "NVIDIA Korea Exports Ltd", hq="US", roles=("exporter",))
    w.authorization("lic")
    w.order("po1", 10)
    w.request("po1", "lic")
    w.grant("po1", "lic")
    try:
        yield w
    finally:
        w.registry.close()


def _ship(world: World, **extra: Any) -> Any:
    return world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world["po1"], "shipment_id": "S1", "destination_country": "KR", "quantity": 4, **extra}))


def _refusal(world: World, **extra: Any) -> ComplianceRefusal:
    version = world.registry.get_batch(world["po1"]).version
    with pytest.raises(ComplianceRefusal) as e:
        _ship(world, **extra)
    assert world.registry.get_batch(world["po1"]).version == version  # nothing written
    return e.value


def _export(world: World, tmp_path: Path) -> Any:
    compliance: BatchCompliance | None = rebuilt_read_models(world, tmp_path).batch_compliance(world["po1"])
    assert compliance is not None
    [export] = compliance.exports
    return export


def test_a_shipment_that_names_no_exporter_records_the_batchs_supplier_as_exporter_of_record(
    world: World, tmp_path: Path
) -> None:
    _ship(world)
    assert world.registry.get_batch(world["po1"]).shipments["S1"].exporter_id == world["nvidia"]
    shipped = [e for e in world.registry.history(world["po1"]) if isinstance(e, GpuBatch.Shipped)]
    assert shipped[-1].exporter_id == world["nvidia"]
    assert _export(world, tmp_path).exporter_id == world["nvidia"]


def test_a_shipment_names_its_exporter_of_record_in_the_batch_and_the_export_record(
    world: World, tmp_path: Path
) -> None:
    _ship(world, exporter_id=world["nvkr"])
    assert world.registry.get_batch(world["po1"]).shipments["S1"].exporter_id == world["nvkr"]
    assert _export(world, tmp_path).exporter_id == world["nvkr"]


def test_an_exporter_on_the_entity_list_refuses_the_shipment_naming_the_field_and_entry(world: World) -> None:
    world.import_list(("el-90", "NVIDIA Korea Exports Ltd"))
    refusal = _refusal(world, exporter_id=world["nvkr"])
    assert (refusal.rule, refusal.facts["role"], refusal.facts["entry_id"]) == ("screening-hit", "exporter_id", "el-90")
    assert refusal.citation.startswith("Entity List")
    world.resolve("nvkr", "false_positive")
    _ship(world, exporter_id=world["nvkr"])


def test_the_default_exporter_is_screened_too(world: World) -> None:
    world.import_list(("el-91", "NVIDIA Corporation"))
    refusal = _refusal(world)
    assert (refusal.rule, refusal.facts["role"], refusal.facts["party_id"]) == (
        "screening-hit", "exporter_id", str(world["nvidia"]))


def test_an_unknown_exporter_is_not_found_naming_the_field_and_nothing_is_written(world: World) -> None:
    version = world.registry.get_batch(world["po1"]).version
    with pytest.raises(NotFound) as missing:
        _ship(world, exporter_id=world["nvidia"].__class__(int=9))
    assert "exporter_id" in str(missing.value)
    assert world.registry.get_batch(world["po1"]).version == version


def test_a_stored_shipment_of_the_version_4_shape_loads_with_no_exporter_recorded() -> None:
    state: dict[str, Any] = {}
    GpuBatch.Shipped.upcast_v4_v5(state)
    assert state == {"exporter_id": None}
