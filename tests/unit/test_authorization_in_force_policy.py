"""The pure policy functions behind the refusals of an act under an authorization that no longer
covers it (registry/domain/policy.py): ``shipment_coverage_problems`` (``Ship``: validity, the
amended parties, the drawdown), ``recipient_headquarters_problem`` with the act's time (``Assign``,
``Transfer``), and ``onward_movement_problem`` with a recipient and a NAC notification's list."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from registry.domain.classification import NOV_2023, ModelSpec, classify
from registry.domain.country_groups import EAR_2025
from registry.domain.licensing import PartyFacts, headquarters_check
from registry.domain.policy import (
    AuthorizationTerms,
    drawdown_exceeded_problems,
    onward_movement_problem,
    recipient_headquarters_problem,
    shipment_coverage_problems,
)

H100 = classify(ModelSpec("H100", {"fp8": Decimal(1979)}, {"fp8": 8}, Decimal(814), True), NOV_2023)
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
BUYER, OTHER = uuid4(), uuid4()


def _license(**changes: object) -> AuthorizationTerms:
    terms = AuthorizationTerms(uuid4(), "D0000042", "license", "", START, END, destination_countries=("KR",),
                               eccns=("3A090",), consignee_ids=frozenset({BUYER}), end_user_ids=frozenset({BUYER}),
                               quantity_limit=100)
    return replace(terms, **changes)  # type: ignore[arg-type]


def _ship(terms: AuthorizationTerms, when: datetime, left_q: int | None = 10,
          left_v: Decimal | None = None) -> list[str]:
    return [p.rule for p in shipment_coverage_problems(terms, when, "KR", BUYER, BUYER, "3A090.a", left_q, left_v)]


@pytest.mark.parametrize(
    ("terms", "when", "rules"),
    [
        (_license(), datetime(2026, 6, 1, tzinfo=UTC), []),
        (_license(), END, ["authorization-validity"]),  # valid_to is exclusive
        (_license(), datetime(2025, 12, 31, tzinfo=UTC), ["authorization-validity"]),
        (_license(consignee_ids=frozenset({OTHER})), datetime(2026, 6, 1, tzinfo=UTC), ["authorization-consignee"]),
        (_license(end_user_ids=frozenset({OTHER})), datetime(2026, 6, 1, tzinfo=UTC), ["authorization-end-user"]),
        (_license(destination_countries=("JP",)), datetime(2026, 6, 1, tzinfo=UTC), ["authorization-destination"]),
        (_license(consignee_ids=frozenset(), end_user_ids=frozenset()), datetime(2026, 6, 1, tzinfo=UTC), []),
    ],
)
def test_a_shipment_is_refused_exactly_when_the_authorization_as_it_stands_then_does_not_cover_it(
    terms: AuthorizationTerms, when: datetime, rules: list[str]
) -> None:
    assert _ship(terms, when) == rules


def test_an_expired_authorization_says_so_in_the_facts() -> None:
    [problem] = shipment_coverage_problems(_license(), datetime(2027, 1, 15, tzinfo=UTC), "KR", BUYER, BUYER,
                                           "3A090.a", 10, None)
    assert problem.facts["state"] == "expired" and problem.facts["authorization"] == "D0000042"
    assert problem.facts["valid_to"] == END.isoformat()


@pytest.mark.parametrize(
    ("left_q", "left_v", "rules"),
    [
        (0, Decimal(0), []),  # drawn to exactly the limit: within it
        (None, None, []),  # no limits
        (-1, None, ["authorization-quantity"]),
        (5, Decimal("-0.01"), ["authorization-value"]),
        (-3, Decimal(-1), ["authorization-quantity", "authorization-value"]),
    ],
)
def test_a_drawdown_beyond_a_limit_refuses_the_shipment(
    left_q: int | None, left_v: Decimal | None, rules: list[str]
) -> None:
    terms = _license(value_limit=Decimal(1000))
    assert [p.rule for p in drawdown_exceeded_problems(terms, left_q, left_v)] == rules
    assert _ship(terms, datetime(2026, 6, 1, tzinfo=UTC), left_q, left_v) == rules


# ------------------------------------------------------------ headquarters rule on an act
class _Parties:
    def __init__(self) -> None:
        self.rows: dict[UUID, PartyFacts] = {}

    def add(self, name: str, hq: str, parent: UUID | None = None) -> UUID:
        pid = uuid4()
        self.rows[pid] = PartyFacts(pid, name, hq, hq, parent, None)
        return pid


def test_a_license_naming_a_headquarters_rule_party_covers_an_act_only_while_valid() -> None:
    parties = _Parties()
    sub = parties.add("Pangyo Compute", "KR", parties.add("Mainland Holdings", "CN"))
    check = headquarters_check(sub, parties.rows.get, EAR_2025)
    terms = _license(end_user_ids=frozenset({sub}))
    assert recipient_headquarters_problem(H100, check, "assignee", terms, NOV_2023) is None  # a holding
    assert recipient_headquarters_problem(H100, check, "assignee", terms, NOV_2023,
                                          datetime(2026, 6, 1, tzinfo=UTC)) is None
    late = recipient_headquarters_problem(H100, check, "assignee", terms, NOV_2023, END)
    assert late is not None and late.rule == "headquarters-rule" and "not valid at 2027-01-01" in late.detail
    assert late.facts["valid_to"] == END.isoformat()
    nac = replace(terms, auth_type="license_exception", exception_code="NAC", number="NAC-1")
    assert recipient_headquarters_problem(H100, check, "new owner", nac, NOV_2023, END) is not None
    assert recipient_headquarters_problem(H100, check, "new owner", nac, NOV_2023,
                                          datetime(2026, 6, 1, tzinfo=UTC)) is None


# --------------------------------------------------------------------------------- reexports
def test_a_reexport_to_a_headquarters_rule_recipient_needs_an_authorization_naming_it_wherever_it_is() -> None:
    parties = _Parties()
    tokyo = parties.add("Tokyo Subsidiary", "JP", parties.add("Mainland Holdings", "CN"))
    osaka = parties.add("Osaka Compute", "JP")
    when = datetime(2026, 6, 1, tzinfo=UTC)
    lic = _license(destination_countries=("KR", "JP"))

    def flagged(terms: AuthorizationTerms | None, recipient: UUID) -> str | None:
        check = headquarters_check(recipient, parties.rows.get, EAR_2025)
        problem = onward_movement_problem(H100, "reexport", "JP", EAR_2025, NOV_2023, terms,
                                          [("recipient", check)], when)
        return problem.facts["requirement"] if problem is not None else None

    assert flagged(lic, osaka) is None  # Japan needs no license and Osaka is not under the rule
    assert flagged(lic, tokyo) == "headquarters-rule"  # the license does not name it
    assert flagged(replace(lic, end_user_ids=frozenset({BUYER, tokyo})), tokyo) is None
    aca = replace(lic, auth_type="license_exception", exception_code="ACA", number="")
    assert flagged(aca, tokyo) == "headquarters-rule"  # ACA never covers the headquarters rule
    nac = replace(lic, auth_type="license_exception", exception_code="NAC", number="NAC-1")
    assert flagged(nac, tokyo) == "headquarters-rule"  # notified, but not for this party
    assert flagged(replace(nac, consignee_ids=frozenset({tokyo})), tokyo) is None  # notified for it
    assert flagged(None, tokyo) == "headquarters-rule"


def test_a_reexport_under_an_authorization_no_longer_valid_is_flagged() -> None:
    lic = _license(destination_countries=("KR", "CN"))
    assert onward_movement_problem(H100, "reexport", "CN", EAR_2025, NOV_2023, lic, (),
                                   datetime(2026, 6, 1, tzinfo=UTC)) is None
    problem = onward_movement_problem(H100, "reexport", "CN", EAR_2025, NOV_2023, lic, (), END)
    assert problem is not None and "is not valid at 2027-01-01 (valid 2026-01-01 to 2027-01-01)" in problem.detail


def test_a_nac_notification_covers_only_the_destinations_it_lists() -> None:
    nac = _license(auth_type="license_exception", exception_code="NAC", number="NAC-1",
                   destination_countries=("KR", "CN"))
    assert onward_movement_problem(H100, "reexport", "CN", EAR_2025, NOV_2023, nac) is None
    problem = onward_movement_problem(H100, "reexport", "MO", EAR_2025, NOV_2023, nac)
    assert problem is not None
    assert "license exception NAC notification NAC-1 does not list MO (it lists KR, CN)" in problem.detail
