"""The custody report: per batch its full chain of custody, every event from order to the as-of time.

Batches and their trails are read from the view one batch at a time, once; the rows derived from
them are kept in the view's scratch database and streamed back by each rendering pass, so memory
stays flat however many batches the registry holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from projections.common import STAGES
from projections.queries import CustodyEntry
from registry.application.ports import BatchSummary
from registry.reports.builders.common import STAGE_TITLES, Context, moves_text, serial_range
from registry.reports.model import (
    Block,
    Cell,
    Column,
    ColumnType,
    Paragraph,
    Report,
    Section,
    Summary,
    SummaryItem,
    Table,
)

KIND = "custody"
NEEDS = ("batch_inventory", "custody_trail")
"""The projections this report reads (the as-of view replays only these)."""

TRAIL_COLUMNS = (
    Column("position", "Log position", ColumnType.INT),
    Column("event", "Event"),
    Column("occurred", "Occurred", ColumnType.DATETIME),
    Column("recorded", "Recorded", ColumnType.DATETIME),
    Column("actor", "Actor"),
    Column("request", "Request"),
    Column("units", "Units", ColumnType.INT),
    Column("serials", "Serials"),
    Column("site", "Site"),
    Column("details", "Details"),
)


def build(ctx: Context) -> Report:
    totals = keep_custody(ctx)

    def sections() -> Iterator[Section]:
        yield Section("Summary", tuple(_summary_blocks(ctx, totals)))
        yield from batch_sections(ctx)

    return Report(
        kind=KIND,
        title="Chain of custody of GPU batches",
        subtitle="Every recorded event of every batch: what happened, to which units, where, who recorded it and when",
        as_of=ctx.as_of,
        inputs=ctx.inputs(),
        sections=sections,
    )


@dataclass
class CustodyTotals:
    batches: int = 0
    events: int = 0
    shipments: int = 0
    units: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))


BATCHES_KEY = "custody/batches"


def keep_custody(ctx: Context) -> CustodyTotals:
    """One pass over the selected batches: each batch's description and custody rows are derived
    once and kept in the view (:meth:`AsOfView.keep`), for the rendering passes to read back."""
    if isinstance(ctx.custody, CustodyTotals):
        return ctx.custody
    totals = CustodyTotals()
    with ctx.view.keeping():
        for page in ctx.batch_pages():
            details = ctx.batch_rows([b.batch_id for b in page])
            for b in page:
                keep_custody_of(ctx, totals, b, ctx.trail(b.batch_id), details.get(b.batch_id))
    ctx.custody = totals
    return totals


def keep_custody_of(
    ctx: Context, totals: CustodyTotals, b: BatchSummary, trail: list[CustodyEntry], detail: Mapping[str, Any] | None,
    rows: bool = True,
) -> None:
    """Keep one batch's description and custody rows, and count it (a step of keep_custody); ``detail``:
    the batch's row in the batch inventory (:meth:`Context.batch_rows`); ``rows=False``: count only.
    With a serial or period filter (custody report), only the events it selects are kept and counted,
    and a batch none of whose events it selects is left out."""
    if ctx.filters.narrows_events:
        serial = ctx.filters.serial
        if serial is not None and not any(serial in e.serials for e in trail):
            return  # the serial is not in this batch
        trail = [e for e in trail if _selected(ctx, e)]
        if not trail:
            return
    totals.events += sum(1 for e in trail if e.batch_id == b.batch_id)
    totals.shipments += sum(1 for e in trail if e.batch_id == b.batch_id and e.event_type == "Shipped")
    for s in STAGES:
        totals.units[s] += b.units_by_stage.get(s, 0)
    if rows:
        ctx.view.keep(f"custody/{totals.batches}", _trail_rows(ctx, b.batch_id, trail))
        ctx.view.keep(BATCHES_KEY, [(b.po_number, b.batch_id, _describe_batch(ctx, b, detail))])
    totals.batches += 1


def _summary_blocks(ctx: Context, totals: CustodyTotals) -> Iterator[Block]:
    yield Paragraph(
        f"The chain of custody of each batch {ctx.as_of_sentence()}: one row per recorded event, oldest first, "
        "with the business time it happened (occurred) and the time the registry recorded it, the actor and the "
        "request that caused it, the units or serials it concerned and where. A batch split from another starts "
        "with its parent's events up to the split. Filters (gpureg report custody --partner, --authorization, "
        "--batch, --serial, --occurred-from, --occurred-to) select the batches and events. " + ctx.filter_sentence()
    )
    units = totals.units
    yield Summary("Key totals", (
        SummaryItem("Batches", totals.batches),
        SummaryItem("Custody events", totals.events),
        SummaryItem("Units", sum(units.values()), "units"),
        *(SummaryItem(f"Units {STAGE_TITLES[s].lower()}", units[s], "units") for s in STAGES if units[s]),
    ))


def batch_sections(ctx: Context, new_page: bool = True) -> Iterator[Section]:
    """One section per selected batch: what it is, then its custody trail (kept by keep_custody)."""
    keep_custody(ctx)
    for i, (po, batch_id, text) in enumerate(ctx.view.kept(BATCHES_KEY)):
        yield Section(
            f"Batch {po} ({batch_id})",
            (Paragraph(text), Table(f"Chain of custody of batch {po}", TRAIL_COLUMNS,
                                    partial(ctx.view.kept, f"custody/{i}"))),
            new_page=new_page,
        )


def _describe_batch(ctx: Context, b: BatchSummary, detail: Mapping[str, Any] | None) -> str:
    stages = ", ".join(f"{STAGE_TITLES[s].lower()} {n:,}" for s, n in b.units_by_stage.items() if n)
    text = f"{b.quantity:,} units of {ctx.name(b.model_id)} bought by {ctx.name(b.buyer_id)}"
    if detail is not None:
        text += (
            f" from {ctx.name(detail['supplier_id'])} at {Decimal(detail['unit_price'])} {detail['currency']} a unit"
        )
        if detail["parent_id"] is not None:
            text += f"; split from batch {detail['parent_id']}"
        text += f"; clearance {detail['clearance_status']}"
        if detail["authorization_number"]:
            text += f" under {detail['authorization_number']}"
    return text + f"; now {b.stage.replace('_', ' ')}" + (f" ({stages})" if stages else "") + "."


def _selected(ctx: Context, e: CustodyEntry) -> bool:
    """The serial filter keeps the events naming the serial and the batch-wide ones (no serials named:
    ordered, cleared, ...); the period filter keeps the events that occurred in it (both ends included)."""
    f = ctx.filters
    if f.serial is not None and e.serials and f.serial not in e.serials:
        return False
    if f.occurred_from is not None and e.occurred_at < f.occurred_from:
        return False
    return f.occurred_to is None or e.occurred_at <= f.occurred_to


def _trail_rows(ctx: Context, batch_id: UUID, trail: list[CustodyEntry]) -> Iterator[tuple[Cell, ...]]:
    for e in trail:
        event = e.event_type if e.batch_id == batch_id else f"{e.event_type} (parent batch)"
        yield (
            e.position, event, e.occurred_at, e.recorded_at, e.actor, e.request_id, e.quantity,
            serial_range(e.serials), ctx.name(e.site_id), describe(ctx, e),
        )


def _id(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def describe(ctx: Context, e: CustodyEntry) -> str:
    """One line saying what an event recorded, in words, with the names as of the view."""
    d: Mapping[str, Any] = e.detail
    n = ctx.name
    kind = e.event_type
    parts: list[str]
    if kind in ("Ordered", "SplitFrom"):
        parts = [f"PO {d.get('po_number', '')}: {n(_id(d.get('model_id')))} from {n(_id(d.get('supplier_id')))} "
                 f"for {n(_id(d.get('buyer_id')))} at {d.get('unit_price', '')} {d.get('currency', '')} a unit, "
                 f"programme {d.get('allocation_program', '')}"]
        if kind == "SplitFrom":
            parts.append(f"split from batch {d.get('parent_id', '')}")
    elif kind == "OrderCorrected":
        fields = d.get("fields", {})
        changes = ", ".join(f"{k} = {v}" for k, v in sorted(fields.items()))
        parts = [f"corrected {changes}", f"reason: {d.get('reason', '')}"]
    elif kind == "ClearanceRequested":
        parts = [f"ECCN {d.get('eccn', '')} to {d.get('destination_country', '')}",
                 f"consignee {n(_id(d.get('consignee_id')))}", f"end user {n(_id(d.get('end_user_id')))}",
                 f"authorization {_auth(ctx, d.get('authorization_id'))}", f"end use: {d.get('end_use', '')}"]
    elif kind == "ClearanceGranted":
        parts = [f"authorization {d.get('authorization_number') or _auth(ctx, d.get('authorization_id'))}",
                 f"ECCN {d.get('eccn', '')} to {d.get('destination_country', '')}",
                 f"consignee {n(_id(d.get('consignee_id')))}", f"end user {n(_id(d.get('end_user_id')))}"]
        classification = d.get("evidence", {}).get("classification", {})
        if classification:
            parts.append(f"classified {classification.get('eccn') or 'not 3A090'} under ruleset "
                         f"{classification.get('ruleset_id', '')} (TPP {classification.get('tpp', '')})")
    elif kind == "ClearanceDenied":
        parts = [f"rule {d.get('rule', '')}: {d.get('reason', '')}"]
    elif kind == "ClearanceRevoked":
        parts = [f"reason: {d.get('reason', '')}"]
    elif kind == "SerialsRegistered":
        parts = [f"{len(e.serials):,} serials registered"]
    elif kind == "Shipped":
        parts = [f"shipment {d.get('shipment_id', '')}", f"carrier {n(_id(d.get('carrier_id'))) or 'none named'}",
                 f"from {d.get('origin', '')} to {d.get('destination_country', '')}"
                 + (f", site {n(_id(d.get('destination_site_id')))}" if d.get("destination_site_id") else ""),
                 f"AES/EEI ITN {d.get('itn') or 'none'}"]
        if d.get("intermediate_consignee_ids"):
            parts.append("via intermediate consignee(s) "
                         + ", ".join(n(_id(p)) for p in d["intermediate_consignee_ids"]))
        if d.get("forwarder_id"):
            parts.append(f"forwarder {n(_id(d.get('forwarder_id')))}")
        if d.get("exporter_id"):
            parts.append(f"exporter {n(_id(d.get('exporter_id')))}")
    elif kind == "Received":
        parts = [f"shipment {d.get('shipment_id', '')} received by {n(_id(d.get('receiving_party_id')))}"]
        if d.get("missing_serials"):
            parts.append(f"missing {serial_range(list(d['missing_serials']))}")
        if d.get("unexpected_serials"):
            parts.append(f"unexpected {serial_range(list(d['unexpected_serials']))}")
        if d.get("discrepancy_note"):
            parts.append(f"note: {d['discrepancy_note']}")
    elif kind == "Installed":
        parts = [f"rack {d.get('rack', '')}, host {d.get('host', '')}"]
        if d.get("relocated_serials"):
            parts.append(f"reported at another site before: {serial_range(list(d['relocated_serials']))}")
    elif kind == "Assigned":
        parts = [f"to {n(_id(d.get('assignee_id')))}", f"purpose: {d.get('purpose', '')}"]
    elif kind == "Transferred":
        parts = [f"to {n(_id(d.get('to_owner_id')))}"
                 + (f" at {n(_id(d.get('to_site_id')))}" if d.get("to_site_id") else ""),
                 f"reason: {d.get('reason', '')}"]
    elif kind == "ReturnedForRma":
        parts = [f"RMA {d.get('rma_number', '')}", f"reason: {d.get('reason', '')}"]
    elif kind == "ErrorDeclared":
        parts = [f"event {d.get('event_id', '')} declared in error",
                 f"reason: {d.get('reason')}" if d.get("reason") else ""]
    elif kind == "Repaired":
        where = f" at {n(_id(d.get('site_id')))}" if d.get("site_id") else ""
        what = "back from RMA, received" if d.get("kind") == "from_rma" else "repaired on site"
        parts = [what + where, f"RMA {d.get('rma_number')}" if d.get("rma_number") else "",
                 f"note: {d.get('note')}" if d.get("note") else ""]
    elif kind == "ReportedLost":
        parts = [f"{d.get('kind', '')}", f"note: {d.get('note', '')}"]
    elif kind == "Decommissioned":
        parts = [f"method: {d.get('method', '')}"]
    elif kind == "OnwardMovementRecorded":
        place = f"{d.get('place')}, " if d.get("place") else ""
        recipient = _id(d.get("recipient_id"))
        parts = [f"known {d.get('kind', '')} to {place}{d.get('country', '')}",
                 f"recipient {n(recipient)}" if recipient is not None and _names_recipient(ctx, recipient) else "",
                 f"note: {d.get('note', '')}" if d.get("note") else ""]
    elif kind == "SplitOff":
        parts = [f"split off to batch {d.get('child_batch_id') or d.get('child_id', '')}"]
    else:
        parts = [f"{k}: {v}" for k, v in sorted(d.items()) if isinstance(v, str | int | Decimal)]
    if e.moves:
        parts.append(f"moves: {moves_text(e.moves)}")
    return "; ".join(p for p in parts if p)


def _names_recipient(ctx: Context, recipient: UUID) -> bool:
    """An onward movement's recipient is named in a report for everyone, but in one filtered to a
    partner (a partner's call) or scoped to one only when it is that party or in its family."""
    f = ctx.filters
    if f.scope is None and f.partner is None:
        return True
    return recipient in f.family or recipient in (f.partner, f.scope)


def _auth(ctx: Context, value: Any) -> str:
    ident = _id(value)
    return ctx.authorization_label(ident) if ident is not None else "none named"
