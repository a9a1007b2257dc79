"""Ownership per partner: units each partner owns, per GPU model and stage, and allocations.

The owner is the one in each unit's position (the buyer until a transfer). Compute held and
GPU counts are derived at query time from the GPU model lookup (so a corrected model needs no
rebuild), and compared with the partner's allocation, derived from the ``PartnerAllocation``
events into ``allocation`` (every value each allocation has had: who set it, when, why, from
which date), so the ownership view and the allocations always agree at one log position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, Uuid

from projections.common import moves_of
from projections.engine import Handler, Projection, Work
from projections.lookups import (
    batch_model_table,
    model_handlers,
    model_table,
    party_handlers,
    party_table,
)
from registry.domain.allocations import PartnerAllocation
from registry.domain.batch import GpuBatch

MOVEMENTS = (
    GpuBatch.Shipped, GpuBatch.Received, GpuBatch.Installed, GpuBatch.Assigned,
    GpuBatch.Transferred, GpuBatch.ReturnedForRma, GpuBatch.Repaired, GpuBatch.ReportedLost,
    GpuBatch.Decommissioned, GpuBatch.SplitOff,
)


class Ownership(Projection):
    name = "ownership"
    version = 2  # 2: allocations from PartnerAllocation events

    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        holding = Table(
            name("holding"), metadata,
            Column("partner_id", Uuid, primary_key=True),
            Column("model_id", Uuid, primary_key=True),
            Column("stage", String(16), primary_key=True),
            Column("units", BigInteger, nullable=False),
        )
        allocation = Table(
            name("allocation"), metadata,
            Column("partner_id", Uuid, primary_key=True),
            Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("gpus", BigInteger, nullable=True),  # None: removed
            Column("reason", Text, nullable=False),
            Column("effective_from", DateTime(timezone=True), nullable=False),
            Column("actor", Text, nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("recorded_at", DateTime(timezone=True), nullable=False),
            Column("position", BigInteger, nullable=False),
        )
        return {
            "holding": holding,
            "allocation": allocation,
            "batch_model": batch_model_table(metadata, name),
            "party": party_table(metadata, name),
            "gpu_model": model_table(metadata, name),
        }

    def handlers(self) -> Mapping[type[Any], Handler]:
        return {
            GpuBatch.Ordered: _created,
            GpuBatch.SplitFrom: _created,
            **dict.fromkeys(MOVEMENTS, _moved),
            **party_handlers(),
            **model_handlers(),
            PartnerAllocation.Set: _allocation,
            PartnerAllocation.Removed: _allocation,
        }


def _allocation(work: Work, e: Any) -> None:
    work.append("allocation", {
        "partner_id": e.partner_id,
        "seq": e.originator_version,
        "gpus": e.gpus if isinstance(e, PartnerAllocation.Set) else None,
        "reason": e.reason,
        "effective_from": e.effective_from,
        "actor": e.actor,
        "occurred_at": e.occurred_at,
        "recorded_at": e.timestamp,
        "position": work.position,
    })


def _created(work: Work, e: Any) -> None:
    # The batch's first event: its row cannot be stored yet (no lookup for it)
    work.cache("batch_model").absent(e.originator_id)
    work.cache("batch_model").put({"batch_id": e.originator_id, "model_id": e.model_id})
    work.cache("holding", group="partner_id").add(
        (e.buyer_id, e.model_id, "pending"), "units", e.quantity
    )


def _moved(work: Work, e: Any) -> None:
    found = work.cache("batch_model").get(e.originator_id)
    if found is None:
        raise LookupError(f"batch {e.originator_id} has events but no creation event")
    model_id = found["model_id"]
    holdings = work.cache("holding", group="partner_id")
    for f, t, n in moves_of(e):
        holdings.add((UUID(f.owner), model_id, f.stage), "units", -n)
        if t.is_unit_stage:
            holdings.add((UUID(t.owner), model_id, t.stage), "units", n)
