"""Reference data and batches created through the API, for the e2e tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import commands_pb2 as c

ACTOR = ("x-gpureg-actor", "officer-kim")


def new_request_id() -> str:
    """A fresh idempotency key: every command over the API carries one."""
    return f"r-{uuid.uuid4()}"


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


@dataclass
class World:
    supplier: str
    buyer: str
    consignee: str
    carrier: str
    operator: str
    model: str
    site: str
    site2: str
    authorization: str


def as_actor(actor: str = ACTOR[1]) -> list[tuple[str, str]]:
    return [("x-gpureg-actor", actor)]


def build_world(api: Any, actor: str = ACTOR[1]) -> World:
    md = as_actor(actor)

    def party(name: str, country: str, roles: list[str]) -> str:
        return str(
            api.commands.RegisterParty(
                c.RegisterPartyRequest(request_id=new_request_id(), name=name, country=country, roles=roles, headquarters_country=country),
                metadata=md,
            ).aggregate_id
        )

    supplier = party("NVIDIA Corporation", "US", ["supplier", "exporter"])
    buyer = party("Korea AI Compute Co", "KR", ["purchaser", "consignee", "end_user"])
    consignee = party("Seoul Cloud", "KR", ["consignee", "end_user", "operator"])
    carrier = party("Air Cargo Ltd", "KR", ["carrier"])
    operator = party("Pangyo DC Operator", "KR", ["operator"])
    model = str(
        api.commands.RegisterGpuModel(
            c.RegisterGpuModelRequest(request_id=new_request_id(),
                vendor="NVIDIA",
                name="B200",
                part_number="699-2G520",
                dense_tops={"fp8": "4500", "fp16": "2250"},
                bit_lengths={"fp8": 8, "fp16": 16},
                die_area_mm2="1600",
                datacenter_marketed=True,
                tdp_watts=1000,
            ),
            metadata=md,
        ).aggregate_id
    )
    site = str(
        api.commands.RegisterSite(
            c.RegisterSiteRequest(request_id=new_request_id(),
                name="Pangyo 1", operator_id=operator, country="KR", power_capacity_kw="40000"
            ),
            metadata=md,
        ).aggregate_id
    )
    site2 = str(
        api.commands.RegisterSite(
            c.RegisterSiteRequest(request_id=new_request_id(),
                name="Busan 2", operator_id=consignee, country="KR", power_capacity_kw="12000.5"
            ),
            metadata=md,
        ).aggregate_id
    )
    authorization = str(
        api.commands.RegisterAuthorization(
            c.RegisterAuthorizationRequest(request_id=new_request_id(),
                auth_type=c.AUTHORIZATION_TYPE_LICENSE,
                number="D1234567",
                eccns=["3A090"],
                destination_countries=["KR"],
                valid_from=ts(datetime(2025, 1, 1, tzinfo=UTC)),
            ),
            metadata=md,
        ).aggregate_id
    )
    return World(supplier, buyer, consignee, carrier, operator, model, site, site2, authorization)


def place_order(api: Any, w: World, quantity: int = 8, actor: str = ACTOR[1], **fields: Any) -> str:
    request = {
        "request_id": new_request_id(),
        "po_number": f"PO-{uuid.uuid4().hex[:6]}",
        "supplier_id": w.supplier,
        "buyer_id": w.buyer,
        "model_id": w.model,
        "quantity": quantity,
        "unit_price": "31250.00",
        "currency": "USD",
    } | fields
    return str(api.commands.PlaceOrder(c.PlaceOrderRequest(**request), metadata=as_actor(actor)).aggregate_id)


def clear(api: Any, w: World, batch_id: str, quantity: int, actor: str = ACTOR[1]) -> None:
    md = as_actor(actor)
    api.commands.RequestClearance(
        c.RequestClearanceRequest(request_id=new_request_id(),
            batch_id=batch_id,
            eccn="3A090.a",
            destination_country="KR",
            consignee_id=w.consignee,
            end_user_id=w.consignee,
            quantity=quantity,
            end_use="AI training",
        ),
        metadata=md,
    )
    api.commands.GrantClearance(
        c.GrantClearanceRequest(request_id=new_request_id(), batch_id=batch_id, authorization_id=w.authorization), metadata=md
    )
