"""An order's correction in EPCIS 2.0 (section 7.4.1.2, error declaration; GS1's example
9.6.1): exported as an error declaration of the order event in force plus a corrective event,
and such a pair captured as the registry's ``correct_order`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.batch import GpuBatch
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.event_hash import event_id
from registry.epcis.export import document
from registry.epcis.query import query_page
from registry.epcis.sources import batch_events, log_events
from tests.builders import World
from tests.epcis_support.gs1 import reference_event_ids, schema_errors
from tests.integration.test_epcis import NOW, batch_state, copy_reference_data

FIRST = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
SECOND = datetime(2026, 3, 6, 11, 0, tzinfo=UTC)
PREFIXES = {v.PREFIX: v.NAMESPACE}


@pytest.fixture
def fresh(tmp_path) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    app = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    yield app
    app.close()


def _corrected(w: World) -> tuple[UUID, int]:
    """An ordered, cleared batch whose PO number is corrected, then its price and currency;
    with the log position just before the first correction."""
    batch = w.order(quantity=4)
    w.clear(batch, quantity=4)
    before = w.registry.head()
    w.do("correct_order", c.CorrectOrder, batch_id=batch, po_number="PO-2026-0001-R", reason="typo in the PO",
         occurred_at=FIRST)
    w.do("correct_order", c.CorrectOrder, batch_id=batch, unit_price="37000.00", currency="EUR",
         reason="renegotiated", occurred_at=SECOND)
    return batch, before


def _pairs(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    at = [i for i, e in enumerate(events) if "errorDeclaration" in e]
    return [(events[i], events[i + 1]) for i in at]


# ------------------------------------------------------------------------------------ export
def test_a_correction_is_exported_as_an_error_declaration_of_the_order_and_a_corrective_event_7_4_1_2(
    registry: Registry, world: World
) -> None:
    batch, _ = _corrected(world)
    events = list(batch_events(registry, batch))
    doc = document(events, NOW)
    assert schema_errors(doc) == []
    assert [e["eventID"] for e in events] == reference_event_ids(doc)  # GS1's hash leaves errorDeclaration out

    ordered = events[0]
    [(declared, corrective), (declared2, corrective2)] = _pairs(events)
    # the declaration is the Ordered event as exported, same eventID, plus its errorDeclaration
    unchanged = ("eventID", "recordTime", "errorDeclaration")
    assert {k: x for k, x in declared.items() if k not in unchanged} == {
        k: x for k, x in ordered.items() if k not in unchanged}
    assert declared["eventID"] == ordered["eventID"] == event_id(declared, PREFIXES)
    assert declared["errorDeclaration"] == {
        "declarationTime": "2026-03-05T10:00:00.000Z",
        "reason": "incorrect_data",
        "correctiveEventIDs": [corrective["eventID"]],
    }
    # the corrective event: the order as corrected, at the order's business time, its own hash
    assert corrective["eventID"] == event_id(corrective, PREFIXES) != ordered["eventID"]
    assert (corrective["type"], corrective["action"], corrective["bizStep"]) == ("TransactionEvent", "ADD", "accepting")
    assert corrective["bizTransactionList"] == [{"type": "po", "bizTransaction": v.po_uri("PO-2026-0001-R")}]
    assert corrective["gpureg:poNumber"] == "PO-2026-0001-R" and corrective["eventTime"] == ordered["eventTime"]
    assert (corrective["gpureg:correctedFields"], corrective["gpureg:reason"]) == (["poNumber"], "typo in the PO")
    # a second correction declares the first corrective event in error: one order event in force
    assert declared2["eventID"] == corrective["eventID"]
    assert declared2["errorDeclaration"]["correctiveEventIDs"] == [corrective2["eventID"]]
    assert (corrective2["gpureg:poNumber"], corrective2["gpureg:unitPrice"], corrective2["gpureg:currency"]) == (
        "PO-2026-0001-R", "37000.00", "EUR")


def test_an_export_starting_after_the_order_declares_it_with_the_same_content_and_event_id(
    registry: Registry, world: World
) -> None:
    """One event, one content, one eventID, wherever an export starts (EPCIS 2.0 section 7.4.1)."""
    batch, before = _corrected(world)
    whole = list(batch_events(registry, batch))
    tail = [e for _, e in log_events(registry, after=before)]
    assert tail == whole[-4:]
    last = [e for _, e in log_events(registry, after=registry.position_of(batch, 4))]
    assert last == whole[-2:]


def test_a_page_of_events_never_splits_a_correction_from_its_declaration(registry: Registry, world: World) -> None:
    """The two events share one log position and the next page starts after a position."""
    _corrected(world)
    whole = [e for _, e in log_events(registry)]
    at = next(i for i, e in enumerate(whole) if "errorDeclaration" in e)
    page, token = query_page(registry, {"perPage": str(at + 1)})
    assert page == whole[: at + 2] and token
    rest, _ = query_page(registry, {"perPage": "1000", "nextPageToken": token})
    assert page + rest == whole


# ----------------------------------------------------------------------------------- capture
def test_a_corrected_batch_round_trips_through_epcis_with_the_corrections_as_recorded(
    registry: Registry, world: World, fresh: Registry
) -> None:
    batch, _ = _corrected(world)
    world.ship(batch, quantity=4)
    copy_reference_data(registry, fresh)
    doc = document(list(batch_events(registry, batch)), NOW)

    result = Capture(fresh).capture("logistics@samsung", doc)

    assert result.errors == [] and result.accepted
    assert batch_state(fresh.get_batch(batch)) == batch_state(registry.get_batch(batch))
    assert fresh.get_batch(batch).po_number == "PO-2026-0001-R"
    corrections = [(e.fields, e.reason, e.occurred_at) for _, e in fresh.iter_log()
                   if isinstance(e, GpuBatch.OrderCorrected)]
    assert corrections == [(e.fields, e.reason, e.occurred_at) for _, e in registry.iter_log()
                           if isinstance(e, GpuBatch.OrderCorrected)]
    assert [o.command for o in result.outcomes].count("correct_order") == 4  # two pairs, one command each
    # the same pairs again: nothing written
    head = fresh.head()
    again = Capture(fresh).capture("logistics@samsung", copy.deepcopy(doc))
    assert again.counts() == {"replayed": len(doc["epcisBody"]["eventList"])} and fresh.head() == head
    # and the registry exports the captured history with the same eventIDs
    assert [e["eventID"] for e in batch_events(fresh, batch)] == [e["eventID"] for e in doc["epcisBody"]["eventList"]]


def test_a_declaration_of_an_order_the_registry_exported_and_its_corrective_event_correct_the_order(
    registry: Registry, world: World
) -> None:
    """The declared event is found by its eventID as the registry exports the batch."""
    batch = world.order(quantity=4)
    [ordered] = list(batch_events(registry, batch))
    declaration, corrective = _pair_for(ordered, po="PO-9", reason="the supplier's PO number")

    result = Capture(registry).capture("logistics@samsung", document([corrective, declaration], NOW))

    assert result.errors == [] and result.counts() == {"written": 2}
    assert registry.get_batch(batch).po_number == "PO-9"
    [fixed] = [e for _, e in registry.iter_log() if isinstance(e, GpuBatch.OrderCorrected)]
    assert (fixed.fields, fixed.reason, fixed.occurred_at) == (
        {"po_number": "PO-9"}, "the supplier's PO number", FIRST)
    head = registry.head()
    assert Capture(registry).capture("logistics@samsung", document([declaration], NOW)).counts() == {"replayed": 1}
    assert Capture(registry).capture("logistics@samsung", document([corrective], NOW)).counts() == {"replayed": 1}
    assert registry.head() == head


def test_a_partners_order_captured_under_its_own_event_id_is_corrected_by_a_declaration_naming_it(
    registry: Registry, world: World, fresh: Registry
) -> None:
    batch = world.order(quantity=4)
    copy_reference_data(registry, fresh)
    [ordered] = list(batch_events(registry, batch))
    ordered = {**ordered, "eventID": "urn:uuid:0b7a7c1e-0000-4000-8000-000000000001"}
    assert Capture(fresh).capture("erp@samsung", document([ordered], NOW)).accepted
    declaration, corrective = _pair_for(ordered, po="PO-10", reason="")  # no reason given: a default one
    del corrective["gpureg:correctedFields"]  # a partner's event: the corrected fields are what differs

    result = Capture(fresh).capture("erp@samsung", document([declaration, corrective], NOW))

    assert result.errors == [] and fresh.get_batch(batch).po_number == "PO-10"
    [fixed] = [e for _, e in fresh.iter_log() if isinstance(e, GpuBatch.OrderCorrected)]
    assert fixed.fields == {"po_number": "PO-10"} and "incorrect_data" in fixed.reason


@pytest.mark.parametrize(
    ("change", "index", "field", "rule"),
    [
        ({"declared_id": "urn:uuid:0b7a7c1e-0000-4000-8000-0000000000ff"}, 0, "eventID",
         "error-declaration-unknown-event"),
        # did_not_occur is recorded as declared (declare_error); its "corrective" order is a second
        # order of the same batch
        ({"reason": "did_not_occur"}, 1, "place_order", "AlreadyExists"),
        # without a corrective event it is no correction: recorded as declared, and the order
        # event beside it is a second order of the batch
        ({"corrective_ids": []}, 1, "place_order", "AlreadyExists"),
        ({"without_corrective": True}, 0, "errorDeclaration.correctiveEventIDs[0]", "error-declaration-corrective"),
        ({"quantity": 5}, 1, "eventList[1]", "correctable-fields"),
        ({"po": "PO-2026-0001", "no_list": True}, 1, "eventList[1]", "correctable-fields"),
    ],
)
def test_a_declaration_the_registry_cannot_apply_is_refused_naming_the_field_and_rule_and_nothing_is_written(
    registry: Registry, world: World, change: dict[str, Any], index: int, field: str, rule: str
) -> None:
    batch = world.order(quantity=4)
    [ordered] = list(batch_events(registry, batch))
    declaration, corrective = _pair_for(ordered, po=change.get("po", "PO-11"), reason="x")
    if "declared_id" in change:
        declaration["eventID"] = change["declared_id"]
    if "reason" in change:
        declaration["errorDeclaration"]["reason"] = change["reason"]
    if "corrective_ids" in change:
        declaration["errorDeclaration"]["correctiveEventIDs"] = change["corrective_ids"]
    if "quantity" in change:
        corrective["quantityList"][0]["quantity"] = change["quantity"]
    if change.get("no_list"):
        del corrective["gpureg:correctedFields"]
    events = [declaration] if change.get("without_corrective") else [declaration, corrective]
    head = registry.head()

    result = Capture(registry).capture("logistics@samsung", document(events, NOW))

    error = next(e for e in result.errors if e.index == index)
    assert (error.field, rule in error.rule) == (field, True), error
    assert registry.head() == head and registry.get_batch(batch).po_number == "PO-2026-0001"


def test_both_events_of_a_pair_are_refused_when_the_caller_may_not_correct_an_order(
    registry: Registry, world: World
) -> None:
    batch = world.order(quantity=4)
    [ordered] = list(batch_events(registry, batch))
    declaration, corrective = _pair_for(ordered, po="PO-12", reason="x")
    head = registry.head()

    def no_corrections(command: str, batch_id: UUID | None, site_id: UUID | None) -> tuple[str, str] | None:
        return ("CorrectOrder", "rule access-matrix: role partner may not CorrectOrder") if command == "correct_order" else None

    result = Capture(registry).capture("partner@naver", document([declaration, corrective], NOW),
                                       authorize=no_corrections)

    assert [(o.status, o.error.field if o.error else None) for o in result.outcomes] == [
        ("refused", "CorrectOrder"), ("refused", "CorrectOrder")]
    assert registry.head() == head


def test_a_corrective_event_before_a_declaration_it_cannot_apply_is_refused_naming_the_declarations_field(
    registry: Registry, world: World
) -> None:
    batch = world.order(quantity=4)
    [ordered] = list(batch_events(registry, batch))
    declaration, corrective = _pair_for(ordered, po="PO-13", reason="x")
    declaration["errorDeclaration"]["declarationTime"] = "yesterday"
    head = registry.head()

    result = Capture(registry).capture("logistics@samsung", document([corrective, declaration], NOW))

    assert [e.field for e in result.errors] == ["eventList[1].errorDeclaration.declarationTime",
                                                "errorDeclaration.declarationTime"]
    assert registry.head() == head


def _pair_for(declared: dict[str, Any], po: str, reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A hand-made declaration of ``declared`` and its corrective event (a new PO number)."""
    corrective = {k: x for k, x in declared.items() if k not in ("eventID", "recordTime")}
    corrective["bizTransactionList"] = [{"type": "po", "bizTransaction": v.po_uri(po)}]
    corrective["gpureg:poNumber"] = po
    corrective["gpureg:correctedFields"] = ["poNumber"]
    if reason:
        corrective["gpureg:reason"] = reason
    corrective = {"eventID": event_id(corrective, PREFIXES), **corrective}
    declaration = {**copy.deepcopy(declared), "errorDeclaration": {
        "declarationTime": "2026-03-05T10:00:00Z", "reason": "incorrect_data",
        "correctiveEventIDs": [corrective["eventID"]]}}
    return declaration, corrective
