"""Country groups, the destination rule and the headquarters rule (15 CFR 742.6(a)(6)(iii))."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from uuid import UUID, uuid4

import pytest

from registry.domain.classification import NOV_2023, ModelSpec, classify
from registry.domain.country_groups import (
    A5,
    D1,
    D4,
    D5,
    DEFAULT_COUNTRY_GROUPS,
    EAR_2025,
    MACAU,
    CountryGroupRegistry,
)
from registry.domain.errors import ComplianceRefusal
from registry.domain.licensing import (
    PartyFacts,
    destination_requirement,
    headquarters_check,
    license_requirements,
    require_matching_eccn,
    require_satisfied,
)

CONTROLLED = classify(ModelSpec("H100", {"fp8": Decimal(1979)}, {"fp8": 8}, Decimal(814), True), NOV_2023)
NOT_CONTROLLED = classify(ModelSpec("small", {"fp8": Decimal(100)}, {"fp8": 8}, Decimal(800), True), NOV_2023)
HQ_CITATION = "15 CFR 742.6(a)(6)(iii)(A)"


DESTINATIONS = [
    # (country, license needed?, license exceptions usable, why)
    ("KR", False, (), "Korea is in A:5 and no D group"),
    ("JP", False, (), "A:5"),
    ("CN", True, ("NAC",), "China is D:1, D:4 and D:5"),
    ("HK", True, ("NAC",), "Hong Kong is treated as China"),
    ("MO", True, ("NAC",), "Macau is named on its own"),
    ("RU", True, ("NAC",), "D:5"),
    ("AE", True, ("ACA",), "D:4 only: ACA (740.8), not NAC, is the exception outside D:5 and Macau"),
    ("VN", True, ("ACA",), "D:1 only"),
    ("IL", False, (), "D:4 but also A:6: carved out"),
    ("US", False, (), "no group listed"),
]


@pytest.mark.parametrize(
    ("country", "needed", "exceptions", "why"), DESTINATIONS, ids=[d[0] for d in DESTINATIONS]
)
def test_the_destination_rule_needs_a_license_for_d1_d4_d5_and_macau_unless_also_a5_or_a6(
    country: str, needed: bool, exceptions: tuple[str, ...], why: str
) -> None:
    req = destination_requirement(country, EAR_2025, NOV_2023)
    assert (req is not None) == needed, why
    if req is not None:
        assert req.citation == "15 CFR 742.6(a)(6)(iii)"
        assert req.license_exceptions == exceptions


def test_country_group_memberships_answer_by_group() -> None:
    assert EAR_2025.groups_of("CN") == [D1, D4, D5]
    assert EAR_2025.groups_of("KR") == [A5]
    assert EAR_2025.groups_of("MO") == [D1, D4, MACAU]
    assert EAR_2025.d5_or_macau("MO") and EAR_2025.d5_or_macau("CN") and not EAR_2025.d5_or_macau("KR")


def test_a_newer_country_group_version_applies_from_its_effective_date() -> None:
    members = dict(EAR_2025.members)
    members[D5] = EAR_2025.members[D5] | {"XX"}
    newer = replace(
        EAR_2025,
        version_id="2027",
        effective_from=datetime(2027, 1, 1, tzinfo=UTC),
        members=MappingProxyType(members),
    )
    groups = DEFAULT_COUNTRY_GROUPS.with_version(newer)
    assert not groups.in_force(datetime(2026, 6, 1, tzinfo=UTC)).d5_or_macau("XX")
    assert groups.in_force(datetime(2027, 6, 1, tzinfo=UTC)).d5_or_macau("XX")
    with pytest.raises(ComplianceRefusal):
        CountryGroupRegistry([newer]).in_force(datetime(2026, 1, 1, tzinfo=UTC))


class Parties:
    """A tiny party table for the headquarters walk."""

    def __init__(self) -> None:
        self.rows: dict[UUID, PartyFacts] = {}

    def add(self, name: str, hq: str, parent: UUID | None = None, country: str = "KR") -> UUID:
        pid = uuid4()
        self.rows[pid] = PartyFacts(pid, name, country, hq, parent)
        return pid

    def set_parent(self, pid: UUID, parent: UUID) -> None:
        self.rows[pid] = replace(self.rows[pid], ultimate_parent_id=parent)

    def lookup(self, pid: UUID) -> PartyFacts | None:
        return self.rows.get(pid)


def test_a_party_headquartered_in_korea_with_no_parent_is_not_under_the_headquarters_rule() -> None:
    p = Parties()
    check = headquarters_check(p.add("Kakao", "KR"), p.lookup, EAR_2025)
    assert not check.applies
    assert [f.name for f in check.chain] == ["Kakao"]


def test_a_party_itself_headquartered_in_d5_is_under_the_headquarters_rule() -> None:
    p = Parties()
    check = headquarters_check(p.add("Shenzhen Cloud", "CN", country="KR"), p.lookup, EAR_2025)
    assert check.applies
    assert check.triggered_by is not None and check.triggered_by.name == "Shenzhen Cloud"


def test_the_headquarters_rule_follows_a_chain_of_parents_to_a_d5_ultimate_parent() -> None:
    p = Parties()
    top = p.add("Mainland Holdings", "CN", country="CN")
    mid = p.add("Seoul Holdco", "KR", parent=top)
    sub = p.add("Pangyo Compute", "KR", parent=mid)
    check = headquarters_check(sub, p.lookup, EAR_2025)
    assert check.applies
    assert [f.name for f in check.chain] == ["Pangyo Compute", "Seoul Holdco", "Mainland Holdings"]
    assert check.triggered_by is not None and check.triggered_by.name == "Mainland Holdings"
    assert check.ultimate_parent is not None and check.ultimate_parent.party_id == top


def test_an_ultimate_parent_in_macau_triggers_the_headquarters_rule() -> None:
    p = Parties()
    sub = p.add("Busan DC", "KR", parent=p.add("Macau Gaming Group", "MO", country="MO"))
    assert headquarters_check(sub, p.lookup, EAR_2025).applies


def test_a_cycle_of_parents_stops_the_walk_and_is_recorded() -> None:
    p = Parties()
    a = p.add("A Corp", "KR")
    b = p.add("B Corp", "KR", parent=a)
    p.set_parent(a, b)
    check = headquarters_check(a, p.lookup, EAR_2025)
    assert not check.applies
    assert check.cycle_at == a
    assert [f.name for f in check.chain] == ["A Corp", "B Corp"]


def test_a_cycle_that_passes_through_a_d5_party_still_triggers_the_rule() -> None:
    p = Parties()
    a = p.add("A Corp", "KR")
    b = p.add("B Corp", "CN", parent=a)
    p.set_parent(a, b)
    check = headquarters_check(a, p.lookup, EAR_2025)
    assert check.applies and check.cycle_at == a
    assert check.to_evidence()["cycle_at"] == str(a)


def test_a_parent_that_names_no_party_is_recorded_as_missing() -> None:
    p = Parties()
    ghost = uuid4()
    check = headquarters_check(p.add("Orphan", "KR", parent=ghost), p.lookup, EAR_2025)
    assert check.missing_parent == ghost and not check.applies


def test_license_requirements_name_each_rule_with_its_citation() -> None:
    p = Parties()
    clean = p.add("Samsung", "KR")
    sub = p.add("Pangyo Compute", "KR", parent=p.add("Mainland Holdings", "CN"))
    checks = [
        ("consignee", headquarters_check(clean, p.lookup, EAR_2025)),
        ("end_user", headquarters_check(sub, p.lookup, EAR_2025)),
    ]
    reqs = license_requirements(CONTROLLED, "KR", checks, EAR_2025, NOV_2023)
    assert [(r.rule, r.citation, r.role, r.party_id) for r in reqs] == [
        ("headquarters-rule", HQ_CITATION, "end_user", sub)
    ]
    assert "Mainland Holdings" in reqs[0].detail
    both = license_requirements(CONTROLLED, "CN", checks, EAR_2025, NOV_2023)
    assert [r.rule for r in both] == ["destination-country-group", "headquarters-rule"]


def test_an_item_that_is_not_controlled_needs_no_3a090_license_anywhere() -> None:
    p = Parties()
    checks = [("end_user", headquarters_check(p.add("X", "CN"), p.lookup, EAR_2025))]
    assert license_requirements(NOT_CONTROLLED, "CN", checks, EAR_2025, NOV_2023) == []


AUTHORIZATIONS = [
    # (auth type, exception code, destination, headquarters rule?, satisfied?)
    ("license", "", "CN", True, True),
    ("no_license_required", "", "KR", False, True),
    ("no_license_required", "", "KR", True, False),
    ("no_license_required", "", "AE", False, False),
    ("license_exception", "NAC", "KR", True, True),
    ("license_exception", "ACA", "KR", True, False),
    ("license_exception", "ACA", "AE", False, True),
    ("license_exception", "ACA", "CN", False, False),
    ("license_exception", "nac", "MO", False, True),
    ("license_exception", "NAC", "AE", False, False),  # D:4 only is ACA's scope, not NAC's
    ("license_exception", "NAC", "VN", True, True),  # NAC covers a headquarters-rule entity wherever it is
    ("license_exception", "ACA", "VN", True, False),
]


@pytest.mark.parametrize(("auth_type", "code", "country", "hq", "ok"), AUTHORIZATIONS)
def test_an_authorization_satisfies_only_the_requirements_it_may_cover(
    auth_type: str, code: str, country: str, hq: bool, ok: bool
) -> None:
    p = Parties()
    party = p.add("End user", "CN" if hq else "KR")
    reqs = license_requirements(
        CONTROLLED, country, [("end_user", headquarters_check(party, p.lookup, EAR_2025))], EAR_2025, NOV_2023
    )
    if ok:
        require_satisfied(reqs, auth_type, code, "A-1")
        return
    with pytest.raises(ComplianceRefusal) as e:
        require_satisfied(reqs, auth_type, code, "A-1")
    assert e.value.rule in ("destination-country-group", "headquarters-rule")
    assert e.value.citation.startswith("15 CFR 742.6(a)(6)(iii)")


def test_the_requested_eccn_must_be_the_computed_one() -> None:
    assert require_matching_eccn(CONTROLLED, "3A090.a") == "3A090.a"
    assert require_matching_eccn(NOT_CONTROLLED, "5A992.c") == "5A992.c"
    for requested, model in (("3A090.b", CONTROLLED), ("3A090", CONTROLLED), ("3A090.a", NOT_CONTROLLED)):
        with pytest.raises(ComplianceRefusal) as e:
            require_matching_eccn(model, requested)
        assert e.value.rule == "classification-mismatch"
