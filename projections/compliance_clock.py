"""The compliance projection's log clock: outstanding receipts and installations, flagged when they
are overdue against the latest business time of the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from projections.compliance_serials import serial_runs
from projections.engine import Row, Work
from projections.findings import INSTALL, OVERDUE_RULE, TRANSIT, _flag, utc

if TYPE_CHECKING:
    from projections.compliance import ComplianceFindings


# ================================================================================ the clock
def _advance_clock(work: Work, e: Any, projection: ComplianceFindings) -> None:
    """Move the log time to this batch event's business time (it never goes back), and flag the
    outstanding items whose allowance has run out by then."""
    clock = work.cache("clock")
    row = clock.get(1)
    when = utc(e.occurred_at)
    if row is not None and row["as_of"] is not None and utc(row["as_of"]) >= when:
        return
    clock.put({"key": 1, "as_of": when, "position": work.position})
    next_due: datetime | None = work.scratch.get("next_due")
    if "next_due" in work.scratch and (next_due is None or next_due >= when):
        return
    earliest: datetime | None = None
    pending = work.cache("pending")
    for item in sorted(pending.all_rows(), key=lambda r: (r["kind"], str(r["batch_id"]), r["shipment_id"])):
        if item["finding_id"] is not None:
            continue
        due = utc(item["since"]) + projection.allowance(item["kind"])
        if when > due:
            _flag_overdue(work, e, dict(item), due)
        elif earliest is None or due < earliest:
            earliest = due
    work.scratch["next_due"] = earliest


def _flag_if_late(work: Work, e: Any, item: Row) -> bool:
    """The event ends an item's wait after its allowance ran out (judged by the item's own times,
    whatever the log time): flag it now. True when flagged."""
    projection: ComplianceFindings = work.scratch["projection"]
    due = utc(item["since"]) + projection.allowance(item["kind"])
    if utc(e.occurred_at) <= due:
        return False
    _flag_overdue(work, e, item, due)
    return True


def _note_due(work: Work, since: datetime, kind: str) -> None:
    if "next_due" not in work.scratch:
        return  # not computed yet in this chunk: the next clock move computes it from the table
    projection: ComplianceFindings = work.scratch["projection"]
    due = utc(since) + projection.allowance(kind)
    current: datetime | None = work.scratch["next_due"]
    if current is None or due < current:
        work.scratch["next_due"] = due


def _flag_overdue(work: Work, e: Any, item: Row, due: datetime) -> None:
    batch = work.cache("batch").get(item["batch_id"])
    kind = item["kind"]
    since = utc(item["since"])
    days = (utc(e.occurred_at) - since).days
    what = "shipped" if kind == TRANSIT else "received"
    missing = "no receipt recorded" if kind == TRANSIT else "not installed"
    label = waited_on(item["shipment_id"])
    reason = (
        f"{label} {what} on {since:%Y-%m-%d}: {missing} within "
        f"{(due - since).days} days (by {due:%Y-%m-%d})"
    )
    note = (
        f"{item['units']} unit(s) of {label} {what} on {since:%Y-%m-%d}: {missing} "
        f"by {due:%Y-%m-%d}; {type(e).__name__} at {utc(e.occurred_at):%Y-%m-%d}, {days} days after"
    )
    finding_id = _flag(
        work, e, OVERDUE_RULE[kind], f"shipment:{item['batch_id'].hex}:{item['shipment_id']}",
        severity="medium" if kind == TRANSIT else "low", reason=reason, note=note, batch=batch,
        serials=_serials_waiting(work, item["batch_id"], item["shipment_id"], kind), quantity=item["units"],
        shipment_id=item["shipment_id"],
    )
    work.cache("pending").put({**item, "finding_id": finding_id})


def _pending_add(work: Work, kind: str, batch_id: UUID, shipment_id: str, since: datetime, units: int) -> None:
    pending = work.cache("pending")
    row = pending.get(kind, batch_id, shipment_id)
    if row is None or row["finding_id"] is not None:
        row = {"kind": kind, "batch_id": batch_id, "shipment_id": shipment_id, "since": utc(since),
               "units": 0, "finding_id": None}
        _note_due(work, since, kind)
    pending.put({**row, "units": row["units"] + units})


def _pending_take(
    work: Work, e: Any, kind: str, batch_id: UUID, shipment_id: str | None, units: int
) -> None:
    """Units leave the stage an item waits on: from one shipment's item (serialized batches), or
    from the batch's items oldest first (quantity-only batches). Units that leave after their
    allowance ran out (a late receipt or installation) are flagged first."""
    pending = work.cache("pending")
    if shipment_id is not None:
        rows = [r for r in [pending.get(kind, batch_id, shipment_id)] if r is not None]
    else:
        rows = sorted(
            (r for r in pending.all_rows() if r["kind"] == kind and r["batch_id"] == batch_id),
            key=lambda r: (utc(r["since"]), r["shipment_id"]),
        )
    left = units
    for row in rows:
        if left <= 0:
            break
        current = row
        if row["finding_id"] is None and _flag_if_late(work, e, dict(row)):
            current = pending.get(kind, batch_id, row["shipment_id"]) or row
        take = min(left, current["units"])
        left -= take
        if take == current["units"]:
            pending.delete(kind, batch_id, current["shipment_id"])
        else:
            pending.put({**current, "units": current["units"] - take})


WAITING_STAGE = {TRANSIT: "in_transit", INSTALL: "received"}


# Units received at a site by another event than a shipment's receipt (an in-country transfer to
# another site, a repair back from an RMA) wait for their installation from that event (v14): their
# pending item is keyed by the event, ``(transfer v12)`` (the batch's version of the event) in the
# ``shipment_id`` column, and the serials' runs name that key as their ``shipment_id`` while they
# wait (the only reader of a run's shipment is the wait: an overdue item lists the serials of its key).
RECEIPT_KINDS = {"Transferred": "transfer", "Repaired": "repair"}


def receipt_key(e: Any) -> str:
    """The pending item key of the units an event (not a shipment's receipt) receives at a site."""
    return f"({RECEIPT_KINDS[type(e).__name__]} v{e.originator_version})"


def waited_on(key: str) -> str:
    """What an install item waits on, for a finding's reason: the shipment, or the receiving event."""
    return f"receipt {key}" if key.startswith("(") else f"shipment {key}"


def starts_wait(source: Any, target: Any) -> bool:
    """A move that receives units at a site anew: into ``received`` from another stage, or from
    ``received`` at another site (a transfer of units not yet installed)."""
    return bool(target.stage == "received" and (source.stage != "received" or source.site != target.site))


def _serials_waiting(work: Work, batch_id: UUID, shipment_id: str, kind: str) -> list[str]:
    """The serials of a shipment still in the stage an overdue item waits on (from the batch's
    runs as this chunk left them), sorted."""
    stage = WAITING_STAGE[kind]
    return serial_runs(work).serials(batch_id, lambda r: r["shipment_id"] == shipment_id and r["stage"] == stage)
