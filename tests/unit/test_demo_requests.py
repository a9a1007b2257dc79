"""The demo loader builds each step's request directly where it can (serial lists, serial and
GPU UUID pairs); the message must be exactly what the proto3 JSON mapping of the payload gives."""

from __future__ import annotations

from google.protobuf import json_format

from registry.api.v1 import commands_pb2
from registry.demo.grpc_load import _jsonable, _upper_snake, rpc_name, to_request
from registry.demo.scenario import korea_deployment


def _by_json_mapping(step: object) -> bytes:
    method: str = step.method  # type: ignore[attr-defined]
    message = getattr(commands_pb2, f"{rpc_name(method)}Request")()
    payload = _jsonable(step.payload)  # type: ignore[attr-defined]
    for f in message.DESCRIPTOR.fields:
        if f.enum_type is not None and isinstance(payload.get(f.name), str):
            payload[f.name] = f"{_upper_snake(f.enum_type.name)}_{payload[f.name].upper()}"
    json_format.ParseDict(payload, message)
    return bytes(message.SerializeToString(deterministic=True))


def test_every_demo_request_is_the_json_mapping_of_its_payload() -> None:
    scenario = korea_deployment(scale=0.01)
    steps = [*scenario.reference, *scenario.batches]
    assert {s.method for s in steps} >= {"register_serials", "ship", "receive", "install", "assign"}
    for step in steps:
        assert to_request(step).SerializeToString(deterministic=True) == _by_json_mapping(step), step.method
