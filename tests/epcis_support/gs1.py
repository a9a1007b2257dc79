"""GS1's published EPCIS 2.0 material kept as test data (tests/data/epcis, see NOTICE there) and
GS1's reference event-hash implementation, for comparing the registry's output with them."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

DATA = Path(__file__).resolve().parent.parent / "data" / "epcis"
EXAMPLES = DATA / "examples"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)  # draft-07, as the schema declares
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # uri, date-time formats checked


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Each violation of GS1's EPCIS 2.0 JSON schema, with its path (empty: valid)."""
    return [f"{list(e.absolute_path)}: {e.message[:300]}" for e in _validator().iter_errors(document)]


def reference_event_ids(document: dict[str, Any]) -> list[str]:
    """The eventIDs GS1's reference implementation (epcis-event-hash-generator) computes."""
    from epcis_event_hash_generator import hash_generator, json_to_py

    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    return list(hash_generator.epcis_hashes_from_events(events))


def reference_pre_hashes(document: dict[str, Any]) -> list[str]:
    from epcis_event_hash_generator import hash_generator, json_to_py

    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    return list(hash_generator.derive_prehashes_from_events(events))


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded
