"""EpcisService: EPCIS 2.0 documents exported (streamed) and captured (registry/epcis).

An export is written on the thread pool into a temporary file (in memory up to 1 MiB, on disk
beyond), then streamed in chunks of at most 64 KiB; a capture runs on the command lane (so on
SQLite its writes are durable before the answer) and wakes the log's subscribers.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any
from uuid import UUID

from registry.api.v1 import epcis_pb2 as pb
from registry.api.v1 import epcis_pb2_grpc
from registry.application.service import Registry
from registry.domain.errors import InvalidField
from registry.epcis.capture import Capture, CaptureResult
from registry.epcis.export import Event, write_document
from registry.epcis.sources import batch_events, log_events, partner_events
from registry.security.grants import current_grants
from registry.server.actor import current_actor
from registry.server.calls import answer, refuse_if_expired
from registry.server.concurrency import Blocking, CommandLane, LogNotifier
from registry.server.errors import status_for

CHUNK_BYTES = 64 * 1024
SPOOL_BYTES = 1 << 20
MEDIA_TYPE = "application/ld+json"
_STATUS = {
    "written": pb.EPCIS_EVENT_STATUS_WRITTEN,
    "replayed": pb.EPCIS_EVENT_STATUS_REPLAYED,
    "refused": pb.EPCIS_EVENT_STATUS_REFUSED,
    "not_written": pb.EPCIS_EVENT_STATUS_NOT_WRITTEN,
}


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value.strip())
    except ValueError:
        raise InvalidField.one(field, "must be a UUID") from None


def events_for(
    registry: Registry, request: pb.ExportEpcisRequest, visible: Callable[[UUID], bool] | None = None
) -> Iterator[Event]:
    """The events a request's scope selects (validated here: the servicer converts), of the
    batches ``visible`` admits (the caller's reach, set by the auth layer; None: all)."""
    scope = request.WhichOneof("scope")
    if scope == "batch_id":
        return batch_events(registry, _uuid(request.batch_id, "batch_id"), visible)
    if scope == "partner_id":
        return partner_events(registry, _uuid(request.partner_id, "partner_id"), visible=visible)
    if scope == "after_position":
        if request.after_position < 0:
            raise InvalidField.one("after_position", "must be >= 0")
        return (e for _, e in log_events(registry, after=request.after_position, visible=visible))
    raise InvalidField.one("scope", "set one of batch_id, partner_id, after_position")


def parse_document(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidField.one("document", f"not UTF-8 JSON: {e}") from None
    if not isinstance(document, dict):
        raise InvalidField.one("document", "an EPCISDocument is a JSON object")
    return document


def refused_whole(result: CaptureResult) -> InvalidField | None:
    """The error for a whole-document capture that wrote nothing; None otherwise."""
    if result.accepted or any(o.status in ("written", "replayed") for o in result.outcomes):
        return None
    return InvalidField([(f"eventList[{e.index}].{e.field}", f"{e.event_id}: {e.rule}") for e in result.errors])


class EpcisServicer(epcis_pb2_grpc.EpcisServiceServicer):
    """Serves registry.api.v1.EpcisService."""

    def __init__(self, registry: Registry, blocking: Blocking, commands: CommandLane, notifier: LogNotifier) -> None:
        self._registry = registry
        self._blocking = blocking
        self._commands = commands
        self._notifier = notifier
        self._capture = Capture(registry)

    def _export(
        self, request: pb.ExportEpcisRequest, visible: Callable[[UUID], bool] | None
    ) -> tuple[IO[bytes], int]:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by the caller)
        try:
            text = io.TextIOWrapper(spool, encoding="utf-8", write_through=True)
            count = write_document(events_for(self._registry, request, visible), datetime.now(UTC), text)
            text.flush()
            text.detach()
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool, count

    async def ExportEpcis(
        self, request: pb.ExportEpcisRequest, context: Any
    ) -> AsyncIterator[pb.ExportEpcisResponse]:
        await refuse_if_expired(context)
        try:
            spool, count = await self._blocking(self._export, request, current_grants().visible)
        except Exception as error:  # every error is mapped, INTERNAL for bugs
            await context.abort_with_status(status_for(error))
            return
        try:
            yield pb.ExportEpcisResponse(header=pb.ExportEpcisHeader(media_type=MEDIA_TYPE))
            while chunk := await self._blocking(spool.read, CHUNK_BYTES):
                yield pb.ExportEpcisResponse(chunk=chunk)
            yield pb.ExportEpcisResponse(trailer=pb.ExportEpcisTrailer(event_count=count))
        finally:
            spool.close()

    async def CaptureEpcis(self, request: pb.CaptureEpcisRequest, context: Any) -> pb.CaptureEpcisResponse:
        async def work() -> pb.CaptureEpcisResponse:
            actor = current_actor()
            authorize = current_grants().authorize  # the caller's reach, from the auth layer
            document = parse_document(request.document)
            result = await self._commands(
                functools.partial(self._capture.capture, authorize=authorize), actor, document, request.per_event)
            if any(o.status == "written" for o in result.outcomes):
                self._notifier.notify()
            error = None if request.per_event else refused_whole(result)
            if error is not None:
                raise error
            return pb.CaptureEpcisResponse(accepted=result.accepted, outcomes=[
                pb.EpcisEventOutcome(
                    index=o.index, event_id=o.event_id, command=o.command, status=_STATUS[o.status],
                    batch_id=str(o.batch_id) if o.batch_id else "", position=o.position,
                    field=o.error.field if o.error else "", rule=o.error.rule if o.error else "")
                for o in result.outcomes])

        return await answer(context, work)
