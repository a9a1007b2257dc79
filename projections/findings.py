"""The vocabulary and life cycle of a compliance finding: stages and allowances, severities,
deterministic finding ids, and raising a finding, adding evidence to it, its trail and an
officer's review (moved out of ``projections/compliance.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import String

from projections.engine import Handler, Row, Work
from registry.domain.compliance_rules import RULES
from registry.domain.findings import FindingStatus

TRANSIT_DAYS = 30
INSTALL_DAYS = 60
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
LIVE_STAGES = frozenset({"pending", "in_transit", "received", "installed", "assigned"})
INSTALLED_STAGES = frozenset({"installed", "assigned"})
TRANSIT = "transit"
INSTALL = "install"
OVERDUE_RULE = {TRANSIT: "not-received-in-time", INSTALL: "not-installed-in-time"}

_FINDING_NS = uuid5(NAMESPACE_URL, "urn:gpureg:finding")
_HEX = String(32)


def finding_id_for(rule_id: str, subject: str, episode: int) -> UUID:
    """The id of a finding: the same rule, subject and episode always give the same id."""
    return uuid5(_FINDING_NS, f"{rule_id}|{subject}|{episode}")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def utc(value: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes; they were stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _opt_utc(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


# ========================================================================= findings (core)
def _flag(
    work: Work,
    e: Any,
    rule_id: str,
    subject: str,
    *,
    severity: str,
    reason: str,
    batch: Row | None = None,
    serials: Sequence[str] = (),
    quantity: int = 0,
    party_id: UUID | None = None,
    site_id: UUID | None = None,
    authorization_id: UUID | None = None,
    shipment_id: str = "",
    note: str = "",
) -> UUID:
    """Raise a finding, or add this evidence to the open one of the same rule and subject.

    ``reason`` is what is wrong (kept once in the finding's reasons); ``note`` is what this event
    showed (the trail entry; the reason when empty). A resolved finding is never reopened: new
    evidence about its subject opens the next episode. Returns the finding's id.
    """
    assert rule_id in RULES and RULES[rule_id].kind == "finding", rule_id
    position = work.position
    note = note or reason
    subjects = work.cache("subject")
    findings = work.cache("finding")
    known = subjects.get(rule_id, subject)
    episode = 1
    if known is not None:
        current = findings.get(known["finding_id"])
        if current is not None and current["status"] != FindingStatus.RESOLVED:
            _add_evidence(work, e, dict(current), severity, reason, note, serials, quantity, position)
            return UUID(str(current["finding_id"]))
        episode = known["episode"] + 1
    finding_id = finding_id_for(rule_id, subject, episode)
    new_serials = sorted(set(serials))
    findings.put({
        "finding_id": finding_id,
        "rule_id": rule_id,
        "subject": subject,
        "episode": episode,
        "severity": severity,
        "status": FindingStatus.OPEN.value,
        "batch_id": batch["batch_id"] if batch is not None else None,
        "partner_id": batch["buyer_id"] if batch is not None else None,
        "party_id": party_id,
        "site_id": site_id,
        "authorization_id": authorization_id or (batch["authorization_id"] if batch is not None else None),
        "shipment_id": shipment_id,
        "quantity": len(new_serials) if new_serials else quantity,
        "reasons": [reason],
        "revealed_position": position,
        "revealed_event_type": type(e).__name__,
        "revealed_aggregate_id": e.originator_id,
        "revealed_occurred_at": utc(e.occurred_at),
        "first_detected_at": utc(e.timestamp),
        "updated_position": position,
        "status_changed_at": None,
        "trail_count": 1,
    })
    subjects.put({"rule_id": rule_id, "subject": subject, "finding_id": finding_id, "episode": episode})
    links = work.cache("finding_serial", group="finding_id")
    for s in new_serials:
        links.put({"finding_id": finding_id, "serial": s})
    _trail(work, e, finding_id, 0, "raised", e.actor, note, position)
    return finding_id


def _add_evidence(
    work: Work, e: Any, current: Row, severity: str, reason: str, note: str, serials: Sequence[str],
    quantity: int, position: int,
) -> None:
    finding_id = current["finding_id"]
    links = work.cache("finding_serial", group="finding_id")
    added = [s for s in sorted(set(serials)) if links.get(finding_id, s) is None]
    changed = bool(added) or reason not in current["reasons"]
    if severity_rank(severity) > severity_rank(current["severity"]):
        current["severity"] = severity
        changed = True
    if not changed:
        return
    for s in added:
        links.put({"finding_id": finding_id, "serial": s})
    if reason not in current["reasons"]:
        current["reasons"] = [*current["reasons"], reason]
    current["quantity"] += len(added) if serials else quantity
    current["updated_position"] = position
    seq = current["trail_count"]
    current["trail_count"] = seq + 1
    work.cache("finding").put(current)
    _trail(work, e, finding_id, seq, "evidence", e.actor, note, position)


def _trail(
    work: Work, e: Any, finding_id: UUID, seq: int, action: str, actor: str, note: str, position: int
) -> None:
    work.append("trail", {
        "finding_id": finding_id, "seq": seq, "action": action, "actor": actor, "note": note,
        "position": position, "event_type": type(e).__name__, "occurred_at": utc(e.occurred_at),
        "recorded_at": utc(e.timestamp),
    })


def _reviewed(status: FindingStatus) -> Handler:
    def handle(work: Work, e: Any) -> None:
        findings = work.cache("finding")
        row = findings.get(e.finding_id)
        if row is None or row["status"] == FindingStatus.RESOLVED:
            return
        row = dict(row)
        seq = row["trail_count"]
        row.update(
            status=status.value, status_changed_at=utc(e.occurred_at), updated_position=work.position,
            trail_count=seq + 1,
        )
        findings.put(row)
        _trail(work, e, e.finding_id, seq, status.value, e.actor, e.note, work.position)

    return handle
