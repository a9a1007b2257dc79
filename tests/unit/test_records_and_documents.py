"""15 CFR 762.6 and 758.6 in the domain, no infrastructure: a legal hold's life (placed, released
once, not before it was placed), a recorded reexport / transshipment / diversion of exported units,
and the Destination Control Statement of an invoice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from registry.domain.base import Context
from registry.domain.compliance_rules import DESTINATION_CONTROL_STATEMENT, RULES, destination_control_statement
from registry.domain.errors import IllegalTransition, InvalidField, InvariantViolation
from registry.domain.legal_hold import LegalHold
from tests.unit.test_batch_lifecycle import CTX, at_site, serialized

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
OFFICER = Context("officer-kim", "", T0)


def _hold() -> LegalHold:
    return LegalHold.place(OFFICER, uuid4(), uuid4(), " BIS OEE ", "OEE-2027-0042", "subpoena")


# ------------------------------------------------------------------------------ legal hold
def test_a_hold_is_placed_with_agency_reference_and_reason_and_released_once_with_a_reason() -> None:
    hold = _hold()
    assert (hold.agency, hold.reference, hold.reason, hold.released) == ("BIS OEE", "OEE-2027-0042", "subpoena", False)
    hold.release(Context("officer-lee", "", T0 + timedelta(days=30)), "case closed")
    assert hold.released
    events = hold.collect_events()
    assert [type(e).__name__ for e in events] == ["Placed", "Released"]
    assert [e.actor for e in events] == ["officer-kim", "officer-lee"]  # type: ignore[attr-defined]
    with pytest.raises(IllegalTransition, match="already released"):
        hold.release(Context("officer-lee", "", T0 + timedelta(days=31)), "again")


@pytest.mark.parametrize("field", ["agency", "reference", "reason"])
def test_a_hold_without_agency_reference_or_reason_is_refused_naming_the_field(field: str) -> None:
    values = {"agency": "BIS", "reference": "R-1", "reason": "subpoena", field: " "}
    with pytest.raises(InvalidField) as refused:
        LegalHold.place(OFFICER, uuid4(), uuid4(), values["agency"], values["reference"], values["reason"])
    assert [f for f, _ in refused.value.violations] == [field]


def test_a_hold_is_not_released_before_it_was_placed() -> None:
    hold = _hold()
    with pytest.raises(InvalidField) as refused:
        hold.release(Context("officer-kim", "", T0 - timedelta(seconds=1)), "withdrawn")
    assert [f for f, _ in refused.value.violations] == ["occurred_at"]
    assert not hold.released


# ------------------------------------------------------------------ onward movement of exports
@pytest.mark.parametrize("kind", ["reexport", "transshipment", "diversion"])
def test_a_known_onward_movement_of_exported_units_is_recorded_and_the_units_do_not_move(kind: str) -> None:
    b, serials = at_site()
    before = b.units_by_stage()
    b.record_onward_movement(CTX, kind, "SG", " Port of Singapore ", "", None, serials[:2])
    events = b.collect_events()
    event = events[-1]
    assert type(event).__name__ == "OnwardMovementRecorded"
    assert (event.kind, event.country, event.place, event.quantity) == (  # type: ignore[attr-defined]
        kind, "SG", "Port of Singapore", 2)
    assert list(event.serials) == serials[:2]  # type: ignore[attr-defined]
    assert b.units_by_stage() == before
    rebuilt: Any = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt.units_by_stage() == before and rebuilt.version == b.version


def test_an_onward_movement_of_units_never_shipped_is_refused() -> None:
    b, serials = serialized()
    with pytest.raises(IllegalTransition, match="nothing of the batch was exported"):
        b.record_onward_movement(CTX, "diversion", "AE", "", "", None, serials[:1])
    b.ship(CTX, "S1", None, "US", "KR", None, "ITN1", None, serials[:2])
    with pytest.raises(IllegalTransition, match="record_onward_movement"):
        b.record_onward_movement(CTX, "diversion", "AE", "", "", None, serials[2:3])  # still pending
    with pytest.raises(InvariantViolation, match="serial-in-batch"):
        b.record_onward_movement(CTX, "diversion", "AE", "", "", None, ["NOT-OURS"])


@pytest.mark.parametrize(("field", "kind", "country"), [("kind", "smuggled", "AE"), ("country", "diversion", "ae")])
def test_an_onward_movement_with_a_bad_kind_or_country_is_refused_naming_the_field(
    field: str, kind: str, country: str
) -> None:
    b, serials = at_site()
    with pytest.raises(InvalidField) as refused:
        b.record_onward_movement(CTX, kind, country, "", "", None, serials[:1])
    assert [f for f, _ in refused.value.violations] == [field]


def test_record_onward_movement_is_an_allowed_action_only_once_something_shipped() -> None:
    b, serials = serialized()
    assert "record_onward_movement" not in b.allowed_actions()
    b.ship(CTX, "S1", None, "US", "KR", None, "ITN1", None, serials[:1])
    assert "record_onward_movement" in b.allowed_actions()


# -------------------------------------------------------------- destination control statement
def test_the_dcs_of_a_3a090_or_4a090_item_names_the_eccn_and_the_destination_with_758_6s_wording() -> None:
    for eccn in ("3A090.a", "4A090.b"):
        statement = destination_control_statement(eccn, "KR")
        assert statement == f"ECCN {eccn}. {DESTINATION_CONTROL_STATEMENT} Country of ultimate destination: KR."
    assert "without first obtaining approval from the U.S. government" in DESTINATION_CONTROL_STATEMENT
    assert destination_control_statement("5A992.c", "KR") == (
        f"{DESTINATION_CONTROL_STATEMENT} Country of ultimate destination: KR.")
    assert destination_control_statement("", "KR") == ""


def test_the_retention_rule_and_the_diversion_finding_cite_the_regulation() -> None:
    assert RULES["record-retention"].citation == "15 CFR 762.6"
    assert "legal hold" in RULES["record-retention"].title
    diverted = RULES["units-diverted"]
    assert (diverted.kind, "762.6" in diverted.citation) == ("finding", True)
