"""Compliance results as protobuf messages (classification, rulesets, license requirements,
headquarters checks, ledgers, screening cases): the servicer's conversions, no logic."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import commands_pb2
from registry.api.v1 import compliance_pb2 as pb
from registry.application import commands as c
from registry.application.compliance import AuthorizationExpiry
from registry.domain.authorization_ledger import AuthorizationLedger
from registry.domain.classification import Classification, ControlStatus, Ruleset
from registry.domain.compliance_rules import RULES
from registry.domain.licensing import HeadquartersCheck, LicenseRequirement
from registry.domain.screening import ScreeningCase
from registry.server.convert import (
    timestamp,
)

C = TypeVar("C", bound=c.Command)
R = TypeVar("R")

_STATUS = {
    ControlStatus.CONTROLLED: pb.CONTROL_STATUS_CONTROLLED,
    ControlStatus.EXCLUDED_NOTE_2: pb.CONTROL_STATUS_EXCLUDED_NOTE_2,
    ControlStatus.NOT_CONTROLLED: pb.CONTROL_STATUS_NOT_CONTROLLED,
}
_RESOLUTION = {
    "open": pb.HIT_RESOLUTION_OPEN,
    "false_positive": pb.HIT_RESOLUTION_FALSE_POSITIVE,
    "confirmed": pb.HIT_RESOLUTION_CONFIRMED,
}
_AUTH_TYPE = {
    "license": commands_pb2.AUTHORIZATION_TYPE_LICENSE,
    "license_exception": commands_pb2.AUTHORIZATION_TYPE_LICENSE_EXCEPTION,
    "no_license_required": commands_pb2.AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED,
}
_LEDGER_KIND = {"drawn": pb.LEDGER_ENTRY_KIND_DRAWN, "returned": pb.LEDGER_ENTRY_KIND_RETURNED}


# ----------------------------------------------------------------------------- messages


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _when(value: datetime | str) -> Timestamp:
    return timestamp(_datetime(value))


def classification_message(model_id: UUID, cl: Classification) -> pb.Classification:
    spec = cl.spec
    return pb.Classification(
        model_id=str(model_id),
        model_name=spec.name,
        status=_STATUS[cl.status],
        eccn=cl.eccn,
        paragraphs=list(cl.paragraphs),
        tpp=_plain(cl.tpp),
        governing_precision=cl.governing_precision,
        tpp_by_precision={k: _plain(v) for k, v in cl.tpp_by_precision.items()},
        performance_density=_decimal(cl.performance_density),
        reasons=list(cl.reasons),
        ruleset_id=cl.ruleset_id,
        ruleset_citation=cl.ruleset_citation,
        inputs=pb.ClassificationInputs(
            dense_tops={k: str(v) for k, v in spec.dense_tops.items()},
            bit_lengths=dict(spec.bit_lengths),
            die_area_mm2=str(spec.die_area_mm2),
            datacenter_marketed=spec.datacenter_marketed,
            gpus_per_unit=spec.gpus_per_unit,
        ),
    )


def _plain(value: Decimal) -> str:
    """A Decimal without an exponent or needless zeros: 36000, 19.45."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def ruleset_message(r: Ruleset) -> pb.Ruleset:
    return pb.Ruleset(
        ruleset_id=r.ruleset_id,
        title=r.title,
        effective_from=timestamp(r.effective_from),
        citation=r.citation,
        tpp_a=str(r.tpp_a),
        tpp_a2=str(r.tpp_a2),
        pd_a2=str(r.pd_a2),
        tpp_b1_low=str(r.tpp_b1_low),
        tpp_b1_high=str(r.tpp_b1_high),
        pd_b1_low=str(r.pd_b1_low),
        tpp_b2=str(r.tpp_b2),
        pd_b2_low=str(r.pd_b2_low),
        note2_tpp=str(r.note2_tpp),
        license_groups=list(r.license_groups),
        carve_out_groups=list(r.carve_out_groups),
        destination_citation=r.destination_citation,
        headquarters_citation=r.headquarters_citation,
    )


def requirement_message(r: LicenseRequirement) -> pb.LicenseRequirement:
    info = RULES.get(r.rule)
    return pb.LicenseRequirement(
        rule_id=r.rule,
        title=info.title if info is not None else "",
        citation=r.citation,
        detail=r.detail,
        license_exceptions=list(r.license_exceptions),
        party_id=_text(r.party_id),
        role=r.role,
    )


def headquarters_message(role: str, check: HeadquartersCheck) -> pb.HeadquartersCheck:
    return pb.HeadquartersCheck(
        role=role,
        party_id=str(check.party_id),
        chain=[
            pb.OwnershipLink(
                party_id=str(link.facts.party_id),
                name=link.facts.name,
                country=link.facts.country,
                headquarters_country=link.facts.headquarters_country,
                relation=link.relation,
                d5_or_macau=link.d5_or_macau,
            )
            for link in check.links
        ],
        applies=check.applies,
        triggered_by_party_id=_text(check.triggered_by.party_id if check.triggered_by else None),
        cycle_at_party_id=_text(check.cycle_at),
        missing_parent_id=_text(check.missing_parent),
        country_groups_version=check.groups_version,
        decided_by=check.decided_by,
        review_party_ids=[str(p.party_id) for p in check.intermediate_flags],
    )


def _auth_type(auth_type: str) -> commands_pb2.AuthorizationType:
    return _AUTH_TYPE.get(auth_type, commands_pb2.AUTHORIZATION_TYPE_UNSPECIFIED)


def ledger_message(ledger: AuthorizationLedger) -> pb.AuthorizationLedger:
    message = pb.AuthorizationLedger(
        authorization_id=str(ledger.authorization_id),
        number=ledger.number,
        auth_type=_auth_type(ledger.auth_type),
        exception_code=ledger.exception_code,
        currency=ledger.currency,
        valid_from=timestamp(ledger.valid_from),
        value_limit=_decimal(ledger.value_limit),
        drawn_quantity=ledger.drawn_quantity,
        returned_quantity=ledger.returned_quantity,
        drawn_value=str(ledger.drawn_value),
        returned_value=str(ledger.returned_value),
        remaining_value=_decimal(ledger.remaining_value),
        holdings=[
            pb.BatchHolding(batch_id=str(batch_id), quantity=quantity)
            for batch_id, quantity in ledger.held_by_batch.items()
        ],
        entries=[ledger_entry_message(e) for e in ledger.entries],
    )
    if ledger.valid_to is not None:
        message.valid_to.CopyFrom(timestamp(ledger.valid_to))
    if ledger.quantity_limit is not None:
        message.quantity_limit = ledger.quantity_limit
    if ledger.remaining_quantity is not None:
        message.remaining_quantity = ledger.remaining_quantity
    return message


def ledger_entry_message(entry: Mapping[str, Any]) -> pb.LedgerEntry:
    return pb.LedgerEntry(
        kind=_LEDGER_KIND.get(str(entry["kind"]), pb.LEDGER_ENTRY_KIND_UNSPECIFIED),
        batch_id=str(entry["batch_id"]),
        quantity=int(entry["quantity"]),
        value=str(entry["value"]),
        currency=str(entry["currency"]),
        reason=str(entry["reason"]),
        related_batch_id=_text(entry.get("related_batch_id")),
        actor=str(entry["actor"]),
        occurred_at=_when(entry["occurred_at"]),
        authorization_version=int(entry["version"]),
    )


def expiry_message(e: AuthorizationExpiry) -> pb.ExpiringAuthorization:
    message = pb.ExpiringAuthorization(
        authorization_id=str(e.authorization_id),
        number=e.number,
        auth_type=_auth_type(e.auth_type),
        valid_to=timestamp(e.valid_to),
        days_left=e.days_left,
        remaining_value=_decimal(e.remaining_value),
    )
    if e.remaining_quantity is not None:
        message.remaining_quantity = e.remaining_quantity
    return message


def _entry_message(entry: Mapping[str, Any]) -> pb.ScreeningListEntry:
    return pb.ScreeningListEntry(
        entry_id=str(entry["entry_id"]),
        source_list=str(entry["source_list"]),
        name=str(entry["name"]),
        alt_names=[str(n) for n in entry.get("alt_names", ())],
        addresses=[str(a) for a in entry.get("addresses", ())],
        countries=[str(c) for c in entry.get("countries", ())],
        extra={str(k): str(v) for k, v in dict(entry.get("extra", {})).items()},
    )


def _hit_message(hit_id: str, hit: Mapping[str, Any]) -> pb.ScreeningHit:
    resolution = str(hit["resolution"])
    return pb.ScreeningHit(
        hit_id=hit_id,
        resolution=_RESOLUTION.get(resolution, pb.HIT_RESOLUTION_UNSPECIFIED),
        blocking=bool(hit["current"]) and resolution in ("open", "confirmed"),
        current=bool(hit["current"]),
        score=float(hit["score"]),
        matched_name=str(hit.get("matched_name", "")),
        party_name=str(hit.get("party_name", "")),
        source=str(hit["source"]),
        snapshot_id=str(hit["snapshot_id"]),
        sha256=str(hit["sha256"]),
        entry=_entry_message(hit["entry"]),
        first_seen_at=_when(hit["first_seen_at"]),
        trail=[
            pb.HitResolutionStep(
                resolution=_RESOLUTION.get(str(step["resolution"]), pb.HIT_RESOLUTION_UNSPECIFIED),
                note=str(step["note"]),
                actor=str(step["by"]),
                resolved_at=_when(step["at"]),
            )
            for step in hit["trail"]
        ],
    )


def case_message(case: ScreeningCase, party_name: str, up_to_date: bool) -> pb.ScreeningCase:
    hits = sorted(case.hits.items(), key=lambda item: (_datetime(item[1]["first_seen_at"]), item[0]))
    return pb.ScreeningCase(
        party_id=str(case.party_id),
        party_name=party_name,
        case_id=str(case.id),
        version=case.version,
        blocking=bool(case.blocking_hits()),
        screened_against_latest=up_to_date,
        screenings=[
            pb.ScreeningRun(
                source=source,
                snapshot_id=str(run["snapshot_id"]),
                sha256=str(run["sha256"]),
                party_name=str(run["party_name"]),
                threshold=float(run["threshold"]),
                screened_at=_when(run["screened_at"]),
                hit_count=int(run["hit_count"]),
                near_misses=[
                    pb.NearMiss(entry_id=str(m["entry_id"]), source_list=str(m["source_list"]),
                                name=str(m["name"]), matched_name=str(m["matched_name"]), score=float(m["score"]))
                    for m in run.get("near_misses", [])
                ],
            )
            for source, run in sorted(case.screenings.items())
        ],
        hits=[_hit_message(hit_id, hit) for hit_id, hit in hits],
    )
