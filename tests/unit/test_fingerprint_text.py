"""A request's fingerprint text (hashed into its request record) is exactly
``json.dumps(payload, sort_keys=True, separators=(",", ":"))``, whichever encoder makes it: a
retry of a request recorded by an earlier version must be recognised as the same request."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from registry.application import commands as c
from registry.application.compliance_commands import ImportScreeningList
from registry.demo.grpc_load import to_request
from registry.demo.load import COMMANDS
from registry.demo.scenario import korea_deployment
from registry.server.calls import parse_command


def _standard(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _every_command() -> list[type[c.Command]]:
    found: list[type[c.Command]] = []
    todo: list[type[c.Command]] = [c.Command]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_demo_command_fingerprints_as_the_standard_encoder_does() -> None:
    scenario = korea_deployment(scale=0.02)
    seen = set()
    for step in scenario.steps():
        command = parse_command(COMMANDS[step.method], to_request(step))
        assert command.fingerprint_payload() == _standard(command._fingerprinted()), step.method
        seen.add(step.method)
    assert {"register_serials", "ship", "receive", "install", "assign", "place_order"} <= seen


@pytest.mark.parametrize("text", [
    "plain", "naïve Straße", "日本", "tab\there", "new\nline", 'quote"d', "back\\slash", "del\x7f",
    "nul\x00", "\u2028", "emoji \U0001f600", "/slash/", "<>&'",
])
def test_strings_the_encoders_write_differently_give_the_standard_text(text: str) -> None:
    data = {"b": [text, {"z": text, "a": 1}], "a": text, "n": None, "t": True, "i": -(2**63)}
    assert c.canonical_json(data, float_free=True) == _standard(data)


def test_values_orjson_refuses_give_the_standard_text() -> None:
    for data in ({"big": 2**70}, {"k": {1: "int key"}}, {"small": -(2**64)}):
        assert c.canonical_json(data, float_free=True) == _standard(data)


def test_a_command_that_may_hold_floats_uses_the_standard_encoder() -> None:
    # a float dumps differently (1e+16 / 1e16, NaN / null): only commands without one take the fast path
    assert not c._float_free(c.AmendReference)
    assert not c._float_free(ImportScreeningList)
    assert not c._float_free(float)
    assert not c._float_free(dict[str, Any])
    assert not c._float_free(list[float | None])
    assert c._float_free(c.Ship) and c._float_free(c.Install) and c._float_free(c.RegisterSerials)
    amend = c.AmendReference.model_validate({
        "request_id": "r", "kind": "party", "target_id": str(UUID(int=1)), "reason": "fix",
        "fields": {"x": 1e16, "y": float("nan"), "z": Decimal("1.5"), "w": 1e-7},
    })
    assert amend.fingerprint_payload() == _standard(amend._fingerprinted())
    assert "1e+16" in amend.fingerprint_payload()


def test_every_command_type_is_decided() -> None:
    # every command class takes the fast path but those with a field of Any (may hold a float)
    # or of bytes (the standard encoder's text of them is kept as it is)
    slow = {cls.__name__ for cls in _every_command() if not c._float_free(cls)}
    assert slow == {"AmendReference", "ImportScreeningList", "RegisterHostAgent", "SubmitLocationAttestation"}, slow
