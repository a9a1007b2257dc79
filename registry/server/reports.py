"""ReportService: a report's file streamed in chunks, the same bytes ``gpureg report`` writes.

The report is generated and rendered on the thread pool into a temporary file that stays in memory
up to 1 MiB and spills to disk beyond (flat memory however large the report); then the header goes
out, then the file in chunks of at most 64 KiB, each read on the thread pool.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO, Any
from uuid import UUID

from projections.queries import ReadModels
from registry.api.v1 import reports_pb2 as pb
from registry.api.v1 import reports_pb2_grpc
from registry.application.service import Registry
from registry.domain.errors import InvalidField
from registry.reports import Format, render
from registry.reports.builders import ReportSession, ReportStore, file_name
from registry.security.grants import current_grants
from registry.server.calls import refuse_if_expired
from registry.server.concurrency import Blocking
from registry.server.convert import request_time, timestamp
from registry.server.errors import status_for

CHUNK_BYTES = 64 * 1024
SPOOL_BYTES = 1 << 20

_KINDS = {
    pb.REPORT_KIND_COMPLIANCE: "compliance",
    pb.REPORT_KIND_OWNERSHIP: "ownership",
    pb.REPORT_KIND_CUSTODY: "custody",
}
_FORMATS = {
    pb.REPORT_FORMAT_UNSPECIFIED: Format.HTML,
    pb.REPORT_FORMAT_HTML: Format.HTML,
    pb.REPORT_FORMAT_PDF: Format.PDF,
    pb.REPORT_FORMAT_CSV: Format.CSV,
    pb.REPORT_FORMAT_JSON: Format.JSON,
}


@dataclass(frozen=True)
class ReportAsk:
    """A validated GenerateReportRequest."""

    kind: str
    fmt: Format
    recorded_by: datetime | None
    occurred_by: datetime | None
    partner: str | None
    authorization: str | None
    batch: str | None = None
    serial: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    scope: UUID | None = None  # a partner's own compliance report: the party its call acts for


def ask_of(request: pb.GenerateReportRequest) -> ReportAsk:
    violations: list[tuple[str, str]] = []
    kind = _KINDS.get(request.kind)
    if kind is None:
        violations.append(("kind", "one of REPORT_KIND_COMPLIANCE, REPORT_KIND_OWNERSHIP, REPORT_KIND_CUSTODY"))
    fmt = _FORMATS.get(request.format)
    if fmt is None:
        violations.append(("format", "one of REPORT_FORMAT_HTML, _PDF, _CSV, _JSON"))
    times: dict[str, datetime | None] = {}
    for name in ("as_of", "as_occurred_by", "occurred_from", "occurred_to"):
        try:
            times[name] = request_time(getattr(request, name), name) if request.HasField(name) else None
        except InvalidField as e:
            violations.extend(e.violations)
    if violations:
        raise InvalidField(violations)
    assert kind is not None and fmt is not None
    return ReportAsk(
        kind=kind,
        fmt=fmt,
        recorded_by=times["as_of"],
        occurred_by=times["as_occurred_by"],
        partner=request.partner.strip() or None,
        authorization=request.authorization.strip() or None,
        batch=request.batch.strip() or None,
        serial=request.serial.strip() or None,
        occurred_from=times["occurred_from"],
        occurred_to=times["occurred_to"],
    )


@dataclass
class _Rendered:
    spool: IO[bytes]
    header: pb.ReportHeader


class ReportServicer(reports_pb2_grpc.ReportServiceServicer):
    """Serves registry.api.v1.ReportService."""

    def __init__(self, registry: Registry, blocking: Blocking, read_models: ReadModels | None) -> None:
        self._store = ReportStore(registry, read_models)
        self._blocking = blocking

    def _render(self, ask: ReportAsk) -> _Rendered:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by the caller)
        try:
            with ReportSession(self._store) as session:
                report = session.build(ask.kind, ask.recorded_by, ask.occurred_by, ask.partner, ask.authorization,
                                       ask.batch, ask.serial, ask.occurred_from, ask.occurred_to, ask.scope)
                rendered = render(report, ask.fmt, spool.write)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        position = report.request.get("Log position")
        header = pb.ReportHeader(
            media_type=ask.fmt.media_type,
            filename=file_name(ask.kind, report.as_of.recorded_by, ask.fmt.extension),
            digest=rendered.digest,
            size=rendered.size,
            as_of=timestamp(report.as_of.recorded_by),
            log_position=position if isinstance(position, int) else 0,
        )
        if report.as_of.occurred_by is not None:
            header.as_occurred_by.CopyFrom(timestamp(report.as_of.occurred_by))
        return _Rendered(spool, header)

    async def GenerateReport(
        self, request: pb.GenerateReportRequest, context: Any
    ) -> AsyncIterator[pb.GenerateReportResponse]:
        await refuse_if_expired(context)
        try:
            ask = ask_of(request)
            party = current_grants().party  # a partner's call (the auth layer confined the request)
            if party is not None and ask.kind == "compliance":
                ask = replace(ask, scope=party)
            rendered = await self._blocking(self._render, ask)
        except Exception as error:  # every error is mapped, INTERNAL for bugs
            await context.abort_with_status(status_for(error))
            return
        try:
            yield pb.GenerateReportResponse(header=rendered.header)
            while chunk := await self._blocking(rendered.spool.read, CHUNK_BYTES):
                yield pb.GenerateReportResponse(chunk=chunk)
        finally:
            rendered.spool.close()
