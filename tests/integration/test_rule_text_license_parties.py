"""A license names its intermediate consignees apart from its ultimate consignee(s), as the rule
text's auditor list has them ("parties (exporter, purchaser, intermediate consignee, ultimate
consignee, end user, ...)", /work/shared/reference/export-controls.md, "Records and documents"):
``RegisterAuthorization.intermediate_consignee_ids``. When a license names any consignee, a
shipment's intermediate consignee must be one it names as intermediate consignee (``Ship`` refuses
``authorization-consignee`` naming ``intermediate_consignee_ids[i]``), and the clearance's ultimate
consignee one it names as ultimate consignee. On SQLite and PostgreSQL, through the registry's
public API and the compliance read model rebuilt from its log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from projections.compliance_queries import BatchCompliance
from registry.application import commands as c
from registry.domain.base import Context
from registry.domain.errors import ComplianceRefusal, InvalidField, NotFound
from registry.domain.reference import ExportAuthorization
from tests.integration.compliance_world import World, make_world, rebuilt_read_models


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)  # Samsung (KR, no parent) and an H100 (3A090.a)
    w.party("hub", "Incheon Bonded Logistics", roles=("consignee",))
    w.party("depot", "Busan Free Zone Depot", roles=("consignee",))
    try:
        yield w
    finally:
        w.registry.close()


def _cleared(world: World, consignees: tuple[str, ...] = ("samsung",), intermediates: tuple[str, ...] = ()) -> None:
    world.authorization("lic", end_users=("samsung",), consignees=consignees, intermediate_consignees=intermediates)
    world.order("po1", 10)
    world.request("po1", "lic")
    world.grant("po1", "lic")


def _ship(world: World, *through: str) -> Any:
    return world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world["po1"], "shipment_id": "S1", "destination_country": "KR", "quantity": 10,
        "intermediate_consignee_ids": [world[p] for p in through]}))


def _refused_shipment(world: World, *through: str) -> ComplianceRefusal:
    version = world.registry.get_batch(world["po1"]).version
    with pytest.raises(ComplianceRefusal) as e:
        _ship(world, *through)
    assert world.registry.get_batch(world["po1"]).version == version  # nothing written
    return e.value


def test_a_license_records_its_intermediate_consignees_apart_from_its_ultimate_consignees(world: World) -> None:
    _cleared(world, intermediates=("hub", "depot"))
    auth = world.registry.get("authorization", world["lic"])
    assert (auth.consignee_ids, auth.intermediate_consignee_ids) == ([world["samsung"]], [world["hub"], world["depot"]])


def test_a_shipment_through_intermediate_consignees_the_license_names_as_such_goes(world: World) -> None:
    _cleared(world, intermediates=("hub", "depot"))
    _ship(world, "hub", "depot")
    assert world.registry.get_batch(world["po1"]).shipments["S1"].intermediate_consignee_ids == [
        world["hub"], world["depot"]]


def test_an_intermediate_consignee_named_on_the_license_only_as_ultimate_consignee_is_refused_naming_the_field(
    world: World,
) -> None:
    _cleared(world, consignees=("samsung", "depot"), intermediates=("hub",))
    refusal = _refused_shipment(world, "hub", "depot")
    assert (refusal.rule, refusal.facts["role"]) == ("authorization-consignee", "intermediate_consignee_ids[1]")
    assert refusal.facts["party_id"] == str(world["depot"])
    assert "intermediate_consignee_ids[1]: the intermediate consignee is not named on license KR-2026-001 as an " \
        "intermediate consignee (it names the party as ultimate consignee or end user only)" in refusal.detail


def test_a_license_that_names_only_its_ultimate_consignee_admits_no_intermediate_consignee(world: World) -> None:
    _cleared(world, consignees=("samsung",))
    refusal = _refused_shipment(world, "hub")
    assert (refusal.rule, refusal.facts["role"]) == ("authorization-consignee", "intermediate_consignee_ids[0]")
    assert refusal.facts["authorized_intermediate_consignee_ids"] == "none"


def test_a_license_that_names_no_consignee_holds_no_intermediate_consignee_to_a_list(world: World) -> None:
    _cleared(world, consignees=())
    _ship(world, "hub")
    assert "S1" in world.registry.get_batch(world["po1"]).shipments


def test_the_ultimate_consignee_must_be_named_as_ultimate_consignee_not_as_intermediate_consignee(
    world: World,
) -> None:
    world.authorization("lic", consignees=("samsung",), intermediate_consignees=("hub",))
    world.order("po1", 10)
    world.request("po1", "lic", consignee="hub", end_user="samsung")
    with pytest.raises(ComplianceRefusal) as refused:
        world.grant("po1", "lic")
    assert refused.value.rule == "authorization-consignee"
    assert refused.value.facts["consignee_id"] == str(world["hub"])
    assert "as an ultimate consignee (it is named as an intermediate consignee)" in refused.value.detail
    assert world.registry.get_batch(world["po1"]).clearance_status == "requested"


def test_a_license_naming_only_intermediate_consignees_still_holds_the_ultimate_consignee_to_its_list(
    world: World,
) -> None:
    world.authorization("lic", intermediate_consignees=("hub",))
    world.order("po1", 10)
    world.request("po1", "lic")
    with pytest.raises(ComplianceRefusal) as refused:
        world.grant("po1", "lic")
    assert refused.value.rule == "authorization-consignee" and refused.value.facts["role"] == "consignee_id"


def test_an_amendment_naming_an_intermediate_consignee_lets_the_next_shipment_through_it(world: World) -> None:
    _cleared(world)
    _refused_shipment(world, "hub")
    world.registry.amend_reference("admin", c.parse(c.AmendReference, {
        "kind": "authorization", "target_id": world["lic"],
        "fields": {"intermediate_consignee_ids": [str(world["hub"])]}, "reason": "license amended: transit depot"}))
    _ship(world, "hub")


def test_an_unknown_or_repeated_intermediate_consignee_of_a_license_is_refused_naming_it_and_nothing_is_written(
    world: World,
) -> None:
    head = world.registry.head()
    with pytest.raises(NotFound) as missing:
        world.registry.register_authorization("admin", c.parse(c.RegisterAuthorization, {
            "auth_type": "license", "number": "L-9", "eccns": ["3A090"], "destination_countries": ["KR"],
            "intermediate_consignee_ids": [str(world["hub"]), "00000000-0000-0000-0000-000000000007"],
            "valid_from": world.t0}))
    assert "intermediate_consignee_ids[1]" in str(missing.value)
    with pytest.raises(InvalidField) as repeated:
        world.authorization("lic", intermediate_consignees=("hub", "hub"))
    assert repeated.value.violations[0][0] == "intermediate_consignee_ids[1]"
    assert world.registry.head() == head


def test_a_stored_authorization_of_the_first_shape_loads_with_no_intermediate_consignees() -> None:
    state: dict[str, Any] = {}
    ExportAuthorization.Registered.upcast_v1_v2(state)
    assert state == {"intermediate_consignee_ids": []}


def test_a_logged_shipment_through_the_ultimate_consignee_as_intermediate_is_flagged_as_an_export_outside_the_license(
    world: World, tmp_path: Path,
) -> None:
    """A log written before Ship checked it (or by another system): the projection flags it by the
    same policy that now refuses it."""
    _cleared(world, consignees=("samsung", "depot"), intermediates=("hub",))
    batch = world.registry.get_batch(world["po1"])
    batch.ship(Context("old-system", "", world.t0), "S1", None, "Santa Clara, US", "KR", None, "X1", 10, [],
               [world["hub"], world["depot"]], None)
    world.registry.save(batch)
    compliance: BatchCompliance | None = rebuilt_read_models(world, tmp_path).batch_compliance(world["po1"])
    assert compliance is not None
    [finding] = [f for f in compliance.findings if f.rule_id == "export-without-clearance"]
    [reason] = finding.reasons
    assert "intermediate_consignee_ids[1]: the intermediate consignee is not named on license" in reason
