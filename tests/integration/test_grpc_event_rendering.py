"""Every event the registry writes can be named in a subscription filter and rendered for the API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from registry.application import commands as c
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.server.convert import event_message, event_topics


def test_every_event_a_lifecycle_writes_is_in_the_catalog_and_renders_as_json(store_url: str) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        actor = "officer-kim"
        party = registry.register_party(
            actor,
            c.parse(
                c.RegisterParty,
                {
                    "name": "Korea AI Compute",
                    "country": "KR",
                    "roles": ["purchaser"],
                    "headquarters_country": "KR",
                },
            ),
        )
        model = registry.register_gpu_model(
            actor,
            c.parse(
                c.RegisterGpuModel,
                {
                    "vendor": "NVIDIA",
                    "name": "B200",
                    "dense_tops": {"fp8": "4500"},
                    "bit_lengths": {"fp8": 8},
                    "die_area_mm2": "1600",
                    "datacenter_marketed": True,
                    "tdp_watts": 1000,
                },
            ),
        )
        registry.amend_reference(
            actor,
            c.parse(
                c.AmendReference,
                {
                    "kind": "party",
                    "target_id": party.aggregate_id,
                    "fields": {"name": "KAIC"},
                    "reason": "rename",
                },
            ),
        )
        batch = registry.place_order(
            actor,
            c.parse(
                c.PlaceOrder,
                {
                    "request_id": str(uuid.uuid4()),
                    "po_number": "PO-1",
                    "supplier_id": party.aggregate_id,
                    "buyer_id": party.aggregate_id,
                    "model_id": model.aggregate_id,
                    "quantity": 2,
                    "unit_price": "1.5",
                    "currency": "USD",
                    "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
                },
            ),
        )
        registry.register_serials(
            actor,
            c.parse(
                c.RegisterSerials,
                {"batch_id": batch.aggregate_id, "units": [{"serial": "S1"}, {"serial": "S2"}]},
            ),
        )
        registry.split_batch(
            actor, c.parse(c.SplitBatch, {"batch_id": batch.aggregate_id, "serials": ["S2"]})
        )

        catalog = set(event_topics().values())
        rendered = []
        for position, event in registry.iter_log():
            message = event_message(event, position)
            rendered.append(message)
            assert event_topics()[message.type] in catalog
            json.loads(message.payload_json)
    finally:
        registry.close()

    types = [m.type for m in rendered]
    assert {
        "Party.Registered",
        "Party.Amended",
        "GpuModel.Registered",
        "GpuBatch.Ordered",
        "RequestRecord.Handled",
        "GpuBatch.SplitFrom",
        "GpuBatch.SplitOff",
    } <= set(types)
    assert {m.actor for m in rendered} == {"officer-kim"}
    ordered = next(m for m in rendered if m.type == "GpuBatch.Ordered")
    payload = json.loads(ordered.payload_json)
    assert payload["unit_price"] == "1.5" and payload["model_id"] == model.aggregate_id.__str__()
    assert ordered.occurred_at.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 1, tzinfo=UTC)
