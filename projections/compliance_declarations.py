"""Declared errors in the compliance projection: a recorded event declared in error is a discrepancy.

EPCIS 2.0 section 7.4.1.2 lets the party that captured an event declare it in error later
(``GpuBatch.ErrorDeclared``: ``did_not_occur``, ``incorrect_data``, a URI of its own vocabulary, or
no reason; with the eventIDs of its corrective events). The registry never edits a recorded fact:
the batch's positions and totals still include the declared event. For the auditor ("a discrepancy
log (shipped vs received vs installed, serial mismatches, location anomalies) and each
discrepancy's resolution", the rule text's records and documents) that is a discrepancy between
the record and what happened: ``event-declared-in-error`` is raised on the batch, its reason naming
the declared event (its type, units and serials when this projection knows them: an event captured
under that eventID, request id ``epcis:<eventID>``) and its trail holding the declaration (who,
when, the reason, the corrective events) as the evidence an officer resolves it by. A movement
declared as ``did_not_occur`` is high (the units' recorded positions include a movement that did
not happen); any other declaration medium.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, MetaData, String, Table, Text, Uuid

from projections.compliance_batches import _batch
from projections.engine import Handler, Work
from projections.findings import _flag, utc
from registry.domain.batch import GpuBatch

#: the batch events that move units (or name them moving): a declared one is a movement's discrepancy
MOVEMENTS: tuple[type[Any], ...] = (
    GpuBatch.Shipped, GpuBatch.Received, GpuBatch.Installed, GpuBatch.Assigned, GpuBatch.Transferred,
    GpuBatch.ReturnedForRma, GpuBatch.Repaired, GpuBatch.ReportedLost, GpuBatch.Decommissioned,
    GpuBatch.OnwardMovementRecorded,
)
_CAPTURED = "epcis:"  # a captured event's request id: this prefix and its eventID (registry.epcis.export)


def define_declarable(metadata: MetaData, name: Callable[[str], str]) -> Table:
    """Each captured batch event's request id with what it was: the declared event of a later
    declaration is looked up here (one row per captured event; an event recorded through the API
    has none)."""
    return Table(
        name("declarable"), metadata,
        Column("request_id", Text, primary_key=True),
        Column("batch_id", Uuid, nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("position", BigInteger, nullable=False),
        Column("quantity", BigInteger, nullable=True),
        Column("serials", JSON, nullable=False),
        Column("shipment_id", Text, nullable=False),
    )


def remembering(handlers: Mapping[type[Any], Handler]) -> dict[type[Any], Handler]:
    """The batch handlers, each of which also remembers a captured event it handles."""
    return {cls: _remember(h) for cls, h in handlers.items()}


def _remember(handler: Handler) -> Handler:
    def handle(work: Work, e: Any) -> None:
        handler(work, e)
        request_id = getattr(e, "request_id", "")
        if isinstance(request_id, str) and request_id.startswith(_CAPTURED):
            serials = getattr(e, "serials", None)
            quantity = getattr(e, "quantity", None)
            work.cache("declarable").put({
                "request_id": request_id, "batch_id": e.originator_id, "event_type": type(e).__name__,
                "position": work.position, "quantity": quantity if isinstance(quantity, int) else None,
                "serials": list(serials) if serials is not None else [],
                "shipment_id": str(getattr(e, "shipment_id", "") or ""),
            })

    return handle


_MOVEMENT_NAMES = frozenset(cls.__name__ for cls in MOVEMENTS)


def error_declared(work: Work, e: Any) -> None:
    """``event-declared-in-error`` on the batch, the declaration as its evidence (module docstring)."""
    batch = _batch(work, e.originator_id)
    declared = work.cache("declarable").get(f"{_CAPTURED}{e.event_id}"[:200])
    if declared is not None and declared["batch_id"] != e.originator_id:
        declared = None
    reason_code = e.reason or "no reason given"
    what = f"event {e.event_id}"
    serials: list[str] = []
    quantity = 0
    movement = False
    if declared is not None:
        movement = declared["event_type"] in _MOVEMENT_NAMES
        serials = list(declared["serials"] or [])
        quantity = int(declared["quantity"] or 0)
        units = f"{len(serials) or quantity} unit(s)"
        shipment = f", shipment {declared['shipment_id']}" if declared["shipment_id"] else ""
        what = f"{declared['event_type']} (log position {declared['position']}, {units}{shipment}) {e.event_id}"
    severity = "high" if movement and e.reason == "did_not_occur" else "medium"
    corrective = (f"; corrective event(s): {', '.join(e.corrective_event_ids)}" if e.corrective_event_ids
                  else "; no corrective event named")
    reason = (f"{what} declared in error ({reason_code}) on {utc(e.occurred_at):%Y-%m-%d}: the registry's record "
              f"of it stands (positions and totals unchanged){corrective}")
    note = (f"declaration by {e.actor} at {utc(e.occurred_at).isoformat()}: {reason_code}{corrective}")
    _flag(work, e, "event-declared-in-error", f"declared:{batch['batch_id'].hex}:{e.event_id}",
          severity=severity, batch=batch, serials=serials, quantity=quantity,
          shipment_id=declared["shipment_id"] if declared is not None else "", reason=reason, note=note)
