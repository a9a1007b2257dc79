"""The stored shapes the shipment's parties and the parties' red-flag facts added: events and
snapshots of today's shape load unchanged, with the new fields absent."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, UUIDAsHex

from registry.application.transcodings import register_domain_transcodings
from registry.domain.batch import GpuBatch, Shipment
from registry.domain.errors import InvalidField
from registry.domain.reference import Party
from registry.domain.reference_codes import AddressType, optional_code


def test_a_shipped_event_of_version_3_loads_with_no_intermediate_consignee_and_no_forwarder() -> None:
    state: dict[str, Any] = {"shipment_id": "S1", "carrier_id": None}
    GpuBatch.Shipped.upcast_v3_v4(state)
    assert (state["intermediate_consignee_ids"], state["forwarder_id"]) == ([], None)
    assert GpuBatch.Shipped.class_version >= 4  # v5 added the exporter of record


def test_a_snapshot_shipment_without_the_new_fields_decodes_with_none() -> None:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    register_domain_transcodings(transcoder)
    old = b'{"s":{"_type_":"Shipment","_data_":{"shipment_id":"S1","quantity":2,"serials":[],"carrier_id":null,' \
          b'"origin":"US","destination_country":"KR","destination_site_id":null,"itn":"","received":0}}}'
    shipment = transcoder.decode(old)["s"]
    assert isinstance(shipment, Shipment)
    assert (shipment.intermediate_consignee_ids, shipment.forwarder_id) == ([], None)
    hub, fwd = uuid4(), uuid4()
    new = Shipment("S2", 1, [], None, "US", "KR", None, "", 0, [hub], fwd)
    assert transcoder.decode(transcoder.encode({"s": new}))["s"] == new


def test_a_party_registered_at_version_2_loads_with_its_red_flag_facts_unknown() -> None:
    state: dict[str, Any] = {"name": "Samsung"}
    Party.Registered.upcast_v2_v3(state)
    assert (state["address_type"], state["online_presence"], state["forwarder_standing"]) == ("", "", "")


def test_a_red_flag_fact_is_one_of_its_codes_or_unknown() -> None:
    assert optional_code("address_type", "", AddressType) == ""
    assert optional_code("address_type", "vague", AddressType) == "vague"
    with pytest.raises(InvalidField) as e:
        optional_code("address_type", "Residential", AddressType)
    assert "address_type" in str(e.value) and "residential" in str(e.value)
