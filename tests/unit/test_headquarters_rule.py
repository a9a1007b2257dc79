"""The headquarters rule as 15 CFR 742.6(a)(6)(iii) writes it: the entity's own headquarters and
its ultimate parent's headquarters, in D:5 or Macau. An intermediate owner there is a red flag to
review (rule ``headquarters-intermediate-owner``), not the rule."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from registry.domain.classification import NOV_2023
from registry.domain.country_groups import EAR_2025
from registry.domain.licensing import ENTITY, ULTIMATE_PARENT, PartyFacts, headquarters_check, headquarters_requirement
from registry.domain.policy import intermediate_owner_problem


class Parties:
    def __init__(self) -> None:
        self.rows: dict[UUID, PartyFacts] = {}

    def add(self, name: str, hq: str, immediate: UUID | None = None, ultimate: UUID | None = None) -> UUID:
        pid = uuid4()
        self.rows[pid] = PartyFacts(pid, name, "KR", hq, immediate, ultimate)
        return pid

    def lookup(self, pid: UUID) -> PartyFacts | None:
        return self.rows.get(pid)


def chain(entity_hq: str, intermediate_hq: str, ultimate_hq: str, named_ultimate: bool) -> tuple[Parties, UUID]:
    """entity -> intermediate owner -> ultimate parent; the ultimate parent either named on the
    entity (``ultimate_parent_id``) or only the top of the chain of immediate parents."""
    p = Parties()
    top = p.add("Top Holdings", ultimate_hq)
    mid = p.add("Middle Holdco", intermediate_hq, immediate=top)
    entity = p.add("Pangyo Compute", entity_hq, immediate=mid, ultimate=top if named_ultimate else None)
    return p, entity


# (entity HQ, intermediate owner HQ, ultimate parent HQ) -> (rule applies, deciding link, review flag)
CASES = [
    (("KR", "KR", "KR"), (False, "", False)),
    (("CN", "KR", "KR"), (True, ENTITY, False)),  # the entity itself in D:5
    (("MO", "KR", "KR"), (True, ENTITY, False)),  # the entity itself in Macau
    (("KR", "KR", "CN"), (True, ULTIMATE_PARENT, False)),  # ultimate parent in D:5
    (("KR", "KR", "MO"), (True, ULTIMATE_PARENT, False)),  # ultimate parent in Macau
    (("KR", "CN", "KR"), (False, "", True)),  # only an intermediate owner in D:5: review, not the rule
    (("KR", "MO", "US"), (False, "", True)),  # only an intermediate owner in Macau: review
    (("KR", "HK", "KR"), (False, "", True)),  # Hong Kong is treated as China
    (("CN", "CN", "CN"), (True, ENTITY, True)),  # the entity decides first; the owner is flagged too
    (("KR", "US", "DE"), (False, "", False)),  # elsewhere throughout
]


@pytest.mark.parametrize("named_ultimate", [True, False], ids=["ultimate-named", "ultimate-top-of-chain"])
@pytest.mark.parametrize(("hqs", "expected"), CASES, ids=["-".join(h) for h, _ in CASES])
def test_the_headquarters_rule_reads_the_entity_and_its_ultimate_parent_only(
    hqs: tuple[str, str, str], expected: tuple[bool, str, bool], named_ultimate: bool
) -> None:
    parties, entity = chain(*hqs, named_ultimate=named_ultimate)
    check = headquarters_check(entity, parties.lookup, EAR_2025)
    applies, decided_by, review = expected
    assert [link.relation for link in check.links] == ["entity", "intermediate owner", "ultimate parent"]
    assert (check.applies, check.decided_by, bool(check.intermediate_flags)) == (applies, decided_by, review)
    requirement = headquarters_requirement("end user", check, NOV_2023)
    assert (requirement is not None) == applies
    if requirement is not None:
        assert requirement.rule == "headquarters-rule" and requirement.citation == "15 CFR 742.6(a)(6)(iii)(A)"
    problem = intermediate_owner_problem(check, "end user")
    assert (problem is not None) == review
    if problem is not None:
        assert problem.rule == "headquarters-intermediate-owner" and problem.citation
        assert problem.facts["intermediate_party_ids"] == str(check.chain[1].party_id)


def test_a_named_ultimate_parent_that_has_a_parent_of_its_own_is_an_intermediate_owner() -> None:
    p = Parties()
    top = p.add("Beijing Group", "CN")
    named = p.add("Seoul Holdings", "KR", immediate=top)
    entity = p.add("Pangyo Compute", "KR", ultimate=named)
    check = headquarters_check(entity, p.lookup, EAR_2025)
    assert [(f.name, link.relation) for f, link in zip(check.chain, check.links, strict=True)] == [
        ("Pangyo Compute", "entity"), ("Seoul Holdings", "intermediate owner"), ("Beijing Group", "ultimate parent"),
    ]
    assert check.applies and check.decided_by == ULTIMATE_PARENT


def test_a_direct_parent_in_d5_with_no_further_owner_is_the_ultimate_parent() -> None:
    p = Parties()
    entity = p.add("Pangyo Compute", "KR", immediate=p.add("Mainland Holdings", "CN"))
    check = headquarters_check(entity, p.lookup, EAR_2025)
    assert check.applies and check.decided_by == ULTIMATE_PARENT and not check.intermediate_flags


def test_the_evidence_names_each_links_relation_and_the_deciding_link() -> None:
    parties, entity = chain("KR", "CN", "MO", named_ultimate=True)
    evidence = headquarters_check(entity, parties.lookup, EAR_2025).to_evidence()
    assert [(x["relation"], x["d5_or_macau"]) for x in evidence["chain"]] == [
        ("entity", False), ("intermediate owner", True), ("ultimate parent", True),
    ]
    assert evidence["decided_by"] == "ultimate parent" and evidence["applies"] is True
    assert [x["name"] for x in evidence["intermediate_flags"]] == ["Middle Holdco"]
