"""Every command and query of the API, through the generated stubs, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from google.protobuf import struct_pb2

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.world import as_actor, build_world, clear, new_request_id, place_order

SERIALS = [f"1652322{n:06d}" for n in range(8)]


def test_every_command_and_query_works_through_the_api_and_records_the_caller_as_actor(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    server = start_server(store_url)
    api = server.stubs()
    md = as_actor("officer-kim")
    w = build_world(api)

    amended = api.commands.AmendReference(
        c.AmendReferenceRequest(request_id=new_request_id(),
            kind=c.REFERENCE_KIND_SITE,
            target_id=w.site2,
            fields=struct_pb2.Struct(fields={"power_capacity_kw": struct_pb2.Value(string_value="15000")}),
            reason="capacity upgrade",
        ),
        metadata=md,
    )
    assert amended.version == 2

    batch = place_order(api, w, quantity=8, allocation_program="sovereign-ai")
    api.commands.CorrectOrder(
        c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, unit_price="30000.00", reason="negotiated discount"),
        metadata=md,
    )
    api.commands.RegisterSerials(
        c.RegisterSerialsRequest(request_id=new_request_id(),
            batch_id=batch, units=[c.UnitIdentity(serial=s, gpu_uuid=f"GPU-{s}") for s in SERIALS]
        ),
        metadata=md,
    )
    split = api.commands.SplitBatch(c.SplitBatchRequest(request_id=new_request_id(), batch_id=batch, serials=SERIALS[6:]), metadata=md)
    child = split.aggregate_id
    clear(api, w, batch, 6)
    shipped = api.commands.Ship(
        c.ShipRequest(request_id=new_request_id(),
            batch_id=batch,
            serials=SERIALS[:6],
            shipment_id="AWB-001",
            carrier_id=w.carrier,
            origin="Santa Clara",
            destination_country="KR",
            destination_site_id=w.site,
            itn="X20260301000001",
        ),
        metadata=md,
    )
    api.commands.Receive(
        c.ReceiveRequest(request_id=new_request_id(),
            batch_id=batch,
            serials=SERIALS[:6],
            shipment_id="AWB-001",
            receiving_party_id=w.buyer,
            site_id=w.site,
        ),
        metadata=md,
    )
    api.commands.Install(
        c.InstallRequest(request_id=new_request_id(), batch_id=batch, serials=SERIALS[:6], site_id=w.site, rack="R1", host="h1"),
        metadata=md,
    )
    api.commands.Assign(
        c.AssignRequest(request_id=new_request_id(), batch_id=batch, serials=SERIALS[:2], assignee_id=w.consignee, purpose="LLM training"),
        metadata=md,
    )
    api.commands.Transfer(
        c.TransferRequest(request_id=new_request_id(),
            batch_id=batch,
            serials=SERIALS[2:4],
            to_owner_id=w.consignee,
            to_site_id=w.site2,
            reason="resale in-country",
        ),
        metadata=md,
    )
    api.commands.ReturnForRma(
        c.ReturnForRmaRequest(request_id=new_request_id(), batch_id=batch, serials=[SERIALS[4]], rma_number="RMA-9", reason="ECC errors"),
        metadata=md,
    )
    api.commands.ReportLost(
        c.ReportLostRequest(request_id=new_request_id(),
            batch_id=batch, serials=[SERIALS[5]], kind=c.LOSS_KIND_STOLEN, note="warehouse break-in"
        ),
        metadata=md,
    )
    last = api.commands.Decommission(
        c.DecommissionRequest(request_id=new_request_id(), batch_id=batch, serials=[SERIALS[4]], method="shredded"), metadata=md
    )

    api.commands.RequestClearance(
        c.RequestClearanceRequest(request_id=new_request_id(),
            batch_id=child,
            eccn="3A090.a",
            destination_country="KR",
            consignee_id=w.consignee,
            end_user_id=w.consignee,
            quantity=2,
        ),
        metadata=md,
    )
    api.commands.DenyClearance(
        c.DenyClearanceRequest(request_id=new_request_id(), batch_id=child, reason="end user under review"), metadata=md
    )
    third = place_order(api, w, quantity=3)
    clear(api, w, third, 3)
    revoked = api.commands.RevokeClearance(
        c.RevokeClearanceRequest(request_id=new_request_id(), batch_id=third, reason="license suspended"), metadata=md
    )

    assert last.aggregate_id == batch and last.position > shipped.position and not last.replayed
    assert revoked.position == server.head()

    state = api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch
    assert state.version == last.version
    assert state.unit_price == "30000.00" and state.allocation_program == "sovereign-ai"
    assert dict(state.units_by_stage) == {
        "pending": 0,
        "in_transit": 0,
        "received": 2,  # transferred to site2: received there, out of their rack (docs/domain.md)
        "installed": 0,
        "assigned": 2,
        "rma": 0,
        "lost": 1,
        "decommissioned": 1,
    }
    assert list(state.child_batch_ids) == [child] and state.quantity == 6
    units = {u.serial: u for u in state.units}
    assert units[SERIALS[0]].stage == "assigned" and units[SERIALS[0]].assignee_id == w.consignee
    assert units[SERIALS[2]].owner_id == w.consignee and units[SERIALS[2]].site_id == w.site2
    assert (units[SERIALS[2]].stage, units[SERIALS[2]].rack) == ("received", "")
    assert units[SERIALS[1]].rack == "R1" and units[SERIALS[1]].shipment_id == "AWB-001"
    assert [(s.shipment_id, s.quantity, s.received) for s in state.shipments] == [("AWB-001", 6, 6)]
    assert state.clearance.status == "granted" and state.clearance.cleared_quantity == 6
    assert state.clearance.authorization_id == w.authorization
    assert sum(p.count for p in state.positions) == 6

    child_state = api.queries.GetBatch(q.GetBatchRequest(batch_id=child)).batch
    assert child_state.parent_batch_id == batch and child_state.clearance.status == "denied"
    assert api.queries.GetBatch(q.GetBatchRequest(batch_id=third)).batch.stage == "clearance_revoked"
    as_ordered = api.queries.GetBatch(q.GetBatchRequest(batch_id=batch, version=1)).batch
    assert as_ordered.unit_price == "31250.00" and as_ordered.version == 1

    events, token, pages = [], "", 0
    while True:
        page = api.queries.ListBatchEvents(
            q.ListBatchEventsRequest(batch_id=batch, page_size=4, page_token=token)
        )
        events.extend(page.events)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 4 and len(events) == state.version
    assert [e.aggregate_version for e in events] == list(range(1, state.version + 1))
    assert [e.type for e in events][:4] == [
        "GpuBatch.Ordered",
        "GpuBatch.OrderCorrected",
        "GpuBatch.SerialsRegistered",
        "GpuBatch.SplitOff",
    ]
    assert {e.actor for e in events} == {"officer-kim"}
    positions = [e.position for e in events]
    assert positions == sorted(positions) and positions[-1] == last.position - 1  # its RequestRecord.Handled follows
    ordered = json.loads(events[0].payload_json)
    assert ordered["quantity"] == 8 and ordered["unit_price"] == "31250.00" and ordered["buyer_id"] == w.buyer
    assert events[0].recorded_at.seconds > 0 and events[0].occurred_at.seconds > 0


def test_a_call_without_the_actor_header_records_the_configured_default_actor(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url, default_actor="registry-ops")
    api = server.stubs()
    w = build_world(api)
    batch = place_order(api, w, actor="buyer-desk")
    api.commands.CorrectOrder(c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number="PO-77", reason="typo"))

    events = api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=batch)).events
    assert [e.actor for e in events] == ["buyer-desk", "registry-ops"]


def test_a_command_keeps_the_business_time_the_client_gives(api: Stubs) -> None:
    from datetime import UTC, datetime

    from tests.e2e.world import ts

    w = build_world(api)
    when = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
    batch = place_order(api, w, occurred_at=ts(when))

    (ordered,) = api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=batch)).events
    assert ordered.occurred_at.ToDatetime(tzinfo=UTC) == when
    assert ordered.recorded_at.ToDatetime(tzinfo=UTC) > when


def test_quantity_only_batches_move_by_quantity(api: Stubs) -> None:
    w = build_world(api)
    batch = place_order(api, w, quantity=100)
    clear(api, w, batch, 100)
    md = as_actor()
    api.commands.Ship(
        c.ShipRequest(request_id=new_request_id(), batch_id=batch, quantity=60, shipment_id="AWB-7", destination_country="KR"), metadata=md
    )
    api.commands.Receive(
        c.ReceiveRequest(request_id=new_request_id(),
            batch_id=batch, quantity=60, shipment_id="AWB-7", receiving_party_id=w.buyer, site_id=w.site
        ),
        metadata=md,
    )

    state = api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch
    assert state.units_by_stage["pending"] == 40 and state.units_by_stage["received"] == 60
    assert not state.units and {(p.stage, p.count) for p in state.positions} == {
        ("pending", 40),
        ("received", 60),
    }
    assert "ship" in state.allowed_actions and "install" in state.allowed_actions


@pytest.mark.parametrize("page_size", [1, 2, 1000])
def test_a_batch_history_pages_end_to_end_without_gaps(api: Stubs, page_size: int) -> None:
    w = build_world(api)
    batch = place_order(api, w)
    for n in range(4):
        api.commands.CorrectOrder(
            c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number=f"PO-{n}", reason="renumbered")
        )
    versions, token = [], ""
    while True:
        page = api.queries.ListBatchEvents(
            q.ListBatchEventsRequest(batch_id=batch, page_size=page_size, page_token=token)
        )
        assert len(page.events) <= page_size
        versions += [e.aggregate_version for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert versions == [1, 2, 3, 4, 5]


def test_a_new_batch_id_can_be_chosen_by_the_client(api: Stubs) -> None:
    w = build_world(api)
    chosen = str(uuid.uuid4())
    assert place_order(api, w, batch_id=chosen) == chosen
