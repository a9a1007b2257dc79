"""QueryService.GetParty: a party's recorded facts and what the compliance rules derive from them
(its ultimate parent and that parent's headquarters country, the headquarters rule, its
screening status), read from the registry's aggregates (no read model)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from registry.api.v1 import queries_pb2 as pb
from registry.application.service import Registry
from registry.domain.reference import Party
from registry.domain.screening import BLOCKING
from registry.server.convert import timestamp


def _text(value: UUID | None) -> str:
    return str(value) if value is not None else ""


def screening_status(registry: Registry, party: Party) -> pb.PartyScreeningStatus:
    """Where the party stands against the lists: counts of its hits on current entries, whether
    it blocks and whether it was screened under its current name against the latest lists."""
    case = registry.screening_case(party.id)
    latest = registry.screening_lists()
    if case is None:
        return pb.PartyScreeningStatus(status="not_screened", screened_against_latest=not latest)
    hits: list[dict[str, Any]] = list(case.hits.values())
    current = [h for h in hits if h["current"]]
    blocking = any(h["resolution"] in BLOCKING for h in current)
    up_to_date = case.is_current(latest, party.name)
    message = pb.PartyScreeningStatus(
        status="blocked" if blocking else ("clear" if up_to_date else "stale"),
        screened_against_latest=up_to_date, blocking=blocking,
        open_hits=sum(1 for h in current if h["resolution"] == "open"),
        confirmed_hits=sum(1 for h in current if h["resolution"] == "confirmed"),
        false_positive_hits=sum(1 for h in hits if h["resolution"] == "false_positive"),
        sources=sorted(case.screenings),
    )
    times = [s["screened_at"] for s in case.screenings.values()]
    if times:
        message.last_screened_at.CopyFrom(timestamp(max(times)))
    return message


def party_message(registry: Registry, party_id: UUID) -> pb.PartyFacts:
    """The party's facts, the headquarters rule read with the country groups in force now;
    NotFound when the id names no party."""
    party: Party = registry.get("party", party_id)
    check = registry.headquarters_check(party_id)
    top = check.ultimate_parent
    return pb.PartyFacts(
        party_id=str(party.id), name=party.name, country=party.country, roles=list(party.roles),
        headquarters_country=party.headquarters_country, address=party.address,
        immediate_parent_id=_text(party.immediate_parent_id),
        named_ultimate_parent_id=_text(party.ultimate_parent_id),
        ultimate_parent_id=_text(top.party_id if top is not None else None),
        ultimate_parent_name=top.name if top is not None else "",
        ultimate_parent_headquarters_country=top.headquarters_country if top is not None else "",
        headquarters_rule_applies=check.applies, headquarters_rule_decided_by=check.decided_by,
        country_groups_version=check.groups_version,
        intermediate_owner_flag_ids=[str(p.party_id) for p in check.intermediate_flags],
        address_type=party.address_type, online_presence=party.online_presence,
        forwarder_standing=party.forwarder_standing,
        screening=screening_status(registry, party), version=party.version,
    )
