"""Serial fields of commands: each serial checked and normalised by the same rules, whether it
stands alone (a unit's serial) or in a list (a movement's serials), and fingerprints unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from registry.application import commands as c
from registry.domain.claims import normalise_serial
from registry.domain.errors import InvalidField

BATCH = "0b6c1b9e-8a0f-4c1e-9f61-2a5d1f0c9e3a"
ODD = [" ab1 ", "\x1cq\x1c", "ß", "ǆ", "kr-h100-000001", "\u3000x\u3000"]


def ship(serials: Any) -> dict[str, Any]:
    return dict(batch_id=BATCH, shipment_id="S", destination_country="KR", serials=serials)


def test_a_list_of_serials_is_normalised_as_each_serial_alone_would_be() -> None:
    command = c.parse(c.Ship, ship(ODD))
    alone = [c.parse(c.UnitIdentity, {"serial": s}).serial for s in ODD]

    assert command.serials == alone == [normalise_serial(s) for s in ODD]


def test_each_bad_serial_in_a_list_is_named_with_its_rule() -> None:
    with pytest.raises(InvalidField) as info:
        c.parse(c.Ship, ship(["ok", "x" * 65, "", "  ", 5]))

    assert info.value.violations == [
        ("serials.1", "String should have at most 64 characters"),
        ("serials.2", "String should have at least 1 character"),
        ("serials.3", "String should have at least 1 character"),
        ("serials.4", "Input should be a valid string"),
    ]


def test_the_list_rules_still_hold_for_lists_of_serials() -> None:
    with pytest.raises(InvalidField) as too_many:
        c.parse(c.Ship, ship(["a"] * 100_001))
    with pytest.raises(InvalidField) as empty:
        c.parse(c.Install, dict(batch_id=BATCH, site_id=BATCH, placements=[{"rack": "r", "serials": []}]))
    with pytest.raises(InvalidField) as repeated:
        c.parse(c.Install, dict(batch_id=BATCH, site_id=BATCH, placements=[
            {"rack": "r", "serials": [" a1"]}, {"rack": "q", "serials": ["A1 "]}]))

    assert too_many.value.violations[0][0] == "serials"
    assert empty.value.violations[0][0] == "placements.0.serials"
    assert "repeated: ['A1']" in repeated.value.violations[0][1]


def generic_fingerprint(command: BaseModel) -> str:
    data = command.model_dump(mode="json", exclude={"request_id", "expected_version"})
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def test_a_registration_fingerprint_is_the_generic_dump_of_the_command() -> None:
    command = c.parse(c.RegisterSerials, dict(
        batch_id=BATCH, request_id="r1", occurred_at="2026-03-02T09:00:00+00:00",
        units=[{"serial": s, "gpu_uuid": f" GPU-{i} "} for i, s in enumerate(ODD)] + [{"serial": "z"}]))

    assert command.fingerprint_payload() == generic_fingerprint(command)
