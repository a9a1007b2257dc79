"""QueryService: a batch's state, its history, and lists of batches from the read model."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import grpc

from projections.queries import ReadModels
from registry.api.v1 import queries_pb2 as pb
from registry.api.v1 import queries_pb2_grpc
from registry.api.v1 import resources_pb2 as resources
from registry.application.ports import BatchFilter, BatchSummary
from registry.application.service import Registry
from registry.domain.batch import GpuBatch, Stage
from registry.domain.errors import InvalidField, NotFound
from registry.security.grants import current_grants
from registry.server.calls import answer
from registry.server.concurrency import Blocking
from registry.server.convert import (
    batch_message,
    confine_recipient,
    decode_page_token,
    encode_page_token,
    event_message,
    page_size,
    parse_uuid,
    require_uuid,
)
from registry.server.parties import party_message
from registry.server.readmodels import (
    await_position,
    custody_message,
    ownership_message,
    site_message,
    status_message,
)

BATCH_STAGES = frozenset(
    {"ordered", "clearance_requested", "cleared", "clearance_denied", "clearance_revoked",
     "in_transit", "received", "installed", "assigned", "closed"}
    | {s.value for s in Stage}
)


class QueryServicer(queries_pb2_grpc.QueryServiceServicer):
    """Serves registry.api.v1.QueryService. Queries never write."""

    def __init__(self, registry: Registry, blocking: Blocking, read_models: ReadModels | None) -> None:
        self._registry = registry
        self._blocking = blocking
        self._listing = read_models
        self._read = read_models

    async def GetBatch(self, request: pb.GetBatchRequest, context: Any) -> pb.GetBatchResponse:
        async def work() -> pb.GetBatchResponse:
            batch_id = require_uuid("batch_id", request.batch_id)
            version = request.version if request.HasField("version") else None
            if version is not None and version < 1:
                raise InvalidField.one("version", "must be >= 1")
            batch = await self._blocking(self._batch, batch_id, version)
            return pb.GetBatchResponse(batch=batch)

        return await answer(context, work)

    async def GetParty(self, request: pb.GetPartyRequest, context: Any) -> pb.GetPartyResponse:
        async def work() -> pb.GetPartyResponse:
            party_id = require_uuid("party_id", request.party_id)
            party = await self._blocking(party_message, self._registry, party_id)
            return pb.GetPartyResponse(party=party)

        return await answer(context, work)

    def _batch(self, batch_id: UUID, version: int | None) -> resources.Batch:
        return batch_message(self._registry.get_batch(batch_id, version))

    async def ListBatchEvents(
        self, request: pb.ListBatchEventsRequest, context: Any
    ) -> pb.ListBatchEventsResponse:
        async def work() -> pb.ListBatchEventsResponse:
            batch_id = require_uuid("batch_id", request.batch_id)
            size = page_size(request.page_size)
            after = 0
            if request.page_token:
                state = decode_page_token(request.page_token)
                after = state.get("after", -1)
                if state.get("batch") != str(batch_id) or not isinstance(after, int) or after < 1:
                    raise InvalidField.one("page_token", "belongs to a different batch or is not valid")
            page = await self._blocking(self._history_page, batch_id, after, size)
            sees_party = current_grants().sees_party
            for event in page.events:
                confine_recipient(event, sees_party)
            return page

        return await answer(context, work)

    def _history_page(self, batch_id: UUID, after: int, size: int) -> pb.ListBatchEventsResponse:
        events = self._registry.history(batch_id, after_version=after, limit=size + 1)
        if after == 0 and (not events or not isinstance(events[0], GpuBatch.Ordered | GpuBatch.SplitFrom)):
            raise NotFound("batch", batch_id)
        more = len(events) > size
        events = events[:size]
        messages = [
            event_message(e, self._registry.position_of(e.originator_id, e.originator_version))
            for e in events
        ]
        token = (
            encode_page_token({"batch": str(batch_id), "after": events[-1].originator_version})
            if more else ""
        )
        return pb.ListBatchEventsResponse(events=messages, next_page_token=token)

    async def ListBatches(self, request: pb.ListBatchesRequest, context: Any) -> pb.ListBatchesResponse:
        async def work() -> pb.ListBatchesResponse:
            criteria = batch_filter(request)
            size = page_size(request.page_size)
            if self._listing is None:
                raise _NoReadModel
            await self._await(context, request, "batch_inventory")
            summaries, token = await self._blocking(
                self._listing.list_batches, criteria, size, request.page_token
            )
            return pb.ListBatchesResponse(
                batches=[summary_message(s) for s in summaries], next_page_token=token
            )

        try:
            return await answer(context, work, passthrough=(_NoReadModel,))
        except _NoReadModel:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                "ListBatches is served by the batch read model, and this server has none configured",
            )
            raise AssertionError("abort returned") from None  # pragma: no cover


    # ------------------------------------------------------------------ read-model queries
    async def _await(self, context: Any, request: Any, *names: str) -> ReadModels:
        if self._read is None:
            raise _NoReadModel
        position = request.min_position if request.HasField("min_position") else None
        await await_position(self._read, self._blocking, context, position, names)
        return self._read

    async def _read_model_call(self, context: Any, work: Any) -> Any:
        try:
            return await answer(context, work, passthrough=(_NoReadModel,))
        except _NoReadModel:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server has no read models configured")
            raise AssertionError("abort returned") from None  # pragma: no cover

    async def GetOwnership(self, request: pb.GetOwnershipRequest, context: Any) -> pb.GetOwnershipResponse:
        async def work() -> pb.GetOwnershipResponse:
            partner = parse_uuid("partner_id", request.partner_id)
            read = await self._await(context, request, "ownership")
            rows = await self._blocking(read.ownership_by_partner, partner)
            return pb.GetOwnershipResponse(partners=[ownership_message(r) for r in rows])

        result: pb.GetOwnershipResponse = await self._read_model_call(context, work)
        return result

    async def GetSiteInventory(
        self, request: pb.GetSiteInventoryRequest, context: Any
    ) -> pb.GetSiteInventoryResponse:
        async def work() -> pb.GetSiteInventoryResponse:
            site = parse_uuid("site_id", request.site_id)
            read = await self._await(context, request, "site_inventory")
            rows = await self._blocking(read.site_inventory, site)
            return pb.GetSiteInventoryResponse(sites=[site_message(r) for r in rows])

        result: pb.GetSiteInventoryResponse = await self._read_model_call(context, work)
        return result

    async def GetCustodyTrail(
        self, request: pb.GetCustodyTrailRequest, context: Any
    ) -> pb.GetCustodyTrailResponse:
        async def work() -> pb.GetCustodyTrailResponse:
            batch_id = require_uuid("batch_id", request.batch_id)
            read = await self._await(context, request, "custody_trail")
            entries = await self._blocking(read.custody_trail, batch_id)
            if not entries:
                await self._blocking(self._registry.get_batch, batch_id)  # NOT_FOUND if unknown
            sees_party = current_grants().sees_party
            return pb.GetCustodyTrailResponse(entries=[custody_message(e, sees_party) for e in entries])

        result: pb.GetCustodyTrailResponse = await self._read_model_call(context, work)
        return result

    async def GetProjectionStatus(
        self, request: pb.GetProjectionStatusRequest, context: Any
    ) -> pb.GetProjectionStatusResponse:
        async def work() -> pb.GetProjectionStatusResponse:
            if self._read is None:
                raise _NoReadModel
            rows = await self._blocking(self._read.projection_status)
            head = await self._blocking(self._registry.head)
            return pb.GetProjectionStatusResponse(head=head, projections=[status_message(r) for r in rows])

        result: pb.GetProjectionStatusResponse = await self._read_model_call(context, work)
        return result


class _NoReadModel(Exception):
    """No BatchListing was wired into this server."""


def batch_filter(request: pb.ListBatchesRequest) -> BatchFilter:
    """The request's filters, each validated; every bad one is named."""
    violations: list[tuple[str, str]] = []
    ids: dict[str, UUID | None] = {}
    for name in ("partner_id", "model_id", "site_id"):
        try:
            ids[name] = parse_uuid(name, getattr(request, name))
        except InvalidField as e:
            violations.extend(e.violations)
    if request.stage and request.stage not in BATCH_STAGES:
        violations.append(("stage", f"one of {sorted(BATCH_STAGES)}"))
    if request.country and not re.fullmatch(r"[A-Z]{2}", request.country):
        violations.append(("country", "an ISO 3166-1 alpha-2 code in upper case, like KR"))
    if violations:
        raise InvalidField(violations)
    return BatchFilter(
        partner_id=ids["partner_id"],
        model_id=ids["model_id"],
        stage=request.stage or None,
        site_id=ids["site_id"],
        country=request.country or None,
    )


def summary_message(s: BatchSummary) -> resources.BatchSummary:
    return resources.BatchSummary(
        batch_id=str(s.batch_id),
        po_number=s.po_number,
        model_id=str(s.model_id),
        buyer_id=str(s.buyer_id),
        stage=s.stage,
        quantity=s.quantity,
        destination_country=s.destination_country,
        units_by_stage=dict(s.units_by_stage),
        site_ids=[str(i) for i in s.site_ids],
        version=s.version,
    )
