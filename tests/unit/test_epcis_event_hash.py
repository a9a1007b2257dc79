"""The registry's EPCIS event hash equals GS1's reference implementation on GS1's own examples."""

from __future__ import annotations

import pytest

from registry.epcis.event_hash import canonical_time, canonical_value, event_id, pre_hash
from tests.epcis_support.gs1 import example, reference_event_ids, reference_pre_hashes


def _prefixes(document: dict) -> dict[str, str]:
    return {k: v for c in document["@context"] if isinstance(c, dict) for k, v in c.items()}


@pytest.mark.parametrize(
    "name",
    [
        "Example_9.6.1-ObjectEvent.jsonld",
        "Example_9.6.2-ObjectEvent.jsonld",
        "Example_9.6.1-ObjectEventWithDigitalLink.jsonld",
    ],
)
def test_event_ids_of_gs1_examples_equal_the_reference_implementations(name: str) -> None:
    document = example(name)
    events = document["epcisBody"]["eventList"]
    assert [pre_hash(e, _prefixes(document)) for e in events] == reference_pre_hashes(document)
    assert [event_id(e, _prefixes(document)) for e in events] == reference_event_ids(document)


def test_event_times_are_compared_in_utc_at_millisecond_precision() -> None:
    assert canonical_time("2005-04-03T20:33:31.116000-06:00") == "2005-04-04T02:33:31.116Z"
    assert canonical_time("2026-03-02T09:00:00Z") == "2026-03-02T09:00:00.000Z"


def test_gs1_keys_and_cbv_urns_are_canonicalised_and_private_uris_kept() -> None:
    assert canonical_value("urn:epc:id:sgtin:0614141.107346.2017") == "https://id.gs1.org/01/10614141073464/21/2017"
    assert canonical_value("urn:epc:id:sgln:0614141.07346.0") == "https://id.gs1.org/414/0614141073467"
    assert canonical_value("urn:epcglobal:cbv:bizstep:shipping") == "https://ref.gs1.org/cbv/BizStep-shipping"
    assert canonical_value("https://id.gpureg.example/gpu/1652A0") == "https://id.gpureg.example/gpu/1652A0"
    assert canonical_value("+072.0") == "72"


def test_a_changed_field_changes_the_event_id_and_the_record_time_does_not() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-02T09:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": ["https://id.gpureg.example/gpu/1"],
    }
    same = {**event, "recordTime": "2026-03-09T09:00:00.000Z", "eventID": "ni:///whatever"}
    other = {**event, "bizStep": "receiving"}
    assert event_id(event) == event_id(same)
    assert event_id(event) != event_id(other)
