"""The parties of a shipment beyond its carrier: intermediate consignees and the freight forwarder,
screened at Ship, the intermediate consignees also held to the headquarters rule, recorded on
``GpuBatch.Shipped`` (version 4). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from registry.application import commands as c
from registry.domain.batch import GpuBatch
from registry.domain.errors import ComplianceRefusal, InvalidField, NotFound
from tests.integration.compliance_world import World, make_world


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)
    w.party("hub", "Incheon Bonded Logistics", roles=("consignee",))
    w.party("fwd", "Han River Forwarding", roles=("forwarder",))
    w.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    w.order("po1", 10)
    w.request("po1", "nlr")
    w.grant("po1", "nlr")
    try:
        yield w
    finally:
        w.registry.close()


def _ship(world: World, **extra: Any) -> Any:
    data: dict[str, Any] = {"batch_id": world["po1"], "shipment_id": "S1", "destination_country": "KR",
                            "quantity": 4, "carrier_id": None}
    data.update(extra)
    return world.registry.ship("dock", c.parse(c.Ship, data))


def _refusal(world: World, **extra: Any) -> ComplianceRefusal:
    version = world.registry.get_batch(world["po1"]).version
    with pytest.raises(ComplianceRefusal) as e:
        _ship(world, **extra)
    assert world.registry.get_batch(world["po1"]).version == version  # nothing written
    return e.value


def test_a_shipment_records_its_intermediate_consignees_and_forwarder(world: World) -> None:
    _ship(world, intermediate_consignee_ids=[world["hub"]], forwarder_id=world["fwd"])
    batch = world.registry.get_batch(world["po1"])
    shipment = batch.shipments["S1"]
    assert (shipment.intermediate_consignee_ids, shipment.forwarder_id) == ([world["hub"]], world["fwd"])
    shipped = [e for e in world.registry.history(world["po1"]) if isinstance(e, GpuBatch.Shipped)]
    assert shipped[-1].intermediate_consignee_ids == [world["hub"]]
    assert shipped[-1].forwarder_id == world["fwd"]


def test_a_shipment_without_them_records_none(world: World) -> None:
    _ship(world)
    shipment = world.registry.get_batch(world["po1"]).shipments["S1"]
    assert (shipment.intermediate_consignee_ids, shipment.forwarder_id) == ([], None)


def test_an_intermediate_consignee_on_the_entity_list_refuses_the_shipment_naming_field_and_entry(
    world: World,
) -> None:
    world.import_list(("el-77", "Incheon Bonded Logistics"))
    refusal = _refusal(world, intermediate_consignee_ids=[world["hub"]])
    assert refusal.rule == "screening-hit"
    assert refusal.citation.startswith("Entity List")
    assert refusal.facts["role"] == "intermediate_consignee_ids[0]"
    assert refusal.facts["entry_id"] == "el-77"
    assert "intermediate_consignee_ids[0] Incheon Bonded Logistics matches" in refusal.detail


def test_a_forwarder_with_an_open_hit_refuses_the_shipment_until_resolved(world: World) -> None:
    world.import_list(("el-78", "Han River Forwarding"))
    refusal = _refusal(world, forwarder_id=world["fwd"])
    assert (refusal.rule, refusal.facts["role"], refusal.facts["entry_id"]) == (
        "screening-hit", "forwarder_id", "el-78")
    world.resolve("fwd", "false_positive")
    _ship(world, forwarder_id=world["fwd"])


def test_an_intermediate_consignee_under_the_headquarters_rule_needs_a_license(world: World) -> None:
    world.party("mainland", "Mainland Logistics Group", hq="CN", country="CN")
    world.party("depot", "Busan Free Zone Depot", hq="KR", parent="mainland", roles=("consignee",))
    refusal = _refusal(world, intermediate_consignee_ids=[world["hub"], world["depot"]])
    assert (refusal.rule, refusal.citation) == ("headquarters-rule", "15 CFR 742.6(a)(6)(iii)(A)")
    assert "Mainland Logistics Group" in refusal.detail


def test_a_forwarder_is_screened_but_not_held_to_the_headquarters_rule(world: World) -> None:
    world.party("mainland", "Mainland Logistics Group", hq="CN", country="CN")
    world.party("cnfwd", "Yellow Sea Forwarding", hq="KR", parent="mainland", roles=("forwarder",))
    _ship(world, forwarder_id=world["cnfwd"])
    assert world.registry.get_batch(world["po1"]).shipments["S1"].forwarder_id == world["cnfwd"]


def test_an_unknown_or_repeated_intermediate_consignee_is_refused_naming_the_field(world: World) -> None:
    with pytest.raises(NotFound) as missing:
        _ship(world, intermediate_consignee_ids=[world["hub"], world["nvidia"].__class__(int=7)])
    assert "intermediate_consignee_ids[1]" in str(missing.value)
    with pytest.raises(InvalidField) as twice:
        _ship(world, intermediate_consignee_ids=[world["hub"], world["hub"]])
    assert "intermediate_consignee_ids" in str(twice.value)
    assert world.registry.get_batch(world["po1"]).shipments == {}
