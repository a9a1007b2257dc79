"""How proto3 requests become the dicts that ``commands.parse`` validates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import commands_pb2 as c
from registry.application import commands as cmd
from registry.domain.errors import InvalidField
from registry.server.convert import (
    decode_page_token,
    encode_page_token,
    page_size,
    request_data,
    topics_for,
)


def test_empty_strings_are_not_given_and_numbers_and_booleans_always_are() -> None:
    data = request_data(
        c.RegisterGpuModelRequest(vendor="NVIDIA", name="H20", tdp_watts=0, datacenter_marketed=False)
    )

    assert data["vendor"] == "NVIDIA" and "part_number" not in data and "model_id" not in data
    assert data["tdp_watts"] == 0 and data["datacenter_marketed"] is False
    assert data["dense_tops"] == {} and "gpus_per_unit" not in data and "expected_version" not in data


def test_optional_fields_are_given_only_when_set_even_to_zero() -> None:
    assert request_data(c.ShipRequest(quantity=0, expected_version=0))["quantity"] == 0
    assert "quantity" not in request_data(c.ShipRequest())
    assert request_data(c.ShipRequest(expected_version=0))["expected_version"] == 0


def test_enums_pass_their_value_name_and_unspecified_is_not_given() -> None:
    assert request_data(c.ReportLostRequest(kind=c.LOSS_KIND_STOLEN))["kind"] == "stolen"
    assert request_data(c.AmendReferenceRequest(kind=c.REFERENCE_KIND_GPU_MODEL))["kind"] == "gpu_model"
    assert "kind" not in request_data(c.ReportLostRequest())


def test_an_enum_number_the_contract_does_not_define_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidField) as info:
        request_data(c.ReportLostRequest(kind=7))  # type: ignore[arg-type]
    assert info.value.violations[0][0] == "kind"


def test_timestamps_become_aware_utc_datetimes_and_out_of_range_ones_are_refused() -> None:
    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ts = Timestamp()
    ts.FromDatetime(when)
    assert request_data(c.PlaceOrderRequest(occurred_at=ts))["occurred_at"] == when

    with pytest.raises(InvalidField) as info:
        request_data(c.PlaceOrderRequest(occurred_at=Timestamp(seconds=400_000_000_000)))
    assert info.value.violations[0][0] == "occurred_at"


def test_nested_messages_and_structs_become_dicts_that_parse_validates() -> None:
    data = request_data(
        c.RegisterSerialsRequest(
            batch_id="0b6c1b9e-8a0f-4c1e-9f61-2a5d1f0c9e3a",
            units=[c.UnitIdentity(serial=" ab1 ", gpu_uuid="GPU-1")],
        )
    )
    parsed = cmd.parse(cmd.RegisterSerials, data)
    assert parsed.units[0].serial == "AB1"

    struct = struct_pb2.Struct()
    struct.update({"name": "New", "tdp_watts": 700})
    fields = request_data(c.AmendReferenceRequest(fields=struct))["fields"]
    assert fields == {"name": "New", "tdp_watts": 700}


def test_event_type_filters_name_each_unknown_type() -> None:
    assert topics_for(["GpuBatch.Shipped"]) == ["registry.domain.batch:GpuBatch.Shipped"]
    with pytest.raises(InvalidField) as info:
        topics_for(["GpuBatch.Shipped", "Nope"])
    assert [f for f, _ in info.value.violations] == ["event_types[1]"]


def test_page_sizes_follow_aip_158() -> None:
    assert (page_size(0), page_size(5), page_size(50_000)) == (100, 5, 1000)
    with pytest.raises(InvalidField):
        page_size(-1)


def test_page_tokens_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_page_token(encode_page_token({"after": 3})) == {"after": 3}
    for bad in ("%%%", "bm90IGpzb24=", "WzFd"):  # not base64, not JSON, not an object
        with pytest.raises(InvalidField):
            decode_page_token(bad)


def test_repeated_plain_string_messages_read_as_dicts_leaving_out_empty_strings() -> None:
    data = request_data(
        c.RegisterSerialsRequest(
            units=[c.UnitIdentity(serial="S1", gpu_uuid="GPU-1"), c.UnitIdentity(serial="S2"),
                   c.UnitIdentity(gpu_uuid="GPU-3"), c.UnitIdentity()],
        )
    )

    assert data["units"] == [{"serial": "S1", "gpu_uuid": "GPU-1"}, {"serial": "S2"}, {"gpu_uuid": "GPU-3"}, {}]


def test_repeated_strings_pass_as_a_list_of_the_values_given() -> None:
    data = request_data(c.ShipRequest(serials=["A1", "", " b2 "]))

    assert data["serials"] == ["A1", "", " b2 "] and type(data["serials"]) is list
