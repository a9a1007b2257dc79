"""The pure policy function behind ``Ship``'s refusal of a shipment declared for a country other
than the cleared destination (``policy.shipment_destination_problem``, rule
``destination-country-group``): refused exactly when the destination rule needs a license there
and the clearance's authorization does not cover that country."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from registry.domain.classification import NOV_2023, ModelSpec, classify
from registry.domain.country_groups import EAR_2025
from registry.domain.policy import AuthorizationTerms, shipment_destination_problem

H100 = classify(ModelSpec("H100", {"fp8": Decimal(1979)}, {"fp8": 8}, Decimal(814), True), NOV_2023)
GAMING = classify(ModelSpec("gaming", {"fp8": Decimal(590)}, {"fp8": 8}, Decimal(600), False), NOV_2023)


def _terms(auth_type: str = "license", countries: tuple[str, ...] = ("KR",), code: str = "") -> AuthorizationTerms:
    return AuthorizationTerms(uuid4(), "L-1" if auth_type == "license" else "", auth_type, code,
                              datetime(2026, 1, 1, tzinfo=UTC), None, destination_countries=countries)


@pytest.mark.parametrize(
    ("country", "terms", "refused"),
    [
        ("KR", _terms(), False),  # the cleared destination
        ("CN", _terms(), True),  # D:5, a license for Korea only
        ("HK", _terms(), True),  # treated as China
        ("CN", _terms(countries=("KR", "CN")), False),  # the license lists it
        ("AE", _terms("license_exception", ("KR", "AE"), "ACA"), False),  # ACA allowed for D:4 only
        ("CN", _terms("license_exception", ("KR", "CN"), "ACA"), True),  # ACA not for D:5
        ("AE", _terms("no_license_required", ("KR", "AE")), True),  # NLR covers no licensed destination
        ("AE", None, True),  # no authorization
        ("JP", _terms(), False),  # in no D group: location-not-authorized is a finding, not this rule
        ("IL", _terms(), False),  # D:4 but A:6
        ("", _terms(), False),  # no country declared
    ],
)
def test_a_shipment_elsewhere_than_the_cleared_destination_is_refused_exactly_when_it_needs_a_license_not_held(
    country: str, terms: AuthorizationTerms | None, refused: bool
) -> None:
    problem = shipment_destination_problem(H100, country, "KR", EAR_2025, NOV_2023, terms)
    assert (problem is not None) == refused
    if problem is not None:
        assert problem.rule == "destination-country-group" and "742.6(a)(6)(iii)" in problem.citation
        assert problem.facts["destination_country"] == country and problem.facts["cleared_destination"] == "KR"


def test_an_item_note_2_excludes_is_never_refused_for_its_destination() -> None:
    assert shipment_destination_problem(GAMING, "CN", "KR", EAR_2025, NOV_2023, _terms()) is None
