"""ComplianceService's findings: officers' decisions (commands) and the compliance read model's
answers (a batch's compliance, findings, overdue items), each query waiting for ``min_position``
within the call's deadline like the other read-model queries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import grpc

from projections.compliance_queries import (
    BatchCompliance,
    ExportRecord,
    Finding,
    FindingFilter,
    LegalHoldRecord,
    OnwardMovementRecord,
    OverdueItem,
    TrailEntry,
)
from projections.location_queries import AttestationGap
from projections.queries import ReadModels
from registry.api.v1 import compliance_pb2 as pb
from registry.domain.errors import InvalidField, NotFound
from registry.security.grants import current_grants
from registry.server.calls import answer
from registry.server.concurrency import Blocking
from registry.server.convert import page_size, parse_uuid, require_uuid, timestamp
from registry.server.readmodels import await_position

T = TypeVar("T")

READ_MODEL = "compliance"
MAX_DAYS = 3650

SEVERITY = {
    "low": pb.FINDING_SEVERITY_LOW,
    "medium": pb.FINDING_SEVERITY_MEDIUM,
    "high": pb.FINDING_SEVERITY_HIGH,
    "critical": pb.FINDING_SEVERITY_CRITICAL,
}
STATUS = {
    "open": pb.FINDING_STATUS_OPEN,
    "acknowledged": pb.FINDING_STATUS_ACKNOWLEDGED,
    "resolved": pb.FINDING_STATUS_RESOLVED,
}
COMPLIANCE = {
    "compliant": pb.COMPLIANCE_STATUS_COMPLIANT,
    "findings_open": pb.COMPLIANCE_STATUS_FINDINGS_OPEN,
    "findings_resolved": pb.COMPLIANCE_STATUS_FINDINGS_RESOLVED,
}
OVERDUE = {"transit": pb.OVERDUE_KIND_NOT_RECEIVED, "install": pb.OVERDUE_KIND_NOT_INSTALLED}


class _NoReadModel(Exception):
    """This server runs without read models."""


class FindingQueries:
    """The read-model side of ComplianceService (its servicer delegates here)."""

    def __init__(self, read_models: ReadModels | None, blocking: Blocking) -> None:
        self._read = read_models
        self._blocking = blocking

    async def _call(self, context: Any, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await answer(context, work, passthrough=(_NoReadModel,))
        except _NoReadModel:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server has no read models configured")
            raise AssertionError("abort returned") from None  # pragma: no cover

    async def _await(self, context: Any, request: Any) -> ReadModels:
        if self._read is None:
            raise _NoReadModel
        position = request.min_position if request.HasField("min_position") else None
        await await_position(self._read, self._blocking, context, position, [READ_MODEL])
        return self._read

    async def get_batch_compliance(
        self, request: pb.GetBatchComplianceRequest, context: Any
    ) -> pb.GetBatchComplianceResponse:
        async def work() -> pb.GetBatchComplianceResponse:
            batch_id = require_uuid("batch_id", request.batch_id)
            read = await self._await(context, request)
            found = await self._blocking(read.batch_compliance, batch_id)
            if found is None:
                raise NotFound("batch", batch_id)
            grants = current_grants()
            return batch_compliance_message(found, legal_holds=grants.legal_holds, sees_party=grants.sees_party)

        return await self._call(context, work)

    async def list_findings(self, request: pb.ListFindingsRequest, context: Any) -> pb.ListFindingsResponse:
        async def work() -> pb.ListFindingsResponse:
            criteria = finding_filter(request)
            size = page_size(request.page_size)
            read = await self._await(context, request)
            found, token = await self._blocking(read.list_findings, criteria, size, request.page_token)
            return pb.ListFindingsResponse(findings=[finding_message(f) for f in found], next_page_token=token)

        return await self._call(context, work)

    async def get_finding(self, request: pb.GetFindingRequest, context: Any) -> pb.GetFindingResponse:
        async def work() -> pb.GetFindingResponse:
            finding_id = require_uuid("finding_id", request.finding_id)
            read = await self._await(context, request)
            found = await self._blocking(read.finding, finding_id)
            if found is None:
                raise NotFound("finding", finding_id)
            return pb.GetFindingResponse(finding=finding_message(found))

        return await self._call(context, work)

    async def list_overdue_items(
        self, request: pb.ListOverdueItemsRequest, context: Any
    ) -> pb.ListOverdueItemsResponse:
        async def work() -> pb.ListOverdueItemsResponse:
            violations: list[tuple[str, str]] = []
            as_of: datetime | None = None
            if not request.HasField("as_of"):
                violations.append(("as_of", "required: the time to evaluate the outstanding items at"))
            else:
                try:
                    as_of = request.as_of.ToDatetime(tzinfo=UTC)
                except (ValueError, OverflowError):
                    violations.append(("as_of", "not a valid timestamp (years 1 to 9999)"))
            for name in ("transit_days", "install_days"):
                value = getattr(request, name)
                if not 0 <= value <= MAX_DAYS:
                    violations.append((name, f"0 (the read model's allowance) or 1 to {MAX_DAYS} days"))
            if not 0 <= request.attestation_days <= MAX_DAYS:
                violations.append(("attestation_days", f"0 (not evaluated) or 1 to {MAX_DAYS} days"))
            if violations:
                raise InvalidField(violations)
            assert as_of is not None
            read = await self._await(context, request)
            transit = request.transit_days or None
            install = request.install_days or None
            items = await self._blocking(read.overdue, as_of, transit, install, request.include_waiting)
            default_transit, default_install = read.overdue_allowances()
            messages = [overdue_message(i) for i in items]
            if request.attestation_days:
                gaps = await self._blocking(read.attestation_gaps, as_of, request.attestation_days)
                messages += [m for g in gaps for m in gap_messages(g, as_of, request.attestation_days)]
            return pb.ListOverdueItemsResponse(
                items=messages, as_of=timestamp(as_of),
                transit_days=transit or default_transit, install_days=install or default_install,
            )

        return await self._call(context, work)


def finding_filter(request: pb.ListFindingsRequest) -> FindingFilter:
    """The request's filters, each validated; every bad one is named."""
    violations: list[tuple[str, str]] = []
    ids: dict[str, Any] = {}
    for name in ("partner_id", "batch_id"):
        try:
            ids[name] = parse_uuid(name, getattr(request, name))
        except InvalidField as e:
            violations.extend(e.violations)
    severities = _names(request.severities, SEVERITY, "severities", violations)
    statuses = _names(request.statuses, STATUS, "statuses", violations)
    rules = tuple(r.strip() for r in request.rule_ids)
    if any(not r for r in rules):
        violations.append(("rule_ids", "must not contain empty rule ids"))
    if violations:
        raise InvalidField(violations)
    return FindingFilter(
        partner_id=ids["partner_id"], batch_id=ids["batch_id"], rule_ids=rules,
        severities=severities, statuses=statuses,
    )


def _names(values: Any, table: Mapping[str, int], field: str, violations: list[tuple[str, str]]) -> tuple[str, ...]:
    by_number = {number: name for name, number in table.items()}
    out: list[str] = []
    for i, value in enumerate(values):
        if value not in by_number:
            violations.append((f"{field}[{i}]", f"one of {sorted(table)} (UNSPECIFIED is not a value)"))
        else:
            out.append(by_number[value])
    return tuple(out)


# ------------------------------------------------------------------------------- messages
def _id(value: object) -> str:
    return "" if value is None else str(value)


def trail_message(t: TrailEntry) -> pb.FindingTrailEntry:
    return pb.FindingTrailEntry(
        seq=t.seq, action=t.action, actor=t.actor, note=t.note, position=t.position,
        event_type=t.event_type, occurred_at=timestamp(t.occurred_at), recorded_at=timestamp(t.recorded_at),
    )


def finding_message(f: Finding) -> pb.Finding:
    message = pb.Finding(
        finding_id=str(f.finding_id), rule_id=f.rule_id, title=f.title, citation=f.citation,
        severity=SEVERITY[f.severity], status=STATUS[f.status], batch_id=_id(f.batch_id),
        partner_id=_id(f.partner_id), party_id=_id(f.party_id), site_id=_id(f.site_id),
        authorization_id=_id(f.authorization_id), shipment_id=f.shipment_id, quantity=f.quantity,
        serials=f.serials, reasons=f.reasons,
        revealed_by=pb.RevealingEvent(
            position=f.revealed_position, event_type=f.revealed_event_type,
            aggregate_id=str(f.revealed_aggregate_id), occurred_at=timestamp(f.revealed_occurred_at),
        ),
        first_detected_at=timestamp(f.first_detected_at),
        trail=[trail_message(t) for t in f.trail],
    )
    if f.status_changed_at is not None:
        message.status_changed_at.CopyFrom(timestamp(f.status_changed_at))
    return message


def export_message(e: ExportRecord) -> pb.ExportRecord:
    message = pb.ExportRecord(
        shipment_id=e.shipment_id, shipped_at=timestamp(e.shipped_at), quantity=e.quantity,
        received=e.received, destination_country=e.destination_country,
        destination_site_id=_id(e.destination_site_id), retention_basis_at=timestamp(e.retention_basis_at),
        retention_until=timestamp(e.retention_until), carrier_id=_id(e.carrier_id),
        intermediate_consignee_ids=[str(p) for p in e.intermediate_consignee_ids], forwarder_id=_id(e.forwarder_id),
        held=e.held, eccn=e.eccn,
        destination_control_statement=e.destination_control_statement, exporter_id=_id(e.exporter_id),
        itn=e.itn, end_use=e.end_use, value=str(e.value) if e.value is not None else "", currency=e.currency,
        authorization_id=_id(e.authorization_id), authorization_number=e.authorization_number,
        authorization_type=e.authorization_type, exception_code=e.exception_code,
        authorization_remaining_value=(str(e.authorization_remaining_value)
                                       if e.authorization_remaining_value is not None else ""),
        tpp=e.tpp, performance_density=e.performance_density,
        classification_paragraphs=list(e.classification_paragraphs),
        classification_ruleset_id=e.classification_ruleset_id, aes_license_code=e.aes_license_code,
    )
    if e.datacenter_marketed is not None:
        message.datacenter_marketed = e.datacenter_marketed
    if e.authorization_valid_to is not None:
        message.authorization_valid_to.CopyFrom(timestamp(e.authorization_valid_to))
    if e.authorization_drawn_quantity is not None:
        message.authorization_drawn_quantity = e.authorization_drawn_quantity
    if e.authorization_remaining_quantity is not None:
        message.authorization_remaining_quantity = e.authorization_remaining_quantity
    if e.destruction_allowed_from is not None:
        message.destruction_allowed_from.CopyFrom(timestamp(e.destruction_allowed_from))
    return message


def legal_hold_message(h: LegalHoldRecord) -> pb.LegalHold:
    message = pb.LegalHold(
        hold_id=str(h.hold_id), agency=h.agency, reference=h.reference, reason=h.reason, placed_by=h.placed_by,
        placed_at=timestamp(h.placed_at), active=h.active, released_by=h.released_by,
        release_reason=h.release_reason,
    )
    if h.released_at is not None:
        message.released_at.CopyFrom(timestamp(h.released_at))
    return message


def onward_message(m: OnwardMovementRecord, sees_party: Callable[[UUID], bool] | None = None) -> pb.OnwardMovement:
    """``sees_party``: a confined caller's party view (:attr:`Grants.sees_party`); the recipient is
    left out unless it admits it (the caller's own party or a subsidiary). None: shown."""
    recipient = m.recipient_id
    shown = recipient is not None and (sees_party is None or sees_party(recipient))
    return pb.OnwardMovement(
        kind=m.kind, country=m.country, place=m.place, quantity=m.quantity, serials=m.serials,
        occurred_at=timestamp(m.occurred_at), recorded_by=m.recorded_by, note=m.note,
        recipient_id=str(recipient) if shown else "",
    )


def batch_compliance_message(
    b: BatchCompliance, legal_holds: bool = True, sees_party: Callable[[UUID], bool] | None = None
) -> pb.GetBatchComplianceResponse:
    """The answer; ``legal_holds`` False (a caller who may not see holds, policy.HOLD_READERS): no
    holds, and no export says whether it is held or when its records may be destroyed (that date
    is unset while a hold is in place, so it would tell), whether or not a hold is in place.
    ``sees_party``: a confined caller's party view; an onward movement's recipient outside it is
    left out (None: every recipient shown)."""
    exports = [export_message(e) for e in b.exports]
    if not legal_holds:
        for e in exports:
            e.held = False
            e.ClearField("destruction_allowed_from")
    message = pb.GetBatchComplianceResponse(
        batch_id=str(b.batch_id), po_number=b.po_number, buyer_id=str(b.buyer_id),
        status=COMPLIANCE[b.status], findings=[finding_message(f) for f in b.findings],
        serial_count=b.serial_count,
        serials=[
            pb.SerialCompliance(
                serial=s.serial, status=COMPLIANCE[s.status], finding_ids=[str(i) for i in s.finding_ids]
            )
            for s in b.serials
        ],
        compliant_serial_count=max(b.serial_count - len(b.serials), 0),
        exports=exports, position=b.position,
        legal_holds=[legal_hold_message(h) for h in b.legal_holds] if legal_holds else [],
        onward_movements=[onward_message(m, sees_party) for m in b.onward_movements],
    )
    if b.as_of is not None:
        message.as_of.CopyFrom(timestamp(b.as_of))
    return message


def gap_messages(g: AttestationGap, as_of: datetime, days: int) -> list[pb.OverdueItem]:
    """A batch's unattested installed serials as overdue items: the stale ones, the never attested."""
    out: list[pb.OverdueItem] = []
    if g.stale and g.oldest_seen is not None:
        out.append(pb.OverdueItem(
            kind=pb.OVERDUE_KIND_NOT_ATTESTED, rule_id=g.rule_id, batch_id=str(g.batch_id),
            since=timestamp(g.oldest_seen), due=timestamp(g.oldest_seen + timedelta(days=days)), overdue=True,
            days_waiting=max((as_of - g.oldest_seen).days, 0), units=len(g.stale), serials=g.stale))
    if g.never:
        out.append(pb.OverdueItem(kind=pb.OVERDUE_KIND_NOT_ATTESTED, rule_id=g.rule_id, batch_id=str(g.batch_id),
                                  overdue=True, units=len(g.never), serials=g.never))
    return out


def overdue_message(i: OverdueItem) -> pb.OverdueItem:
    return pb.OverdueItem(
        kind=OVERDUE[i.kind], rule_id=i.rule_id, batch_id=str(i.batch_id), shipment_id=i.shipment_id,
        since=timestamp(i.since), due=timestamp(i.due), overdue=i.overdue, days_waiting=i.days_waiting,
        units=i.units, serials=i.serials, finding_id=_id(i.finding_id),
    )
