"""Every error code the API promises, with its rich details; refused calls write nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import events_pb2 as e
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.world import World, as_actor, build_world, new_request_id, place_order


def refused(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    error = info.value
    assert isinstance(error, grpc.RpcError)
    return error


def details(error: grpc.RpcError) -> dict[str, Any]:
    """The google.rpc details of a refusal, by type name."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "a refusal carries a google.rpc.Status"
    found: dict[str, Any] = {}
    for detail in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.PreconditionFailure,
            error_details_pb2.ResourceInfo,
        ):
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                found[cls.DESCRIPTOR.name] = message
    return found


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    return {v.field: v.description for v in details(error)["BadRequest"].field_violations}


@pytest.fixture
def world(api: Stubs) -> World:
    return build_world(api)


BAD_INPUTS: dict[str, tuple[str, Callable[[Stubs, World], Any], set[str]]] = {
    "order": (
        "PlaceOrder",
        lambda api, w: api.commands.PlaceOrder(
            c.PlaceOrderRequest(request_id=new_request_id(),
                batch_id="not-a-uuid",
                po_number="PO-1",
                supplier_id=w.supplier,
                buyer_id=w.buyer,
                model_id=w.model,
                quantity=0,
                unit_price="-5",
                currency="usd",
            )
        ),
        {"batch_id", "quantity", "unit_price", "currency"},
    ),
    "missing fields": (
        "RequestClearance",
        lambda api, w: api.commands.RequestClearance(c.RequestClearanceRequest(request_id=new_request_id(), batch_id=str(uuid.uuid4()))),
        {"eccn", "destination_country", "consignee_id", "end_user_id", "quantity"},
    ),
    "serial in a list": (
        "RegisterSerials",
        lambda api, w: api.commands.RegisterSerials(
            c.RegisterSerialsRequest(request_id=new_request_id(),
                batch_id=str(uuid.uuid4()), units=[c.UnitIdentity(serial="A1"), c.UnitIdentity(serial="  ")]
            )
        ),
        {"units[1].serial"},
    ),
    "decimal map": (
        "RegisterGpuModel",
        lambda api, w: api.commands.RegisterGpuModel(
            c.RegisterGpuModelRequest(request_id=new_request_id(),
                vendor="NVIDIA",
                name="X",
                dense_tops={"fp8": "lots"},
                bit_lengths={"fp8": 8},
                die_area_mm2="1",
                tdp_watts=1,
            )
        ),
        {"dense_tops.fp8"},
    ),
    "unset enum": (
        "RegisterAuthorization",
        lambda api, w: api.commands.RegisterAuthorization(
            c.RegisterAuthorizationRequest(request_id=new_request_id(), destination_countries=["KR"], eccns=[])
        ),
        {"auth_type", "valid_from"},
    ),
    "negative expected_version": (
        "CorrectOrder",
        lambda api, w: api.commands.CorrectOrder(
            c.CorrectOrderRequest(request_id=new_request_id(), batch_id=str(uuid.uuid4()), expected_version=-1, reason="x")
        ),
        {"expected_version"},
    ),
    "amend an unamendable field": (
        "AmendReference",
        lambda api, w: api.commands.AmendReference(
            c.AmendReferenceRequest(request_id=new_request_id(),
                kind=c.REFERENCE_KIND_PARTY, target_id=w.buyer, reason="x", fields={"vendor": "nope"}
            )
        ),
        {"fields.vendor"},
    ),
    "amended value breaks the register rule": (
        "AmendReference",
        lambda api, w: api.commands.AmendReference(
            c.AmendReferenceRequest(request_id=new_request_id(),
                kind=c.REFERENCE_KIND_PARTY, target_id=w.buyer, reason="x", fields={"country": "korea"}
            )
        ),
        {"country"},
    ),
    "movement with neither quantity nor serials": (
        "Ship",
        lambda api, w: api.commands.Ship(
            c.ShipRequest(request_id=new_request_id(), batch_id=str(uuid.uuid4()), shipment_id="S", destination_country="KR")
        ),
        {"(command)"},
    ),
    "batch id of a query": (
        "GetBatch",
        lambda api, w: api.queries.GetBatch(q.GetBatchRequest(batch_id="b-1")),
        {"batch_id"},
    ),
    "page token": (
        "ListBatchEvents",
        lambda api, w: api.queries.ListBatchEvents(
            q.ListBatchEventsRequest(batch_id=str(uuid.uuid4()), page_token="garbage!")
        ),
        {"page_token"},
    ),
    "negative page size": (
        "ListBatchEvents",
        lambda api, w: api.queries.ListBatchEvents(
            q.ListBatchEventsRequest(batch_id=str(uuid.uuid4()), page_size=-1)
        ),
        {"page_size"},
    ),
    "actor header": (
        "PlaceOrder",
        lambda api, w: api.commands.PlaceOrder(
            c.PlaceOrderRequest(request_id=new_request_id(),
                po_number="PO-1",
                supplier_id=w.supplier,
                buyer_id=w.buyer,
                model_id=w.model,
                quantity=1,
                unit_price="1",
                currency="USD",
            ),
            metadata=[("x-gpureg-actor", "x" * 500)],
        ),
        {"x-gpureg-actor"},
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_invalid_argument_naming_each_field_and_writes_nothing(
    server: RunningServer, api: Stubs, world: World, case: str
) -> None:
    _method, call, fields = BAD_INPUTS[case]
    head = server.head()

    error = refused(lambda: call(api, world))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields <= set(field_violations(error)), field_violations(error)
    info = details(error)["ErrorInfo"]
    assert info.reason == "INVALID_FIELD" and info.domain == "gpureg"
    assert server.head() == head


def test_a_subscription_with_bad_filters_is_invalid_argument_naming_them(api: Stubs) -> None:
    stream = api.events.SubscribeEvents(
        e.SubscribeEventsRequest(
            after_position=-1,
            event_types=["GpuBatch.Shipped", "GpuBatch.Teleported"],
            batch_id="b",
            heartbeat_interval=duration_pb2.Duration(seconds=3600),
        ),
        timeout=30,
    )

    error = refused(lambda: next(stream))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "after_position",
        "event_types[1]",
        "batch_id",
        "heartbeat_interval",
    }


def test_a_step_the_state_does_not_allow_is_failed_precondition_naming_the_current_state(
    server: RunningServer, api: Stubs, world: World
) -> None:
    batch = place_order(api, world)
    head = server.head()

    error = refused(
        lambda: api.commands.Ship(
            c.ShipRequest(request_id=new_request_id(), batch_id=batch, quantity=1, shipment_id="AWB-1", destination_country="KR")
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "state ordered" in (error.details() or "")
    found = details(error)
    assert found["ErrorInfo"].reason == "ILLEGAL_TRANSITION"
    assert found["ErrorInfo"].metadata["state"].startswith("ordered")
    (violation,) = found["PreconditionFailure"].violations
    assert (
        violation.type == "STATE"
        and violation.subject == "ship"
        and "request_clearance" in violation.description
    )
    assert server.head() == head


def test_a_broken_invariant_is_failed_precondition_naming_the_rule(
    server: RunningServer, api: Stubs, world: World
) -> None:
    batch = place_order(api, world, quantity=2)
    head = server.head()

    error = refused(
        lambda: api.commands.RegisterSerials(
            c.RegisterSerialsRequest(request_id=new_request_id(),
                batch_id=batch, units=[c.UnitIdentity(serial=s) for s in ("A", "B", "C")]
            )
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    (violation,) = details(error)["PreconditionFailure"].violations
    assert violation.type == "INVARIANT" and violation.subject == "serials-within-quantity"
    assert server.head() == head


def test_a_serial_registered_to_another_batch_is_refused(
    server: RunningServer, api: Stubs, world: World
) -> None:
    first, second = place_order(api, world), place_order(api, world)
    api.commands.RegisterSerials(
        c.RegisterSerialsRequest(request_id=new_request_id(), batch_id=first, units=[c.UnitIdentity(serial="SN-1")])
    )
    head = server.head()

    error = refused(
        lambda: api.commands.RegisterSerials(
            c.RegisterSerialsRequest(request_id=new_request_id(), batch_id=second, units=[c.UnitIdentity(serial=" sn-1 ")])
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)["ErrorInfo"].reason == "SERIAL_ALREADY_REGISTERED"
    assert server.head() == head


def test_a_compliance_refusal_is_failed_precondition_naming_the_rule(
    server: RunningServer, api: Stubs, world: World
) -> None:
    batch = place_order(api, world)
    api.commands.RequestClearance(
        c.RequestClearanceRequest(request_id=new_request_id(),
            batch_id=batch,
            eccn="3A090.a",
            destination_country="AE",
            consignee_id=world.consignee,
            end_user_id=world.consignee,
            quantity=8,
        )
    )
    head = server.head()

    error = refused(
        lambda: api.commands.GrantClearance(
            c.GrantClearanceRequest(request_id=new_request_id(), batch_id=batch, authorization_id=world.authorization)
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    found = details(error)
    assert found["ErrorInfo"].reason == "COMPLIANCE_REFUSAL"
    assert found["PreconditionFailure"].violations[0].subject == "authorization-destination"
    assert server.head() == head


def test_an_unknown_id_is_not_found(server: RunningServer, api: Stubs, world: World) -> None:
    missing = str(uuid.uuid4())
    head = server.head()

    for call in (
        lambda: api.queries.GetBatch(q.GetBatchRequest(batch_id=missing)),
        lambda: api.queries.ListBatchEvents(q.ListBatchEventsRequest(batch_id=missing)),
        lambda: api.queries.ListBatchEvents(
            q.ListBatchEventsRequest(batch_id=world.buyer)
        ),  # a party, not a batch
        lambda: api.commands.CorrectOrder(c.CorrectOrderRequest(request_id=new_request_id(), batch_id=missing, po_number="P", reason="r")),
        lambda: place_order(api, world, model_id=missing),
    ):
        error = refused(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
        assert details(error)["ResourceInfo"].resource_type in ("batch", "gpu_model")
    assert server.head() == head


def test_creating_an_id_that_exists_is_already_exists(
    server: RunningServer, api: Stubs, world: World
) -> None:
    batch = place_order(api, world)
    head = server.head()

    error = refused(lambda: place_order(api, world, batch_id=batch))

    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert details(error)["ResourceInfo"].resource_name == batch
    assert server.head() == head


def test_a_stale_expected_version_is_aborted(server: RunningServer, api: Stubs, world: World) -> None:
    batch = place_order(api, world)
    api.commands.CorrectOrder(
        c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number="PO-2", reason="renumbered", expected_version=1)
    )
    head = server.head()

    error = refused(
        lambda: api.commands.CorrectOrder(
            c.CorrectOrderRequest(request_id=new_request_id(),
                batch_id=batch, po_number="PO-3", reason="renumbered again", expected_version=1
            )
        )
    )

    assert error.code() == grpc.StatusCode.ABORTED
    info = details(error)["ErrorInfo"]
    assert info.reason == "CONCURRENCY_CONFLICT"
    assert (info.metadata["expectedVersion"], info.metadata["currentVersion"]) == ("1", "2")
    assert server.head() == head


def test_of_concurrent_writers_at_the_same_version_exactly_one_wins_and_the_others_are_aborted(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    server = start_server(store_url)
    api = server.stubs()
    w = build_world(api)
    batch = place_order(api, w)
    writers = 6
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []

    def write(n: int) -> None:
        stubs = server.stubs()
        barrier.wait()
        try:
            stubs.commands.CorrectOrder(
                c.CorrectOrderRequest(request_id=new_request_id(), batch_id=batch, po_number=f"PO-{n}", reason="race", expected_version=1),
                metadata=as_actor(f"w{n}"),
            )
            outcomes.append("ok")
        except grpc.RpcError as error:
            outcomes.append(error.code().name)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["ABORTED"] * (writers - 1) + ["ok"]
    assert api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch.version == 2


def test_a_retried_command_with_the_same_request_id_returns_the_first_result_and_writes_nothing(
    server: RunningServer, api: Stubs, world: World
) -> None:
    request = c.PlaceOrderRequest(
        request_id=str(uuid.uuid4()),
        po_number="PO-RETRY",
        supplier_id=world.supplier,
        buyer_id=world.buyer,
        model_id=world.model,
        quantity=5,
        unit_price="1.50",
        currency="USD",
    )
    first = api.commands.PlaceOrder(request)
    head = server.head()

    again = api.commands.PlaceOrder(request)

    assert (again.aggregate_id, again.version, again.position) == (
        first.aggregate_id,
        first.version,
        first.position,
    )
    assert again.replayed and not first.replayed
    assert server.head() == head


def test_a_request_id_reused_for_a_different_request_is_invalid_argument_on_request_id(
    server: RunningServer, api: Stubs, world: World
) -> None:
    rid = str(uuid.uuid4())
    batch = place_order(api, world, request_id=rid)
    head = server.head()

    error = refused(
        lambda: api.commands.CorrectOrder(
            c.CorrectOrderRequest(request_id=rid, batch_id=batch, po_number="PO-X", reason="other")
        )
    )

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"request_id"}
    assert details(error)["ErrorInfo"].reason == "REQUEST_ID_REUSED"
    assert server.head() == head


def test_a_request_larger_than_the_message_limit_is_refused_and_writes_nothing(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url, max_message_bytes=64 * 1024)
    api = server.stubs()
    w = build_world(api)
    batch = place_order(api, w, quantity=10_000)
    head = server.head()

    error = refused(
        lambda: api.commands.RegisterSerials(
            c.RegisterSerialsRequest(request_id=new_request_id(),
                batch_id=batch, units=[c.UnitIdentity(serial=f"SERIAL-{n:08d}") for n in range(10_000)]
            )
        )
    )

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert server.head() == head


def test_a_subscription_ends_when_its_deadline_expires(
    server: RunningServer, api: Stubs, world: World
) -> None:
    stream = api.events.SubscribeEvents(e.SubscribeEventsRequest(), timeout=1.0)
    received = []

    error = refused(lambda: received.extend(stream))

    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert received and received[-1].WhichOneof("content") == "checkpoint"
    assert received[-1].checkpoint.position == server.head()


def test_list_batches_names_each_bad_filter(api: Stubs) -> None:
    error = refused(
        lambda: api.queries.ListBatches(
            q.ListBatchesRequest(partner_id="p", model_id="m", site_id="s", stage="teleported", country="kr")
        )
    )

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"partner_id", "model_id", "site_id", "stage", "country"}


@pytest.mark.parametrize(
    ("method", "streaming"),
    [
        ("/registry.api.v1.CommandService/PlaceOrder", False),
        ("/registry.api.v1.EventService/SubscribeEvents", True),
    ],
)
def test_request_bytes_that_are_not_a_valid_message_are_invalid_argument_and_write_nothing(
    server: RunningServer, method: str, streaming: bool
) -> None:
    channel = server.channel()
    head = server.head()
    garbage = b"\x2a\x03\xff\xfe\xfd"  # field 5 (po_number / heartbeat) with bytes that are not UTF-8

    if streaming:
        call = channel.unary_stream(method, request_serializer=bytes, response_deserializer=bytes)
        error = refused(lambda: list(call(garbage, timeout=30)))
    else:
        unary = channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
        error = refused(lambda: unary(garbage, timeout=30))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"(request)"}
    assert server.head() == head
