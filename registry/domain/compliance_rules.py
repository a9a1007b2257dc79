"""The catalogue of compliance rules: one stable id per rule, what it is and where it comes from.

Refusals (:class:`~registry.domain.errors.ComplianceRefusal`) and the compliance projection's
findings name these ids, so an auditor can look each one up here and in docs/compliance.md.
``kind`` says how the registry treats it: a ``decision`` is refused before anything is written;
a ``finding`` is a fact that was recorded and is flagged afterwards. Citations are data: where a
rule comes from guidance rather than a regulation, the citation says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class RuleInfo:
    rule_id: str
    kind: Literal["decision", "finding"]
    title: str
    citation: str


_RULES = [
    # --- decisions: refused, nothing written
    RuleInfo(
        "classification-ruleset",
        "decision",
        "A classification ruleset must be in force at the decision",
        "15 CFR 774 Supp. 1, ECCN 3A090",
    ),
    RuleInfo(
        "classification-mismatch",
        "decision",
        "The clearance must be requested under the computed ECCN",
        "15 CFR 774 Supp. 1, ECCN 3A090 / 4A090 (88 FR 73458)",
    ),
    RuleInfo(
        "country-groups-version",
        "decision",
        "Country-group data must be in force at the decision",
        "15 CFR 740 Supp. 1",
    ),
    RuleInfo(
        "destination-country-group",
        "decision",
        "3A090/4A090 to D:1, D:4, D:5 or Macau (not also A:5/A:6) needs a license",
        "15 CFR 742.6(a)(6)(iii)",
    ),
    RuleInfo(
        "headquarters-rule",
        "decision",
        "3A090/4A090 for an entity headquartered (or whose ultimate parent is) in D:5 or Macau needs "
        "a license anywhere, in-country transfers and assignments included",
        "15 CFR 742.6(a)(6)(iii)(A)",
    ),
    RuleInfo(
        "screening-hit",
        "decision",
        "A party with an open or confirmed restricted-party hit blocks clearance, shipment and assignment",
        "15 CFR 744 Supp. 4 (Entity List) and the other lists of the Consolidated Screening List",
    ),
    RuleInfo(
        "screening-stale",
        "decision",
        "Every party of a decision must be screened, under its current name, against the latest lists",
        "BIS Know Your Customer guidance, 15 CFR 732 Supp. 3",
    ),
    RuleInfo(
        "authorization-validity",
        "decision",
        "The authorization must be valid at the decision",
        "15 CFR 750.7 (license validity)",
    ),
    RuleInfo(
        "authorization-destination",
        "decision",
        "The destination must be on the authorization",
        "terms of the license or exception",
    ),
    RuleInfo(
        "authorization-consignee",
        "decision",
        "The ultimate consignee, and each intermediate consignee of a shipment, must be named on a "
        "license that names its consignees",
        "terms of the license",
    ),
    RuleInfo(
        "authorization-end-user",
        "decision",
        "The end user must be named on the authorization",
        "terms of the license",
    ),
    RuleInfo(
        "authorization-eccn",
        "decision",
        "The ECCN must be covered by the authorization",
        "terms of the license or exception",
    ),
    RuleInfo(
        "authorization-quantity",
        "decision",
        "The authorization must have the quantity left",
        "terms of the license (drawdown)",
    ),
    RuleInfo(
        "authorization-value",
        "decision",
        "The authorization must have the value left",
        "terms of the license (drawdown)",
    ),
    RuleInfo(
        "authorization-currency",
        "decision",
        "A value-limited authorization is drawn only in its own currency",
        "registry policy: no conversion",
    ),
    RuleInfo(
        "in-country-transfer",
        "decision",
        "A transfer stays in the cleared destination country",
        "15 CFR 734.16 (transfer in-country) / reexport needs its own authorization",
    ),
    # --- findings: recorded facts, flagged by the compliance projection
    RuleInfo(
        "export-without-clearance",
        "finding",
        "Shipped without a valid clearance or after expiry",
        "15 CFR 736.2(b)(1) (General Prohibition One)",
    ),
    RuleInfo(
        "location-not-authorized",
        "finding",
        "Shipped or installed where the authorization does not cover",
        "terms of the license; 15 CFR 736.2(b)(1)",
    ),
    RuleInfo(
        "recipient-not-authorized",
        "finding",
        "Assigned or transferred to a party that is not an authorized end user, is screened, or falls "
        "under the headquarters rule",
        "15 CFR 742.6(a)(6)(iii)(A); terms of the license",
    ),
    RuleInfo(
        "headquarters-intermediate-owner",
        "finding",
        "An intermediate owner (between the entity and its ultimate parent) is headquartered in D:5 or "
        "Macau: not the headquarters rule, a diversion red flag to review",
        "15 CFR 732 Supp. 3 (red flags); BIS diversion red-flag guidance (13 May 2025)",
    ),
    RuleInfo(
        "quantity-over-clearance",
        "finding",
        "Shipped above the cleared quantity or drawn above the limit",
        "terms of the license (drawdown)",
    ),
    RuleInfo(
        "units-missing-in-transit", "finding", "Received fewer than shipped", "15 CFR 732 Supp. 3 (red flags)"
    ),
    RuleInfo(
        "serial-not-shipped",
        "finding",
        "A serial was received that was never shipped",
        "15 CFR 732 Supp. 3 (red flags)",
    ),
    RuleInfo(
        "exported-under-another-eccn",
        "finding",
        "Units were exported under an ECCN their model, as corrected, does not have",
        "15 CFR 758.6 (Destination Control Statement); 15 CFR 774 Supp. 1, ECCN 3A090/4A090",
    ),
    RuleInfo(
        "received-at-other-site",
        "finding",
        "Units were received at another site than the shipment was declared for",
        "15 CFR 732 Supp. 3 (red flags: a location anomaly); 15 CFR 762.2 (accurate records)",
    ),
    RuleInfo(
        "event-declared-in-error",
        "finding",
        "A recorded event was declared in error (a discrepancy between the record and what happened)",
        "15 CFR 762.2 (accurate records); GS1 EPCIS 2.0 section 7.4.1.2 (error declaration)",
    ),
    RuleInfo(
        "serial-at-two-sites",
        "finding",
        "A serial was reported installed at two sites",
        "15 CFR 732 Supp. 3 (red flags); proposed Chip Security Act (location verification)",
    ),
    RuleInfo(
        "not-received-in-time",
        "finding",
        "Shipped but no receipt recorded within N days",
        "BIS diversion red-flag guidance (13 May 2025); 15 CFR 732 Supp. 3 (red flags)",
    ),
    RuleInfo(
        "not-installed-in-time",
        "finding",
        "Received but not installed within N days",
        "BIS diversion red-flag guidance (13 May 2025); 15 CFR 732 Supp. 3 (red flags)",
    ),
    RuleInfo(
        "units-reported-lost",
        "finding",
        "Units reported lost or stolen: controlled items out of the registry's custody",
        "15 CFR 732 Supp. 3 (red flags); 15 CFR 762.6 (records of a diversion or other termination)",
    ),
    RuleInfo(
        "units-diverted",
        "finding",
        "Exported units were diverted: they went where the authorization did not allow",
        "15 CFR 736.2(b)(1) (General Prohibition One: reexport without authorization); 15 CFR 762.6 "
        "(records of a diversion)",
    ),
    RuleInfo(
        "unit-outside-licensed-location",
        "finding",
        "A host agent's signed location attestation puts 3A090/4A090 units outside the country their "
        "export authorization allows",
        "Guidance: Chip Security Act (S.1705 / H.R.3447, proposed) location verification and report of "
        "covered chips outside their licensed location; 15 CFR 736.2(b)(1) (General Prohibition One)",
    ),
    RuleInfo(
        "unit-location-mismatch",
        "finding",
        "A host agent's signed location attestation puts units at a site other than the one the "
        "registry has them installed at (same country)",
        "Guidance: Chip Security Act (S.1705 / H.R.3447, proposed) location verification; 15 CFR 762.2 "
        "(accurate records)",
    ),
    RuleInfo(
        "location-not-attested",
        "finding",
        "An installed 3A090/4A090 unit has no signed location attestation within the allowance "
        "(an overdue item, evaluated at the caller's time)",
        "Guidance: Chip Security Act (S.1705 / H.R.3447, proposed) location verification",
    ),
    RuleInfo(
        "reexport-not-authorized",
        "finding",
        "A known reexport of a 3A090/4A090 item to (or transshipment through) a destination needing a "
        "license that the batch's authorization does not cover",
        "15 CFR 742.6(a)(6)(iii) (license to D:1, D:4, D:5 or Macau, not also A:5/A:6); 15 CFR 734.14 "
        "(reexport); 15 CFR 736.2(b)(1) (General Prohibition One)",
    ),
    RuleInfo(
        "site-power-insufficient",
        "finding",
        "The site lacks the power capacity for what is installed",
        "BIS diversion red-flag guidance (13 May 2025)",
    ),
    RuleInfo(
        "red-flag-first-time-large-buyer",
        "finding",
        "A purchaser's first order is of a large volume (at least the ruleset's threshold, in GPUs)",
        "BIS diversion red-flag guidance (13 May 2025); 15 CFR 732 Supp. 3 (red flags)",
    ),
    RuleInfo(
        "red-flag-address",
        "finding",
        "A commercial quantity shipped for a party whose address is residential or vague",
        "BIS diversion red-flag guidance (13 May 2025); 15 CFR 732 Supp. 3 (red flags)",
    ),
    RuleInfo(
        "red-flag-online-presence",
        "finding",
        "A shipment for a party of the transaction with little online presence",
        "BIS diversion red-flag guidance (13 May 2025)",
    ),
    RuleInfo(
        "red-flag-unusual-forwarder",
        "finding",
        "A shipment through an unusual freight forwarder",
        "BIS diversion red-flag guidance (13 May 2025); 15 CFR 732 Supp. 3 (red flags)",
    ),
    RuleInfo(
        "record-retention",
        "finding",
        "Export records kept 5 years from the latest export, reexport, transshipment, diversion or "
        "other termination; never destroyed while an agency's legal hold is in place",
        "15 CFR 762.6",
    ),
]

RULES: dict[str, RuleInfo] = {r.rule_id: r for r in _RULES}

RETENTION_YEARS = 5


#: The Destination Control Statement's standard wording (15 CFR 758.6(a)), carried on the
#: commercial invoice of every export of an item subject to the EAR; for 3A090 and 4A090 items the
#: invoice also names the ECCN (758.6(a)(2)).
DESTINATION_CONTROL_STATEMENT = (
    "These items are controlled by the U.S. Government and authorized for export only to the country "
    "of ultimate destination for use by the ultimate consignee or end-user(s) herein identified. They "
    "may not be resold, transferred, or otherwise disposed of, to any other country or to any person "
    "other than the authorized ultimate consignee or end-user(s), either in their original form or "
    "after being incorporated into other items, without first obtaining approval from the U.S. "
    "government or as otherwise authorized by U.S. law and regulations."
)
#: The ECCNs whose Destination Control Statement names the ECCN (15 CFR 758.6(a)(2)).
DCS_ECCN_PREFIXES = ("3A090", "4A090")


def destination_control_statement(eccn: str, destination_country: str) -> str:
    """The DCS for the commercial invoice of a shipment of an item under ``eccn`` to
    ``destination_country``: the standard wording, with the ECCN and the country of ultimate
    destination for a 3A090/4A090 item; empty for an item the registry did not clear under an ECCN
    (nothing to state)."""
    eccn = eccn.strip()
    if not eccn:
        return ""
    country = f" Country of ultimate destination: {destination_country}." if destination_country else ""
    if eccn.upper().startswith(DCS_ECCN_PREFIXES):
        return f"ECCN {eccn}. {DESTINATION_CONTROL_STATEMENT}{country}"
    return f"{DESTINATION_CONTROL_STATEMENT}{country}"


def retention_until(latest_event: datetime, years: int = RETENTION_YEARS) -> datetime:
    """The date until which export records are kept: ``years`` after the latest export, reexport,
    transshipment, diversion, transfer or other termination (15 CFR 762.6). 29 February maps to 28 February."""
    try:
        return latest_event.replace(year=latest_event.year + years)
    except ValueError:
        return latest_event.replace(year=latest_event.year + years, day=28)
