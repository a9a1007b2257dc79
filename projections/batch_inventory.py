"""Batch inventory: per batch its stage and quantities, per serial where it is and whose it is.

Tables (``rm_batch_inventory_<table>_g<N>``, N the generation):

* ``batch``: one row per batch: order data, clearance, the one-word stage, current units
  per stage (``units_<stage>``) and cumulative flows (``total_shipped``, ...).
* ``bucket``: units per position (stage, site, owner, assignee) per batch, maintained from
  the ``moves`` each movement event carries (so no domain rule is re-derived here).
* ``serial``: one row per registered serial, written once (re-pointed when a split moves it to
  the child batch): its batch and GPU UUID.
* ``serial_run``: where the serials are (stage, site, owner, assignee, shipment, rack, host), as
  runs of consecutive serials in the same state (``projections/serial_runs.py``): a movement
  splits runs only where the serials it moves diverge from their neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, Uuid

from projections.common import SERIAL_POSITION, STAGES, batch_stage, moves_of, serial_moves
from projections.engine import Handler, Projection, Row, Work
from projections.serial_runs import RUN_TABLE, SerialRuns, define_runs, expand
from registry.domain.batch import OUT_OF_RACK, GpuBatch

TOTALS = (
    "shipped", "received", "installed", "assigned", "transferred", "returned", "lost",
    "decommissioned",
)
_HEX = String(32)


class BatchInventory(Projection):
    name = "batch_inventory"
    version = 3  # 2: serial state kept as runs (serial_run), serial rows only batch and GPU UUID;
    # 3: a unit received or returned for RMA is in no rack (rack and host cleared), as GpuBatch

    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        batch = Table(
            name("batch"), metadata,
            Column("batch_id", Uuid, primary_key=True),
            Column("created_position", BigInteger, nullable=False),
            Column("version", Integer, nullable=False),
            Column("parent_id", Uuid, nullable=True),
            Column("po_number", Text, nullable=False),
            Column("supplier_id", Uuid, nullable=False),
            Column("buyer_id", Uuid, nullable=False),
            Column("model_id", Uuid, nullable=False),
            Column("unit_price", String(64), nullable=False),
            Column("currency", String(3), nullable=False),
            Column("allocation_program", Text, nullable=False),
            Column("clearance_status", String(16), nullable=False),
            Column("destination_country", String(2), nullable=False),
            Column("authorization_number", Text, nullable=False),
            Column("stage", String(32), nullable=False),
            Column("quantity", BigInteger, nullable=False),
            Column("ordered", BigInteger, nullable=False),
            Column("requested", BigInteger, nullable=False),
            Column("cleared", BigInteger, nullable=False),
            Column("serials", BigInteger, nullable=False),
            *[Column(f"units_{s}", BigInteger, nullable=False) for s in STAGES],
            *[Column(f"total_{t}", BigInteger, nullable=False) for t in TOTALS],
        )
        Index(f"ix_{batch.name}_created", batch.c.created_position, unique=True)
        Index(f"ix_{batch.name}_stage", batch.c.stage)
        bucket = Table(
            name("bucket"), metadata,
            Column("batch_id", Uuid, primary_key=True),
            Column("stage", String(16), primary_key=True),
            Column("site", _HEX, primary_key=True),
            Column("owner", _HEX, primary_key=True),
            Column("assignee", _HEX, primary_key=True),
            Column("units", BigInteger, nullable=False),
        )
        Index(f"ix_{bucket.name}_site", bucket.c.site)
        Index(f"ix_{bucket.name}_owner", bucket.c.owner)
        Index(f"ix_{bucket.name}_assignee", bucket.c.assignee)
        serial = Table(
            name("serial"), metadata,
            Column("serial", String(64), primary_key=True),
            Column("batch_id", Uuid, nullable=False),
            Column("gpu_uuid", String(64), nullable=False),
        )
        Index(f"ix_{serial.name}_batch", serial.c.batch_id, serial.c.serial)
        runs = define_runs(metadata, name(RUN_TABLE), Column("batch_id", Uuid), [
            Column("stage", String(16), nullable=False),
            Column("site", _HEX, nullable=False),
            Column("owner", _HEX, nullable=False),
            Column("assignee", _HEX, nullable=False),
            Column("shipment_id", Text, nullable=False),
            Column("rack", Text, nullable=False),
            Column("host", Text, nullable=False),
        ])
        return {"batch": batch, "bucket": bucket, "serial": serial, RUN_TABLE: runs}

    def handlers(self) -> Mapping[type[Any], Handler]:
        b = GpuBatch
        return {
            b.Ordered: _ordered,
            b.SplitFrom: _split_from,
            b.OrderCorrected: _order_corrected,
            b.ClearanceRequested: _clearance_requested,
            b.ClearanceGranted: _clearance_granted,
            b.ClearanceDenied: _clearance_denied,
            b.ClearanceRevoked: _clearance_revoked,
            b.SerialsRegistered: _serials_registered,
            b.Shipped: _movement("shipped", lambda e: {"shipment_id": e.shipment_id}),
            b.Received: _movement("received"),
            b.Installed: _movement("installed", lambda e: {"rack": e.rack, "host": e.host}),
            b.Assigned: _movement("assigned"),
            b.Transferred: _movement("transferred"),
            b.ReturnedForRma: _movement("returned"),
            b.Repaired: _repaired,
            b.ReportedLost: _movement("lost"),
            b.Decommissioned: _movement("decommissioned"),
            b.OnwardMovementRecorded: _fact_only,
            b.ErrorDeclared: _fact_only,
            b.SplitOff: _split_off,
        }


STATE = ("stage", "site", "owner", "assignee", "shipment_id", "rack", "host")  # a serial run's state


def serial_runs(work: Work) -> SerialRuns:
    return SerialRuns(work.cache(RUN_TABLE, group="batch_id"), STATE)


def per_serial_rows(dump: Mapping[str, Sequence[Row]]) -> list[Row]:
    """The rows the per-serial ``serial`` table held (version 1), from a dump of this projection's
    ``serial`` and ``serial_run`` tables: one per serial, sorted by serial."""
    uuids = {r["serial"]: r["gpu_uuid"] for r in dump["serial"]}
    return expand(dump[RUN_TABLE], lambda serial, _run: {"gpu_uuid": uuids[serial]})


# ---------------------------------------------------------------------------- handlers
def _new_batch(work: Work, e: Any, parent_id: Any) -> Row:
    row: Row = {
        "batch_id": e.originator_id,
        "created_position": work.position,
        "version": e.originator_version,
        "parent_id": parent_id,
        "po_number": e.po_number,
        "supplier_id": e.supplier_id,
        "buyer_id": e.buyer_id,
        "model_id": e.model_id,
        "unit_price": str(e.unit_price),
        "currency": e.currency,
        "allocation_program": e.allocation_program,
        "clearance_status": "none",
        "destination_country": "",
        "authorization_number": "",
        "stage": "",
        "quantity": e.quantity,
        "ordered": e.quantity,
        "requested": 0,
        "cleared": 0,
        "serials": 0,
        **{f"units_{s}": 0 for s in STAGES},
        **{f"total_{t}": 0 for t in TOTALS},
    }
    row["units_pending"] = e.quantity
    # The batch's first event: no row is keyed by it yet (its rows come from its own events only)
    work.cache("batch").absent(e.originator_id)
    work.cache("bucket", group="batch_id").absent_group(e.originator_id)
    work.cache("bucket", group="batch_id").add(
        (e.originator_id, "pending", "", e.buyer_id.hex, ""), "units", e.quantity
    )
    return row


def _save(work: Work, row: Row, e: Any) -> None:
    row["version"] = e.originator_version
    row["stage"] = batch_stage(
        {s: row[f"units_{s}"] for s in STAGES}, row["clearance_status"]
    )
    work.cache("batch").put(row)


def _batch(work: Work, e: Any) -> Row:
    found = work.cache("batch").get(e.originator_id)
    if found is None:
        raise LookupError(f"batch {e.originator_id} has events but no creation event")
    return dict(found)


def _ordered(work: Work, e: Any) -> None:
    _save(work, _new_batch(work, e, None), e)


def _split_from(work: Work, e: Any) -> None:
    row = _new_batch(work, e, e.parent_id)
    clearance = dict(e.clearance or {})
    row["clearance_status"] = e.clearance_status
    row["destination_country"] = str(clearance.get("destination_country", ""))
    row["authorization_number"] = str(clearance.get("authorization_number", ""))
    row["requested"] = int(clearance.get("requested_quantity", 0))
    row["cleared"] = int(clearance.get("cleared_quantity", 0))
    row["serials"] = len(e.serials)
    _save(work, row, e)
    if e.serials:
        serial_runs(work).remove(e.parent_id, e.serials)
        _register(work, e.serials, e.gpu_uuids, e.originator_id, e.buyer_id.hex)


def _register(work: Work, serials: Sequence[str], gpu_uuids: Sequence[str], batch_id: Any, owner: str,
              *, new: bool = False) -> None:
    """The serials' rows (batch and GPU UUID) and their runs, pending with the buyer. ``new``: the
    serials are registered for the first time (``SerialsRegistered``), so no row of theirs is
    stored and none is read: a serial is registered once in the whole registry (the store's
    ``serial_claims`` index, written with the event, refuses a second claim; claims are only ever
    moved, by a split, whose ``SplitFrom`` re-points rows that exist and so reads them)."""
    rows = work.cache("serial")
    made = (
        {"serial": serial, "batch_id": batch_id, "gpu_uuid": gpu_uuid}
        for serial, gpu_uuid in zip(serials, gpu_uuids, strict=True)
    )
    if new:
        rows.put_new(made)
    else:
        rows.prefetch(serials)
        rows.put_many(made)
    serial_runs(work).register(batch_id, serials, {
        "stage": "pending", "site": "", "owner": owner, "assignee": "", "shipment_id": "", "rack": "", "host": "",
    })


def _order_corrected(work: Work, e: Any) -> None:
    row = _batch(work, e)
    for k in ("po_number", "currency", "allocation_program"):
        if k in e.fields:
            row[k] = e.fields[k]
    if "unit_price" in e.fields:
        row["unit_price"] = str(e.fields["unit_price"])
    _save(work, row, e)


def _clearance_requested(work: Work, e: Any) -> None:
    row = _batch(work, e)
    row.update(
        clearance_status="requested", destination_country=e.destination_country,
        requested=e.quantity, cleared=0, authorization_number="",
    )
    _save(work, row, e)


def _clearance_granted(work: Work, e: Any) -> None:
    row = _batch(work, e)
    row.update(
        clearance_status="granted", destination_country=e.destination_country,
        cleared=e.cleared_quantity, authorization_number=e.authorization_number,
    )
    _save(work, row, e)


def _clearance_denied(work: Work, e: Any) -> None:
    row = _batch(work, e)
    row.update(clearance_status="denied", cleared=0)
    _save(work, row, e)


def _clearance_revoked(work: Work, e: Any) -> None:
    row = _batch(work, e)
    row["clearance_status"] = "revoked"
    _save(work, row, e)


def _serials_registered(work: Work, e: Any) -> None:
    row = _batch(work, e)
    _register(work, e.serials, e.gpu_uuids, e.originator_id, row["buyer_id"].hex, new=True)
    row["serials"] += len(e.serials)
    _save(work, row, e)


def _apply_moves(work: Work, row: Row, e: Any) -> None:
    buckets = work.cache("bucket", group="batch_id")
    batch_id = e.originator_id
    for f, t, n in moves_of(e):
        buckets.add((batch_id, f.stage, f.site, f.owner, f.assignee), "units", -n)
        row[f"units_{f.stage}"] -= n
        if t.is_unit_stage:
            buckets.add((batch_id, t.stage, t.site, t.owner, t.assignee), "units", n)
            row[f"units_{t.stage}"] += n


def _move_serials(work: Work, e: Any, changes: Mapping[str, Any]) -> None:
    """Each named serial goes from its current position to the move that starts there."""
    serials = getattr(e, "serials", ())
    if not serials:
        return
    moving = serial_moves(e, changes)
    if "rack" not in changes:  # received at a site or with the vendor under an RMA: in no rack (GpuBatch)
        for target in moving.values():
            if target["stage"] in OUT_OF_RACK:
                target.update(rack="", host="")
    serial_runs(work).move(e.originator_id, serials, SERIAL_POSITION, moving)


def _movement(total: str, changes: Callable[[Any], Mapping[str, Any]] | None = None) -> Handler:
    def handle(work: Work, e: Any) -> None:
        row = _batch(work, e)
        _apply_moves(work, row, e)
        _move_serials(work, e, changes(e) if changes else {})
        counted = e.quantity - len(getattr(e, "relocated_serials", []))
        row[f"total_{total}"] += counted
        _save(work, row, e)

    return handle


def _repaired(work: Work, e: Any) -> None:
    """Units repaired: back from an RMA (received at a site, out of any rack) or in place (each
    move's source is its target). No total column counts repairs (the custody trail lists them)."""
    row = _batch(work, e)
    _apply_moves(work, row, e)
    _move_serials(work, e, {"rack": "", "host": ""} if e.kind == "from_rma" else {})
    _save(work, row, e)


def _fact_only(work: Work, e: Any) -> None:
    """A recorded fact that moves no units (a known reexport, transshipment or diversion): the
    batch's version follows it, nothing else changes."""
    _save(work, _batch(work, e), e)


def _split_off(work: Work, e: Any) -> None:
    """Units leave for the child batch. Their serial rows and runs are re-pointed by the child's
    SplitFrom (written in the same atomic save), so the order of the two does not matter."""
    row = _batch(work, e)
    _apply_moves(work, row, e)
    row["quantity"] -= e.quantity
    row["cleared"] -= e.cleared_quantity
    row["serials"] -= len(e.serials)
    _save(work, row, e)
