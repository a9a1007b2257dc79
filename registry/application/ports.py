"""Ports between the application and the read side, as protocols.

* What the application needs from read models (implemented in ``projections``): the gRPC layer
  asks these for lists and summaries instead of scanning the event log.
* What the read side needs from the application: :class:`EventLog`, the event log to project
  (implemented by ``registry.application.service.Registry``). Projections depend on this port,
  never on the concrete application.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from registry.domain.classification import ModelSpec


class EventLog(Protocol):
    """The registry's event log as the read side reads it: notifications after a position (ids
    may have gaps), each decoded to its domain event, and the head."""

    @property
    def recorder(self) -> Any: ...

    def read_log(self, after: int, limit: int, topics: Sequence[str] = ()) -> list[Notification]: ...

    def decode(self, notification: Notification) -> Any: ...

    def head(self) -> int: ...


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


class BatchListing(Protocol):
    """Lists batches from a read model (ListBatches in the gRPC API is served from this).

    ``page_size`` is already bounded by the caller (1 to 1000). ``page_token`` is "" for the first
    page, otherwise a token this listing returned with the same filter; a token it cannot read
    raises :class:`~registry.domain.errors.InvalidField` naming ``page_token``. Returns the page
    and the next page's token ("" on the last page).
    """

    def list_batches(
        self, f: BatchFilter, page_size: int, page_token: str
    ) -> tuple[list[BatchSummary], str]: ...


class FindingLookup(Protocol):
    """Which findings the compliance read model has raised (implemented in ``projections``).

    An officer's acknowledgement or resolution names a finding by the id the read model gave it;
    the registry checks the id against this before recording the decision.
    """

    def finding_exists(self, finding_id: UUID) -> bool: ...


@dataclass(frozen=True)
class AuthorizationExpiry:
    """An authorization that expires within the warning window."""

    authorization_id: UUID
    number: str
    auth_type: str
    valid_to: datetime
    days_left: int
    remaining_quantity: int | None
    remaining_value: Decimal | None


class ReferenceQueries(Protocol):
    """Questions about every party, model, batch or authorization, answered by read models
    instead of scanning the whole log by topic (implemented in ``projections``).

    ``reached(position)`` says whether the read models have applied the log up to ``position``
    (waiting up to ``timeout`` seconds); the registry asks the log itself otherwise.
    """

    def reached(self, position: int, timeout: float) -> bool: ...

    def expiring_authorizations(self, within_days: int, at: datetime) -> list[AuthorizationExpiry]: ...

    def batches_of_models(self, model_ids: Collection[UUID]) -> dict[UUID, list[UUID]]: ...

    def model_specs(self) -> dict[UUID, ModelSpec]: ...

    def party_ids(self) -> list[UUID]:
        """Every registered party, ordered by id (the parties a list import screens)."""
        ...
