"""What the compliance projection's handlers read back from its own copies of the reference data:
the rule data in force, authorization terms, names, party facts, model specs and screening reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from projections.engine import Row, Work
from projections.findings import _opt_utc, utc
from registry.domain.classification import ModelSpec
from registry.domain.licensing import PartyFacts
from registry.domain.policy import AuthorizationTerms, hit_blocks
from registry.domain.rule_data import DEFAULT_RULE_DATA, RuleData


def _rules(work: Work) -> RuleData:
    """The rule data the registry decided by at this position (the latest recorded before it)."""
    known: RuleData | None = work.scratch.get("rule_data")
    if known is None:
        row = work.cache("rule_data").get("current")
        known = RuleData.from_data(row["data"]) if row is not None else DEFAULT_RULE_DATA
        work.scratch["rule_data"] = known
    return known


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def authorization_terms(auth: Row) -> AuthorizationTerms:
    """The policy's view of an authorization row."""
    return AuthorizationTerms(
        authorization_id=auth["authorization_id"],
        number=auth["number"],
        auth_type=auth["auth_type"],
        exception_code=auth["exception_code"],
        valid_from=utc(auth["valid_from"]),
        valid_to=_opt_utc(auth["valid_to"]),
        destination_countries=tuple(auth["destination_countries"]),
        end_user_ids=frozenset(UUID(h) for h in auth["end_user_ids"]),
        consignee_ids=frozenset(UUID(h) for h in auth.get("consignee_ids") or ()),
        intermediate_consignee_ids=frozenset(UUID(h) for h in auth.get("intermediate_consignee_ids") or ()),
        quantity_limit=auth["quantity_limit"],
        value_limit=Decimal(auth["value_limit"]) if auth["value_limit"] is not None else None,
        currency=auth["currency"],
    )


def _screening_reasons(work: Work, party_id: UUID) -> list[str]:
    name = _party_name(work, party_id)
    return [
        f"{name} has a {h['resolution']} restricted-party screening hit on {h['source_list']} (hit {h['hit_id']})"
        for h in sorted(work.cache("screening_hit", group="party_id").group_rows(party_id), key=lambda h: h["hit_id"])
        if hit_blocks(h["current"], h["resolution"])
    ]


# ================================================================================== checks
def _authorization_of(work: Work, batch: Row) -> Row | None:
    if batch["authorization_id"] is None:
        return None
    return work.cache("authorization").get(batch["authorization_id"])


def _auth_label(auth: Row) -> str:
    return str(auth["number"] or auth["exception_code"] or auth["authorization_id"])


def _party_name(work: Work, party_id: UUID) -> str:
    row = work.cache("party").get(party_id)
    return str(row["name"]) if row is not None else str(party_id)


def _site_name(work: Work, site_id: UUID) -> str:
    row = work.cache("site").get(site_id)
    return str(row["name"]) if row is not None else str(site_id)


def _facts_lookup(work: Work) -> Callable[[UUID], PartyFacts | None]:
    parties = work.cache("party")

    def lookup(party_id: UUID) -> PartyFacts | None:
        row = parties.get(party_id)
        if row is None:
            return None
        return PartyFacts(row["party_id"], row["name"], row["country"], row["headquarters_country"],
                          row["immediate_parent_id"], row["ultimate_parent_id"])

    return lookup


def model_spec(model: Row) -> ModelSpec:
    """A GPU model row of this projection as the classification's input."""
    spec = model["spec"]
    return ModelSpec(
        name=model["name"],
        dense_tops={k: Decimal(str(v)) for k, v in dict(spec.get("dense_tops", {})).items()},
        bit_lengths={k: int(v) for k, v in dict(spec.get("bit_lengths", {})).items()},
        die_area_mm2=Decimal(str(spec.get("die_area_mm2", "0"))),
        datacenter_marketed=bool(spec.get("datacenter_marketed", True)),
        gpus_per_unit=int(model["gpus_per_unit"]),
    )
