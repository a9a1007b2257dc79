"""The authorization as it stands at each act, as the rule text states it
(/work/shared/reference/export-controls.md: "An auditor expects, per shipment: ... authorization
(license number and expiry, or the exception and its number, or NLR) with its running drawdown,
parties (... ultimate consignee, end user, ultimate parent and its HQ country ...)"; "an
in-country transfer or assignment to such an entity in Korea is a violation without a license";
"NAC (notified, for D:5/Macau and HQ-rule cases ...)"). Through the registry's public API and the
compliance read model rebuilt from its log, on SQLite and PostgreSQL:

* ``Ship`` refuses (nothing written) an export under an authorization that expired, that an
  amendment left no longer naming the batch's ultimate consignee or end user, or that is drawn
  beyond a limit an amendment lowered (15 CFR 736.2(b)(1): an export the license does not cover
  is an export without one);
* ``Assign`` / ``Transfer`` to a party under the headquarters rule refuse when the license naming
  it has expired (15 CFR 742.6(a)(6)(iii)(A));
* a recorded reexport (a fact: recorded, then flagged) is held to a NAC notification's listed
  destinations and, for a recorded recipient, to the headquarters rule (``reexport-not-authorized``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def _refused(world: World, batch: str, action: Callable[[], Any]) -> ComplianceRefusal:
    version, head = world.registry.get_batch(world[batch]).version, world.registry.head()
    with pytest.raises(ComplianceRefusal) as e:
        action()
    assert world.registry.get_batch(world[batch]).version == version and world.registry.head() == head
    return e.value


def _ship(world: World, days: float, quantity: int = 2, shipment: str = "S1", batch: str = "po1") -> Any:
    return world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world[batch], "shipment_id": shipment, "destination_country": "KR", "quantity": quantity,
        "occurred_at": world.t0 + timedelta(days=days)}))


def _amend(world: World, auth: str, fields: dict[str, Any], days: float = 1) -> None:
    world.registry.amend_reference("officer", c.AmendReference(
        kind="authorization", target_id=world[auth], fields=fields, reason="license amended by BIS",
        occurred_at=world.t0 + timedelta(days=days)))


def _cleared(world: World, quantity: int = 10, **auth: Any) -> None:
    world.authorization("lic", number="D0000042", **auth)
    world.order("po1", quantity)
    world.request("po1", "lic")
    world.grant("po1", "lic")


def _reasons(world: World, tmp_path: Path, rule: str) -> list[str]:
    found, _ = rebuilt_read_models(world, tmp_path).list_findings(FindingFilter(rule_ids=(rule,)))
    return [r for f in found for r in f.reasons]


# --------------------------------------------------------------------------- Ship: validity
def test_a_shipment_after_the_license_expired_is_refused_naming_the_rule_and_the_license(world: World) -> None:
    _cleared(world, days=40, start_days_ago=30)  # valid t0 - 30 d to t0 + 10 d
    refusal = _refused(world, "po1", lambda: _ship(world, 10))  # on valid_to: expired (exclusive)
    assert refusal.rule == "authorization-validity"
    assert refusal.facts["state"] == "expired" and refusal.facts["authorization"] == "D0000042"
    assert refusal.facts["authorization_id"] == str(world["lic"])
    assert refusal.facts["valid_to"] == (world.t0 + timedelta(days=10)).isoformat()
    assert "D0000042" in refusal.detail
    _ship(world, 9.9)  # within its validity: shipped


def test_a_shipment_after_an_amendment_moved_the_expiry_earlier_is_refused(world: World) -> None:
    _cleared(world)
    _amend(world, "lic", {"valid_to": (world.t0 + timedelta(days=3)).isoformat()})
    assert _refused(world, "po1", lambda: _ship(world, 5)).facts["state"] == "expired"


# ----------------------------------------------------------------- Ship: the amended parties
def test_a_shipment_after_the_license_was_amended_to_no_longer_name_the_ultimate_consignee_is_refused(
    world: World,
) -> None:
    world.party("kt", "KT Cloud")
    _cleared(world, consignees=("samsung",), end_users=("samsung",))
    _ship(world, 1, shipment="S0")  # as cleared: shipped
    _amend(world, "lic", {"consignee_ids": [str(world["kt"])]}, days=2)
    refusal = _refused(world, "po1", lambda: _ship(world, 3))
    assert refusal.rule == "authorization-consignee" and refusal.facts["role"] == "consignee_id"
    assert refusal.facts["consignee_id"] == str(world["samsung"])


def test_a_shipment_after_the_license_was_amended_to_no_longer_name_the_end_user_is_refused(world: World) -> None:
    world.party("kt", "KT Cloud")
    _cleared(world, end_users=("samsung",))
    _amend(world, "lic", {"end_user_ids": [str(world["kt"])]})
    refusal = _refused(world, "po1", lambda: _ship(world, 3))
    assert refusal.rule == "authorization-end-user" and refusal.facts["party_id"] == str(world["samsung"])
    _amend(world, "lic", {"end_user_ids": [str(world["kt"]), str(world["samsung"])]}, days=4)
    _ship(world, 5)  # named again: shipped


# ------------------------------------------------------------------------ Ship: the drawdown
def test_a_shipment_under_a_license_drawn_beyond_a_lowered_quantity_limit_is_refused(world: World) -> None:
    _cleared(world, quantity=10)  # draws 10 of 100
    _amend(world, "lic", {"quantity_limit": 6})
    refusal = _refused(world, "po1", lambda: _ship(world, 3))
    assert refusal.rule == "authorization-quantity"
    assert (refusal.facts["quantity_limit"], refusal.facts["remaining_quantity"], refusal.facts["over"]) == (
        "6", "-4", "4")
    _amend(world, "lic", {"quantity_limit": 10}, days=4)  # drawn to exactly the limit: within it
    _ship(world, 5)


def test_a_shipment_under_a_license_drawn_beyond_a_lowered_value_limit_is_refused(world: World) -> None:
    _cleared(world, quantity=4, value="1000000")  # 4 x 25,000 drawn
    _amend(world, "lic", {"value_limit": "50000"})
    refusal = _refused(world, "po1", lambda: _ship(world, 3))
    assert refusal.rule == "authorization-value" and refusal.facts["over"] == "50000"


# ------------------------------------------------------ in-country transfers and assignments
def _delivered_with_a_headquarters_rule_end_user(world: World, valid_days: int) -> None:
    world.party("mainland", "Mainland Holdings", hq="CN", country="CN")
    world.party("pangyo", "Pangyo Compute", hq="KR", parent="mainland")
    _cleared(world, days=30 + valid_days, end_users=("samsung", "pangyo"))
    _ship(world, 1, quantity=10)
    world.ids["site"] = world.registry.register_site("admin", c.parse(c.RegisterSite, {
        "name": "Gasan DC", "operator_id": world["samsung"], "country": "KR", "power_capacity_kw": "20000"}),
    ).aggregate_id
    world.registry.receive("dock", c.parse(c.Receive, {
        "batch_id": world["po1"], "shipment_id": "S1", "receiving_party_id": world["samsung"], "quantity": 10,
        "site_id": world["site"], "occurred_at": world.t0 + timedelta(days=2)}))
    world.registry.install("ops", c.parse(c.Install, {
        "batch_id": world["po1"], "site_id": world["site"], "quantity": 10, "occurred_at": world.t0 + timedelta(days=3)}))


def test_an_assignment_or_transfer_to_a_headquarters_rule_party_after_the_license_naming_it_expired_is_refused(
    world: World, tmp_path: Path,
) -> None:
    _delivered_with_a_headquarters_rule_end_user(world, valid_days=20)  # the license ends at t0 + 20 d

    def assign(days: float) -> Any:
        return world.registry.assign("ops", c.parse(c.Assign, {
            "batch_id": world["po1"], "assignee_id": world["pangyo"], "purpose": "inference", "quantity": 2,
            "occurred_at": world.t0 + timedelta(days=days)}))

    assign(10)  # named as end user on a valid license: allowed
    refusal = _refused(world, "po1", lambda: assign(25))
    assert (refusal.rule, refusal.citation) == ("headquarters-rule", "15 CFR 742.6(a)(6)(iii)(A)")
    assert "not valid at" in refusal.detail and refusal.facts["valid_to"] == (world.t0 + timedelta(days=20)).isoformat()
    transfer = c.parse(c.Transfer, {"batch_id": world["po1"], "to_owner_id": world["pangyo"], "reason": "sale",
                                    "quantity": 2, "occurred_at": world.t0 + timedelta(days=25)})
    assert _refused(world, "po1", lambda: world.registry.transfer("ops", transfer)).rule == "headquarters-rule"
    assert _reasons(world, tmp_path, "recipient-not-authorized") == []  # the allowed assignment raised none


# ------------------------------------------------------------------------------- reexports
def _shipped_under_nac(world: World, *countries: str) -> None:
    world.party("sz", "Shenzhen Cloud", hq="CN", country="CN")
    world.authorization("nac", auth_type="license_exception", number="NAC-2026-0042", exception_code="NAC",
                        countries=countries, end_users=("sz",))
    world.order("po1", 10)
    world.request("po1", "nac", country="CN", consignee="sz", end_user="sz")
    world.grant("po1", "nac")
    world.registry.ship("dock", c.parse(c.Ship, {
        "batch_id": world["po1"], "shipment_id": "S1", "destination_country": "CN", "quantity": 10,
        "occurred_at": world.t0 + timedelta(days=4)}))


def _onward(world: World, kind: str, country: str, days: int, recipient: str | None = None) -> None:
    world.registry.record_onward_movement("ops", c.parse(c.RecordOnwardMovement, {
        "batch_id": world["po1"], "kind": kind, "country": country, "place": "port", "quantity": 2,
        "recipient_id": world[recipient] if recipient else None, "occurred_at": world.t0 + timedelta(days=days)}))


def test_a_reexport_under_nac_to_a_d5_country_its_notification_does_not_list_is_a_critical_finding(
    world: World, tmp_path: Path
) -> None:
    _shipped_under_nac(world, "CN", "MO")
    _onward(world, "reexport", "MO", 20)  # notified: covered
    _onward(world, "transshipment", "HK", 30)  # treated as China, D:5, in NAC's scope, not notified
    [reason] = _reasons(world, tmp_path, "reexport-not-authorized")
    assert "transshipment through HK" in reason
    assert "license exception NAC notification NAC-2026-0042 does not list HK (it lists CN, MO)" in reason


def test_a_reexport_to_a_party_under_the_headquarters_rule_is_recorded_and_flagged_unless_the_license_names_it(
    world: World, tmp_path: Path
) -> None:
    world.party("mainland", "Mainland Holdings", hq="CN", country="CN")
    world.party("tokyo", "Tokyo Subsidiary of Mainland", hq="JP", country="JP", parent="mainland")
    world.party("osaka", "Osaka Compute", hq="JP", country="JP")
    _cleared(world, countries=("KR", "JP"), end_users=("samsung",))
    _ship(world, 1, quantity=10)
    before = world.registry.get_batch(world["po1"]).version
    _onward(world, "reexport", "JP", 20, recipient="osaka")  # Japan needs no license; Osaka is not under it
    _onward(world, "reexport", "JP", 30, recipient="tokyo")  # recorded: a fact the registry did not decide
    assert world.registry.get_batch(world["po1"]).version == before + 2
    assert world.registry.history(world["po1"])[-1].recipient_id == world["tokyo"]  # type: ignore[attr-defined]
    [reason] = _reasons(world, tmp_path, "reexport-not-authorized")
    assert "reexport to JP: recipient Tokyo Subsidiary of Mainland has ultimate parent Mainland Holdings" in reason
    assert "license D0000042 does not name the recipient as consignee or end user" in reason


def test_a_reexport_recipient_that_names_no_party_is_not_found(world: World) -> None:
    from uuid import uuid4

    from registry.domain.errors import NotFound

    _cleared(world)
    _ship(world, 1, quantity=10)
    world.ids["ghost"] = uuid4()
    with pytest.raises(NotFound) as e:
        _onward(world, "reexport", "JP", 20, recipient="ghost")
    assert "recipient_id" in str(e.value)


def test_a_stored_onward_movement_of_version_1_loads_with_no_recipient_and_is_judged_by_its_place(
    world: World, tmp_path: Path
) -> None:
    from eventsourcing.persistence import StoredEvent

    world.party("tokyo", "Tokyo Subsidiary of Mainland", hq="CN", country="JP")
    _cleared(world, countries=("KR", "JP"))
    _ship(world, 1, quantity=10)
    _onward(world, "reexport", "JP", 20, recipient="tokyo")
    registry = world.registry
    batch = registry.get_batch(world["po1"])
    stored = registry.recorder.select_events(world["po1"])[-1]
    assert stored.topic.endswith("OnwardMovementRecorded")
    v1 = registry.mapper.transcoder.decode(stored.state)
    assert v1.pop("class_version") == 2 and v1.pop("recipient_id") == world["tokyo"]
    v1["originator_version"] = batch.version + 1
    registry.recorder.insert_events([StoredEvent(originator_id=world["po1"], originator_version=batch.version + 1,
                                                 topic=stored.topic, state=registry.mapper.transcoder.encode(v1))])
    assert registry.history(world["po1"])[-1].recipient_id is None  # type: ignore[attr-defined]
    assert registry.get_batch(world["po1"]).version == batch.version + 1
    # the v2 one (recipient under the headquarters rule, not named) is flagged; the v1 copy, with
    # no recipient, is judged by its place only (Japan: no license needed)
    [reason] = _reasons(world, tmp_path, "reexport-not-authorized")
    assert "recipient Tokyo Subsidiary of Mainland is headquartered in CN" in reason


def test_a_logged_shipment_after_the_license_expired_from_before_the_refusal_is_still_flagged(
    world: World, tmp_path: Path
) -> None:
    """A log written before ``Ship`` refused it (or by an older registry) keeps its finding."""
    from eventsourcing.persistence import StoredEvent

    _cleared(world, days=40, start_days_ago=30)  # valid to t0 + 10 d
    _ship(world, 1, quantity=2, shipment="S0")
    registry = world.registry
    version = registry.get_batch(world["po1"]).version
    stored = registry.recorder.select_events(world["po1"])[-1]
    assert stored.topic.endswith("Shipped")
    late = registry.mapper.transcoder.decode(stored.state)
    late.update(shipment_id="S-late", occurred_at=world.t0 + timedelta(days=15), originator_version=version + 1)
    registry.recorder.insert_events([StoredEvent(originator_id=world["po1"], originator_version=version + 1,
                                                 topic=stored.topic, state=registry.mapper.transcoder.encode(late))])
    assert set(registry.get_batch(world["po1"]).shipments) == {"S0", "S-late"}
    [reason] = _reasons(world, tmp_path, "export-without-clearance")
    assert "shipment S-late" in reason and "after authorization D0000042 expired on" in reason


def test_a_logged_assignment_to_a_headquarters_rule_party_after_the_license_expired_is_flagged_as_assign_refuses(
    world: World, tmp_path: Path
) -> None:
    """One policy: what ``Assign`` now refuses, the projection flags in a log from before."""
    from eventsourcing.persistence import StoredEvent

    _delivered_with_a_headquarters_rule_end_user(world, valid_days=20)
    world.registry.assign("ops", c.parse(c.Assign, {
        "batch_id": world["po1"], "assignee_id": world["pangyo"], "purpose": "inference", "quantity": 2,
        "occurred_at": world.t0 + timedelta(days=10)}))
    registry = world.registry
    version = registry.get_batch(world["po1"]).version
    stored = registry.recorder.select_events(world["po1"])[-1]
    assert stored.topic.endswith("Assigned")
    late = registry.mapper.transcoder.decode(stored.state)
    late.update(occurred_at=world.t0 + timedelta(days=25), originator_version=version + 1)
    registry.recorder.insert_events([StoredEvent(originator_id=world["po1"], originator_version=version + 1,
                                                 topic=stored.topic, state=registry.mapper.transcoder.encode(late))])
    [reason] = _reasons(world, tmp_path, "recipient-not-authorized")
    assert "names it as an end user but is not valid at" in reason
