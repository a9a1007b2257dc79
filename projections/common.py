"""Small helpers the read models share: position keys, the batch's one-word stage, compute."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from registry.domain.batch import Clearance, Position, Stage
from registry.domain.classification import ModelSpec, total_processing_performance
from registry.domain.serials import SerialSet

STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
LIVE_STAGES: tuple[str, ...] = ("pending", "in_transit", "received", "installed", "assigned")
INSTALLED_STAGES: tuple[str, ...] = ("installed", "assigned")

_CLEARANCE_STAGE = {
    Clearance.NONE.value: "ordered",
    Clearance.REQUESTED.value: "clearance_requested",
    Clearance.GRANTED.value: "cleared",
    Clearance.DENIED.value: "clearance_denied",
    Clearance.REVOKED.value: "clearance_revoked",
}


Pos = Position  # the domain's value object: (stage, site_hex, owner_hex, assignee_hex)


def moves_of(event: Any) -> list[tuple[Position, Position, int]]:
    """An event's moves as (from, to, count); none for an event that moves nothing."""
    return [(m.source, m.target, m.count) for m in getattr(event, "moves", ())]


SERIAL_POSITION = ("stage", "site", "owner", "assignee")  # a serial row's position columns


def serial_moves(event: Any, changes: Mapping[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    """An event's moves for :meth:`projections.engine.RowCache.move` on serial rows: the
    ``SERIAL_POSITION`` values a move starts from -> the values it ends at, plus ``changes``."""
    moving: dict[tuple[str, ...], dict[str, Any]] = {}
    for m in getattr(event, "moves", ()):
        start, end = m.source, m.target
        moving[(start.stage, start.site, start.owner, start.assignee)] = {
            "stage": end.stage, "site": end.site, "owner": end.owner, "assignee": end.assignee, **changes
        }
    return moving


def uuid_or_none(hex_id: str) -> UUID | None:
    return UUID(hex_id) if hex_id else None


def batch_stage(units_by_stage: Mapping[str, int], clearance_status: str) -> str:
    """One word for a batch: the earliest stage still holding live units (as GpuBatch.stage)."""
    if units_by_stage.get("pending", 0):
        return _CLEARANCE_STAGE[clearance_status]
    for stage in ("in_transit", "received", "installed", "assigned"):
        if units_by_stage.get(stage, 0):
            return stage
    return "closed"


def tpp_per_gpu(dense_tops: Mapping[str, Any], bit_lengths: Mapping[str, Any]) -> Decimal:
    """Total Processing Performance of one GPU: the highest dense TOPS x bit length over its
    precisions (the rule's 2 x MacTOPS x bit length), as the classification computes it."""
    spec = ModelSpec(
        name="",
        dense_tops={k: Decimal(str(v)) for k, v in dense_tops.items()},
        bit_lengths={k: int(v) for k, v in bit_lengths.items()},
        die_area_mm2=Decimal(0),
        datacenter_marketed=True,
    )
    return total_processing_performance(spec)[1]


def dense_pflops_per_gpu(dense_tops: Mapping[str, Any]) -> Decimal:
    """The highest dense throughput of one GPU over its precisions, in peta-operations/s."""
    if not dense_tops:
        return Decimal(0)
    return max(Decimal(str(v)) for v in dense_tops.values()) / 1000


_AS_IS = frozenset({str, int, float, bool, type(None)})  # exactly these types are JSON-safe as they are


def plain(value: Any) -> Any:
    """A JSON-safe copy: UUIDs, decimals and datetimes become strings.

    Values of exactly a JSON type come back first, before the checks below (the custody trail's
    details hold a batch's serials, one string each; an enum that is also an int or a string is
    not exactly of its base type, so it still goes to ``value.value``)."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | SerialSet):
        return [plain(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"))
