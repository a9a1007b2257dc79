"""Answers from the read models: ownership, site inventory, custody trail, projection status, and
the read-your-writes wait (``min_position``) shared by every read-model query."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from projections.queries import (
    CustodyEntry,
    PartnerOwnership,
    ProjectionStatus,
    ReadModels,
    SiteInventoryRow,
)
from registry.api.v1 import queries_pb2 as pb
from registry.domain.errors import InvalidField, ReadModelBehind
from registry.server.concurrency import Blocking
from registry.server.convert import _json_default, hides_recipient, timestamp

#: How long a query may wait for a read model when the caller set no deadline.
MAX_WAIT_SECONDS = 30.0


async def await_position(
    read_models: ReadModels,
    blocking: Blocking,
    context: Any,
    min_position: int | None,
    names: Sequence[str],
) -> None:
    """Return once the named projections reached ``min_position`` (None: at once); raise
    ReadModelBehind when the call's deadline (or MAX_WAIT_SECONDS) passes first."""
    if min_position is None:
        return
    if min_position < 0:
        raise InvalidField.one("min_position", "must be >= 0")
    remaining = context.time_remaining()
    timeout = MAX_WAIT_SECONDS if remaining is None else max(min(remaining - 0.05, MAX_WAIT_SECONDS), 0.0)
    if not await blocking(read_models.wait_for_position, min_position, timeout, list(names)):
        raise ReadModelBehind(min_position, read_models.positions(names))


def _dec(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def ownership_message(o: PartnerOwnership) -> pb.PartnerOwnership:
    message = pb.PartnerOwnership(
        partner_id=str(o.partner_id), name=o.name, country=o.country,
        gpus_by_stage=o.gpus_by_stage, gpus_held=o.gpus_held, gpus_installed=o.gpus_installed,
        compute_tpp=_dec(o.compute_tpp), dense_pflops=_dec(o.dense_pflops),
        allocation_used=_dec(o.allocation_used),
        models=[
            pb.ModelHolding(
                model_id=str(m.model_id), model_name=m.model_name, units_by_stage=m.units_by_stage,
                gpus_by_stage=m.gpus_by_stage, gpus_held=m.gpus_held,
                compute_tpp=_dec(m.compute_tpp), dense_pflops=_dec(m.dense_pflops),
            )
            for m in o.models
        ],
    )
    if o.allocated_gpus is not None:
        message.allocated_gpus = o.allocated_gpus
    return message


def site_message(s: SiteInventoryRow) -> pb.SiteInventory:
    return pb.SiteInventory(
        site_id=str(s.site_id), name=s.name, country=s.country,
        operator_id=str(s.operator_id) if s.operator_id else "",
        power_capacity_kw=_dec(s.power_capacity_kw), installed_gpus=s.installed_gpus,
        installed_tdp_kw=_dec(s.installed_tdp_kw), power_headroom_kw=_dec(s.power_headroom_kw),
        over_capacity=s.over_capacity, units_by_stage=s.units_by_stage,
        models=[
            pb.SiteModelInventory(
                model_id=str(m.model_id), model_name=m.model_name, units_by_stage=m.units_by_stage,
                installed_gpus=m.installed_gpus, tdp_kw=_dec(m.tdp_kw),
            )
            for m in s.models
        ],
    )


def _from_owners(e: CustodyEntry) -> list[str]:
    """The owners a transfer took the units from, read from its moves (``[from_key, to_key, n]``,
    a key ``stage|site|owner|assignee``): a chain of custody names who handed over, not only who took."""
    owners = {str(move[0]).split("|")[2] for move in e.moves}
    return sorted(str(UUID(owner)) for owner in owners if owner)


def custody_message(e: CustodyEntry, sees_party: Callable[[UUID], bool] | None = None) -> pb.CustodyEntry:
    """One trail entry; ``sees_party``: a confined caller's party view (``Grants.sees_party``): an
    onward movement's recipient outside it is left out (``recipient_id`` null, as when none was
    recorded). None: shown. A transfer's entry names the owners it took the units from."""
    detail = {**e.detail, "from_owner_ids": _from_owners(e)} if e.event_type == "Transferred" else e.detail
    if e.event_type == "OnwardMovementRecorded" and hides_recipient(detail, sees_party):
        detail = {**detail, "recipient_id": None}
    message = pb.CustodyEntry(
        position=e.position, batch_id=str(e.batch_id), version=e.version, event_type=e.event_type,
        actor=e.actor, request_id=e.request_id, occurred_at=timestamp(e.occurred_at),
        recorded_at=timestamp(e.recorded_at), serials=e.serials,
        site_id=str(e.site_id) if e.site_id else "",
        detail_json=json.dumps(detail, default=_json_default, sort_keys=True),
    )
    if e.quantity is not None:
        message.quantity = e.quantity
    return message


def status_message(p: ProjectionStatus) -> pb.ProjectionStatus:
    return pb.ProjectionStatus(
        name=p.name, code_version=p.code_version, version=p.version, generation=p.generation,
        state=p.state, position=p.position, lag_events=p.lag_events, lag_seconds=p.lag_seconds,
        worker=p.worker,
    )
