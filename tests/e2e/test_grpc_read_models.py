"""Read-model queries over gRPC, served by projections running inside ``gpureg serve``."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import grpc
import pytest
from grpc_status import rpc_status

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.world import as_actor, build_world, clear, new_request_id, place_order


def receive(api: Stubs, w, batch: str, serials: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Register, ship and receive ``serials``."""
    md = as_actor()
    api.commands.RegisterSerials(c.RegisterSerialsRequest(request_id=new_request_id(),
        batch_id=batch, units=[c.UnitIdentity(serial=s) for s in serials]), metadata=md)
    api.commands.Ship(c.ShipRequest(request_id=new_request_id(), batch_id=batch, shipment_id="S1", destination_country="KR",
                                    destination_site_id=w.site, serials=serials), metadata=md)
    api.commands.Receive(c.ReceiveRequest(request_id=new_request_id(), batch_id=batch, shipment_id="S1", receiving_party_id=w.consignee,
                                          site_id=w.site, serials=serials), metadata=md)


def deliver(api: Stubs, w, batch: str, serials: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Register, ship, receive, install and assign ``serials``; returns the last position."""
    md = as_actor()
    receive(api, w, batch, serials)
    api.commands.Install(c.InstallRequest(request_id=new_request_id(), batch_id=batch, site_id=w.site, rack="R1", host="H1",
                                          serials=serials), metadata=md)
    return int(api.commands.Assign(c.AssignRequest(request_id=new_request_id(), batch_id=batch, assignee_id=w.consignee, purpose="training",
                                                   serials=serials[:2]), metadata=md).position)


def test_read_model_queries_see_a_command_when_asked_for_its_position(api: Stubs) -> None:
    w = build_world(api)
    batch = place_order(api, w, quantity=4)
    clear(api, w, batch, 4)
    position = deliver(api, w, batch, ["A1", "A2", "A3", "A4"])

    listed = api.queries.ListBatches(q.ListBatchesRequest(site_id=w.site, min_position=position), timeout=30)
    assert [b.batch_id for b in listed.batches] == [batch]
    assert listed.batches[0].units_by_stage["assigned"] == 2
    assert listed.batches[0].units_by_stage["installed"] == 2

    owned = api.queries.GetOwnership(q.GetOwnershipRequest(partner_id=w.buyer, min_position=position), timeout=30)
    assert len(owned.partners) == 1
    holding = owned.partners[0]
    assert holding.gpus_held == 4 and holding.gpus_installed == 4
    assert Decimal(holding.compute_tpp) == 4 * Decimal(4500 * 8)  # TPP per GPU: dense FP8 TOPS x 8 bits

    sites = api.queries.GetSiteInventory(q.GetSiteInventoryRequest(site_id=w.site, min_position=position), timeout=30)
    site = sites.sites[0]
    assert site.installed_gpus == 4 and Decimal(site.installed_tdp_kw) == Decimal(4)
    assert not site.over_capacity and Decimal(site.power_headroom_kw) == Decimal("39996")

    trail = api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id=batch, min_position=position), timeout=30)
    assert [e.event_type for e in trail.entries] == [
        "Ordered", "ClearanceRequested", "ClearanceGranted", "SerialsRegistered", "Shipped", "Received",
        "Installed", "Assigned",
    ]
    assert trail.entries[-1].position == position - 1  # the command's last event is its RequestRecord.Handled
    assert all(e.actor for e in trail.entries)
    assert json.loads(trail.entries[4].detail_json)

    status = api.queries.GetProjectionStatus(q.GetProjectionStatusRequest(), timeout=30)
    names = {p.name for p in status.projections}
    assert {"batch_inventory", "ownership", "site_inventory", "custody_trail"} <= names
    assert status.head >= position


def test_waiting_for_a_position_the_log_never_reaches_ends_at_the_deadline(api: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as e:
        api.queries.ListBatches(q.ListBatchesRequest(min_position=10**9), timeout=1.0)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    status = rpc_status.from_call(e.value)
    if status is not None:  # the server answered in time with its own reason
        assert "READ_MODEL_BEHIND" in str(status.details[0].value)


def test_a_negative_min_position_is_an_invalid_field(api: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as e:
        api.queries.GetOwnership(q.GetOwnershipRequest(min_position=-1), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "min_position" in (e.value.details() or "")


def test_the_custody_trail_of_an_unknown_batch_is_not_found(api: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as e:
        api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id="9b2f3c1e-0000-4000-8000-000000000000"),
                                    timeout=10)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.postgres
def test_read_your_writes_on_postgresql(start_server: Callable[..., RunningServer], postgres_url: str) -> None:
    api = start_server(postgres_url).stubs()
    w = build_world(api)
    batch = place_order(api, w, quantity=2)
    clear(api, w, batch, 2)
    position = deliver(api, w, batch, ["P1", "P2"])
    listed = api.queries.ListBatches(q.ListBatchesRequest(partner_id=w.buyer, min_position=position), timeout=30)
    assert [b.batch_id for b in listed.batches] == [batch]
    assert listed.batches[0].units_by_stage["assigned"] == 2


def test_a_write_through_the_server_wakes_its_projections_at_once(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    # The runner would poll only every 10 minutes: the read model can see the command within the
    # call's deadline only because the server wakes its projections when it appends.
    api = start_server(sqlite_url, projection_poll_seconds=600).stubs()
    w = build_world(api)
    batch = place_order(api, w, quantity=2)
    position = int(api.commands.CorrectOrder(
        c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, unit_price="1.00", reason="price list"), metadata=as_actor()
    ).position)
    listed = api.queries.ListBatches(q.ListBatchesRequest(min_position=position), timeout=60)
    assert [b.batch_id for b in listed.batches] == [batch]


def test_an_installation_report_places_each_rack_through_the_api_in_one_command(api: Stubs) -> None:
    w = build_world(api)
    batch = place_order(api, w, quantity=4)
    clear(api, w, batch, 4)
    md = as_actor()
    serials = ["P1", "P2", "P3", "P4"]
    receive(api, w, batch, serials)
    with pytest.raises(grpc.RpcError) as refused:
        api.commands.Install(c.InstallRequest(request_id=new_request_id(), batch_id=batch, site_id=w.site, rack="R1", placements=[
            c.Placement(rack="R1", serials=serials)]), metadata=md)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "placements" in refused.value.details()

    done = api.commands.Install(c.InstallRequest(request_id=new_request_id(), batch_id=batch, site_id=w.site, placements=[
        c.Placement(rack="R1", host="h1", serials=serials[:2]),
        c.Placement(rack="R2", host="h2", serials=serials[2:])]), metadata=md)

    got = api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch
    assert {u.serial: (u.rack, u.host) for u in got.units} == {
        "P1": ("R1", "h1"), "P2": ("R1", "h1"), "P3": ("R2", "h2"), "P4": ("R2", "h2")}
    trail = api.queries.GetCustodyTrail(q.GetCustodyTrailRequest(batch_id=batch, min_position=done.position),
                                        timeout=30)
    assert [e.event_type for e in trail.entries][-2:] == ["Installed", "Installed"]
