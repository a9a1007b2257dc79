"""The compliance projection on its own: facts the domain would never let through are still
flagged when they appear in a log (a defence in depth for the decisions the registry makes)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from sqlalchemy import Engine

from projections.compliance import ComplianceFindings
from projections.compliance_queries import FindingFilter
from projections.db import ACTIVE, create_readmodel_engine, ensure_bookkeeping
from projections.engine import apply_chunk, create_generation
from projections.page_tokens import decode_page_token, encode_page_token
from projections.queries import ReadModels
from registry.domain.base import Context
from registry.domain.batch import GpuBatch, Move, Position
from registry.domain.errors import InvalidField
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def ctx(days: int = 0) -> Context:
    return Context("ops", "", T0 + timedelta(days=days))


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/readmodels.db")
    ensure_bookkeeping(engine)
    yield engine
    engine.dispose()


def project(engine: Engine, events: Sequence[Any]) -> ReadModels:
    projection = ComplianceFindings()
    gen = create_generation(engine, projection, ACTIVE, "test")
    notes = [
        Notification(originator_id=e.originator_id, originator_version=e.originator_version,
                     topic=get_topic(type(e)), state=b"", id=i + 1)
        for i, e in enumerate(events)
    ]
    apply_chunk(engine, projection, gen, notes, lambda n: events[n.id - 1], "test")
    return ReadModels(engine, projections=[projection])


def reference() -> tuple[list[Any], dict[str, Any]]:
    nvidia = Party.register(ctx(-60), uuid4(), "NVIDIA", "US", ["supplier"], "US")
    buyer = Party.register(ctx(-60), uuid4(), "Buyer", "KR", ["purchaser", "consignee", "end_user"], "KR")
    site = Site.register(ctx(-60), uuid4(), "Pangyo", buyer.id, "KR", "", Decimal(1000))
    model = GpuModel.register(ctx(-60), uuid4(), "NVIDIA", "B200", {"fp8": Decimal(4500)}, {"fp8": 8},
                              Decimal(1600), True, 1000)
    auth = ExportAuthorization.register(ctx(-60), uuid4(), "license", "D1", ["3A090"], ["KR"], [buyer.id],
                                        [buyer.id], T0 - timedelta(days=90), T0 + timedelta(days=300))
    events = [e for agg in (nvidia, buyer, site, model, auth) for e in agg.collect_events()]
    return events, {"nvidia": nvidia, "buyer": buyer, "site": site, "model": model, "auth": auth}


def order(ref: dict[str, Any], quantity: int = 8) -> GpuBatch:
    return GpuBatch.order(ctx(), uuid4(), "PO-1", ref["nvidia"].id, ref["buyer"].id, ref["model"].id, quantity,
                          Decimal(30000), "USD", "")


def force_shipment(batch: GpuBatch, quantity: int, days: int) -> None:
    """A Shipped event the domain's ship() would refuse, as a corrupted or foreign log might hold."""
    owner = batch.buyer_id.hex
    batch.trigger_event(
        GpuBatch.Shipped, shipment_id="S1", carrier_id=None, origin="US", destination_country="KR",
        destination_site_id=None, itn="", quantity=quantity, serials=[],
        moves=[Move(Position("pending", owner=owner), Position("in_transit", owner=owner), quantity)],
        **ctx(days).event_kwargs(),
    )


def test_a_shipment_above_the_cleared_quantity_is_flagged_even_though_ship_refuses_it(engine: Engine) -> None:
    events, ref = reference()
    batch = order(ref)
    batch.request_clearance(ctx(1), ref["auth"].id, "3A090.a", "KR", ref["buyer"].id, ref["buyer"].id, 4, "AI")
    batch.grant_clearance(ctx(2), ref["auth"].id, "D1", "3A090.a", 4)
    force_shipment(batch, 6, days=10)

    read = project(engine, [*events, *batch.collect_events()])
    [finding] = read.list_findings(FindingFilter())[0]
    assert finding.rule_id == "quantity-over-clearance" and finding.quantity == 2
    assert finding.revealed_event_type == "Shipped" and "6 shipped against 4 cleared" in finding.reasons[0]


def test_a_shipment_without_a_granted_clearance_is_flagged(engine: Engine) -> None:
    events, ref = reference()
    batch = order(ref)
    force_shipment(batch, 2, days=10)

    read = project(engine, [*events, *batch.collect_events()])
    rules = sorted(f.rule_id for f in read.list_findings(FindingFilter())[0])
    assert rules == ["export-without-clearance", "quantity-over-clearance"]
    [export] = read.list_findings(FindingFilter(rule_ids=("export-without-clearance",)))[0]
    assert "clearance was none" in export.reasons[0]
    assert read.batch_compliance(batch.id).status == "findings_open"  # type: ignore[union-attr]


def test_an_unknown_rule_or_severity_in_a_filter_is_an_invalid_field(engine: Engine) -> None:
    read = project(engine, [])
    with pytest.raises(InvalidField) as refused:
        read.list_findings(FindingFilter(rule_ids=("no-such-rule", "headquarters-rule"), severities=("dire",)))
    assert [v[0] for v in refused.value.violations] == ["rule_ids", "severities"]


def test_a_logged_shipment_through_an_intermediate_consignee_under_the_headquarters_rule_is_flagged(
    engine: Engine,
) -> None:
    events, ref = reference()
    mainland = Party.register(ctx(-60), uuid4(), "Mainland Logistics", "CN", ["purchaser"], "CN")
    depot = Party.register(ctx(-60), uuid4(), "Busan Depot", "KR", ["consignee"], "KR", mainland.id)
    nlr = ExportAuthorization.register(ctx(-60), uuid4(), "no_license_required", "", ["3A090"], ["KR"],
                                       [ref["buyer"].id], [ref["buyer"].id], T0 - timedelta(days=90), None)
    batch = order(ref)
    batch.request_clearance(ctx(1), nlr.id, "3A090.a", "KR", ref["buyer"].id, ref["buyer"].id, 8, "AI")
    batch.grant_clearance(ctx(2), nlr.id, "", "3A090.a", 8)
    owner = batch.buyer_id.hex
    batch.trigger_event(
        GpuBatch.Shipped, shipment_id="S1", carrier_id=None, origin="US", destination_country="KR",
        destination_site_id=None, itn="", quantity=8, serials=[],
        moves=[Move(Position("pending", owner=owner), Position("in_transit", owner=owner), 8)],
        intermediate_consignee_ids=[depot.id], forwarder_id=None, **ctx(10).event_kwargs(),
    )
    logged = [*events, *(e for a in (mainland, depot, nlr, batch) for e in a.collect_events())]

    read = project(engine, logged)
    [finding] = read.list_findings(FindingFilter(rule_ids=("export-without-clearance",)))[0]
    assert "intermediate_consignee_ids[0] Busan Depot has ultimate parent Mainland Logistics" in finding.reasons[0]
    [export] = read.batch_compliance(batch.id).exports  # type: ignore[union-attr]
    assert export.intermediate_consignee_ids == (depot.id,)


def test_findings_are_paged_in_order_with_tokens_that_name_a_position_and_a_count_never_a_finding(
    engine: Engine,
) -> None:
    """Two events reveal two findings each: any page size lists each finding once, in order, and
    a token (which a partner's filtered page hands over) carries no finding's id."""
    events, ref = reference()
    batches = [order(ref), order(ref)]
    for batch in batches:
        force_shipment(batch, 2, days=10)
    read = project(engine, [*events, *(e for b in batches for e in b.collect_events())])
    whole = [f.finding_id for f in read.list_findings(FindingFilter())[0]]
    assert len(whole) == 4
    for size in (1, 2, 3):
        listed: list[Any] = []
        token = ""
        while True:
            page, token = read.list_findings(FindingFilter(), size, token)
            listed += [f.finding_id for f in page]
            if not token:
                break
            assert not any(str(f) in decode_page_token(token) for f in whole)
        assert listed == whole, size
    with pytest.raises(InvalidField):
        read.list_findings(FindingFilter(), 1, encode_page_token(f"3.{whole[0]}"))  # an earlier version's


def test_units_received_at_another_site_by_a_transfer_wait_for_installation_from_the_transfer(
    engine: Engine, tmp_path: Any
) -> None:
    """Rule not-installed-in-time (v14) for a quantity-only batch: units moved to another site by a
    transfer are received there and wait from the transfer; an installation there ends the wait
    unit by unit, and one after the allowance is flagged naming the transfer."""
    events, ref = reference()
    other = Site.register(ctx(-60), uuid4(), "Sejong", ref["buyer"].id, "KR", "", Decimal(1000))
    events += other.collect_events()
    buyer, site = ref["buyer"].id, ref["site"].id
    batch = order(ref, quantity=4)
    batch.request_clearance(ctx(1), ref["auth"].id, "3A090.a", "KR", buyer, buyer, 4, "AI")
    batch.grant_clearance(ctx(2), ref["auth"].id, "D1", "3A090.a", 4)
    batch.ship(ctx(3), "S1", None, "US", "KR", site, "", 4, [])
    batch.receive(ctx(5), "S1", buyer, site, 4, [])
    batch.install(ctx(6), site, "R1", "h1", 4, [])
    batch.transfer(ctx(10), buyer, other.id, "KR", "consolidation", 2, [])
    version = batch.version  # the transfer's
    batch.install(ctx(20), other.id, "R2", "h2", 1, [])
    events += batch.collect_events()

    read = project(engine, events)
    [item] = [i for i in read.overdue(T0 + timedelta(days=71)) if i.batch_id == batch.id]
    assert (item.rule_id, item.shipment_id, item.units) == ("not-installed-in-time", f"(transfer v{version})", 1)
    assert item.since == T0 + timedelta(days=10) and item.serials == []
    assert not [i for i in read.overdue(T0 + timedelta(days=69)) if i.batch_id == batch.id]

    batch.install(ctx(80), other.id, "R2", "h2", 1, [])
    later = create_readmodel_engine(f"sqlite:///{tmp_path}/later.db")
    ensure_bookkeeping(later)
    read = project(later, [*events, *batch.collect_events()])
    assert not [i for i in read.overdue(T0 + timedelta(days=200)) if i.batch_id == batch.id]
    [finding] = read.list_findings(FindingFilter(rule_ids=("not-installed-in-time",)))[0]
    assert f"receipt (transfer v{version}) received on 2026-03-12" in finding.reasons[0]
    later.dispose()
