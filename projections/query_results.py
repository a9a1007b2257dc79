"""What the read-model queries answer: plain, frozen result types (no database access)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from registry.application.ports import BatchSummary


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SerialInfo:
    serial: str
    batch_id: UUID
    gpu_uuid: str
    stage: str
    site_id: UUID | None
    owner_id: UUID | None
    assignee_id: UUID | None
    shipment_id: str
    rack: str
    host: str


@dataclass(frozen=True)
class BatchDetail:
    """A batch's row in the inventory: current units per stage and cumulative flows."""

    summary: BatchSummary
    parent_id: UUID | None
    supplier_id: UUID
    unit_price: Decimal
    currency: str
    allocation_program: str
    clearance_status: str
    authorization_number: str
    ordered: int
    requested: int
    cleared: int
    serials: int
    totals: dict[str, int]
    owner_ids: list[UUID]
    assignee_ids: list[UUID]


@dataclass(frozen=True)
class ModelHolding:
    model_id: UUID
    model_name: str
    units_by_stage: dict[str, int]
    gpus_by_stage: dict[str, int]
    gpus_held: int
    compute_tpp: Decimal
    dense_pflops: Decimal


@dataclass(frozen=True)
class PartnerOwnership:
    """What one partner owns. ``gpus_held`` counts live units (pending through assigned),
    times the model's GPUs per unit; compute is per GPU (TPP, dense PFLOPS) times that."""

    partner_id: UUID
    name: str
    country: str
    gpus_by_stage: dict[str, int]
    gpus_held: int
    gpus_installed: int
    compute_tpp: Decimal
    dense_pflops: Decimal
    allocated_gpus: int | None
    allocation_used: Decimal | None  # gpus_held / allocated_gpus
    models: list[ModelHolding] = field(default_factory=list)


@dataclass(frozen=True)
class SiteModelInventory:
    model_id: UUID
    model_name: str
    units_by_stage: dict[str, int]
    installed_gpus: int
    tdp_kw: Decimal


@dataclass(frozen=True)
class SiteInventoryRow:
    """Installed GPUs (stages installed and assigned) and their summed TDP at one site."""

    site_id: UUID
    name: str
    country: str
    operator_id: UUID | None
    power_capacity_kw: Decimal
    installed_gpus: int
    installed_tdp_kw: Decimal
    power_headroom_kw: Decimal
    over_capacity: bool
    units_by_stage: dict[str, int]
    models: list[SiteModelInventory] = field(default_factory=list)


@dataclass(frozen=True)
class CustodyEntry:
    position: int
    batch_id: UUID
    version: int
    event_type: str
    actor: str
    request_id: str
    occurred_at: datetime
    recorded_at: datetime
    quantity: int | None
    serials: list[str]
    site_id: UUID | None
    detail: dict[str, Any]
    moves: list[list[Any]]


@dataclass(frozen=True)
class ProjectionStatus:
    """How far one projection generation is. ``lag_seconds`` is how long the oldest event it
    has not applied yet has been waiting (0 when caught up)."""

    name: str
    code_version: int
    version: int
    generation: int
    state: str  # active | building | not started
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    worker: str
    updated_at: datetime | None


@dataclass(frozen=True)
class Allocation:
    """A partner's allocation in force: GPUs, why (``note``: the reason given), when it was
    recorded (``updated_at``), from when it applies and who set it."""

    partner_id: UUID
    gpus: int
    note: str
    updated_at: datetime
    effective_from: datetime | None = None
    set_by: str = ""
