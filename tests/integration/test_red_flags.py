"""BIS diversion red flags (guidance of 13 May 2025, /work/shared/reference/export-controls.md,
"Screening") beyond the site's power: first-time buyers of large volumes; residential or vague
addresses for commercial quantities; little online presence; unusual freight forwarders. Raised by
the compliance read model rebuilt from the registry's log (the store on SQLite and PostgreSQL),
with the thresholds read from the ruleset in force (rule data a user corrects), and the facts
from the parties' optional red-flag fields (not recorded: unknown, no flag)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from projections.compliance_queries import Finding, FindingFilter
from registry.application import commands as c
from registry.domain.classification import Ruleset
from registry.domain.errors import InvalidField
from tests.integration.compliance_world import World, make_world, rebuilt_read_models

RED_FLAGS = ("red-flag-first-time-large-buyer", "red-flag-address", "red-flag-online-presence",
             "red-flag-unusual-forwarder")


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)
    w.authorization("lic", quantity=None)
    try:
        yield w
    finally:
        w.registry.close()


def _party(world: World, key: str, name: str, roles: tuple[str, ...] = ("purchaser", "consignee", "end_user"),
           **facts: str) -> None:
    cmd = c.parse(c.RegisterParty, {"name": name, "country": "KR", "roles": list(roles),
                                    "headquarters_country": "KR", **facts})
    world.ids[key] = world.registry.register_party("admin", cmd).aggregate_id


def _flags(world: World, tmp_path: Path) -> list[Finding]:
    read_models = rebuilt_read_models(world, tmp_path)
    found, _ = read_models.list_findings(FindingFilter(rule_ids=RED_FLAGS))
    read_models.engine.dispose()
    return found


def _ship(world: World, batch: str, quantity: int, **extra: Any) -> None:
    world.registry.ship("dock", c.parse(c.Ship, {"batch_id": world[batch], "shipment_id": f"S-{batch}",
                                                "destination_country": "KR", "quantity": quantity, **extra}))


def _cleared(world: World, batch: str, quantity: int, buyer: str) -> None:
    world.order(batch, quantity, buyer=buyer)
    world.request(batch, "lic", consignee=buyer, end_user=buyer)
    world.grant(batch, "lic")


def test_a_first_time_buyer_of_a_large_volume_is_flagged_once(world: World, tmp_path: Path) -> None:
    _party(world, "newco", "Newco AI")
    world.order("po1", 1200, buyer="newco")  # first order, >= 1000 GPUs (default threshold)
    world.order("po2", 1200, buyer="newco")  # not the first any more
    world.order("po3", 999, buyer="samsung")  # first of Samsung, below the threshold
    [flag] = _flags(world, tmp_path)
    assert (flag.rule_id, flag.party_id, flag.batch_id, flag.severity) == (
        "red-flag-first-time-large-buyer", world["newco"], world["po1"], "medium")
    assert "1200 GPU(s)" in flag.reasons[0] and "13 May 2025" in flag.citation


def test_the_large_volume_threshold_is_rule_data_a_user_corrects(world: World, tmp_path: Path) -> None:
    r = world.registry
    current = r.rulesets.in_force(world.t0)
    corrected = dataclasses.replace(current, red_flag_large_volume_gpus=50)
    r.configure_compliance(rulesets=r.rulesets.with_ruleset(corrected), reason="our own KYC threshold")
    _party(world, "newco", "Newco AI")
    world.order("po1", 60, buyer="newco")
    assert [f.rule_id for f in _flags(world, tmp_path)] == ["red-flag-first-time-large-buyer"]


def test_a_threshold_that_is_not_a_positive_number_of_gpus_is_refused_naming_it() -> None:
    with pytest.raises(InvalidField) as e:
        Ruleset("r", "t", datetime(2026, 1, 1), "c", red_flag_commercial_quantity_gpus=0)
    assert "red_flag_commercial_quantity_gpus" in str(e.value)


def test_a_commercial_quantity_for_a_residential_or_vague_address_is_flagged(world: World, tmp_path: Path) -> None:
    _party(world, "home", "Jung Trading", address_type="residential")
    _party(world, "vague", "Seoul Compute Partners", roles=("consignee",), address_type="vague")
    _cleared(world, "po1", 20, "home")
    _ship(world, "po1", 8, intermediate_consignee_ids=[world["vague"]])  # 8 GPUs: commercial
    flags = _flags(world, tmp_path)
    assert sorted((f.rule_id, f.party_id) for f in flags) == sorted(
        [("red-flag-address", world["home"]), ("red-flag-address", world["vague"])])
    assert any("intermediate consignee Seoul Compute Partners" in f.reasons[0] for f in flags)


def test_a_small_quantity_or_an_unknown_address_raises_nothing(world: World, tmp_path: Path) -> None:
    _party(world, "home", "Jung Trading", address_type="residential")
    _party(world, "unknown", "Quiet Co")  # no address type recorded: unknown
    _cleared(world, "po1", 20, "home")
    _cleared(world, "po2", 20, "unknown")
    _ship(world, "po1", 2)  # 2 GPUs: below the commercial quantity
    _ship(world, "po2", 20)
    assert _flags(world, tmp_path) == []


def test_little_online_presence_and_an_unusual_forwarder_are_flagged(world: World, tmp_path: Path) -> None:
    _party(world, "shell", "Shell Compute", online_presence="little")
    _party(world, "fwd", "Night Freight", roles=("forwarder",), forwarder_standing="unusual")
    _party(world, "usual", "DHL Global Forwarding", roles=("forwarder",), forwarder_standing="usual",
           online_presence="established")
    _cleared(world, "po1", 20, "shell")
    _cleared(world, "po2", 20, "samsung")
    _ship(world, "po1", 4, forwarder_id=world["fwd"])
    _ship(world, "po2", 4, forwarder_id=world["usual"])
    flags = sorted((f.rule_id, f.party_id, f.shipment_id) for f in _flags(world, tmp_path))
    assert flags == sorted([("red-flag-online-presence", world["shell"], "S-po1"),
                            ("red-flag-unusual-forwarder", world["fwd"], "S-po1")])


def test_a_red_flag_fact_outside_its_code_list_is_refused_naming_the_field(world: World) -> None:
    with pytest.raises(InvalidField) as e:
        _party(world, "x", "X Corp", address_type="warehouse")
    assert "address_type" in str(e.value)
    _party(world, "y", "Y Corp")
    world.registry.amend_reference("admin", c.parse(c.AmendReference, {
        "kind": "party", "target_id": world["y"], "fields": {"online_presence": "little"}, "reason": "web check"}))
    assert world.registry.get("party", world["y"]).online_presence == "little"
    with pytest.raises(InvalidField) as amend:
        world.registry.amend_reference("admin", c.parse(c.AmendReference, {
            "kind": "party", "target_id": world["y"], "fields": {"forwarder_standing": "odd"}, "reason": "x"}))
    assert "forwarder_standing" in str(amend.value)


def test_a_fact_recorded_later_flags_the_units_the_party_holds_once(world: World, tmp_path: Path) -> None:
    _party(world, "late", "Late Discovery Ltd")
    _cleared(world, "po1", 20, "late")
    _ship(world, "po1", 20)
    (tmp_path / "before").mkdir()
    assert _flags(world, tmp_path / "before") == []  # nothing known about the party when it shipped

    def amend(fields: dict[str, str]) -> None:
        world.registry.amend_reference("admin", c.parse(c.AmendReference, {
            "kind": "party", "target_id": world["late"], "fields": fields, "reason": "site visit"}))

    amend({"address_type": "residential"})
    amend({"address_type": "vague"})  # the same subject: no second finding
    amend({"online_presence": "little"})
    flags = sorted((f.rule_id, f.party_id, f.batch_id) for f in _flags(world, tmp_path))
    assert flags == [("red-flag-address", world["late"], world["po1"]),
                     ("red-flag-online-presence", world["late"], world["po1"])]
