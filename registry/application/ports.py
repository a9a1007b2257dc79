"""What the application needs from read models, as protocols (implemented in ``projections``).

The gRPC layer asks these for lists and summaries instead of scanning the event log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True)
class BatchFilter:
    """Filters for listing batches; None means "any"."""

    partner_id: UUID | None = None  # buyer, owner or assignee of any unit
    model_id: UUID | None = None
    stage: str | None = None  # GpuBatch.stage vocabulary
    site_id: UUID | None = None
    country: str | None = None  # destination country


@dataclass(frozen=True)
class BatchSummary:
    batch_id: UUID
    po_number: str
    model_id: UUID
    buyer_id: UUID
    stage: str
    quantity: int
    destination_country: str
    units_by_stage: dict[str, int] = field(default_factory=dict)
    site_ids: list[UUID] = field(default_factory=list)
    version: int = 0
