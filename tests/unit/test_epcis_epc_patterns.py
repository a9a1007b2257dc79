"""EPCIS 2.0 section 8.2.7.1.1: MATCH_ parameters match identifiers in either GS1 spelling and
EPC pure identity patterns (``urn:epc:idpat:sgtin:CompanyPrefix.ItemRef.*``), as the query
(:func:`registry.epcis.query.matcher`) applies them to events."""

from __future__ import annotations

from typing import Any

import pytest

from registry.domain.errors import InvalidField
from registry.epcis.epc_patterns import canonical, compile_values
from registry.epcis.query import DEFAULT_PER_PAGE, matcher, page_size

SGTIN = "urn:epc:id:sgtin:0614141.107346.2017"
SGTIN_DL = "https://id.gs1.org/01/10614141073464/21/2017"  # the same GPU in Digital Link form
OTHER_ITEM = "urn:epc:id:sgtin:0614141.107347.1"
OTHER_COMPANY = "urn:epc:id:sgtin:0614142.107346.1"
LGTIN = "urn:epc:class:lgtin:0614141.107346.LOT7"
OWN = "https://id.gpureg.example/gpu/GPU-1"


def _object(*epcs: str, classes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-03-10T08:00:00Z",
            "epcList": list(epcs), "quantityList": [{"epcClass": c, "quantity": 1} for c in classes]}


def _selects(params: dict[str, str], event: dict[str, Any]) -> bool:
    return matcher(params)(event)


def test_an_sgtin_and_its_digital_link_form_are_one_identifier() -> None:
    assert canonical(SGTIN) == SGTIN_DL
    assert canonical("https://example.com/01/10614141073464/21/2017?17=280101") == SGTIN_DL
    assert _selects({"MATCH_epc": SGTIN}, _object(SGTIN_DL))
    assert _selects({"MATCH_epc": SGTIN_DL}, _object(SGTIN))
    assert not _selects({"MATCH_epc": SGTIN}, _object(OTHER_ITEM))


def test_an_sgtin_pattern_of_one_gtin_matches_its_serials_in_either_spelling() -> None:
    pattern = "urn:epc:idpat:sgtin:0614141.107346.*"
    for params in ({"MATCH_epc": pattern}, {"MATCH_anyEPC": pattern}):
        assert _selects(params, _object(SGTIN))
        assert _selects(params, _object(SGTIN_DL))
        assert not _selects(params, _object(OTHER_ITEM))
        assert not _selects(params, _object(OWN))
    assert _selects({"MATCH_parentID": pattern}, {"type": "AggregationEvent", "parentID": SGTIN})
    assert _selects({"MATCH_inputEPC": pattern}, {"type": "TransformationEvent", "inputEPCList": [SGTIN_DL]})
    assert not _selects({"MATCH_outputEPC": pattern}, {"type": "TransformationEvent", "inputEPCList": [SGTIN]})


def test_a_company_prefix_pattern_and_a_gtin_digital_link_uri() -> None:
    assert _selects({"MATCH_epc": "urn:epc:idpat:sgtin:0614141.*.*"}, _object(OTHER_ITEM))
    assert not _selects({"MATCH_epc": "urn:epc:idpat:sgtin:0614141.*.*"}, _object(OTHER_COMPANY))
    assert _selects({"MATCH_epc": "urn:epc:idpat:sgtin:*.*.*"}, _object(OTHER_COMPANY))
    gtin = "https://id.gs1.org/01/10614141073464"  # a GTIN, no serial: every serial of it
    assert _selects({"MATCH_epc": gtin}, _object(SGTIN))
    assert not _selects({"MATCH_epc": gtin}, _object(OTHER_ITEM))


def test_class_parameters_match_lots_and_the_gtin_class() -> None:
    pattern = "urn:epc:idpat:sgtin:0614141.107346.*"
    assert _selects({"MATCH_epcClass": pattern}, _object(classes=(LGTIN,)))
    assert _selects({"MATCH_anyEPCClass": pattern}, _object(classes=("https://id.gs1.org/01/10614141073464/10/L1",)))
    assert _selects({"MATCH_epcClass": pattern}, _object(classes=(pattern,)))  # the GTIN-level class
    assert not _selects({"MATCH_epcClass": pattern}, _object(classes=("urn:epc:class:lgtin:0614141.107347.L",)))
    assert not _selects({"MATCH_epcClass": pattern}, _object(SGTIN))  # an instance is no class
    assert _selects({"MATCH_epcClass": "https://id.gs1.org/01/10614141073464"}, _object(classes=(LGTIN,)))


def test_other_schemes_match_field_by_field_and_own_uris_exactly() -> None:
    assert _selects({"MATCH_parentID": "urn:epc:idpat:sscc:0614141.*"},
                    {"type": "AggregationEvent", "parentID": "urn:epc:id:sscc:0614141.1234567890"})
    assert not _selects({"MATCH_parentID": "urn:epc:idpat:sscc:0614142.*"},
                        {"type": "AggregationEvent", "parentID": "urn:epc:id:sscc:0614141.1234567890"})
    assert _selects({"MATCH_epc": OWN}, _object(OWN))
    assert not _selects({"MATCH_epc": OWN + "0"}, _object(OWN))


@pytest.mark.parametrize("bad", ["urn:epc:idpat:sgtin:0614141.*.2017", "urn:epc:idpat:sgtin:0614141.10734.*",
                                 "urn:epc:idpat:sgtin:06a4141.107346.*", "urn:epc:idpat:sscc:.*"])
def test_a_pattern_off_the_grammar_is_refused_naming_the_parameter(bad: str) -> None:
    with pytest.raises(InvalidField) as refused:
        matcher({"MATCH_anyEPC": bad})
    assert refused.value.violations[0][0] == "MATCH_anyEPC"
    assert "epc-pattern" in refused.value.violations[0][1]


def test_compile_values_with_only_own_uris_is_plain_membership() -> None:
    fits = compile_values({OWN}, "MATCH_epc")
    assert fits([OWN]) and not fits([SGTIN])


def test_the_default_page_is_openapi_yamls_30() -> None:
    assert DEFAULT_PER_PAGE == 30 and page_size({}) == 30
    assert page_size({"perPage": "5000"}) == 1000
