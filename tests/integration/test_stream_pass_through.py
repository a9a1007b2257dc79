"""SubscribeEvents' renderer writes plain-valued fields (serial lists, plain text) into
``payload_json`` as stored, without decoding or encoding them; the result still equals the domain
rendering (tests/integration/test_grpc_event_rendering.py checks that for every event type)."""

from __future__ import annotations

from typing import Any

import pytest

from registry.bootstrap import build_registry
from registry.config import Settings
from registry.server import event_messages
from registry.server.convert import event_message
from registry.server.event_messages import EventRenderer
from tests.builders import make_world


def test_a_shipment_s_serial_list_reaches_payload_json_without_being_decoded_or_encoded(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = build_registry(Settings(database_url=sqlite_url))
    try:
        world = make_world(registry)
        batch = world.order(8)
        world.clear(batch, 8)
        serials = world.serials(batch, 8)
        world.ship(batch, "SHP-PT", serials=serials)
        shipped = next(n for n in registry.read_log(0, 10_000) if n.topic.endswith(".Shipped"))
        encoded: list[Any] = []
        original = event_messages._encode_value

        def recording(value: Any) -> str:
            encoded.append(value)
            return original(value)

        monkeypatch.setattr(event_messages, "_encode_value", recording)
        renderer = EventRenderer(registry)
        fields, spans, plain = event_messages._top_level(
            event_messages.json.JSONDecoder(object_hook=renderer._object), shipped.state.decode()
        )
        assert "serials" in plain and "serials" not in fields  # located, never decoded
        message = renderer._fast(shipped)
        assert all(not isinstance(v, list) for v in encoded)  # nor encoded again
        assert message.payload_json == event_message(registry.decode(shipped), shipped.id).payload_json
        assert ",".join(f'"{s}"' for s in serials) in message.payload_json
    finally:
        registry.close()
