"""The compliance projection's checks of a batch event against the rules: location, site power,
recipient and headquarters, a party's changed facts, and record retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from projections.compliance_lookups import (
    _auth_label,
    _authorization_of,
    _facts_lookup,
    _party_name,
    _rules,
    _screening_reasons,
    authorization_terms,
    model_spec,
)
from projections.compliance_serials import serial_runs
from projections.engine import Row, Work
from projections.findings import LIVE_STAGES, _flag, utc
from registry.domain.batch import GpuBatch
from registry.domain.classification import Classification, Ruleset, classify
from registry.domain.country_groups import CountryGroups
from registry.domain.errors import ComplianceRefusal
from registry.domain.licensing import (
    HeadquartersCheck,
    chain_ids,
    headquarters_check,
    license_requirements,
    unmet_requirements,
)
from registry.domain.policy import (
    Problem,
    end_user_problem,
    intermediate_consignee_problem,
    intermediate_owner_problem,
    onward_movement_problem,
    recipient_headquarters_problem,
    shipment_recipients,
)


def _country_problems(batch: Row, auth: Row | None, country: str, where: str) -> list[str]:
    out: list[str] = []
    if batch["destination_country"] and country != batch["destination_country"]:
        out.append(f"{where} in {country}, not the cleared destination {batch['destination_country']}")
    elif auth is not None and country not in auth["destination_countries"]:
        out.append(f"{where} in {country}, which authorization {_auth_label(auth)} does not cover "
                   f"({', '.join(auth['destination_countries'])})")
    return out


def _location_problems(
    work: Work, batch: Row, auth: Row | None, country: str, site_id: UUID | None
) -> list[str]:
    found = _country_problems(batch, auth, country, "destination")
    if site_id is not None:
        site = work.cache("site").get(site_id)
        if site is not None and site["country"] != country:
            found += _country_problems(batch, auth, site["country"], f"destination site {site['name']}")
    return found


def _check_site(work: Work, e: Any, batch: Row, site_id: UUID, verb: str, serials: Sequence[str],
                quantity: int) -> None:
    site = work.cache("site").get(site_id)
    if site is None:
        return
    for p in _country_problems(batch, _authorization_of(work, batch), site["country"], f"site {site['name']}"):
        _flag(work, e, "location-not-authorized", f"site:{batch['batch_id'].hex}:{site_id.hex}",
              severity="high", batch=batch, serials=serials, quantity=quantity, site_id=site_id,
              reason=f"units {verb} at {p}")


def kilowatts(watts: Sequence[Any]) -> Decimal:
    """``Decimal(0) + Decimal(w) / 1000 + ...`` over ``watts``, in the order given: the same value
    and the same digits (``6.50`` stays ``6.50``: a sum keeps the finest exponent of its terms, and
    ``Decimal(w) / 1000`` has the coarsest that is exact, 0 to -3). For integers it is computed as one
    integer sum instead of a Decimal division and addition per term (an installation sums every load
    of its site)."""
    if not all(type(w) is int for w in watts):
        total = Decimal(0)
        for w in watts:
            total += Decimal(w) / 1000
        return total
    places = 0  # decimal places of the finest term
    for w in watts:
        if w % 1000:
            places = max(places, 3 if w % 10 else 2 if w % 100 else 1)
            if places == 3:
                break
    if sum(map(abs, watts)) >= 10**25:  # beyond 28 significant digits the Decimal sum rounds: do as it does
        return kilowatts([Decimal(w) for w in watts])
    whole = sum(watts)
    return Decimal(whole // 10 ** (3 - places)).scaleb(-places)


def _check_power(work: Work, e: Any, site_id: UUID, batch: Row | None, serials: Sequence[str],
                 quantity: int, shipped_to: bool = False) -> None:
    """BIS red flag: a site that cannot power what is installed there. ``batch`` is the batch
    whose units just arrived (None: the site's capacity changed, every batch there is named).
    ``shipped_to``: the units are being shipped to the site (not installed yet): what is installed
    there plus what this shipment carries (the guidance is pre-export due diligence: a data center
    that cannot confirm power for the quantity shipped to it)."""
    site = work.cache("site").get(site_id)
    if site is None:
        return
    capacity = Decimal(site["power_capacity_kw"])
    # The site's rows through the group's keys (``members``), not a scan of every cached site's
    # rows: this runs for every installation event, and the sum is exact in any order.
    loads = [r for r in work.cache("site_load", group="site_id").members(site_id) if r["units"] > 0]
    batches = work.cache("batch")
    models = work.cache("gpu_model")
    watts: dict[Any, int | None] = {}  # per GPU model (a site holds a few models, many batches)
    terms: list[Any] = []  # each load's watts: units x watts per unit
    for load in loads:
        b = batches.get(load["batch_id"])
        if b is None:
            continue
        model_id = b["model_id"]
        if model_id not in watts:
            model = models.get(model_id)
            watts[model_id] = None if model is None else model["gpus_per_unit"] * model["tdp_watts"]
        per_unit = watts[model_id]
        if per_unit is not None:
            terms.append(load["units"] * per_unit)
    total = kilowatts(terms)
    incoming = Decimal(0)
    if shipped_to and batch is not None:
        model = models.get(batch["model_id"])
        if model is not None:
            incoming = Decimal(quantity * model["gpus_per_unit"] * model["tdp_watts"]) / 1000
    if total + incoming <= capacity:
        return
    if incoming:
        reason = (f"{site['name']} lacks the power capacity for the GPUs installed there and the {quantity} unit(s) "
                  f"shipped to it ({capacity} kW)")
        note = (f"{site['name']}: {total} kW of GPU TDP installed and {incoming} kW shipped to it against a power "
                f"capacity of {capacity} kW")
    else:
        reason = f"{site['name']} lacks the power capacity for the GPUs installed there ({capacity} kW)"
        note = f"{site['name']}: {total} kW of GPU TDP installed against a power capacity of {capacity} kW"
    if batch is not None:
        _flag(work, e, "site-power-insufficient", f"power:{site_id.hex}:{batch['batch_id'].hex}",
              severity="medium", batch=batch, serials=serials, quantity=quantity, site_id=site_id,
              reason=reason, note=note)
        return
    for load in sorted(loads, key=lambda r: str(r["batch_id"])):
        target = batches.get(load["batch_id"])
        if target is not None:
            _flag(work, e, "site-power-insufficient", f"power:{site_id.hex}:{load['batch_id'].hex}",
                  severity="medium", batch=dict(target), quantity=load["units"], site_id=site_id,
                  reason=reason, note=note)


def _headquarters_review(
    work: Work, batch: Row, party_id: UUID, role: str, at: datetime, act: bool = False
) -> tuple[str | None, str | None]:
    """The headquarters rule on this party's holding, by the shared policy with the rule data the
    registry decided by: (why the holding is unauthorized, or None; why its ownership needs
    review (an intermediate owner in D:5 or Macau), or None). ``act``: the units were handed to
    the party at ``at`` (an assignment, transfer or receipt), so the authorization naming it must
    be valid then, as ``Assign`` and ``Transfer`` decide."""
    model = work.cache("gpu_model").get(batch["model_id"])
    if model is None:
        return None, None
    rules = _rules(work)
    try:
        ruleset = rules.rulesets.in_force(at)
        groups = rules.country_groups.in_force(at)
    except ComplianceRefusal:
        return None, None  # no rule data in force then: nothing to hold the facts against
    classification = _classification(work, model, ruleset)
    if not classification.controlled:
        return None, None
    check: HeadquartersCheck = headquarters_check(party_id, _facts_lookup(work), groups)
    auth = _authorization_of(work, batch)
    problem = recipient_headquarters_problem(
        classification, check, role, authorization_terms(auth) if auth is not None else None, ruleset,
        at if act else None,
    )
    review = intermediate_owner_problem(check, role)
    return (problem.detail if problem is not None else None), (review.detail if review is not None else None)


def _shipment_license_problems(work: Work, batch: Row, auth: Row, at: datetime,
                               intermediate_consignee_ids: Sequence[UUID] = ()) -> list[str]:
    """The destination and headquarters rules in force when a controlled item left (as the
    registry's ``Ship`` decides them, intermediate consignees included): each rule needing a
    license the batch's authorization is not, nor an exception the rule allows."""
    rules = _rules_at(work, batch, at)
    if rules is None or not rules[0].controlled:
        return []
    classification, ruleset, groups = rules
    lookup = _facts_lookup(work)
    recipients = shipment_recipients(batch["buyer_id"], batch.get("consignee_id"), batch.get("end_user_id"),
                                     intermediate_consignee_ids)
    checks = [(role, headquarters_check(p, lookup, groups)) for role, p in recipients]
    found = license_requirements(classification, batch["destination_country"], checks, groups, ruleset)
    return [
        f"{r.detail}; authorization {_auth_label(auth)} is {auth['auth_type']}"
        f"{' ' + auth['exception_code'] if auth['exception_code'] else ''} ({r.citation})"
        for r in unmet_requirements(found, auth["auth_type"], auth["exception_code"])
    ]


def _intermediate_consignee_problems(auth: Row, intermediate_consignee_ids: Sequence[UUID]) -> list[str]:
    """Intermediate consignees a license naming its consignees does not name (as ``Ship`` refuses)."""
    terms = authorization_terms(auth)
    found = (intermediate_consignee_problem(terms, p, f"intermediate_consignee_ids[{i}]")
             for i, p in enumerate(intermediate_consignee_ids))
    return [f"{p.detail} ({p.citation})" for p in found if p is not None]


def _onward_movement_problem(work: Work, batch: Row, kind: str, country: str, at: datetime,
                             recipient_id: UUID | None = None) -> Problem | None:
    """A known reexport or transshipment held to the destination rule in force at the movement
    and, for its recipient when recorded, the headquarters rule, by the policy the clearance and
    ``Ship`` decide by (``policy.onward_movement_problem``)."""
    rules = _rules_at(work, batch, at)
    if rules is None:
        return None
    classification, ruleset, groups = rules
    auth = _authorization_of(work, batch)
    recipients = ([("recipient", headquarters_check(recipient_id, _facts_lookup(work), groups))]
                  if recipient_id is not None else [])
    return onward_movement_problem(classification, kind, country, groups, ruleset,
                                   authorization_terms(auth) if auth is not None else None, recipients, at)


def _rules_at(work: Work, batch: Row, at: datetime) -> tuple[Classification, Ruleset, CountryGroups] | None:
    """The batch's model classified under the ruleset in force at ``at``, with that ruleset and the
    country groups then; None when the model is not known or no rule data was in force then."""
    model = work.cache("gpu_model").get(batch["model_id"])
    if model is None:
        return None
    rules = _rules(work)
    try:
        ruleset = rules.rulesets.in_force(at)
        groups = rules.country_groups.in_force(at)
    except ComplianceRefusal:
        return None  # no rule data in force then
    return _classification(work, model, ruleset), ruleset, groups


def _classification(work: Work, model: Row, ruleset: Ruleset) -> Classification:
    known: dict[tuple[Any, ...], Classification] = work.scratch.setdefault("classification", {})
    key = (model["model_id"], ruleset, repr(model["spec"]), model["gpus_per_unit"])
    if key not in known:
        known[key] = classify(model_spec(model), ruleset)
    return known[key]


def _flag_review(work: Work, e: Any, batch: Row, party_id: UUID, review: str | None,
                 serials: Sequence[str], quantity: int) -> None:
    if review is None:
        return
    _flag(work, e, "headquarters-intermediate-owner", f"ownership:{batch['batch_id'].hex}:{party_id.hex}",
          severity="medium", batch=batch, serials=serials, quantity=quantity, party_id=party_id,
          reason=review)


def _check_recipient(work: Work, e: Any, batch: Row, party_id: UUID, role: str,
                     serials: Sequence[str], quantity: int, end_user: bool) -> None:
    reasons: list[str] = []
    critical = False
    auth = _authorization_of(work, batch)
    name = _party_name(work, party_id)
    if end_user and auth is not None and end_user_problem(authorization_terms(auth), party_id, role) is not None:
        reasons.append(f"{role} {name} is not an end user named on authorization {_auth_label(auth)}")
    hq, review = _headquarters_review(work, batch, party_id, role, utc(e.occurred_at), act=True)
    if hq is not None:
        reasons.append(hq)
        critical = True
    screened = _screening_reasons(work, party_id)
    if screened:
        reasons += screened
        critical = True
    for reason in reasons:
        _flag(work, e, "recipient-not-authorized", f"recipient:{batch['batch_id'].hex}:{party_id.hex}",
              severity="critical" if critical else "high", batch=batch, serials=serials,
              quantity=quantity, party_id=party_id, reason=reason,
              note=f"{reason} ({e.quantity} unit(s) {_verb(e)})")
    _flag_review(work, e, batch, party_id, review, serials, quantity)


def _verb(e: Any) -> str:
    if isinstance(e, GpuBatch.Received):
        return "received"
    return "assigned" if isinstance(e, GpuBatch.Assigned) else "transferred"


def _party_facts_changed(work: Work, e: Any, party_id: UUID) -> None:
    """A party's headquarters or ultimate parent changed: every party whose chain of parents
    passes through it is checked again, on the units it owns or is assigned now."""
    parties = work.cache("party").all_rows()
    lookup = _facts_lookup(work)
    affected = [
        row["party_id"] for row in sorted(parties, key=lambda r: str(r["party_id"]))
        if party_id in chain_ids(row["party_id"], lookup)
    ]
    for p in affected:
        _review_holdings(work, e, p)


def _review_holdings(work: Work, e: Any, party_id: UUID) -> None:
    """Check a party's current holdings against the headquarters rule and screening."""
    holdings = [
        r for r in work.cache("holding", group="party_id").group_rows(party_id) if r["units"] > 0
    ]
    by_batch: dict[UUID, dict[str, int]] = {}
    for r in holdings:
        by_batch.setdefault(r["batch_id"], {})[r["role"]] = r["units"]
    screened = _screening_reasons(work, party_id)
    at = utc(e.occurred_at)
    for batch_id in sorted(by_batch, key=str):
        batch = work.cache("batch").get(batch_id)
        if batch is None:
            continue
        roles = by_batch[batch_id]
        role = "assignee" if "assignee" in roles else "owner"
        reasons = list(screened)
        hq, review = _headquarters_review(work, batch, party_id, role, at)
        if hq is not None:
            reasons.insert(0, hq)
        if not reasons and review is None:
            continue
        serials = _serials_held(work, batch_id, party_id)
        units = max(roles.values())
        _flag_review(work, e, dict(batch), party_id, review, serials, units)
        for reason in reasons:
            _flag(work, e, "recipient-not-authorized", f"recipient:{batch_id.hex}:{party_id.hex}",
                  severity="critical", batch=dict(batch), serials=serials, quantity=units,
                  party_id=party_id, reason=reason,
                  note=f"{reason} (revealed by {type(e).__name__} while it holds {units} unit(s) as "
                  f"{' and '.join(sorted(roles))})")


def _serials_held(work: Work, batch_id: UUID, party_id: UUID) -> list[str]:
    """Serials of a batch a party owns or is assigned, in live stages (from the batch's runs as
    this chunk left them), sorted."""
    hex_id = party_id.hex
    return serial_runs(work).serials(
        batch_id, lambda r: r["stage"] in LIVE_STAGES and hex_id in (r["owner"], r["assignee"])
    )


def retention_basis(shipped_at: datetime, last_transaction_at: datetime | None) -> datetime:
    """The latest of the export and any later transfer or termination of the batch's units."""
    shipped_at = utc(shipped_at)
    if last_transaction_at is None:
        return shipped_at
    return max(shipped_at, utc(last_transaction_at))
