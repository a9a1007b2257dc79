"""CBV 2.0 ``repairing``: a repair (units back from an RMA received at a site, or repaired in
place) is exported as an ObjectEvent OBSERVE with bizStep repairing, valid against GS1's schema
with GS1's event hash, captured back as ``repair`` (the same batch), and a hand-written repairing
event from a partner is captured; the structural and domain refusals name the field and rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.batch import GpuBatch, Stage
from registry.epcis import vocabulary as v
from registry.epcis.capture import Capture
from registry.epcis.export import document
from registry.epcis.sources import batch_events, log_events
from tests.builders import T0, World
from tests.epcis_support.gs1 import reference_event_ids, schema_errors
from tests.integration.test_epcis import NOW, batch_state, copy_reference_data
from tests.integration.test_epcis_conformance import GS1_CONTEXT


@pytest.fixture
def fresh(tmp_path) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    app = build_registry(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    yield app
    app.close()


def _at(days: int) -> Any:
    return T0 + timedelta(days=days)


def repaired_history(w: World) -> tuple[UUID, list[str], UUID]:
    """A serialized batch: two units to RMA, one back repaired at site2, one repaired on site; a
    quantity-only batch: two back from RMA at site."""
    a = w.order(quantity=4)
    w.clear(a, quantity=4)
    serials = w.serials(a, n=4)
    w.ship(a, serials=serials)
    w.do("receive", c.Receive, batch_id=a, shipment_id="SHP-1", receiving_party_id=w.samsung, site_id=w.site,
         serials=serials, occurred_at=_at(8))
    w.do("install", c.Install, batch_id=a, site_id=w.site, rack="R1", host="h1", serials=serials, occurred_at=_at(9))
    w.do("return_for_rma", c.ReturnForRma, batch_id=a, rma_number="RMA-7", reason="ECC", serials=serials[:2],
         occurred_at=_at(10))
    w.do("repair", c.Repair, batch_id=a, kind="from_rma", rma_number="RMA-7", site_id=w.site2,
         note="board replaced", serials=serials[:1], occurred_at=_at(20))
    w.do("repair", c.Repair, batch_id=a, kind="on_site", note="fan replaced", serials=serials[3:],
         occurred_at=_at(21))
    b = w.order(quantity=5, po_number="PO-2026-0002")
    w.clear(b, quantity=5)
    w.ship(b, shipment="SHP-B", quantity=5, occurred_at=_at(5))
    w.do("receive", c.Receive, batch_id=b, shipment_id="SHP-B", receiving_party_id=w.samsung, site_id=w.site,
         quantity=5, occurred_at=_at(8))
    w.do("return_for_rma", c.ReturnForRma, batch_id=b, rma_number="RMA-8", quantity=2, occurred_at=_at(10))
    w.do("repair", c.Repair, batch_id=b, kind="from_rma", rma_number="RMA-8", site_id=w.site, quantity=2,
         occurred_at=_at(20))
    return a, serials, b


def test_a_repair_is_exported_with_bizstep_repairing_valid_and_with_gs1s_event_hash(
    registry: Registry, world: World
) -> None:
    a, serials, b = repaired_history(world)
    events = [e for batch in (a, b) for e in batch_events(registry, batch)]
    doc = document(events, NOW)
    assert schema_errors(doc) == []
    assert [e["eventID"] for e in events] == reference_event_ids(doc)

    repairs = [e for e in events if e["gpureg:registryEvent"].startswith("Repaired")]
    returned, on_site, counted = repairs
    assert (returned["type"], returned["action"], returned["bizStep"], returned["disposition"]) == (
        "ObjectEvent", "OBSERVE", "repairing", "in_progress")
    assert returned["bizLocation"] == {"id": v.site_uri(world.site2)}
    assert {"type": "rma", "bizTransaction": v.rma_uri("RMA-7")} in returned["bizTransactionList"]
    assert (returned["gpureg:repair"], returned["gpureg:note"]) == ("from_rma", "board replaced")
    assert returned["epcList"] == [v.gpu_uri(serials[0])]
    assert (on_site["gpureg:repair"], on_site["disposition"]) == ("on_site", "active")
    assert on_site["bizLocation"] == {"id": v.site_uri(world.site)}  # where the units are
    assert counted["quantityList"] == [{"epcClass": v.batch_class_uri(b), "quantity": 2}]


def test_repairs_captured_into_a_fresh_registry_give_the_same_batches(
    registry: Registry, world: World, fresh: Registry
) -> None:
    a, _, b = repaired_history(world)
    copy_reference_data(registry, fresh)
    doc = document([e for _, e in log_events(registry)], NOW)

    result = Capture(fresh).capture("partner@samsung", doc)

    assert result.errors == [] and result.accepted
    assert [o.command for o in result.outcomes].count("repair") == 3
    for batch in (a, b):
        assert batch_state(fresh.get_batch(batch)) == batch_state(registry.get_batch(batch))


def _repairing(w: World, **fields: Any) -> dict[str, Any]:
    event = {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-04-01T08:00:00+09:00",
             "eventTimeZoneOffset": "+09:00", "bizStep": "https://ref.gs1.org/cbv/BizStep-repairing", **fields}
    return {"@context": [GS1_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-04-01T09:00:00Z", "epcisBody": {"eventList": [event]}}


def test_a_partners_hand_written_repairing_event_naming_an_rma_returns_the_units(
    registry: Registry, world: World
) -> None:
    a, serials, _ = repaired_history(world)
    doc = _repairing(world, epcList=[v.gpu_uri(serials[1])], bizLocation={"id": v.site_uri(world.site)},
                     bizTransactionList=[{"type": "https://ref.gs1.org/cbv/BTT-rma", "bizTransaction": v.rma_uri("RMA-7")}])
    assert schema_errors(doc) == []

    result = Capture(registry).capture("partner@samsung", doc)

    assert result.errors == [] and [o.command for o in result.outcomes] == ["repair"]
    unit = registry.get_batch(a).units[serials[1]]
    assert (unit.stage, unit.site) == (Stage.RECEIVED, world.site.hex)
    [event] = [e for _, e in registry.iter_log() if isinstance(e, GpuBatch.Repaired) and list(e.serials) == [serials[1]]]
    assert (event.kind, event.rma_number) == ("from_rma", "RMA-7")


def test_a_repairing_event_the_registry_cannot_record_is_refused_naming_why(
    registry: Registry, world: World
) -> None:
    _, serials, _ = repaired_history(world)
    head = registry.head()
    cases = [
        # units under an RMA, but no site to receive them at
        ({"epcList": [v.gpu_uri(serials[1])], "gpureg:repair": "from_rma"}, "repair.site_id",
         "rule valid-field"),
        # installed units are not under an RMA: nothing comes back
        ({"epcList": [v.gpu_uri(serials[3])], "bizLocation": {"id": v.site_uri(world.site)},
          "gpureg:repair": "from_rma"}, "repair", "rule state-transition"),
        ({"epcList": [v.gpu_uri(serials[3])], "gpureg:repair": "recalled"}, "Repair.kind", "rule valid-field"),
    ]
    changes: dict[str, Any]
    for changes, where, why in cases:
        doc = _repairing(world, **changes)
        doc["@context"].append({"gpureg": v.NAMESPACE})
        [error] = Capture(registry).capture("partner@samsung", doc).errors
        assert (error.field, error.rule.split(":")[0]) == (where, why), error
    assert registry.head() == head
