"""Record keeping as the rule text states it (/work/shared/reference/export-controls.md, "Records and
documents"), through the registry's public API and the compliance read model rebuilt from its log:

* 15 CFR 762.6: keep export records 5 years from the LATEST of the export, any known reexport,
  transshipment or diversion, or other termination; nothing is destroyed once an agency has asked
  for it (legal hold);
* 15 CFR 758.6: the commercial invoice carries the Destination Control Statement, with the ECCN for
  3A090 and 4A090 items.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from projections.compliance import ComplianceFindings
from projections.compliance_queries import BatchCompliance, FindingFilter
from projections.db import ACTIVE, create_readmodel_engine, ensure_bookkeeping
from projections.engine import apply_chunk, create_generation
from projections.queries import ReadModels
from registry.application import commands as c
from registry.application import compliance_commands as cc
from registry.domain.compliance_rules import DESTINATION_CONTROL_STATEMENT
from registry.domain.errors import IllegalTransition, InvalidField, NotFound
from tests.integration.compliance_world import World, make_world, rebuilt_read_models


@pytest.fixture
def world(sqlite_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(sqlite_url, t0)
    try:
        yield w
    finally:
        w.registry.close()


def _compliance(world: World, tmp_path: Path, name: str = "rm") -> BatchCompliance:
    """The batch's compliance from the read model rebuilt from the registry's whole log."""
    found = rebuilt_read_models(world, tmp_path, name).batch_compliance(world["po1"])
    assert found is not None
    return found


def _at(world: World, days: int) -> datetime:
    return world.t0 + timedelta(days=days)


def _five_years(when: datetime) -> datetime:
    return when.replace(year=when.year + 5)


def _move(world: World, use_case: str, model: type[c.Command], days: int, /, **data: Any) -> Any:
    cmd = c.parse(model, {"batch_id": world["po1"], "occurred_at": _at(world, days), **data})
    return getattr(world.registry, use_case)("ops", cmd)


def _shipped(world: World, quantity: int = 10) -> None:
    world.authorization("lic")
    world.order("po1", quantity)
    world.request("po1", "lic")
    world.grant("po1", "lic")
    _move(world, "ship", c.Ship, 4, shipment_id="S1", destination_country="KR", itn="X20260306000001",
          quantity=quantity)


def _onward(world: World, days: int, kind: str, **data: Any) -> Any:
    return _move(world, "record_onward_movement", c.RecordOnwardMovement, days,
                 **{"kind": kind, "country": "SG", "place": "Port of Singapore", "quantity": 2, **data})


def _hold(world: World, days: int, **data: Any) -> Any:
    cmd = c.parse(cc.PlaceLegalHold, {
        "batch_id": world["po1"], "agency": "BIS Office of Export Enforcement", "reference": "OEE-2027-0042",
        "reason": "administrative subpoena for the batch's export records", "occurred_at": _at(world, days),
        **data})
    return world.registry.place_legal_hold("carol", cmd)


# ------------------------------------------------------------ reexport, transshipment, diversion
@pytest.mark.parametrize("kind", ["reexport", "transshipment", "diversion"])
def test_a_known_reexport_transshipment_or_diversion_moves_retention_to_5_years_after_it_by_762_6(
    world: World, tmp_path: Path, kind: str
) -> None:
    _shipped(world)
    _onward(world, 300, kind)
    compliance = _compliance(world, tmp_path)
    [export] = compliance.exports
    assert (export.shipped_at, export.retention_basis_at) == (_at(world, 4), _at(world, 300))
    assert export.retention_until == _five_years(_at(world, 300))
    [movement] = compliance.onward_movements
    assert (movement.kind, movement.country, movement.place, movement.quantity, movement.recorded_by) == (
        kind, "SG", "Port of Singapore", 2, "ops")
    assert movement.occurred_at == _at(world, 300)


def test_retention_runs_from_the_latest_of_the_export_a_transshipment_and_a_later_rma_return(
    world: World, tmp_path: Path
) -> None:
    world.party("kt", "KT Cloud", roles=("operator", "end_user"))
    _shipped(world)
    _move(world, "receive", c.Receive, 8, shipment_id="S1", receiving_party_id=world["samsung"], quantity=10)
    _onward(world, 6, "transshipment", quantity=10)  # recorded late: through Singapore on day 6
    _move(world, "return_for_rma", c.ReturnForRma, 500, rma_number="RMA-1", quantity=1)
    _onward(world, 200, "reexport", quantity=1)  # an earlier fact recorded after the RMA
    [export] = _compliance(world, tmp_path).exports
    assert export.retention_basis_at == _at(world, 500)
    assert export.retention_until == _five_years(_at(world, 500))


def test_a_diversion_is_a_critical_finding_and_a_transshipment_is_not(world: World, tmp_path: Path) -> None:
    _shipped(world)
    _onward(world, 30, "transshipment")
    _onward(world, 60, "diversion", country="AE", place="Jebel Ali free zone", note="found by an end-use check")
    compliance = _compliance(world, tmp_path)
    # (the shipment is also overdue for receipt by day 60: not-received-in-time)
    [finding] = [f for f in compliance.findings if f.rule_id != "not-received-in-time"]
    assert (finding.rule_id, finding.severity, finding.status, finding.quantity) == (
        "units-diverted", "critical", "open", 2)
    assert finding.reasons == [
        f"2 unit(s) diverted to Jebel Ali free zone, AE on {_at(world, 60):%Y-%m-%d}: found by an end-use check"]
    assert compliance.status == "findings_open"


def test_an_onward_movement_of_a_batch_nothing_of_which_was_exported_is_refused_and_nothing_written(
    world: World,
) -> None:
    world.authorization("lic")
    world.order("po1", 10)
    head = world.registry.head()
    with pytest.raises(IllegalTransition, match="nothing of the batch was exported"):
        _onward(world, 30, "diversion")
    assert world.registry.head() == head


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "smuggled"}, "kind"),
        ({"country": "Singapore"}, "country"),
        ({"quantity": 0}, "quantity"),
    ],
)
def test_an_onward_movement_with_a_bad_field_is_refused_naming_it_and_nothing_written(
    world: World, data: dict[str, Any], field: str
) -> None:
    _shipped(world)
    head = world.registry.head()
    with pytest.raises(InvalidField) as refused:
        _onward(world, 30, **{"kind": "reexport", **data})
    assert [f for f, _ in refused.value.violations] == [field]
    assert world.registry.head() == head


def test_an_onward_movement_of_more_units_than_were_exported_is_refused(world: World) -> None:
    world.authorization("lic")
    world.order("po1", 10)
    world.request("po1", "lic")
    world.grant("po1", "lic")
    _move(world, "ship", c.Ship, 4, shipment_id="S1", destination_country="KR", itn="X20260306000001", quantity=3)
    head = world.registry.head()
    with pytest.raises(Exception, match="record_onward_movement"):
        _onward(world, 30, "diversion", quantity=4)
    assert world.registry.head() == head


# ------------------------------------------------------------------------------ legal hold
def test_a_legal_hold_keeps_the_records_past_their_retention_date_until_it_is_released_by_762_6(
    world: World, tmp_path: Path
) -> None:
    _shipped(world)
    hold = _hold(world, 1000).aggregate_id
    held = _compliance(world, tmp_path, "held")
    [export] = held.exports
    assert export.held and export.destruction_allowed_from is None
    assert not export.eligible_for_destruction(_at(world, 4000))  # years after retention_until
    [h] = held.legal_holds
    assert (h.hold_id, h.agency, h.reference, h.placed_by, h.placed_at, h.active) == (
        hold, "BIS Office of Export Enforcement", "OEE-2027-0042", "carol", _at(world, 1000), True)
    assert h.reason == "administrative subpoena for the batch's export records"

    world.registry.release_legal_hold("carol", cc.ReleaseLegalHold(
        hold_id=hold, reason="OEE closed the case", occurred_at=_at(world, 1200)))
    released = _compliance(world, tmp_path, "released")
    [export] = released.exports
    assert not export.held and export.destruction_allowed_from == export.retention_until
    assert export.eligible_for_destruction(_at(world, 4000))
    assert not export.eligible_for_destruction(_at(world, 1200))  # still within 5 years
    [h] = released.legal_holds
    assert (h.active, h.released_by, h.released_at, h.release_reason) == (
        False, "carol", _at(world, 1200), "OEE closed the case")


def test_records_stay_held_while_any_of_two_holds_is_in_place(world: World, tmp_path: Path) -> None:
    _shipped(world)
    first = _hold(world, 10).aggregate_id
    _hold(world, 20, agency="DOJ", reference="grand jury 27-113")
    world.registry.release_legal_hold("carol", cc.ReleaseLegalHold(
        hold_id=first, reason="withdrawn", occurred_at=_at(world, 30)))
    compliance = _compliance(world, tmp_path)
    assert [h.active for h in compliance.legal_holds] == [False, True]
    assert compliance.exports[0].held


@pytest.mark.parametrize("field", ["agency", "reference", "reason"])
def test_a_legal_hold_without_its_agency_reference_or_reason_is_refused_naming_the_field(
    world: World, field: str
) -> None:
    _shipped(world)
    head = world.registry.head()
    with pytest.raises(InvalidField) as refused:
        _hold(world, 10, **{field: "  "})
    assert [f for f, _ in refused.value.violations] == [field]
    assert world.registry.head() == head


def test_a_legal_hold_on_an_unknown_batch_is_not_found_naming_batch_id(world: World) -> None:
    _shipped(world)
    head = world.registry.head()
    with pytest.raises(NotFound, match="batch_id"):
        _hold(world, 10, batch_id=str(world["lic"]))
    assert world.registry.head() == head


def test_a_hold_is_released_once_and_not_before_it_was_placed(world: World) -> None:
    _shipped(world)
    hold = _hold(world, 10).aggregate_id
    head = world.registry.head()
    with pytest.raises(InvalidField) as early:
        world.registry.release_legal_hold("carol", cc.ReleaseLegalHold(
            hold_id=hold, reason="withdrawn", occurred_at=_at(world, 9)))
    assert [f for f, _ in early.value.violations] == ["occurred_at"]
    assert world.registry.head() == head
    world.registry.release_legal_hold("carol", cc.ReleaseLegalHold(
        hold_id=hold, reason="withdrawn", occurred_at=_at(world, 11)))
    head = world.registry.head()
    with pytest.raises(IllegalTransition, match="already released"):
        world.registry.release_legal_hold("carol", cc.ReleaseLegalHold(
            hold_id=hold, reason="again", occurred_at=_at(world, 12)))
    assert world.registry.head() == head


# ----------------------------------------------------------------- destination control statement
def test_each_export_record_carries_the_destination_control_statement_with_the_eccn_by_758_6(
    world: World, tmp_path: Path
) -> None:
    _shipped(world)
    [export] = _compliance(world, tmp_path).exports
    assert export.eccn == "3A090.a"
    assert export.destination_control_statement == (
        f"ECCN 3A090.a. {DESTINATION_CONTROL_STATEMENT} Country of ultimate destination: KR.")
    assert DESTINATION_CONTROL_STATEMENT.startswith(
        "These items are controlled by the U.S. Government and authorized for export only to the country of "
        "ultimate destination for use by the ultimate consignee or end-user(s) herein identified.")
    assert DESTINATION_CONTROL_STATEMENT.endswith(
        "without first obtaining approval from the U.S. government or as otherwise authorized by U.S. law and "
        "regulations.")


def test_findings_filter_finds_the_diversion_by_its_rule(world: World, tmp_path: Path) -> None:
    _shipped(world)
    _onward(world, 60, "diversion")
    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/f.db")
    ensure_bookkeeping(engine)
    projection = ComplianceFindings()
    gen = create_generation(engine, projection, ACTIVE, "test")
    apply_chunk(engine, projection, gen, world.registry.read_log(0, 100_000), world.registry.decode, "test")
    found, _ = ReadModels(engine, projections=[projection]).list_findings(FindingFilter(rule_ids=("units-diverted",)))
    assert [f.severity for f in found] == ["critical"]
