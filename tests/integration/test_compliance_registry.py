"""Compliance decisions through the Registry, on SQLite and PostgreSQL.

Each refusal names its rule and writes nothing; each grant records its evidence and draws the
authorization down in the same write.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from registry.application import commands as c
from registry.application import compliance_commands as cc
from registry.domain.batch import GpuBatch
from registry.domain.errors import ComplianceRefusal, InvalidField, NotFound
from registry.domain.reference import ExportAuthorization
from registry.domain.screening import ScreeningCase
from tests.integration.compliance_world import World, make_world


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)
    try:
        yield w
    finally:
        w.registry.close()


def _refusal(action: object) -> ComplianceRefusal:
    with pytest.raises(ComplianceRefusal) as e:
        action()  # type: ignore[operator]
    return e.value


def _unchanged(world: World, batch: str, auth: str, batch_version: int, auth_version: int) -> None:
    assert world.registry.get_batch(world[batch]).version == batch_version
    assert world.registry.get("authorization", world[auth]).version == auth_version


# ------------------------------------------------------------------------- clearance
def test_a_granted_clearance_records_why_and_draws_the_authorization_in_the_same_write(world: World) -> None:
    world.authorization("lic", quantity=100, value="5000000")
    world.order("po1", 60)
    world.request("po1", "lic")
    result = world.grant("po1", "lic")

    granted = world.registry.history(world["po1"])[-1]
    assert isinstance(granted, GpuBatch.ClearanceGranted)
    assert granted.eccn == "3A090.a"
    evidence = granted.evidence
    assert evidence["classification"]["tpp"] == "15832"
    assert evidence["classification"]["ruleset_id"] == "3A090-2023-11"
    assert evidence["country_groups"]["destination_groups"] == ["A:5"]
    assert evidence["license_requirements"] == []
    assert [h["role"] for h in evidence["headquarters"]] == ["purchaser", "consignee", "end_user"]
    assert evidence["drawdown"] == {
        "quantity": 60,
        "value": "1500000",
        "currency": "USD",
        "remaining_quantity": 40,
        "remaining_value": "3500000",
        "authorization_currency": "USD",
    }
    drawn = world.registry.history(world["lic"])[-1]
    assert isinstance(drawn, ExportAuthorization.Drawn)
    assert (drawn.batch_id, drawn.quantity, drawn.value) == (world["po1"], 60, Decimal(1500000))
    # one atomic write: the draw sits next to the grant in the log
    assert world.registry.position_of(world["lic"], drawn.originator_version) in (
        result.position,
        result.position - 1,
    )

    ledger = world.registry.authorization_ledger(world["lic"])
    assert (
        ledger.quantity_limit,
        ledger.drawn_quantity,
        ledger.returned_quantity,
        ledger.remaining_quantity,
    ) == (100, 60, 0, 40)
    assert ledger.held_by_batch == {world["po1"]: 60}


def test_drawdown_to_exactly_zero_is_granted_and_one_unit_over_is_refused(world: World) -> None:
    world.authorization("lic", quantity=100)
    for key, qty in (("po1", 60), ("po2", 40), ("po3", 1)):
        world.order(key, qty)
        world.request(key, "lic")
    world.grant("po1", "lic")
    world.grant("po2", "lic")
    assert world.registry.authorization_ledger(world["lic"]).remaining_quantity == 0

    refusal = _refusal(lambda: world.grant("po3", "lic"))
    assert refusal.rule == "authorization-quantity"
    _unchanged(world, "po3", "lic", 2, 3)
    assert world.registry.get_batch(world["po3"]).clearance_status == "requested"


def test_an_expired_authorization_is_refused(world: World) -> None:
    world.authorization("old", start_days_ago=400, days=365)  # ended 35 days before t0
    world.order("po1", 10)
    world.request("po1", "old")
    refusal = _refusal(lambda: world.grant("po1", "old"))
    assert refusal.rule == "authorization-validity"
    _unchanged(world, "po1", "old", 2, 1)


def test_a_value_limit_in_another_currency_is_refused(world: World) -> None:
    world.authorization("lic", quantity=None, value="1000000000", currency="KRW")
    world.order("po1", 10)
    world.request("po1", "lic")
    assert _refusal(lambda: world.grant("po1", "lic")).rule == "authorization-currency"


def test_a_value_limit_is_drawn_as_quantity_times_unit_price(world: World) -> None:
    world.authorization("lic", quantity=None, value="250000")
    world.order("po1", 10, unit_price="25000")
    world.order("po2", 1, unit_price="0.01")
    world.request("po1", "lic")
    world.request("po2", "lic")
    world.grant("po1", "lic")
    assert world.registry.authorization_ledger(world["lic"]).remaining_value == Decimal(0)
    assert _refusal(lambda: world.grant("po2", "lic")).rule == "authorization-value"


def test_a_request_under_another_eccn_than_the_computed_one_is_refused(world: World) -> None:
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic", eccn="3A090.b")
    refusal = _refusal(lambda: world.grant("po1", "lic"))
    assert refusal.rule == "classification-mismatch"
    assert "3A090.a" in refusal.detail


def test_a_server_of_controlled_gpus_is_cleared_as_4a090(world: World) -> None:
    world.model("hgx", "4500", "750", gpus=8)
    world.authorization("lic")
    world.order("po1", 4, model="hgx")
    world.request("po1", "lic", eccn="4A090.a")
    world.grant("po1", "lic")
    assert world.registry.get_batch(world["po1"]).clearance["eccn"] == "4A090.a"


def test_the_headquarters_rule_through_a_chain_of_parents_needs_a_license_even_in_korea(world: World) -> None:
    world.party("mainland", "Mainland Holdings", hq="CN", country="CN")
    world.party("holdco", "Seoul Holdco", hq="KR", parent="mainland")
    world.party("pangyo", "Pangyo Compute", hq="KR", parent="holdco")
    world.authorization("nlr", auth_type="no_license_required", number="", quantity=None)
    world.order("po1", 10)
    world.request("po1", "nlr", end_user="pangyo")

    refusal = _refusal(lambda: world.grant("po1", "nlr"))
    assert refusal.rule == "headquarters-rule"
    assert refusal.citation == "15 CFR 742.6(a)(6)(iii)(A)"
    assert "Mainland Holdings" in refusal.detail

    world.authorization("lic", end_users=("pangyo",))
    world.registry.deny_clearance("officer", c.DenyClearance(batch_id=world["po1"], reason="needs a license"))
    world.request("po1", "lic", end_user="pangyo")
    world.grant("po1", "lic")
    evidence = world.registry.history(world["po1"])[-1].evidence  # type: ignore[attr-defined]
    assert [r["rule"] for r in evidence["license_requirements"]] == ["headquarters-rule"]
    chain = next(h for h in evidence["headquarters"] if h["role"] == "end_user")["chain"]
    assert [p["name"] for p in chain] == ["Pangyo Compute", "Seoul Holdco", "Mainland Holdings"]


def test_a_destination_in_d5_refuses_an_aca_exception_and_takes_a_nac(world: World) -> None:
    world.authorization(
        "aca", auth_type="license_exception", number="ACA-1", exception_code="ACA", countries=("CN",)
    )
    world.authorization(
        "nac", auth_type="license_exception", number="NAC-7", exception_code="NAC", countries=("CN",)
    )
    world.order("po1", 10)
    world.request("po1", "aca", country="CN")
    refusal = _refusal(lambda: world.grant("po1", "aca"))
    assert (refusal.rule, refusal.citation) == ("destination-country-group", "15 CFR 742.6(a)(6)(iii)")
    world.grant("po1", "nac")


# ------------------------------------------------------------------------- screening
def test_a_screening_hit_blocks_clearance_until_resolved_as_a_false_positive(world: World) -> None:
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic")
    world.import_list(("el-1", "SAMSUNG ELECTRONICS CO LTD"))

    refusal = _refusal(lambda: world.grant("po1", "lic"))
    assert refusal.rule == "screening-hit"
    assert refusal.citation.startswith("Entity List")
    assert "must be resolved" in refusal.detail
    _unchanged(world, "po1", "lic", 2, 1)

    world.resolve("samsung", "false_positive", actor="carol")
    world.grant("po1", "lic")
    screening = world.registry.history(world["po1"])[-1].evidence["screening"]  # type: ignore[attr-defined]
    hits = next(s for s in screening if s["role"] == "purchaser")["hits"]
    assert [(h["resolution"], h["resolved_by"]) for h in hits] == [("false_positive", "carol")]


def test_a_confirmed_hit_keeps_blocking_clearance(world: World) -> None:
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic")
    world.import_list(("el-1", "Samsung Electronics"))
    world.resolve("samsung", "confirmed")
    assert _refusal(lambda: world.grant("po1", "lic")).rule == "screening-hit"


def test_a_new_snapshot_screens_every_party_again_and_a_new_party_is_screened_on_registration(
    world: World,
) -> None:
    registry = world.registry
    first = world.import_list(("el-1", "Unrelated Machinery"))
    case = registry.screening_case(world["samsung"])
    assert case is not None
    assert case.screenings["US CSL"]["snapshot_id"] == first and case.hits == {}
    snapshot = registry.get_screening_list(first)
    assert snapshot.entry_count == 1 and len(snapshot.sha256) == 64

    second = world.import_list(("el-1", "Unrelated Machinery"), ("el-2", "Samsung Electronics Co"))
    case = registry.screening_case(world["samsung"])
    assert case is not None
    assert case.screenings["US CSL"]["snapshot_id"] == second
    assert [h["entry"]["entry_id"] for h in case.blocking_hits()] == ["el-2"]
    nvidia_case = registry.screening_case(world["nvidia"])
    assert nvidia_case is not None and nvidia_case.screenings["US CSL"]["snapshot_id"] == second
    assert registry.screening_lists()["US CSL"]["snapshot_id"] == second

    world.party("sz", "Samsung Electronic Company Ltd.")
    new_case = registry.screening_case(world["sz"])
    assert new_case is not None and [h["entry"]["entry_id"] for h in new_case.blocking_hits()] == ["el-2"]
    screened = registry.history(ScreeningCase.id_for(world["sz"]))
    assert [type(e).__name__ for e in screened] == ["Opened", "Screened"]


def test_renaming_a_party_screens_the_new_name_in_the_same_write(world: World) -> None:
    world.import_list(("el-1", "Shenzhen Cloud Technology"))
    world.party("acme", "Acme Compute")
    world.registry.amend_reference(
        "admin",
        c.AmendReference(
            kind="party",
            target_id=world["acme"],
            fields={"name": "Shenzhen Cloud Technology Co., Ltd."},
            reason="registered name corrected",
        ),
    )
    case = world.registry.screening_case(world["acme"])
    assert case is not None and len(case.blocking_hits()) == 1


def test_an_import_that_is_not_a_csv_with_names_writes_nothing(world: World) -> None:
    head = world.registry.head()
    with pytest.raises(InvalidField) as e:
        world.registry.import_screening_list(
            "officer", cc.ImportScreeningList(source="US CSL", content=b"a,b\n1,2\n")
        )
    assert e.value.violations[0][0] == "content"
    assert world.registry.head() == head


def test_an_import_retried_with_its_request_id_is_answered_without_a_second_snapshot(world: World) -> None:
    first = world.registry.import_screening_list(
        "officer", cc.ImportScreeningList(source="US CSL", content=b"name\nX\n", request_id="imp-1")
    )
    again = world.registry.import_screening_list(
        "officer", cc.ImportScreeningList(source="US CSL", content=b"name\nX\n", request_id="imp-1")
    )
    assert again.replayed and again.aggregate_id == first.aggregate_id


def test_resolving_a_hit_of_a_party_without_a_case_names_what_is_missing(world: World) -> None:
    with pytest.raises(NotFound):
        world.registry.resolve_screening_hit(
            "carol",
            cc.ResolveScreeningHit(party_id=world["samsung"], hit_id="x", resolution="confirmed", note="n"),
        )


# -------------------------------------------------- shipment, assignment, transfer
def _cleared_and_installed(world: World) -> None:
    world.party("kt", "KT Cloud", roles=("operator", "end_user"))
    world.ids["site"] = world.registry.register_site(
        "admin",
        c.parse(
            c.RegisterSite,
            {
                "name": "Gasan DC",
                "operator_id": world["kt"],
                "country": "KR",
                "power_capacity_kw": "20000",
            },
        ),
    ).aggregate_id
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic")
    world.grant("po1", "lic")


def test_an_open_hit_on_the_consignee_blocks_shipment(world: World) -> None:
    _cleared_and_installed(world)
    world.import_list(("el-1", "Samsung Electronics"))
    ship = c.parse(
        c.Ship,
        {
            "batch_id": world["po1"],
            "shipment_id": "S1",
            "destination_country": "KR",
            "destination_site_id": world["site"],
            "quantity": 10,
        },
    )
    assert _refusal(lambda: world.registry.ship("dock", ship)).rule == "screening-hit"
    world.resolve("samsung", "false_positive")
    world.registry.ship("dock", ship)


def _install(world: World) -> None:
    r = world.registry
    r.ship(
        "dock",
        c.parse(
            c.Ship,
            {
                "batch_id": world["po1"],
                "shipment_id": "S1",
                "destination_country": "KR",
                "destination_site_id": world["site"],
                "quantity": 10,
            },
        ),
    )
    r.receive(
        "dock",
        c.parse(
            c.Receive,
            {
                "batch_id": world["po1"],
                "shipment_id": "S1",
                "receiving_party_id": world["samsung"],
                "site_id": world["site"],
                "quantity": 10,
            },
        ),
    )
    r.install("ops", c.parse(c.Install, {"batch_id": world["po1"], "site_id": world["site"], "quantity": 10}))


def test_a_confirmed_hit_blocks_assignment_to_that_party(world: World) -> None:
    _cleared_and_installed(world)
    _install(world)
    world.party("lab", "Sovereign AI Lab", roles=("end_user",))
    world.import_list(("el-9", "Sovereign AI Lab"))
    world.resolve("lab", "confirmed")
    assign = c.parse(
        c.Assign,
        {"batch_id": world["po1"], "assignee_id": world["lab"], "purpose": "training", "quantity": 2},
    )
    version = world.registry.get_batch(world["po1"]).version
    assert _refusal(lambda: world.registry.assign("ops", assign)).rule == "screening-hit"
    assert world.registry.get_batch(world["po1"]).version == version


def test_assigning_or_transferring_in_korea_to_a_party_under_the_headquarters_rule_is_refused(
    world: World,
) -> None:
    _cleared_and_installed(world)
    _install(world)
    world.party("mainland", "Mainland Holdings", hq="CN", country="CN")
    world.party("pangyo", "Pangyo Compute", hq="KR", parent="mainland")
    assign = c.parse(
        c.Assign,
        {"batch_id": world["po1"], "assignee_id": world["pangyo"], "purpose": "inference", "quantity": 2},
    )
    refusal = _refusal(lambda: world.registry.assign("ops", assign))
    assert (refusal.rule, refusal.citation) == ("headquarters-rule", "15 CFR 742.6(a)(6)(iii)(A)")
    transfer = c.parse(
        c.Transfer,
        {"batch_id": world["po1"], "to_owner_id": world["pangyo"], "reason": "sale", "quantity": 2},
    )
    assert _refusal(lambda: world.registry.transfer("ops", transfer)).rule == "headquarters-rule"
    world.registry.assign(
        "ops",
        c.parse(
            c.Assign,
            {"batch_id": world["po1"], "assignee_id": world["kt"], "purpose": "cloud", "quantity": 2},
        ),
    )


# ---------------------------------------------------------------- ledger movements
def test_revoking_a_clearance_returns_the_unshipped_units_to_the_authorization(world: World) -> None:
    _cleared_and_installed(world)
    r = world.registry
    r.ship(
        "dock",
        c.parse(
            c.Ship,
            {"batch_id": world["po1"], "shipment_id": "S1", "destination_country": "KR", "quantity": 4},
        ),
    )
    r.revoke_clearance("officer", c.RevokeClearance(batch_id=world["po1"], reason="end user changed"))
    ledger = r.authorization_ledger(world["lic"])
    assert (ledger.drawn_quantity, ledger.returned_quantity, ledger.remaining_quantity) == (10, 6, 96)
    assert ledger.held_by_batch == {world["po1"]: 4}
    assert ledger.entries[-1]["reason"] == "clearance revoked: end user changed"

    world.request("po1", "lic")  # re-cleared: only the units not yet shipped are drawn again
    world.grant("po1", "lic")
    assert r.authorization_ledger(world["lic"]).held_by_batch == {world["po1"]: 10}


def test_splitting_a_cleared_batch_moves_the_childs_share_of_the_draw(world: World) -> None:
    _cleared_and_installed(world)
    child = world.registry.split_batch(
        "ops", c.parse(c.SplitBatch, {"batch_id": world["po1"], "quantity": 3})
    )
    ledger = world.registry.authorization_ledger(world["lic"])
    assert ledger.remaining_quantity == 90
    assert ledger.held_by_batch == {world["po1"]: 7, child.aggregate_id: 3}
    assert [e["kind"] for e in ledger.entries] == ["drawn", "returned", "drawn"]


def test_expiry_warnings_list_the_authorizations_expiring_within_n_days(world: World) -> None:
    world.authorization("soon", number="A-SOON", start_days_ago=350, days=365)  # 15 days left
    world.authorization("later", number="A-LATER", start_days_ago=300, days=365)  # 65 days left
    world.authorization("gone", number="A-GONE", start_days_ago=400, days=365)  # expired
    warnings = world.registry.expiring_authorizations(30, at=world.t0)
    assert [(w.number, w.days_left) for w in warnings] == [("A-SOON", 15)]
    assert [w.number for w in world.registry.expiring_authorizations(90, at=world.t0)] == [
        "A-SOON",
        "A-LATER",
    ]
    assert world.registry.expiring_authorizations(30, at=world.t0 + timedelta(days=40))[0].number == "A-LATER"


def test_classification_and_rule_change_impact_are_queryable(world: World) -> None:
    from dataclasses import replace

    from registry.domain.classification import NOV_2023

    world.model("mid", "500", "4000")  # TPP 4000, PD 1: not controlled today
    assert world.registry.classify_model(world["mid"]).eccn == ""
    impact = world.registry.classification_impact(
        replace(NOV_2023, ruleset_id="lowered", tpp_a=Decimal(4000))
    )
    assert [(ch.model_id, ch.change.after.eccn) for ch in impact] == [(world["mid"], "3A090.a")]
