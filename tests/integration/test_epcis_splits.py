"""A split batch in EPCIS 2.0: the split is the child's order line (a TransactionEvent ADD
``accepting`` naming ``gpureg:splitFrom``), exported in both batches' histories under one eventID
and once in the log; a correction of the child is an error declaration of that event and a
corrective event (EPCIS 2.0 section 7.4.1.2), like an order's; and both round-trip through capture
(SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.batch import GpuBatch
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.export import document
from registry.epcis.sources import batch_events, log_events
from tests.builders import World
from tests.epcis_support.gs1 import reference_event_ids, schema_errors
from tests.integration.test_epcis import NOW, batch_state, copy_reference_data

SPLIT_AT = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
CORRECTED_AT = datetime(2026, 3, 6, 11, 0, tzinfo=UTC)


@pytest.fixture
def fresh(tmp_path) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    app = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    yield app
    app.close()


def _split(w: World, serialized: bool = True, correct: bool = True) -> tuple[UUID, UUID]:
    """A cleared batch of 6, 2 of its pending units split off into a child whose unit price is
    then corrected."""
    parent = w.order(quantity=6)
    w.clear(parent, quantity=6)
    child = uuid4()
    moving: dict[str, Any] = {"serials": w.serials(parent, n=6)[:2]} if serialized else {"quantity": 2}
    w.do("split_batch", c.SplitBatch, batch_id=parent, child_batch_id=child, occurred_at=SPLIT_AT, **moving)
    if correct:
        w.do("correct_order", c.CorrectOrder, batch_id=child, unit_price="31000.00", reason="split price agreed",
             occurred_at=CORRECTED_AT)
    return parent, child


@pytest.mark.parametrize("serialized", [True, False])
def test_a_split_is_the_childs_order_line_in_both_histories_under_one_event_id_and_once_in_the_log(
    registry: Registry, world: World, serialized: bool
) -> None:
    parent, child = _split(world, serialized, correct=False)

    [split] = [e for e in batch_events(registry, child) if v.ext("splitFrom") in e]
    in_parent = [e for e in batch_events(registry, parent) if v.ext("splitFrom") in e]
    in_log = [e for _, e in log_events(registry) if v.ext("splitFrom") in e]

    assert in_parent == [split] and in_log == [split]
    assert (split["type"], split["action"], split["bizStep"]) == ("TransactionEvent", "ADD", "accepting")
    assert split[v.ext("splitFrom")] == str(parent) and split[v.ext("batchID")] == str(child)
    assert split["quantityList"] == [{"epcClass": v.batch_class_uri(child), "quantity": 2}]
    assert ("epcList" in split) == serialized
    doc = document([e for _, e in log_events(registry)], NOW)
    assert schema_errors(doc) == []
    assert [e["eventID"] for e in doc["epcisBody"]["eventList"]] == reference_event_ids(doc)


def test_a_correction_of_a_split_batch_is_an_error_declaration_of_its_split_event_and_a_corrective_event(
    registry: Registry, world: World
) -> None:
    _, child = _split(world)

    events = list(batch_events(registry, child))
    doc = document(events, NOW)

    assert schema_errors(doc) == []
    assert [e["eventID"] for e in events] == reference_event_ids(doc)
    split, declared, corrective = events[0], events[1], events[2]
    assert v.ext("splitFrom") in split and "errorDeclaration" in declared
    assert declared["eventID"] == split["eventID"]
    assert {k: x for k, x in declared.items() if k not in ("recordTime", "errorDeclaration")} == {
        k: x for k, x in split.items() if k != "recordTime"}
    assert declared["errorDeclaration"] == {"declarationTime": "2026-03-06T11:00:00.000Z",
                                            "reason": "incorrect_data",
                                            "correctiveEventIDs": [corrective["eventID"]]}
    assert corrective[v.ext("unitPrice")] == "31000.00" and corrective[v.ext("correctedFields")] == ["unitPrice"]
    # the log has the pair once, at the correction's position
    in_log = [e for _, e in log_events(registry) if e.get(v.ext("batchID")) == str(child)]
    assert in_log == events


def test_a_split_and_its_correction_round_trip_through_capture_with_the_same_event_ids(
    registry: Registry, world: World, fresh: Registry
) -> None:
    parent, child = _split(world)
    world.ship(child, quantity=None, serials=list(registry.get_batch(child).units))
    copy_reference_data(registry, fresh)
    doc = document([e for _, e in log_events(registry)], NOW)

    result = Capture(fresh).capture("logistics@nvidia", doc)

    assert result.errors == [] and result.accepted
    for batch in (parent, child):
        assert batch_state(fresh.get_batch(batch)) == batch_state(registry.get_batch(batch))
    assert fresh.get_batch(child).unit_price == registry.get_batch(child).unit_price
    corrections = [(e.fields, e.reason, e.occurred_at) for _, e in fresh.iter_log()
                   if isinstance(e, GpuBatch.OrderCorrected)]
    assert corrections == [({"unit_price": Decimal("31000.00")}, "split price agreed", CORRECTED_AT)]
    assert [e["eventID"] for _, e in log_events(fresh)] == [e["eventID"] for e in doc["epcisBody"]["eventList"]]
    head = fresh.head()
    again = Capture(fresh).capture("logistics@nvidia", copy.deepcopy(doc))
    assert again.accepted and fresh.head() == head


def test_a_split_naming_another_order_line_than_its_parents_is_refused_and_nothing_is_written(
    registry: Registry, world: World, fresh: Registry
) -> None:
    _split(world, correct=False)
    copy_reference_data(registry, fresh)
    events = [e for _, e in log_events(registry)]
    split = next(e for e in events if v.ext("splitFrom") in e)
    split[v.ext("poNumber")] = "PO-OTHER"
    split["bizTransactionList"] = [{"type": "po", "bizTransaction": v.po_uri("PO-OTHER")}]
    split.pop("eventID")
    head = fresh.head()

    result = Capture(fresh).capture("logistics@nvidia", document(events, NOW))

    [error] = result.errors
    assert error.field == v.ext("splitFrom") and error.rule.startswith("rule split-inherits")
    assert fresh.head() == head
