"""Queries on the compliance projection (mixed into :class:`projections.queries.ReadModels`).

Findings with their rule, citation, evidence and trail; a batch's compliance status and its
serials' statuses; export records with their retention date; and the outstanding items (shipments
not received, received units not installed) evaluated at a caller's time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Connection, Table, func, or_, select

from projections.compliance import ComplianceFindings
from projections.compliance_clock import WAITING_STAGE
from projections.compliance_lookups import authorization_terms, model_spec
from projections.compliance_records import (
    ExportRecord,
    LegalHoldRecord,
    OnwardMovementRecord,
    export_record,
    legal_holds,
    lineages,
)
from projections.db import ACTIVE, POSITIONS
from projections.engine import Projection
from projections.findings import INSTALL, INSTALL_DAYS, OVERDUE_RULE, SEVERITIES, TRANSIT, TRANSIT_DAYS, utc
from projections.page_tokens import decode_page_token, encode_page_token
from projections.serial_runs import RUN_TABLE, run_serials
from registry.application.ports import AuthorizationExpiry
from registry.domain.classification import ModelSpec
from registry.domain.compliance_rules import RULES
from registry.domain.errors import InvalidField
from registry.domain.findings import FindingStatus
from registry.domain.policy import remaining

T = TypeVar("T")

COMPLIANT = "compliant"
FINDINGS_OPEN = "findings_open"
FINDINGS_RESOLVED = "findings_resolved"
FINDING_STATUSES: tuple[str, ...] = tuple(s.value for s in FindingStatus)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class TrailEntry:
    """One step of a finding's history: raised, more evidence, acknowledged, resolved."""

    seq: int
    action: str
    actor: str
    note: str
    position: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class Finding:
    finding_id: UUID
    rule_id: str
    title: str
    citation: str
    severity: str
    status: str
    batch_id: UUID | None
    partner_id: UUID | None
    party_id: UUID | None
    site_id: UUID | None
    authorization_id: UUID | None
    shipment_id: str
    quantity: int
    serials: list[str]
    reasons: list[str]
    revealed_position: int
    revealed_event_type: str
    revealed_aggregate_id: UUID
    revealed_occurred_at: datetime
    first_detected_at: datetime
    updated_position: int
    status_changed_at: datetime | None
    trail: list[TrailEntry] = field(default_factory=list)


@dataclass(frozen=True)
class FindingFilter:
    """None or empty means "any". ``partner_id`` matches the batch's buyer or the party involved."""

    partner_id: UUID | None = None
    batch_id: UUID | None = None
    rule_ids: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class SerialCompliance:
    serial: str
    status: str  # findings_open | findings_resolved (serials without findings are compliant)
    finding_ids: list[UUID]


@dataclass(frozen=True)
class BatchCompliance:
    batch_id: UUID
    po_number: str
    buyer_id: UUID
    status: str
    findings: list[Finding]
    serial_count: int
    serials: list[SerialCompliance]  # the serials named by a finding; every other one is compliant
    exports: list[ExportRecord]
    as_of: datetime | None  # the log time the projection has reached
    position: int  # the projection's position the answer was read at
    legal_holds: list[LegalHoldRecord] = field(default_factory=list)
    onward_movements: list[OnwardMovementRecord] = field(default_factory=list)


@dataclass(frozen=True)
class OverdueItem:
    """A shipment with no receipt (transit), or received units not installed (install)."""

    kind: str
    rule_id: str
    batch_id: UUID
    shipment_id: str
    since: datetime
    due: datetime
    overdue: bool
    days_waiting: int
    units: int
    serials: list[str]
    finding_id: UUID | None  # set once the projection flagged it (at its own log time)


def status_of(statuses: Sequence[str]) -> str:
    """compliant (no findings), findings_open (any not resolved), or findings_resolved."""
    if not statuses:
        return COMPLIANT
    if any(s != FindingStatus.RESOLVED for s in statuses):
        return FINDINGS_OPEN
    return FINDINGS_RESOLVED


def _page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidField.one("page_size", "must be >= 0 (0 means the default)")
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


class ComplianceQueries:
    """The compliance projection's queries; needs ``_read`` and ``positions`` of ReadModels."""

    _read: Callable[..., Any]
    projections: dict[str, Projection]

    def _compliance(self) -> ComplianceFindings:
        projection = self.projections.get(ComplianceFindings.name)
        return projection if isinstance(projection, ComplianceFindings) else ComplianceFindings()

    # ------------------------------------------- whole-log questions (ports.ReferenceQueries)
    def expiring_authorizations(self, within_days: int, at: datetime) -> list[AuthorizationExpiry]:
        """Authorizations valid at ``at`` that expire within ``within_days`` days, soonest first
        (validity by ``policy``: from valid_from inclusive to valid_to exclusive)."""
        horizon = at + timedelta(days=within_days)

        def query(conn: Connection, t: dict[str, Table]) -> list[AuthorizationExpiry]:
            found: list[AuthorizationExpiry] = []
            for row in conn.execute(select(t["authorization"])).mappings():
                terms = authorization_terms(dict(row))
                if terms.valid_to is None or not terms.is_valid_at(at) or terms.valid_to > horizon:
                    continue
                found.append(AuthorizationExpiry(
                    authorization_id=terms.authorization_id, number=terms.number, auth_type=terms.auth_type,
                    valid_to=terms.valid_to, days_left=(terms.valid_to - at).days,
                    remaining_quantity=remaining(terms.quantity_limit, row["drawn_quantity"], row["returned_quantity"]),
                    remaining_value=remaining(
                        terms.value_limit, Decimal(row["drawn_value"]), Decimal(row["returned_value"])),
                ))
            return sorted(found, key=lambda e: (e.valid_to, str(e.authorization_id)))

        result: list[AuthorizationExpiry] = self._read(ComplianceFindings.name, query, [])
        return result

    def batches_of_models(self, model_ids: Collection[UUID]) -> dict[UUID, list[UUID]]:
        """The batches (ordered or split off) of each model, oldest first."""
        wanted = set(model_ids)

        def query(conn: Connection, t: dict[str, Table]) -> dict[UUID, list[UUID]]:
            found: dict[UUID, list[UUID]] = {m: [] for m in wanted}
            if not wanted:
                return found
            b = t["batch"]
            stmt = select(b.c.batch_id, b.c.model_id).where(b.c.model_id.in_(sorted(wanted, key=str)))
            for batch_id, model_id in conn.execute(stmt.order_by(b.c.created_position)):
                found[model_id].append(batch_id)
            return found

        result: dict[UUID, list[UUID]] = self._read(ComplianceFindings.name, query, {m: [] for m in wanted})
        return result

    def model_specs(self) -> dict[UUID, ModelSpec]:
        """Every registered GPU model's classification inputs."""

        def query(conn: Connection, t: dict[str, Table]) -> dict[UUID, ModelSpec]:
            return {r["model_id"]: model_spec(dict(r)) for r in conn.execute(select(t["gpu_model"])).mappings()}

        result: dict[UUID, ModelSpec] = self._read(ComplianceFindings.name, query, {})
        return result

    def party_ids(self) -> list[UUID]:
        """Every registered party, ordered by id."""

        def query(conn: Connection, t: dict[str, Table]) -> list[UUID]:
            return sorted((r[0] for r in conn.execute(select(t["party"].c.party_id))), key=str)

        result: list[UUID] = self._read(ComplianceFindings.name, query, [])
        return result

    def overdue_allowances(self) -> tuple[int, int]:
        """The compliance projection's allowances in days: (transit, install)."""
        projection = self._compliance()
        return projection.transit_days, projection.install_days

    def _on_compliance(self, query: Callable[[Connection, dict[str, Table]], T], empty: T) -> T:
        result: T = self._read(ComplianceFindings.name, query, empty)
        return result

    # ----------------------------------------------------------------------- findings
    def finding_exists(self, finding_id: UUID) -> bool:
        def query(conn: Connection, t: dict[str, Table]) -> bool:
            f = t["finding"]
            return conn.execute(select(f.c.finding_id).where(f.c.finding_id == finding_id)).first() is not None

        return self._on_compliance(query, False)

    def finding(self, finding_id: UUID) -> Finding | None:
        def query(conn: Connection, t: dict[str, Table]) -> Finding | None:
            f = t["finding"]
            rows = list(conn.execute(select(f).where(f.c.finding_id == finding_id)).mappings())
            found = _findings(conn, t, rows)
            return found[0] if found else None

        return self._on_compliance(query, None)

    def list_findings(
        self, criteria: FindingFilter, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Finding], str]:
        """Findings matching ``criteria``, in the order they were raised, a page at a time."""
        size = _page_size(page_size)
        after = _finding_token(decode_page_token(page_token))
        violations: list[tuple[str, str]] = []
        unknown_rules = [r for r in criteria.rule_ids if r not in RULES or RULES[r].kind != "finding"]
        if unknown_rules:
            findings_rules = sorted(r for r, info in RULES.items() if info.kind == "finding")
            violations.append(("rule_ids", f"unknown finding rule(s) {unknown_rules}; known: {findings_rules}"))
        bad_severity = [s for s in criteria.severities if s not in SEVERITIES]
        if bad_severity:
            violations.append(("severities", f"each one of {list(SEVERITIES)}"))
        bad_status = [s for s in criteria.statuses if s not in FINDING_STATUSES]
        if bad_status:
            violations.append(("statuses", f"each one of {list(FINDING_STATUSES)}"))
        if violations:
            raise InvalidField(violations)

        def query(conn: Connection, t: dict[str, Table]) -> tuple[list[Finding], str]:
            f = t["finding"]
            stmt = select(f)
            skip = 0
            if after is not None:
                position, skip = after
                stmt = stmt.where(f.c.revealed_position >= position)
            if criteria.partner_id is not None:
                stmt = stmt.where(or_(f.c.partner_id == criteria.partner_id, f.c.party_id == criteria.partner_id))
            if criteria.batch_id is not None:
                stmt = stmt.where(f.c.batch_id == criteria.batch_id)
            if criteria.rule_ids:
                stmt = stmt.where(f.c.rule_id.in_(criteria.rule_ids))
            if criteria.severities:
                stmt = stmt.where(f.c.severity.in_(criteria.severities))
            if criteria.statuses:
                stmt = stmt.where(f.c.status.in_(criteria.statuses))
            stmt = stmt.order_by(f.c.revealed_position, f.c.finding_id).limit(skip + size + 1)
            rows = list(conn.execute(stmt).mappings())
            passed = rows[:skip]  # the page before ended among these (all at the token's position)
            rows = rows[skip:]
            more = len(rows) > size
            rows = rows[:size]
            token = ""
            if more:
                # where the page ends: a position and how many findings at it were listed, not the
                # last finding's id (a partner's page is filtered after the query: the last row
                # read may be another partner's finding, whose id the token must not carry)
                last = rows[-1]["revealed_position"]
                listed = sum(1 for r in (*passed, *rows) if r["revealed_position"] == last)
                token = encode_page_token(f"{last}.{listed}")
            return _findings(conn, t, rows), token

        no_findings: tuple[list[Finding], str] = ([], "")
        return self._on_compliance(query, no_findings)

    # ------------------------------------------------------------------------ batches
    def batch_compliance(self, batch_id: UUID) -> BatchCompliance | None:
        """A batch's compliance status, its findings, its serials' statuses and export records."""

        def query(conn: Connection, t: dict[str, Table]) -> BatchCompliance | None:
            b, f, s, sh = t["batch"], t["finding"], t[RUN_TABLE], t["shipment"]
            batch = conn.execute(select(b).where(b.c.batch_id == batch_id)).mappings().first()
            if batch is None:
                return None
            rows = list(conn.execute(
                select(f).where(f.c.batch_id == batch_id).order_by(f.c.revealed_position, f.c.finding_id)
            ).mappings())
            findings = _findings(conn, t, rows)
            per_serial: dict[str, list[Finding]] = defaultdict(list)
            for finding in findings:
                for serial in finding.serials:
                    per_serial[serial].append(finding)
            serial_count = conn.execute(
                select(func.sum(s.c.last - s.c.first + 1)).where(s.c.batch_id == batch_id)
            ).scalar()
            line = lineages(lambda stmt: conn.execute(stmt).mappings(), t["batch"], [batch_id])[batch_id]
            # its own holds are listed; a hold on a batch it was split from holds its records too
            lineage_holds = legal_holds(conn, t["legal_hold"], line)
            holds = lineage_holds.get(batch_id, [])
            held = any(h.active for a in line for h in lineage_holds.get(a, []))
            om = t["onward_movement"]
            onward = [
                OnwardMovementRecord(
                    kind=r["kind"], country=r["country"], place=r["place"], quantity=r["quantity"],
                    serials=list(r["serials"]), occurred_at=utc(r["occurred_at"]), recorded_by=r["recorded_by"],
                    note=r["note"], recipient_id=r.get("recipient_id"),
                )
                for r in conn.execute(select(om).where(om.c.batch_id == batch_id).order_by(om.c.position)).mappings()
            ]
            exports = [
                export_record(r, batch["last_transaction_at"], held)
                for r in conn.execute(
                    select(sh).where(sh.c.batch_id == batch_id).order_by(sh.c.position)
                ).mappings()
            ]
            as_of, _ = _clock(conn, t)
            position = conn.execute(
                select(POSITIONS.c.position).where(
                    POSITIONS.c.name == ComplianceFindings.name, POSITIONS.c.status == ACTIVE
                )
            ).scalar()
            return BatchCompliance(
                batch_id=batch_id,
                po_number=batch["po_number"],
                buyer_id=batch["buyer_id"],
                status=status_of([x.status for x in findings]),
                findings=findings,
                serial_count=int(serial_count or 0),
                serials=[
                    SerialCompliance(serial, status_of([x.status for x in fs]), [x.finding_id for x in fs])
                    for serial, fs in sorted(per_serial.items())
                ],
                exports=exports,
                as_of=as_of,
                position=int(position or 0),
                legal_holds=holds,
                onward_movements=onward,
            )

        return self._on_compliance(query, None)

    def compliance_clock(self) -> tuple[datetime | None, int]:
        """The log time the compliance projection has reached, and the position that set it."""
        no_clock: tuple[datetime | None, int] = (None, 0)
        return self._on_compliance(_clock, no_clock)

    # ------------------------------------------------------------------------ overdue
    def overdue(
        self,
        as_of: datetime,
        transit_days: int | None = None,
        install_days: int | None = None,
        include_waiting: bool = False,
    ) -> list[OverdueItem]:
        """Shipments with no receipt and received units not installed, evaluated at ``as_of`` (any
        time the caller chooses) against the allowances (default: the projection's). Only the
        overdue ones unless ``include_waiting``. Items the projection already flagged at its own
        log time carry their finding id; they stay listed while units are still outstanding."""
        projection = self._compliance()
        days = {
            TRANSIT: transit_days if transit_days is not None else projection.transit_days,
            INSTALL: install_days if install_days is not None else projection.install_days,
        }
        for name, value in (("transit_days", days[TRANSIT]), ("install_days", days[INSTALL])):
            if value < 1:
                raise InvalidField.one(name, "must be >= 1")
        when = utc(as_of)

        def query(conn: Connection, t: dict[str, Table]) -> list[OverdueItem]:
            p, s = t["pending"], t[RUN_TABLE]
            out: list[OverdueItem] = []
            for r in conn.execute(select(p).order_by(p.c.since, p.c.kind, p.c.batch_id, p.c.shipment_id)).mappings():
                since = utc(r["since"])
                due = since + timedelta(days=days[r["kind"]])
                overdue = when > due
                if not overdue and not include_waiting:
                    continue
                serials = sorted(serial for run in conn.execute(
                    select(s).where(
                        s.c.batch_id == r["batch_id"], s.c.shipment_id == r["shipment_id"],
                        s.c.stage == WAITING_STAGE[r["kind"]],
                    )
                ).mappings() for serial in run_serials(run))
                out.append(OverdueItem(
                    kind=r["kind"], rule_id=OVERDUE_RULE[r["kind"]], batch_id=r["batch_id"],
                    shipment_id=r["shipment_id"], since=since, due=due, overdue=overdue,
                    days_waiting=max((when - since).days, 0), units=r["units"], serials=list(serials),
                    finding_id=r["finding_id"],
                ))
            return out

        return self._on_compliance(query, [])


__all__ = [
    "COMPLIANT", "FINDINGS_OPEN", "FINDINGS_RESOLVED", "INSTALL_DAYS", "TRANSIT_DAYS", "BatchCompliance",
    "ComplianceQueries", "ExportRecord", "Finding", "FindingFilter", "LegalHoldRecord", "OnwardMovementRecord",
    "OverdueItem", "SerialCompliance",
    "TrailEntry", "status_of",
]


# ------------------------------------------------------------------------------ shaping
def _finding_token(value: str) -> tuple[int, int] | None:
    """A findings page token: the position the last page ended at, and how many findings revealed
    at it that page and those before it listed."""
    if not value:
        return None
    position, _, listed = value.partition(".")
    try:
        parsed = int(position), int(listed)
    except ValueError:
        raise InvalidField.one("page_token", "not a token this service returned") from None
    if parsed[0] < 0 or not 0 < parsed[1] <= 100_000:
        raise InvalidField.one("page_token", "not a token this service returned")
    return parsed


def _clock(conn: Connection, t: dict[str, Table]) -> tuple[datetime | None, int]:
    c = t["clock"]
    row = conn.execute(select(c).where(c.c.key == 1)).mappings().first()
    if row is None or row["as_of"] is None:
        return None, 0
    return utc(row["as_of"]), int(row["position"])


def _findings(conn: Connection, t: dict[str, Table], rows: list[Any]) -> list[Finding]:
    if not rows:
        return []
    ids = [r["finding_id"] for r in rows]
    fs, tr = t["finding_serial"], t["trail"]
    serials: dict[UUID, list[str]] = defaultdict(list)
    trails: dict[UUID, list[TrailEntry]] = defaultdict(list)
    for i in range(0, len(ids), 500):
        part = ids[i: i + 500]
        for fid, serial in conn.execute(
            select(fs.c.finding_id, fs.c.serial).where(fs.c.finding_id.in_(part)).order_by(fs.c.finding_id, fs.c.serial)
        ):
            serials[fid].append(serial)
        trail_rows = select(tr).where(tr.c.finding_id.in_(part)).order_by(tr.c.finding_id, tr.c.seq)
        for r in conn.execute(trail_rows).mappings():
            trails[r["finding_id"]].append(TrailEntry(
                seq=r["seq"], action=r["action"], actor=r["actor"], note=r["note"], position=r["position"],
                event_type=r["event_type"], occurred_at=utc(r["occurred_at"]), recorded_at=utc(r["recorded_at"]),
            ))
    out: list[Finding] = []
    for r in rows:
        rule = RULES.get(r["rule_id"])
        out.append(Finding(
            finding_id=r["finding_id"], rule_id=r["rule_id"], title=rule.title if rule else "",
            citation=rule.citation if rule else "", severity=r["severity"], status=r["status"],
            batch_id=r["batch_id"], partner_id=r["partner_id"], party_id=r["party_id"], site_id=r["site_id"],
            authorization_id=r["authorization_id"], shipment_id=r["shipment_id"], quantity=r["quantity"],
            serials=serials.get(r["finding_id"], []), reasons=list(r["reasons"]),
            revealed_position=r["revealed_position"], revealed_event_type=r["revealed_event_type"],
            revealed_aggregate_id=r["revealed_aggregate_id"],
            revealed_occurred_at=utc(r["revealed_occurred_at"]), first_detected_at=utc(r["first_detected_at"]),
            updated_position=r["updated_position"],
            status_changed_at=utc(r["status_changed_at"]) if r["status_changed_at"] is not None else None,
            trail=trails.get(r["finding_id"], []),
        ))
    return out
