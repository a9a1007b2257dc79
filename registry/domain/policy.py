"""The compliance policy: one pure function per rule, called by both sides.

The command side (``registry.application.compliance``) refuses the FIRST problem a decision has;
the compliance projection (``projections/compliance.py``) flags EACH problem a recorded fact has.
Both call the functions here with the same rule data (``registry.domain.rule_data``) as of the
event's business time, so a rule is written once: classification (``classification.classify``),
country groups at a date (``CountryGroupRegistry.in_force``), the headquarters rule
(``licensing.headquarters_check``), screening verdicts (:func:`hit_blocks`), an authorization's
coverage (:func:`coverage_problems`, :func:`validity_problem`) and its drawdown
(:func:`draw_problems`, :func:`overdraw_problems`).

A :class:`Problem` carries the rule id, its citation (from the rule, else the catalogue
``compliance_rules.RULES``), a sentence, and the facts that decided it, so a refusal and a finding
say the same thing.

One concept: the policy both sides ask. Its functions are short and independent, but they are
kept in one module on purpose: a reader (or an auditor) checking that the grant, Ship, the
onward movements and the projection apply the same rule text finds every rule here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn, Protocol
from uuid import UUID

from registry.domain.classification import Classification, Ruleset
from registry.domain.compliance_rules import RULES
from registry.domain.country_groups import CountryGroups
from registry.domain.errors import ComplianceRefusal
from registry.domain.licensing import (
    HeadquartersCheck,
    LicenseRequirement,
    authorization_satisfies,
    headquarters_requirement,
    license_requirements,
    unmet_requirements,
)
from registry.domain.reference_codes import needs_number

BLOCKING_RESOLUTIONS = frozenset({"open", "confirmed"})


@dataclass(frozen=True)
class Problem:
    """One broken rule: what the command side raises and the projection flags."""

    rule: str
    detail: str
    citation: str = ""
    facts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.citation and self.rule in RULES:
            object.__setattr__(self, "citation", RULES[self.rule].citation)

    def refusal(self) -> ComplianceRefusal:
        return ComplianceRefusal(self.rule, self.detail, citation=self.citation, facts=self.facts)


def refuse_first(problems: Iterable[Problem]) -> None:
    """The command side: raise the first problem, if any."""
    for problem in problems:
        raise problem.refusal()


def refuse(problem: Problem) -> NoReturn:
    raise problem.refusal()


def _day(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


# ----------------------------------------------------------------------------- authorizations
class AuthorizationLike(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def number(self) -> str: ...
    @property
    def auth_type(self) -> str: ...
    @property
    def exception_code(self) -> str: ...
    @property
    def eccns(self) -> list[str]: ...
    @property
    def destination_countries(self) -> list[str]: ...
    @property
    def consignee_ids(self) -> list[UUID]: ...
    @property
    def intermediate_consignee_ids(self) -> list[UUID]: ...
    @property
    def end_user_ids(self) -> list[UUID]: ...
    @property
    def valid_from(self) -> datetime: ...
    @property
    def valid_to(self) -> datetime | None: ...
    @property
    def quantity_limit(self) -> int | None: ...
    @property
    def value_limit(self) -> Decimal | None: ...
    @property
    def currency(self) -> str: ...


@dataclass(frozen=True)
class AuthorizationTerms:
    """What the rules read from an export authorization (an aggregate or a read-model row)."""

    authorization_id: UUID
    number: str
    auth_type: str
    exception_code: str
    valid_from: datetime
    valid_to: datetime | None
    destination_countries: tuple[str, ...] = ()
    eccns: tuple[str, ...] = ()
    consignee_ids: frozenset[UUID] = frozenset()  # the ultimate consignees it names
    end_user_ids: frozenset[UUID] = frozenset()
    quantity_limit: int | None = None
    value_limit: Decimal | None = None
    currency: str = "USD"
    intermediate_consignee_ids: frozenset[UUID] = frozenset()  # the intermediate consignees it names

    @classmethod
    def of(cls, auth: AuthorizationLike) -> AuthorizationTerms:
        return cls(
            authorization_id=auth.id,
            number=auth.number,
            auth_type=auth.auth_type,
            exception_code=auth.exception_code,
            valid_from=auth.valid_from,
            valid_to=auth.valid_to,
            destination_countries=tuple(auth.destination_countries),
            eccns=tuple(auth.eccns),
            consignee_ids=frozenset(auth.consignee_ids),
            intermediate_consignee_ids=frozenset(auth.intermediate_consignee_ids),
            end_user_ids=frozenset(auth.end_user_ids),
            quantity_limit=auth.quantity_limit,
            value_limit=auth.value_limit,
            currency=auth.currency,
        )

    @property
    def names_consignees(self) -> bool:
        """The authorization names consignees (ultimate or intermediate): it then holds a
        shipment's consignees to them."""
        return bool(self.consignee_ids or self.intermediate_consignee_ids)

    @property
    def label(self) -> str:
        return self.number or self.exception_code or str(self.authorization_id)

    def is_valid_at(self, when: datetime) -> bool:
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)

    def facts(self) -> dict[str, str]:
        return {
            "authorization_id": str(self.authorization_id),
            "authorization": self.label,
            "auth_type": self.auth_type,
        }


def _validity(terms: AuthorizationTerms) -> str:
    if terms.valid_to is None:
        return f"valid from {terms.valid_from:%Y-%m-%d}"
    return f"valid {terms.valid_from:%Y-%m-%d} to {terms.valid_to:%Y-%m-%d}"


def validity_problem(terms: AuthorizationTerms, when: datetime) -> Problem | None:
    """``authorization-validity``: valid from ``valid_from`` (inclusive) to ``valid_to`` (exclusive).

    ``facts["state"]`` is ``expired`` or ``not_yet_valid``."""
    if terms.is_valid_at(when):
        return None
    expired = terms.valid_to is not None and when >= terms.valid_to
    if terms.valid_to is not None:
        detail = (f"authorization {terms.label} is valid {terms.valid_from:%Y-%m-%d} to "
                  f"{terms.valid_to:%Y-%m-%d} and not at {when:%Y-%m-%d}")
    else:
        detail = f"authorization {terms.label} is valid from {terms.valid_from:%Y-%m-%d}"
    return Problem(
        "authorization-validity", detail,
        facts={**terms.facts(), "at": when.isoformat(), "valid_from": _day(terms.valid_from),
               "valid_to": _day(terms.valid_to), "state": "expired" if expired else "not_yet_valid"},
    )


def destination_problem(terms: AuthorizationTerms, country: str) -> Problem | None:
    """``authorization-destination``: the country must be one the authorization names."""
    if country in terms.destination_countries:
        return None
    return Problem(
        "authorization-destination",
        f"destination {country} is not among authorization {terms.label}'s "
        f"{list(terms.destination_countries)}",
        facts={**terms.facts(), "destination_country": country,
               "authorized_countries": ",".join(terms.destination_countries)},
    )


def end_user_problem(terms: AuthorizationTerms, party_id: UUID | None, role: str = "end user") -> Problem | None:
    """``authorization-end-user``: when the authorization names end users, the party is one."""
    if not terms.end_user_ids or party_id in terms.end_user_ids:
        return None
    return Problem(
        "authorization-end-user",
        f"the {role} is not an end user named on authorization {terms.label}",
        facts={**terms.facts(), "party_id": str(party_id), "role": role},
    )


def coverage_problems(
    terms: AuthorizationTerms,
    when: datetime,
    destination_country: str,
    consignee_id: UUID | None,
    end_user_id: UUID | None,
    eccn: str,
) -> list[Problem]:
    """Every way the authorization fails to cover a clearance, in the order they are checked."""
    found: list[Problem | None] = [
        validity_problem(terms, when),
        destination_problem(terms, destination_country),
    ]
    if terms.names_consignees and consignee_id not in terms.consignee_ids:
        named_apart = consignee_id in terms.intermediate_consignee_ids
        found.append(Problem(
            "authorization-consignee",
            f"the ultimate consignee is not named on authorization {terms.label}"
            + (" as an ultimate consignee (it is named as an intermediate consignee)" if named_apart else ""),
            facts={**terms.facts(), "consignee_id": str(consignee_id), "role": "consignee_id"},
        ))
    found.append(end_user_problem(terms, end_user_id))
    if terms.eccns and not any(eccn.startswith(e) for e in terms.eccns):
        found.append(Problem(
            "authorization-eccn", f"ECCN {eccn} is not covered by authorization {terms.label}'s "
            f"{list(terms.eccns)}",
            facts={**terms.facts(), "eccn": eccn, "authorized_eccns": ",".join(terms.eccns)},
        ))
    return [p for p in found if p is not None]


def shipment_coverage_problems(
    terms: AuthorizationTerms,
    when: datetime,
    destination_country: str,
    consignee_id: UUID | None,
    end_user_id: UUID | None,
    eccn: str,
    remaining_quantity: int | None,
    remaining_value: Decimal | None,
) -> list[Problem]:
    """Every way the clearance's authorization, as it stands when the units leave, fails to cover
    the export: the grant's coverage again (:func:`coverage_problems`: valid at the shipment
    (``authorization-validity``, ``facts.state`` ``expired`` after ``valid_to``), the cleared
    destination, ultimate consignee, end user and ECCN still named after an amendment) and a
    drawdown beyond its limits (:func:`drawdown_exceeded_problems`). An export under an
    authorization that does not cover it is an export without one (15 CFR 736.2(b)(1), General
    Prohibition One; the terms of the license, 15 CFR 750.7): ``Ship`` refuses it, as it refuses
    a shipment needing a license the batch does not hold."""
    return [*coverage_problems(terms, when, destination_country, consignee_id, end_user_id, eccn),
            *drawdown_exceeded_problems(terms, remaining_quantity, remaining_value)]


def drawdown_exceeded_problems(
    terms: AuthorizationTerms, remaining_quantity: int | None, remaining_value: Decimal | None
) -> list[Problem]:
    """``authorization-quantity`` / ``authorization-value`` for a shipment under an authorization
    drawn beyond a limit (an amendment lowered it below what the clearances drew): the units
    drawn are no longer all within the license, and the registry cannot tell which ones are, so
    no further shipment leaves under it until the drawdown is back within the limit (a clearance
    revoked returns its unshipped units) or the license is amended again. Drawn to exactly the
    limit is within it."""
    found: list[Problem] = []
    if remaining_quantity is not None and remaining_quantity < 0:
        found.append(Problem(
            "authorization-quantity",
            f"authorization {terms.label} is drawn {-remaining_quantity} unit(s) beyond its quantity limit "
            f"{terms.quantity_limit}: no shipment leaves under it until the drawdown is within the limit",
            facts={**terms.facts(), "remaining_quantity": str(remaining_quantity),
                   "quantity_limit": str(terms.quantity_limit), "over": str(-remaining_quantity)},
        ))
    if remaining_value is not None and remaining_value < 0:
        found.append(Problem(
            "authorization-value",
            f"authorization {terms.label} is drawn {-remaining_value} {terms.currency} beyond its value limit "
            f"{terms.value_limit}: no shipment leaves under it until the drawdown is within the limit",
            facts={**terms.facts(), "remaining_value": str(remaining_value),
                   "value_limit": str(terms.value_limit), "over": str(-remaining_value)},
        ))
    return found


def shipment_recipients(
    purchaser_id: UUID | None, consignee_id: UUID | None, end_user_id: UUID | None,
    intermediate_consignee_ids: Sequence[UUID] = (),
) -> list[tuple[str, UUID]]:
    """The parties a shipment's items are for, as (role, id), each party once (its first role):
    the purchaser, the ultimate consignee, the end user and each intermediate consignee (who takes
    possession on the way, so the headquarters rule holds it like an in-country transfer). The
    forwarder and the carrier arrange or move the goods without the items being for them."""
    roles = [("purchaser", purchaser_id), ("consignee", consignee_id), ("end_user", end_user_id),
             *((f"intermediate_consignee_ids[{i}]", p) for i, p in enumerate(intermediate_consignee_ids))]
    seen: set[UUID] = set()
    out: list[tuple[str, UUID]] = []
    for role, party_id in roles:
        if party_id is not None and party_id not in seen:
            seen.add(party_id)
            out.append((role, party_id))
    return out


def intermediate_consignee_problem(terms: AuthorizationTerms, party_id: UUID, field: str) -> Problem | None:
    """``authorization-consignee`` for an intermediate consignee of a shipment: a license names
    its intermediate consignees apart from its ultimate consignees, so when it names any consignee
    (ultimate or intermediate), each intermediate consignee of a shipment must be one it names as
    an intermediate consignee; being its ultimate consignee or end user is not enough. A license
    naming no consignees, a license exception and NLR name no parties to hold it to (as
    ``coverage_problems`` holds the ultimate consignee only to a list the authorization has)."""
    if terms.auth_type != "license" or not terms.names_consignees:
        return None
    if party_id in terms.intermediate_consignee_ids:
        return None
    named = ", ".join(sorted(str(p) for p in terms.intermediate_consignee_ids)) or "none"
    also = (" (it names the party as ultimate consignee or end user only)"
            if party_id in terms.consignee_ids or party_id in terms.end_user_ids else "")
    return Problem(
        "authorization-consignee",
        f"{field}: the intermediate consignee is not named on license {terms.label} as an intermediate "
        f"consignee{also}",
        facts={**terms.facts(), "party_id": str(party_id), "role": field,
               "authorized_intermediate_consignee_ids": named},
    )


def onward_movement_problem(
    classification: Classification,
    kind: str,
    country: str,
    groups: CountryGroups,
    ruleset: Ruleset,
    terms: AuthorizationTerms | None,
    recipients: Sequence[tuple[str, HeadquartersCheck]] = (),
    when: datetime | None = None,
) -> Problem | None:
    """``reexport-not-authorized``: a known reexport of a 3A090/4A090 item to, or transshipment
    through, ``country`` that needs a license by the rules in force (``groups``, ``ruleset``),
    which the batch's authorization does not cover. The same ``license_requirements`` the
    clearance and ``Ship`` decide by:

    * the destination rule (D:1, D:4, D:5 or Macau and not also A:5 or A:6; 15 CFR
      742.6(a)(6)(iii));
    * the headquarters rule for each of ``recipients`` (the party the units were reexported to,
      when recorded: an entity headquartered, or whose ultimate parent is, in D:5 or Macau needs a
      license wherever it is; 15 CFR 742.6(a)(6)(iii)(A)).

    Covered means: each requirement met (a license; an exception only within its own scope, 15
    CFR 740.8, as :func:`licensing.unmet_requirements` holds it: NAC for D:5/Macau and for the
    headquarters rule, ACA for D:1/D:4 only; NLR or no authorization meets none), the country
    listed on the authorization and each recipient under the headquarters rule named on it (as
    consignee or end user) when the authorization lists them: a license, or a notified exception
    (NAC: its notification's destinations and parties; ACA is not notified, so it is held to its
    scope only), and the authorization valid at ``when`` (when given). A diversion is not judged
    here (``units-diverted`` already says it was not allowed)."""
    if kind not in ("reexport", "transshipment"):
        return None
    requirements = license_requirements(classification, country, recipients, groups, ruleset)
    if not requirements:
        return None
    how = "reexport to" if kind == "reexport" else "transshipment through"
    facts: dict[str, str] = {"kind": kind, "country": country, "country_groups_version": groups.version_id,
                             "destination_groups": ",".join(groups.groups_of(country)),
                             "eccn": classification.eccn or "", "ruleset": ruleset.ruleset_id}
    req, why = _onward_uncovered(terms, country, requirements, when)
    if req is None:
        return None
    facts["usable_exceptions"] = ",".join(req.license_exceptions)
    facts["requirement"] = req.rule
    if req.party_id is not None:
        facts.update(party_id=str(req.party_id), role=req.role)
    if terms is not None:
        facts.update(terms.facts())
    return Problem("reexport-not-authorized", f"{how} {country}: {req.detail}; {why}", facts=facts)


def _onward_uncovered(
    terms: AuthorizationTerms | None, country: str, requirements: Sequence[LicenseRequirement],
    when: datetime | None,
) -> tuple[LicenseRequirement | None, str]:
    """The first requirement of an onward movement the authorization leaves uncovered, and why."""
    first = requirements[0]
    if terms is None:
        return first, "the batch has no authorization"
    unmet = unmet_requirements(requirements, terms.auth_type, terms.exception_code)
    if unmet:
        req = unmet[0]
        if terms.auth_type == "license_exception":
            where = "there" if req.rule == "destination-country-group" else "for this case"
            return req, (f"license exception {terms.exception_code or '(none)'} ({terms.label}) is not available "
                         f"{where}; usable: {', '.join(req.license_exceptions) or 'none'} or a license "
                         f"listing {country}")
        return req, f"authorization {terms.label} is {terms.auth_type}, but a license listing {country} is required"
    what = (f"license {terms.label}" if terms.auth_type == "license"
            else f"license exception {terms.exception_code} notification {terms.label}")
    # ACA has no notification, so no notified destinations or parties: held to its scope (above)
    # and its validity only.
    notified = needs_number(terms.auth_type, terms.exception_code)
    if notified and country not in terms.destination_countries:
        return first, f"{what} does not list {country} (it lists {', '.join(terms.destination_countries) or 'none'})"
    for req in requirements if notified else ():
        if (req.rule == "headquarters-rule" and req.party_id is not None
                and req.party_id not in terms.end_user_ids and req.party_id not in terms.consignee_ids):
            return req, f"{what} does not name the {req.role} as consignee or end user"
    if when is not None and not terms.is_valid_at(when):
        return first, f"authorization {terms.label} is not valid at {when:%Y-%m-%d} ({_validity(terms)})"
    return None, ""


def shipment_destination_problem(classification: Classification, country: str, cleared_country: str,
                                 groups: CountryGroups, ruleset: Ruleset,
                                 terms: AuthorizationTerms | None) -> Problem | None:
    """``destination-country-group``: a shipment of a 3A090/4A090 item declared for (or to a site
    in) ``country``, not the cleared destination, where the destination rule in force needs a
    license, and the clearance's authorization does not cover that country (a license or an allowed
    exception listing it). ``Ship`` refuses it; a country that needs none is the finding
    ``location-not-authorized``."""
    requirements = (license_requirements(classification, country, (), groups, ruleset)
                    if country and country != cleared_country else [])
    if not requirements:
        return None
    req = requirements[0]
    facts: dict[str, str] = {"destination_country": country, "cleared_destination": cleared_country,
                             "country_groups_version": groups.version_id, "eccn": classification.eccn or "",
                             "destination_groups": ",".join(groups.groups_of(country)), "ruleset": ruleset.ruleset_id,
                             "usable_exceptions": ",".join(req.license_exceptions), **(terms.facts() if terms else {})}
    if terms is not None and country in terms.destination_countries and authorization_satisfies(
            terms.auth_type, terms.exception_code, req):
        return None
    why = ("the batch has no authorization" if terms is None else
           f"authorization {terms.label} ({terms.auth_type}) does not cover {country} "
           f"(it lists {', '.join(terms.destination_countries) or 'none'})")
    return Problem("destination-country-group", f"shipment to {country}, not the cleared destination "
                   f"{cleared_country or '(none)'}: {req.detail}; {why}", citation=req.citation, facts=facts)


# ----------------------------------------------------------------------------------- drawdown
def remaining(limit: Any, drawn: Any, returned: Any) -> Any:
    """What is left of a limit: ``limit - drawn + returned`` (None when there is no limit)."""
    if limit is None:
        return None
    return limit - drawn + returned


def draw_problems(
    terms: AuthorizationTerms,
    remaining_quantity: int | None,
    remaining_value: Decimal | None,
    quantity: int,
    unit_price: Decimal,
    currency: str,
) -> list[Problem]:
    """A draw of ``quantity x unit_price``: currency, quantity and value left. Drawing to exactly
    zero is allowed."""
    value = quantity * unit_price
    base = {**terms.facts(), "quantity": str(quantity), "value": str(value), "currency": currency}
    found: list[Problem] = []
    if terms.value_limit is not None and currency != terms.currency:
        found.append(Problem(
            "authorization-currency",
            f"authorization {terms.label} limits value in {terms.currency}; the batch is priced in "
            f"{currency}: correct the order or the authorization, the registry does not convert",
            facts={**base, "authorization_currency": terms.currency},
        ))
    if remaining_quantity is not None and quantity > remaining_quantity:
        found.append(Problem(
            "authorization-quantity",
            f"authorization {terms.label} has {remaining_quantity} unit(s) left of {terms.quantity_limit}; "
            f"this clearance needs {quantity}",
            facts={**base, "remaining_quantity": str(remaining_quantity),
                   "quantity_limit": str(terms.quantity_limit)},
        ))
    if remaining_value is not None and value > remaining_value:
        found.append(Problem(
            "authorization-value",
            f"authorization {terms.label} has {remaining_value} {terms.currency} left of {terms.value_limit}; "
            f"this clearance is worth {value} {currency} ({quantity} x {unit_price})",
            facts={**base, "remaining_value": str(remaining_value), "value_limit": str(terms.value_limit)},
        ))
    return found


def overdraw_problems(
    terms: AuthorizationTerms, remaining_quantity: int | None, remaining_value: Decimal | None
) -> list[Problem]:
    """An authorization drawn beyond a limit (e.g. after an amendment lowered it): the finding
    ``quantity-over-clearance``, one problem per limit exceeded."""
    found: list[Problem] = []
    if remaining_quantity is not None and remaining_quantity < 0:
        found.append(Problem(
            "quantity-over-clearance",
            f"authorization {terms.label} is drawn {-remaining_quantity} unit(s) beyond its quantity limit "
            f"{terms.quantity_limit}",
            facts={**terms.facts(), "kind": "quantity", "over": str(-remaining_quantity)},
        ))
    if remaining_value is not None and remaining_value < 0:
        found.append(Problem(
            "quantity-over-clearance",
            f"authorization {terms.label} is drawn {-remaining_value} {terms.currency} beyond its value "
            f"limit {terms.value_limit}",
            facts={**terms.facts(), "kind": "value", "over": str(-remaining_value)},
        ))
    return found


# ---------------------------------------------------------------------------------- screening
def hit_blocks(current: bool, resolution: str) -> bool:
    """A screening hit blocks while it is current (its entry is on the latest list) and open or
    confirmed; a false positive or a lapsed entry does not."""
    return bool(current) and str(resolution) in BLOCKING_RESOLUTIONS


# ------------------------------------------------------------------------------ headquarters
def recipient_headquarters_problem(
    classification: Classification,
    check: HeadquartersCheck,
    role: str,
    terms: AuthorizationTerms | None,
    ruleset: Ruleset,
    when: datetime | None = None,
) -> Problem | None:
    """Units of a controlled item assigned or transferred to (or held by) a party under the
    headquarters rule need an authorization of the batch that names the party as end user and
    is a license (or an exception the rule allows: NAC, 15 CFR 740.8). ``when``: the time of the
    act (an assignment, a transfer, a hand-over at receipt), at which that authorization must be
    valid (an expired license authorizes no new in-country transfer, 15 CFR 742.6(a)(6)(iii)(A));
    None for units merely held (a holding revealed later by an amended party)."""
    if not classification.controlled:
        return None
    requirement = headquarters_requirement(role, check, ruleset)
    if requirement is None:
        return None
    facts = headquarters_facts(check)
    facts.update({"role": role, "eccn": classification.eccn or "", "ruleset": ruleset.ruleset_id})
    if terms is not None:
        facts.update(terms.facts())
    if terms is not None and check.party_id in terms.end_user_ids:
        if authorization_satisfies(terms.auth_type, terms.exception_code, requirement):
            if when is None or terms.is_valid_at(when):
                return None
            facts.update(at=when.isoformat(), valid_from=_day(terms.valid_from), valid_to=_day(terms.valid_to))
            return Problem(requirement.rule, f"{requirement.detail}; authorization {terms.label} names it as an "
                           f"end user but is not valid at {when:%Y-%m-%d} ({_validity(terms)})",
                           requirement.citation, facts)
        why = (f"authorization {terms.label} names it as an end user but is {terms.auth_type}"
               f"{' ' + terms.exception_code if terms.exception_code else ''}; usable: "
               f"{', '.join(requirement.license_exceptions) or 'none'} or a license")
    else:
        why = "the batch's authorization does not name it as an end user"
    return Problem(requirement.rule, f"{requirement.detail}; {why}", requirement.citation, facts)


def headquarters_facts(check: HeadquartersCheck) -> dict[str, str]:
    """The deciding facts of a headquarters check, flat (for a refusal's details)."""
    facts = {
        "party_id": str(check.party_id),
        "country_groups_version": check.groups_version,
        "chain": " > ".join(
            f"{link.facts.name} [{link.relation}, HQ {link.facts.headquarters_country}]" for link in check.links
        ),
        "decided_by": check.decided_by,
    }
    if check.triggered_by is not None:
        facts["deciding_party_id"] = str(check.triggered_by.party_id)
        facts["deciding_headquarters_country"] = check.triggered_by.headquarters_country
    return facts


def intermediate_owner_problem(check: HeadquartersCheck, role: str) -> Problem | None:
    """``headquarters-intermediate-owner``: an owner between the entity and its ultimate parent
    is headquartered in D:5 or Macau. Not the headquarters rule (which names only the entity and
    its ultimate parent), but a diversion red flag an officer should review."""
    flagged = check.intermediate_flags
    if not flagged:
        return None
    who = check.chain[0].name if check.chain else str(check.party_id)
    owners = ", ".join(f"{p.name} ({p.headquarters_country})" for p in flagged)
    return Problem(
        "headquarters-intermediate-owner",
        f"{role} {who} is owned through {owners}, headquartered in D:5 or Macau; its own and its "
        "ultimate parent's headquarters are not, so the headquarters rule does not apply: review the "
        "ownership for diversion",
        facts={**headquarters_facts(check), "role": role,
               "intermediate_party_ids": ",".join(str(p.party_id) for p in flagged)},
    )


__all__ = [
    "AuthorizationTerms",
    "Problem",
    "coverage_problems",
    "destination_problem",
    "draw_problems",
    "drawdown_exceeded_problems",
    "end_user_problem",
    "headquarters_facts",
    "hit_blocks",
    "intermediate_consignee_problem",
    "intermediate_owner_problem",
    "onward_movement_problem",
    "overdraw_problems",
    "recipient_headquarters_problem",
    "refuse",
    "refuse_first",
    "remaining",
    "shipment_coverage_problems",
    "shipment_recipients",
    "validity_problem",
]
