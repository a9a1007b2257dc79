"""Where a license is needed for a controlled GPU: destination groups and the headquarters rule.

Pure code. Inputs are plain facts (a classification, a destination, parties with their ultimate
parents and headquarters countries, a country-group version, a ruleset); outputs say which rule
requires a license, with its citation, so a refusal or an evidence record can name it.

* Destination rule (15 CFR 742.6(a)(6)(iii)): a 3A090/4A090 item needs a license to a destination
  in Country Group D:1, D:4 or D:5, or Macau, unless the destination is also in A:5 or A:6.
* Headquarters rule (15 CFR 742.6(a)(6)(iii)(A), created in 744.23(a)(3) in Nov 2023): a license is
  needed to ANY destination, in-country transfers and assignments included, when the item is for
  an entity headquartered in, or whose ultimate parent is headquartered in, Macau or a D:5 country.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from registry.domain.classification import Classification, Ruleset
from registry.domain.country_groups import D5, MACAU, CountryGroups
from registry.domain.errors import ComplianceRefusal

MAX_CHAIN = 64  # a longer ownership chain than this is treated as a data error


class PartyLike(Protocol):
    """What the rules read from a party (``registry.domain.reference.Party``)."""

    @property
    def id(self) -> UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def headquarters_country(self) -> str: ...
    @property
    def immediate_parent_id(self) -> UUID | None: ...
    @property
    def ultimate_parent_id(self) -> UUID | None: ...


@dataclass(frozen=True)
class PartyFacts:
    """A party as the headquarters rule reads it.

    ``headquarters_country`` is the party's OWN headquarters; ``immediate_parent_id`` its direct
    owner; ``ultimate_parent_id`` its ultimate parent when the party names it (None: the top of the
    chain of immediate parents is the ultimate parent).
    """

    party_id: UUID
    name: str
    country: str
    headquarters_country: str
    immediate_parent_id: UUID | None = None
    ultimate_parent_id: UUID | None = None

    @classmethod
    def of(cls, party: PartyLike) -> PartyFacts:
        return cls(party.id, party.name, party.country, party.headquarters_country,
                   party.immediate_parent_id, party.ultimate_parent_id)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "party_id": str(self.party_id),
            "name": self.name,
            "country": self.country,
            "headquarters_country": self.headquarters_country,
        }


PartyLookup = Callable[[UUID], PartyFacts | None]

ENTITY = "entity"
INTERMEDIATE = "intermediate owner"
ULTIMATE_PARENT = "ultimate parent"


@dataclass(frozen=True)
class OwnershipLink:
    """One party of a headquarters walk, its relation to the party checked, and the group test."""

    facts: PartyFacts
    relation: str  # ENTITY, INTERMEDIATE or ULTIMATE_PARENT
    d5_or_macau: bool

    def to_evidence(self) -> dict[str, Any]:
        return {**self.facts.to_evidence(), "relation": self.relation, "d5_or_macau": self.d5_or_macau}


@dataclass(frozen=True)
class HeadquartersCheck:
    """The headquarters rule (15 CFR 742.6(a)(6)(iii)) applied to one party.

    The rule names two headquarters: the entity's own, and its ultimate parent's. Intermediate
    owners are shown (a D:5 or Macau intermediate is a diversion red flag for review, rule
    ``headquarters-intermediate-owner``) but do not decide.
    """

    party_id: UUID
    links: tuple[OwnershipLink, ...]  # the entity, its intermediate owners, its ultimate parent last
    groups_version: str
    cycle_at: UUID | None = None  # a parent id met twice (the walk stops there)
    missing_parent: UUID | None = None  # a parent id that names no party

    @property
    def chain(self) -> tuple[PartyFacts, ...]:
        return tuple(link.facts for link in self.links)

    @property
    def deciding_link(self) -> OwnershipLink | None:
        """The link that makes the rule apply: the entity itself, else its ultimate parent."""
        return next(
            (link for link in self.links if link.relation != INTERMEDIATE and link.d5_or_macau), None
        )

    @property
    def triggered_by(self) -> PartyFacts | None:
        link = self.deciding_link
        return link.facts if link is not None else None

    @property
    def decided_by(self) -> str:
        """The relation of the deciding link (``entity`` or ``ultimate parent``); empty if none."""
        link = self.deciding_link
        return link.relation if link is not None else ""

    @property
    def applies(self) -> bool:
        return self.deciding_link is not None

    @property
    def ultimate_parent(self) -> PartyFacts | None:
        last = self.links[-1] if self.links else None
        return last.facts if last is not None and last.relation == ULTIMATE_PARENT else None

    @property
    def intermediate_flags(self) -> tuple[PartyFacts, ...]:
        """Intermediate owners headquartered in D:5 or Macau (for review, not the rule)."""
        return tuple(link.facts for link in self.links if link.relation == INTERMEDIATE and link.d5_or_macau)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "party_id": str(self.party_id),
            "chain": [link.to_evidence() for link in self.links],
            "country_groups_version": self.groups_version,
            "applies": self.applies,
            "decided_by": self.decided_by,
            "triggered_by": self.triggered_by.to_evidence() if self.triggered_by else None,
            "intermediate_flags": [p.to_evidence() for p in self.intermediate_flags],
            "cycle_at": str(self.cycle_at) if self.cycle_at else None,
            "missing_parent": str(self.missing_parent) if self.missing_parent else None,
        }


def headquarters_check(party_id: UUID, lookup: PartyLookup, groups: CountryGroups) -> HeadquartersCheck:
    """The headquarters rule for ``party_id``: its own headquarters and its ultimate parent's.

    The ultimate parent is found by following, from each party, its named ultimate parent if it
    has one, else its immediate parent, to the top (a named ultimate parent that has a parent of
    its own is not the top). The intermediate owners are the entity's chain of immediate parents
    below the ultimate parent and any party passed on the way to it. A cycle or a missing parent
    stops the walk and is recorded, not raised; the last party reached is then treated as the
    ultimate parent (the conservative reading of an incomplete chain).
    """
    entity = lookup(party_id)
    if entity is None:
        return HeadquartersCheck(party_id, (), groups.version_id, missing_parent=party_id)
    cycle_at: UUID | None = None
    missing: UUID | None = None
    # 1. the way to the ultimate parent
    hops: list[PartyFacts] = []
    seen: set[UUID] = {party_id}
    current = entity
    while True:
        nxt = current.ultimate_parent_id or current.immediate_parent_id
        if nxt is None:
            break
        if nxt in seen or len(hops) >= MAX_CHAIN:
            cycle_at = nxt
            break
        facts = lookup(nxt)
        if facts is None:
            missing = nxt
            break
        seen.add(nxt)
        hops.append(facts)
        current = facts
    ultimate = hops[-1] if hops else None
    # 2. the intermediate owners: the entity's immediate parents below the ultimate parent
    intermediates: list[PartyFacts] = []
    walked: set[UUID] = {party_id}
    current = entity
    while current.immediate_parent_id is not None and len(intermediates) < MAX_CHAIN:
        nxt = current.immediate_parent_id
        if nxt in walked or (ultimate is not None and nxt == ultimate.party_id):
            break
        facts = lookup(nxt)
        if facts is None:
            missing = missing or nxt
            break
        walked.add(nxt)
        intermediates.append(facts)
        current = facts
    for hop in hops[:-1]:
        if hop.party_id not in walked:
            walked.add(hop.party_id)
            intermediates.append(hop)
    links = [OwnershipLink(entity, ENTITY, groups.d5_or_macau(entity.headquarters_country))]
    links += [OwnershipLink(p, INTERMEDIATE, groups.d5_or_macau(p.headquarters_country)) for p in intermediates]
    if ultimate is not None:
        links.append(OwnershipLink(ultimate, ULTIMATE_PARENT, groups.d5_or_macau(ultimate.headquarters_country)))
    return HeadquartersCheck(
        party_id=party_id,
        links=tuple(links),
        groups_version=groups.version_id,
        cycle_at=cycle_at,
        missing_parent=missing,
    )


def chain_ids(party_id: UUID, lookup: PartyLookup) -> set[UUID]:
    """Every party whose facts can change ``party_id``'s headquarters check (itself included)."""
    out: set[UUID] = {party_id}
    todo = [party_id]
    while todo and len(out) < 4 * MAX_CHAIN:
        facts = lookup(todo.pop())
        if facts is None:
            continue
        for nxt in (facts.immediate_parent_id, facts.ultimate_parent_id):
            if nxt is not None and nxt not in out:
                out.add(nxt)
                todo.append(nxt)
    return out


@dataclass(frozen=True)
class LicenseRequirement:
    """One rule that requires a license, and the license exceptions that may replace it."""

    rule: str  # "destination-country-group" or "headquarters-rule"
    citation: str
    detail: str
    license_exceptions: tuple[str, ...]
    party_id: UUID | None = None
    role: str = ""

    def to_evidence(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "citation": self.citation,
            "detail": self.detail,
            "license_exceptions": list(self.license_exceptions),
            "party_id": str(self.party_id) if self.party_id else None,
            "role": self.role,
        }


def destination_requirement(
    destination_country: str, groups: CountryGroups, ruleset: Ruleset
) -> LicenseRequirement | None:
    member_of = groups.groups_of(destination_country)
    listed = [g for g in member_of if g in ruleset.license_groups]
    carved = [g for g in member_of if g in ruleset.carve_out_groups]
    if not listed or carved:
        return None
    exceptions = (
        ruleset.exceptions_for_d5_or_macau
        if D5 in listed or MACAU in listed
        else ruleset.exceptions_for_other_groups
    )
    shown = destination_country
    if groups.effective_country(destination_country) != destination_country:
        shown = f"{destination_country} (treated as {groups.effective_country(destination_country)})"
    return LicenseRequirement(
        rule="destination-country-group",
        citation=ruleset.destination_citation,
        detail=f"destination {shown} is in {', '.join(listed)} and not in "
        f"{' or '.join(ruleset.carve_out_groups)} (country groups {groups.version_id})",
        license_exceptions=tuple(exceptions),
    )


def headquarters_requirement(
    role: str, check: HeadquartersCheck, ruleset: Ruleset
) -> LicenseRequirement | None:
    if check.triggered_by is None:
        return None
    who = check.chain[0].name if check.chain else str(check.party_id)
    via = check.triggered_by
    relation = "is headquartered" if check.decided_by == ENTITY else f"has ultimate parent {via.name} headquartered"
    return LicenseRequirement(
        rule="headquarters-rule",
        citation=ruleset.headquarters_citation,
        detail=f"{role} {who} {relation} in {via.headquarters_country} (D:5 or Macau): "
        "a license is needed to any destination, in-country transfers and assignments included",
        license_exceptions=tuple(ruleset.exceptions_for_headquarters_rule),
        party_id=check.party_id,
        role=role,
    )


def license_requirements(
    classification: Classification,
    destination_country: str,
    parties: Iterable[tuple[str, HeadquartersCheck]],
    groups: CountryGroups,
    ruleset: Ruleset,
) -> list[LicenseRequirement]:
    """Every rule that requires a license for this item, destination and these parties.

    Empty when the item is not controlled under 3A090/4A090 (Note 2 exclusions included):
    restricted-party screening is a separate check that applies to every item.
    """
    if not classification.controlled:
        return []
    found: list[LicenseRequirement] = []
    dest = destination_requirement(destination_country, groups, ruleset)
    if dest is not None:
        found.append(dest)
    for role, check in parties:
        req = headquarters_requirement(role, check, ruleset)
        if req is not None:
            found.append(req)
    return found


def authorization_satisfies(auth_type: str, exception_code: str, requirement: LicenseRequirement) -> bool:
    """A license satisfies every requirement; a license exception only those that allow it;
    a no-license-required determination none."""
    if auth_type == "license":
        return True
    if auth_type == "license_exception":
        return exception_code.strip().upper() in requirement.license_exceptions
    return False


def unmet_requirements(
    requirements: Sequence[LicenseRequirement], auth_type: str, exception_code: str
) -> list[LicenseRequirement]:
    """The requirements of one export the authorization does not meet, each exception held to its
    own scope (15 CFR 740.8): a license meets every one; a license exception meets those that allow
    it, and an exception that meets a headquarters-rule requirement of the same export (NAC: for an
    entity headquartered, or whose ultimate parent is, in D:5 or Macau, wherever located) also
    meets its destination requirement; no-license-required meets none."""
    covers_entity = any(
        r.rule == "headquarters-rule" and authorization_satisfies(auth_type, exception_code, r)
        for r in requirements
    )
    return [
        r for r in requirements
        if not authorization_satisfies(auth_type, exception_code, r)
        and not (covers_entity and r.rule == "destination-country-group")
    ]


def require_satisfied(
    requirements: Sequence[LicenseRequirement], auth_type: str, exception_code: str, auth_label: str
) -> None:
    """Raise :class:`ComplianceRefusal` naming the first requirement the authorization does not meet."""
    for req in unmet_requirements(requirements, auth_type, exception_code):
        if auth_type == "license_exception":
            why = (
                f"license exception {exception_code or '(none)'} is not available for this case; "
                f"usable: {', '.join(req.license_exceptions) or 'none'} or a license"
            )
        else:
            why = f"authorization {auth_label} is {auth_type}, but a license is required"
        facts = {"auth_type": auth_type, "exception_code": exception_code, "authorization": auth_label,
                 "usable_exceptions": ",".join(req.license_exceptions), "role": req.role,
                 "party_id": str(req.party_id) if req.party_id else ""}
        raise ComplianceRefusal(req.rule, f"{req.detail}; {why}", citation=req.citation, facts=facts)


def require_matching_eccn(classification: Classification, requested_eccn: str) -> str:
    """The ECCN a clearance is granted under: the computed one, which the request must state.

    A controlled model must be requested under exactly its computed ECCN; a model that is not
    controlled (or excluded by Note 2) must not be requested under 3A090/4A090. Returns the ECCN
    to record, or raises ``classification-mismatch``.
    """
    computed = classification.eccn
    if computed:
        if requested_eccn == computed:
            return computed
        why = f"it classifies as {computed}"
    else:
        if not requested_eccn.startswith(("3A090", "4A090")):
            return requested_eccn
        why = f"it is {classification.status.value.replace('_', ' ')} under 3A090/4A090"
    figures = f"TPP {classification.tpp}"
    if classification.performance_density is not None:
        figures += f", PD {classification.performance_density}"
    raise ComplianceRefusal(
        "classification-mismatch",
        f"the clearance request states ECCN {requested_eccn or '(none)'} but {why} under ruleset "
        f"{classification.ruleset_id} ({figures}); request the clearance again with the computed ECCN "
        "or correct the model's data",
        citation=classification.ruleset_citation,
        facts={"requested_eccn": requested_eccn, "computed_eccn": computed or "",
               "status": classification.status.value, "ruleset": classification.ruleset_id,
               "tpp": str(classification.tpp),
               "performance_density": str(classification.performance_density or "")},
    )
