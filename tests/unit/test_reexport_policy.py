"""The pure policy functions behind ``reexport-not-authorized`` and the intermediate consignees'
``authorization-consignee`` (registry/domain/policy.py): one answer for the command side and the
compliance projection, whatever the authorization."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from registry.domain.classification import NOV_2023, ModelSpec, classify
from registry.domain.country_groups import EAR_2025
from registry.domain.policy import AuthorizationTerms, intermediate_consignee_problem, onward_movement_problem

H100 = classify(ModelSpec("H100", {"fp8": Decimal(1979)}, {"fp8": 8}, Decimal(814), True), NOV_2023)


def _terms(auth_type: str = "license", countries: tuple[str, ...] = ("KR",), code: str = "",
           consignee_ids: frozenset[UUID] = frozenset(), end_user_ids: frozenset[UUID] = frozenset()) -> AuthorizationTerms:
    return AuthorizationTerms(uuid4(), "L-1" if auth_type == "license" else "", auth_type, code,
                              datetime(2026, 1, 1, tzinfo=UTC), None, destination_countries=countries,
                              consignee_ids=consignee_ids, end_user_ids=end_user_ids)


@pytest.mark.parametrize(
    ("kind", "country", "terms", "flagged"),
    [
        ("reexport", "CN", _terms(), True),  # D:5, license for KR only
        ("reexport", "CN", _terms(countries=("KR", "CN")), False),  # the license lists it
        ("transshipment", "MO", _terms("license_exception", ("KR", "MO"), "NAC"), False),  # NAC for Macau
        ("transshipment", "MO", _terms("license_exception", code="NAC"), True),  # not notified for Macau
        ("reexport", "CN", _terms("license_exception", code="ACA"), True),  # ACA not for D:5
        ("reexport", "AE", _terms("license_exception", ("KR", "AE"), "ACA"), False),  # ACA for D:4 only
        ("reexport", "AE", _terms("license_exception", code="ACA"), False),  # ACA is not notified: no list
        ("reexport", "VN", _terms("license_exception", code="NAC"), True),  # NAC not for D:1 only (740.8)
        ("transshipment", "AE", _terms("license_exception", code="NAC"), True),  # nor for D:4 only
        ("reexport", "CN", _terms("license_exception", ("KR", "CN"), "NAC"), False),  # NAC for D:5
        ("reexport", "CN", _terms("license_exception", code="NAC"), True),  # NAC notified for KR only
        ("reexport", "AE", _terms("no_license_required"), True),  # NLR covers no licensed destination
        ("reexport", "AE", None, True),  # no authorization
        ("reexport", "IL", _terms(), False),  # D:4 but A:6: carved out
        ("reexport", "JP", _terms(), False),  # in no D group
        ("diversion", "CN", _terms(), False),  # units-diverted's, not this rule's
    ],
)
def test_a_reexport_or_transshipment_is_flagged_exactly_when_the_destination_rule_is_not_met(
    kind: str, country: str, terms: AuthorizationTerms | None, flagged: bool
) -> None:
    problem = onward_movement_problem(H100, kind, country, EAR_2025, NOV_2023, terms)
    assert (problem is not None) == flagged
    if problem is not None:
        assert problem.rule == "reexport-not-authorized" and "742.6(a)(6)(iii)" in problem.citation
        assert problem.facts["country"] == country and problem.facts["country_groups_version"] == EAR_2025.version_id


def test_an_intermediate_consignee_is_held_only_to_a_license_that_names_its_consignees() -> None:
    named, end_user, other, hub = uuid4(), uuid4(), uuid4(), uuid4()
    lic = replace(_terms(consignee_ids=frozenset({named}), end_user_ids=frozenset({end_user})),
                  intermediate_consignee_ids=frozenset({hub}))
    assert intermediate_consignee_problem(lic, hub, "intermediate_consignee_ids[0]") is None
    # named as ultimate consignee or end user only: a license names its intermediate consignees apart
    assert intermediate_consignee_problem(lic, named, "intermediate_consignee_ids[0]") is not None
    assert intermediate_consignee_problem(lic, end_user, "intermediate_consignee_ids[0]") is not None
    problem = intermediate_consignee_problem(lic, other, "intermediate_consignee_ids[2]")
    assert problem is not None and problem.rule == "authorization-consignee"
    assert problem.facts["role"] == "intermediate_consignee_ids[2]" and problem.facts["party_id"] == str(other)
    assert intermediate_consignee_problem(_terms(), other, "intermediate_consignee_ids[0]") is None  # names none
    nac = _terms("license_exception", code="NAC", consignee_ids=frozenset({named}))
    assert intermediate_consignee_problem(nac, other, "intermediate_consignee_ids[0]") is None
