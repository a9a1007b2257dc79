"""Custody trail: one row per batch event, the basis of an audit's chain-of-custody section.

Each row says what happened (event type), to how many units or which serials, who recorded it
(actor, request id), when it happened (occurred_at, business time) and when the registry
recorded it (recorded_at), where (the site the event names, or the one the units were at),
plus the event's other fields and its moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text, Uuid

from projections.common import moves_of, plain
from projections.engine import Handler, Projection, Work
from registry.domain.batch import GpuBatch

_STANDARD = frozenset({
    "originator_id", "originator_version", "originator_topic", "timestamp", "actor",
    "request_id", "occurred_at", "serials", "gpu_uuids", "moves", "quantity",
})
_SITE_FIELDS = ("site_id", "destination_site_id", "to_site_id")
_QUANTITY_FIELDS = ("quantity", "cleared_quantity")

BATCH_EVENTS: tuple[type[Any], ...] = (
    GpuBatch.Ordered, GpuBatch.SplitFrom, GpuBatch.OrderCorrected, GpuBatch.ClearanceRequested,
    GpuBatch.ClearanceGranted, GpuBatch.ClearanceDenied, GpuBatch.ClearanceRevoked,
    GpuBatch.SerialsRegistered, GpuBatch.Shipped, GpuBatch.Received, GpuBatch.Installed,
    GpuBatch.Assigned, GpuBatch.Transferred, GpuBatch.ReturnedForRma, GpuBatch.Repaired, GpuBatch.ReportedLost,
    GpuBatch.Decommissioned, GpuBatch.SplitOff, GpuBatch.OnwardMovementRecorded, GpuBatch.ErrorDeclared,
)


class CustodyTrail(Projection):
    name = "custody_trail"
    version = 1

    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        custody = Table(
            name("custody"), metadata,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("batch_id", Uuid, nullable=False),
            Column("version", Integer, nullable=False),
            Column("event_type", String(64), nullable=False),
            Column("actor", Text, nullable=False),
            Column("request_id", Text, nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("recorded_at", DateTime(timezone=True), nullable=False),
            Column("quantity", BigInteger, nullable=True),
            Column("serials", JSON, nullable=False),
            Column("site_id", Uuid, nullable=True),
            Column("detail", JSON, nullable=False),
            Column("moves", JSON, nullable=False),
        )
        Index(f"ix_{custody.name}_batch", custody.c.batch_id, custody.c.position)
        return {"custody": custody}

    def handlers(self) -> Mapping[type[Any], Handler]:
        return dict.fromkeys(BATCH_EVENTS, _record)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _site_of(e: Any, fields: Mapping[str, Any]) -> UUID | None:
    for name in _SITE_FIELDS:
        value = fields.get(name)
        if isinstance(value, UUID):
            return value
    sites = {f.site for f, _, _ in moves_of(e) if f.site} | {t.site for _, t, _ in moves_of(e) if t.site}
    return UUID(sites.pop()) if len(sites) == 1 else None


# Optional fields later event versions added (``Shipped`` v4: the shipment's other parties; v5: its
# exporter of record): left out of the detail when absent, so an older event's trail row keeps the
# shape it had.
_OPTIONAL_FIELDS = frozenset({"intermediate_consignee_ids", "forwarder_id", "exporter_id"})


def _absent(name: str, value: Any) -> bool:
    return name in _OPTIONAL_FIELDS and not value


def _record(work: Work, e: Any) -> None:
    fields = vars(e)
    quantity = next((fields[k] for k in _QUANTITY_FIELDS if isinstance(fields.get(k), int)), None)
    work.append("custody", {
        "position": work.position,
        "batch_id": e.originator_id,
        "version": e.originator_version,
        "event_type": type(e).__name__,
        "actor": e.actor,
        "request_id": e.request_id,
        "occurred_at": _utc(e.occurred_at),
        "recorded_at": _utc(e.timestamp),
        "quantity": quantity,
        "serials": list(fields.get("serials", [])),
        "site_id": _site_of(e, fields),
        "detail": plain({k: v for k, v in fields.items() if k not in _STANDARD and not _absent(k, v)}),
        "moves": [m.as_row() for m in fields.get("moves", [])],
    })
