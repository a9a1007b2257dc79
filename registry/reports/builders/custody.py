"""The custody report: per batch its full chain of custody, every event from order to the as-of time.

Batches and their trails are read from the view a batch at a time while the report is written, so
memory stays flat however many batches the registry holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

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
    def sections() -> Iterator[Section]:
        yield Section("Summary", lambda: _summary_blocks(ctx))
        yield from batch_sections(ctx)

    return Report(
        kind=KIND,
        title="Chain of custody of GPU batches",
        subtitle="Every recorded event of every batch: what happened, to which units, where, who recorded it and when",
        as_of=ctx.as_of,
        inputs=ctx.inputs(),
        sections=sections,
    )


def _summary_blocks(ctx: Context) -> Iterator[Block]:
    custody = ctx.table("custody_trail", "custody")
    count = select(func.count()).select_from(custody)
    batches = 0
    events = 0
    units = dict.fromkeys(STAGES, 0)
    for b in ctx.batches():
        batches += 1
        events += int(ctx.scalar(count.where(custody.c.batch_id == b.batch_id)) or 0)
        for s in STAGES:
            units[s] += b.units_by_stage.get(s, 0)
    yield Paragraph(
        f"The chain of custody of each batch {ctx.as_of_sentence()}: one row per recorded event, oldest first, "
        "with the business time it happened (occurred) and the time the registry recorded it, the actor and the "
        "request that caused it, the units or serials it concerned and where. A batch split from another starts "
        "with its parent's events up to the split. " + ctx.filter_sentence()
    )
    yield Summary("Key totals", (
        SummaryItem("Batches", batches),
        SummaryItem("Custody events", events),
        SummaryItem("Units", sum(units.values()), "units"),
        *(SummaryItem(f"Units {STAGE_TITLES[s].lower()}", units[s], "units") for s in STAGES if units[s]),
    ))


def batch_sections(ctx: Context, new_page: bool = True) -> Iterator[Section]:
    """One section per selected batch: what it is, then its custody trail (read when written)."""
    for b in ctx.batches():
        yield Section(
            f"Batch {b.po_number} ({b.batch_id})",
            _batch_blocks(ctx, b),
            new_page=new_page,
        )


def _batch_blocks(ctx: Context, b: BatchSummary) -> Callable[[], Iterator[Block]]:
    def blocks() -> Iterator[Block]:
        detail = ctx.read_models.get_batch(b.batch_id)
        stages = ", ".join(f"{STAGE_TITLES[s].lower()} {n:,}" for s, n in b.units_by_stage.items() if n)
        text = (
            f"{b.quantity:,} units of {ctx.name(b.model_id)} bought by {ctx.name(b.buyer_id)}"
        )
        if detail is not None:
            text += f" from {ctx.name(detail.supplier_id)} at {detail.unit_price} {detail.currency} a unit"
            if detail.parent_id is not None:
                text += f"; split from batch {detail.parent_id}"
            text += f"; clearance {detail.clearance_status}"
            if detail.authorization_number:
                text += f" under {detail.authorization_number}"
        text += f"; now {b.stage.replace('_', ' ')}" + (f" ({stages})" if stages else "") + "."
        yield Paragraph(text)
        yield Table(
            f"Chain of custody of batch {b.po_number}",
            TRAIL_COLUMNS,
            lambda: trail_rows(ctx, b.batch_id),
        )

    return blocks


def trail_rows(ctx: Context, batch_id: UUID) -> Iterator[tuple[Cell, ...]]:
    for e in ctx.trail(batch_id):
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
    elif kind == "ReportedLost":
        parts = [f"{d.get('kind', '')}", f"note: {d.get('note', '')}"]
    elif kind == "Decommissioned":
        parts = [f"method: {d.get('method', '')}"]
    elif kind == "SplitOff":
        parts = [f"split off to batch {d.get('child_batch_id') or d.get('child_id', '')}"]
    else:
        parts = [f"{k}: {v}" for k, v in sorted(d.items()) if isinstance(v, str | int | Decimal)]
    if e.moves:
        parts.append(f"moves: {moves_text(e.moves)}")
    return "; ".join(p for p in parts if p)


def _auth(ctx: Context, value: Any) -> str:
    ident = _id(value)
    return ctx.authorization_label(ident) if ident is not None else "none named"
