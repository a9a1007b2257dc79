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
    def ultimate_parent_id(self) -> UUID | None: ...


@dataclass(frozen=True)
class PartyFacts:
    party_id: UUID
    name: str
    country: str
    headquarters_country: str
    ultimate_parent_id: UUID | None

    @classmethod
    def of(cls, party: PartyLike) -> PartyFacts:
        return cls(party.id, party.name, party.country, party.headquarters_country, party.ultimate_parent_id)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "party_id": str(self.party_id),
            "name": self.name,
            "country": self.country,
            "headquarters_country": self.headquarters_country,
        }


PartyLookup = Callable[[UUID], PartyFacts | None]


@dataclass(frozen=True)
class HeadquartersCheck:
    """The headquarters rule applied to one party, following its chain of ultimate parents."""

    party_id: UUID
    chain: tuple[PartyFacts, ...]  # the party first, then each parent in turn
    groups_version: str
    triggered_by: PartyFacts | None  # the first in the chain headquartered in D:5 or Macau
    cycle_at: UUID | None = None  # a parent id met twice (the chain stops there)
    missing_parent: UUID | None = None  # a parent id that names no party

    @property
    def applies(self) -> bool:
        return self.triggered_by is not None

    @property
    def ultimate_parent(self) -> PartyFacts | None:
        return self.chain[-1] if len(self.chain) > 1 else None

    def to_evidence(self) -> dict[str, Any]:
        return {
            "party_id": str(self.party_id),
            "chain": [p.to_evidence() for p in self.chain],
            "country_groups_version": self.groups_version,
            "applies": self.applies,
            "triggered_by": self.triggered_by.to_evidence() if self.triggered_by else None,
            "cycle_at": str(self.cycle_at) if self.cycle_at else None,
            "missing_parent": str(self.missing_parent) if self.missing_parent else None,
        }


def headquarters_check(party_id: UUID, lookup: PartyLookup, groups: CountryGroups) -> HeadquartersCheck:
    """Follow ``ultimate_parent_id`` from ``party_id``; the rule applies if any link is headquartered
    in D:5 or Macau. A cycle or a missing parent stops the walk and is recorded, not raised."""
    chain: list[PartyFacts] = []
    seen: set[UUID] = set()
    cycle_at: UUID | None = None
    missing: UUID | None = None
    current: UUID | None = party_id
    while current is not None:
        if current in seen or len(chain) >= MAX_CHAIN:
            cycle_at = current
            break
        facts = lookup(current)
        if facts is None:
            missing = current
            break
        seen.add(current)
        chain.append(facts)
        current = facts.ultimate_parent_id
    triggered = next((p for p in chain if groups.d5_or_macau(p.headquarters_country)), None)
    return HeadquartersCheck(
        party_id=party_id,
        chain=tuple(chain),
        groups_version=groups.version_id,
        triggered_by=triggered,
        cycle_at=cycle_at,
        missing_parent=missing,
    )


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
    relation = "is headquartered" if via.party_id == check.party_id else f"has ultimate parent {via.name} headquartered"
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


def require_satisfied(
    requirements: Sequence[LicenseRequirement], auth_type: str, exception_code: str, auth_label: str
) -> None:
    """Raise :class:`ComplianceRefusal` naming the first requirement the authorization does not meet."""
    for req in requirements:
        if authorization_satisfies(auth_type, exception_code, req):
            continue
        if auth_type == "license_exception":
            why = (
                f"license exception {exception_code or '(none)'} is not available for this case; "
                f"usable: {', '.join(req.license_exceptions) or 'none'} or a license"
            )
        else:
            why = f"authorization {auth_label} is {auth_type}, but a license is required"
        raise ComplianceRefusal(req.rule, f"{req.detail}; {why}", citation=req.citation)


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
    )
