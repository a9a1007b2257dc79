"""EventService: the registry's log as a resumable stream, catch-up first, then live.

How a subscription proceeds (cursor = the last log position accounted for):

1. read the log head, then the next page after the cursor (filtered by type, batch and the
   internal events left out, all in the store: a page is ``READ_PAGE`` matching events);
2. send the page's events, each with its position;
3. advance the cursor to the last position read, or to the head read *before* the page when the
   page was not full: every event at or before that head was committed before it was read
   (SQLite has one writer; eventsourcing's PostgreSQL recorder serializes inserts with a table
   lock, so positions become visible in order), so nothing at or before it can appear later;
4. a full page means more is waiting: read again at once. Otherwise the subscriber is caught
   up: send a checkpoint the first time, and whenever the stream has been quiet for the
   heartbeat interval; then sleep until this process writes (:class:`LogNotifier`) or the poll
   interval passes (which finds writes of other processes), and go to 1.

Pages are read (``READ_PAGE`` events, or the message size if larger) and rendered in a worker
thread, with no domain events (:class:`registry.server.event_messages.EventRenderer`), and sent
in messages of at most ``max_events_per_message``. While a full page is being sent, the next one
is already read and rendered (one page ahead, no more), so catching up overlaps the database and
the JSON work with sending. The renderer keeps what it rendered (``subscription_kept_mib``), so a
subscriber catching up after another is mostly sent renderings made before.

Rendered at write time: the projection worker keeps each stored event's serialized ``Event``
(:mod:`projections.event_stream`). A page for a caller who sees every event as stored (no
partner confinement) in the default form (``compact_serials`` off) is assembled from those bytes
as a serialized response, without parsing them (:mod:`registry.server.stream_rendering`): up to
the worker's position the page is read from that read model alone (it holds exactly the default
stream's events), after it from the log as above. A filtered stream (types, batch, request
records) reads the log and looks the kept bytes up by position, rendering the others here, in the
same message, in log order. So the events, their order and the checkpoints are as before (a page
may end at the worker's position); only who rendered an event differs.

A client that resumes with ``after_position`` = the greatest position it received (an event's or
a checkpoint's) therefore gets every matching event exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import grpc
from eventsourcing.utils import get_topic

from projections.event_stream import SKIPPED_TOPICS
from registry.api.v1 import events_pb2 as pb
from registry.api.v1 import events_pb2_grpc
from registry.application.service import Registry
from registry.domain.errors import InvalidField
from registry.domain.legal_hold import LegalHold
from registry.security.grants import Grants, current_grants
from registry.server.calls import refuse_if_expired
from registry.server.concurrency import Blocking, LogNotifier
from registry.server.convert import event_topics, parse_uuid, topics_for
from registry.server.errors import status_for
from registry.server.event_messages import KEEP_RENDERED_BYTES, EventRenderer
from registry.server.stream_rendering import Prebuilt, RenderedEvents, response_bytes, serialize_response

log = logging.getLogger("gpureg.server")

MAX_EVENTS_PER_MESSAGE = 1000
DEFAULT_EVENTS_PER_MESSAGE = 100
MIN_HEARTBEAT_SECONDS = 0.05
MAX_HEARTBEAT_SECONDS = 300.0
READ_PAGE = 1000  # events read from the log per query (at least max_events_per_message)
# Internal: one per command with a request_id; streamed only when asked for.
REQUEST_RECORD_TYPE = "RequestRecord.Handled"


@dataclass(frozen=True)
class Subscription:
    """A validated SubscribeEvents request."""

    after: int
    topics: list[str]
    batch_id: UUID | None
    max_events: int
    heartbeat: float
    skip_topics: frozenset[str] = frozenset()  # left out of the stream (internal events)
    compact_serials: bool = False  # serial sets as runs in payload_json
    sees_all: bool = False  # the caller sees every event as stored (no partner confinement)


def subscription_of(request: pb.SubscribeEventsRequest, default_heartbeat: float) -> Subscription:
    violations: list[tuple[str, str]] = []
    if request.after_position < 0:
        violations.append(("after_position", "must be >= 0 (0 means from the start of the log)"))
    topics: list[str] = []
    batch_id: UUID | None = None
    try:
        topics = topics_for(request.event_types)
    except InvalidField as e:
        violations.extend(e.violations)
    try:
        batch_id = parse_uuid("batch_id", request.batch_id)
    except InvalidField as e:
        violations.extend(e.violations)
    if not 0 <= request.max_events_per_message <= MAX_EVENTS_PER_MESSAGE:
        violations.append(("max_events_per_message", f"must be between 0 and {MAX_EVENTS_PER_MESSAGE}"))
    heartbeat = default_heartbeat
    if request.HasField("heartbeat_interval"):
        interval = request.heartbeat_interval  # seconds and nanos as sent: no timedelta, which overflows
        heartbeat = interval.seconds + interval.nanos / 1e9
        if not (-1_000_000_000 < interval.nanos < 1_000_000_000
                and MIN_HEARTBEAT_SECONDS <= heartbeat <= MAX_HEARTBEAT_SECONDS):
            violations.append(
                ("heartbeat_interval",
                 f"must be between {MIN_HEARTBEAT_SECONDS} s and {MAX_HEARTBEAT_SECONDS} s")
            )
    if violations:
        raise InvalidField(violations)
    skip: frozenset[str] = frozenset()
    if not request.include_request_records and REQUEST_RECORD_TYPE not in request.event_types:
        skip = frozenset({event_topics()[REQUEST_RECORD_TYPE]})
    return Subscription(
        skip_topics=skip,
        after=request.after_position,
        topics=topics,
        batch_id=batch_id,
        max_events=request.max_events_per_message or DEFAULT_EVENTS_PER_MESSAGE,
        heartbeat=heartbeat,
        compact_serials=request.compact_serials,
    )


#: legal holds' stored topics: streamed only to policy.HOLD_READERS
LEGAL_HOLD_TOPICS = frozenset({get_topic(LegalHold.Placed), get_topic(LegalHold.Released)})


def reach_of(s: Subscription, grants: Grants) -> Subscription:
    """``s`` within the caller's reach (the auth layer's :class:`Grants`), left out in the store's
    query: a caller who may not see legal holds gets none of their events, and a confined caller
    (a partner) no request records, whose ``captured`` is the EPCIS event another party may have
    sent (its own batches' events still reach it; the auth layer keeps only those)."""
    skip: set[str] = set()
    if not grants.legal_holds:
        skip |= LEGAL_HOLD_TOPICS
    if grants.party is not None:
        skip.add(event_topics()[REQUEST_RECORD_TYPE])
    if skip <= s.skip_topics:
        return s
    return replace(s, skip_topics=s.skip_topics | skip)


@dataclass(frozen=True)
class _Page:
    """One read of the log, rendered: what :meth:`EventServicer._stream` needs of it."""

    head: int  # the log head, read before the page
    last: int  # the position of the page's last event (0 when the page is empty)
    full: bool  # as many events as asked for: more may be waiting
    messages: list[pb.SubscribeEventsResponse | Prebuilt]  # the matching events, in messages


class EventServicer(events_pb2_grpc.EventServiceServicer):
    """Serves registry.api.v1.EventService."""

    def __init__(
        self,
        registry: Registry,
        blocking: Blocking,
        notifier: LogNotifier,
        poll_seconds: float,
        heartbeat_seconds: float,
        kept_bytes: int = KEEP_RENDERED_BYTES,
        rendered: RenderedEvents | None = None,
    ) -> None:
        self._registry = registry
        self._blocking = blocking
        self._notifier = notifier
        self._poll = poll_seconds
        self._heartbeat = heartbeat_seconds
        self._renderer = EventRenderer(registry, kept_bytes)
        self._rendered = rendered  # the projection worker's renderings (None: render every event)

    async def SubscribeEvents(
        self, request: pb.SubscribeEventsRequest, context: Any
    ) -> AsyncIterator[pb.SubscribeEventsResponse | Prebuilt]:
        await refuse_if_expired(context)
        try:
            grants = current_grants()
            subscription = reach_of(subscription_of(request, self._heartbeat), grants)
            if self._rendered is not None and not subscription.compact_serials and grants.visible is None:
                # the caller sees every event as stored (no partner confinement)
                subscription = replace(subscription, sees_all=True)
        except InvalidField as e:
            status = status_for(e)
        else:
            try:
                async for message in self._stream(subscription):
                    yield message
                return
            except Exception as e:  # mapped by the error table (INTERNAL for bugs)
                status = status_for(e)
        await context.abort_with_status(status)

    def _page(self, cursor: int, s: Subscription) -> _Page:
        """Read the head and the page after ``cursor``, render the matching events (a worker
        thread runs this)."""
        head = self._registry.head()
        limit = max(s.max_events, READ_PAGE)
        if self._rendered is not None and s.sees_all and _default_stream(s):
            # up to where the worker rendered, the read model holds exactly this stream's events
            rendered, covered = self._rendered.after(cursor, limit)
            if rendered:
                prebuilt: list[pb.SubscribeEventsResponse | Prebuilt] = [
                    Prebuilt(response_bytes([m for _, m in rendered[i:i + s.max_events]]),
                             rendered[i:i + s.max_events][-1][0])
                    for i in range(0, len(rendered), s.max_events)]
                # more may be waiting either way: a full page, or the log after what was rendered
                return _Page(head=head, last=rendered[-1][0] if len(rendered) == limit else covered, full=True,
                             messages=prebuilt)
        page = self._registry.read_log_rows(cursor, limit, s.topics, tuple(s.skip_topics), s.batch_id)
        messages: list[pb.SubscribeEventsResponse | Prebuilt] = []
        if page and s.sees_all and not s.compact_serials and self._rendered is not None:
            filtered = bool(s.topics) or s.batch_id is not None  # sparse positions: ask for them alone
            kept = self._rendered.read(page[0][0], page[-1][0], [r[0] for r in page] if filtered else None)
            if kept:
                for i in range(0, len(page), s.max_events):
                    messages.append(self._prebuilt(page[i:i + s.max_events], kept))
                return _Page(head=head, last=page[-1][0], full=len(page) == limit, messages=messages)
        for i in range(0, len(page), s.max_events):
            message = pb.SubscribeEventsResponse()
            self._renderer.render_rows_into(message.events.events, page[i:i + s.max_events], s.compact_serials)
            messages.append(message)
        return _Page(head=head, last=page[-1][0] if page else 0, full=len(page) == limit, messages=messages)

    def _prebuilt(self, rows: Any, kept: dict[int, bytes]) -> Prebuilt:
        """One message's events as a serialized response: the kept renderings, and the rows not
        rendered yet rendered here (in log order with the others)."""
        missing = [row for row in rows if row[0] not in kept]
        if missing:
            batch = pb.EventBatch()
            self._renderer.render_rows_into(batch.events, missing)
            kept = {**kept, **{e.position: e.SerializeToString() for e in batch.events}}
        return Prebuilt(response_bytes([kept[row[0]] for row in rows]), rows[-1][0])

    @staticmethod
    def _checkpoint(position: int, head: int) -> pb.SubscribeEventsResponse:
        return pb.SubscribeEventsResponse(
            checkpoint=pb.Checkpoint(position=position, head=max(head, position))
        )

    async def _stream(self, s: Subscription) -> AsyncIterator[pb.SubscribeEventsResponse | Prebuilt]:
        loop = asyncio.get_running_loop()
        cursor = s.after
        head = cursor
        caught_up_once = False
        last_sent = loop.time()
        # The next page, read while this one is sent; with the notifier token taken before it.
        ahead: tuple[asyncio.Event, asyncio.Future[_Page]] | None = None
        try:
            while not self._notifier.closed:
                if ahead is None:
                    token = self._notifier.token()  # before reading: a later write still wakes us
                    page = await self._blocking(self._page, cursor, s)
                else:
                    token, reading = ahead
                    ahead = None
                    page = await reading
                head = page.head
                cursor = max(cursor, page.last)
                if not page.full:
                    cursor = max(cursor, head)
                else:
                    ahead = (self._notifier.token(),
                             asyncio.ensure_future(self._blocking(self._page, cursor, s)))
                for message in page.messages:
                    yield message
                    last_sent = loop.time()
                quiet = loop.time() - last_sent
                if (not page.full and not caught_up_once) or quiet >= s.heartbeat:
                    yield self._checkpoint(cursor, head)
                    last_sent = loop.time()
                    caught_up_once = caught_up_once or not page.full
                if page.full:
                    continue
                quiet = loop.time() - last_sent
                await self._notifier.wait(token, min(self._poll, s.heartbeat - quiet))
        finally:
            if ahead is not None:
                ahead[1].cancel()
        yield self._checkpoint(cursor, head)  # the server is stopping: say where we got to


def _default_stream(s: Subscription) -> bool:
    """Whether ``s`` asks for every event but the request records, every serial named: what the
    event stream read model holds (:data:`projections.event_stream.SKIPPED_TOPICS`)."""
    return not s.topics and s.batch_id is None and not s.compact_serials and s.skip_topics == SKIPPED_TOPICS


def add_event_service(servicer: EventServicer, server: Any) -> None:
    """``events_pb2_grpc.add_EventServiceServicer_to_server`` with the response serializer that
    passes a prebuilt response through (:func:`registry.server.stream_rendering.serialize_response`)."""
    handlers = {
        "SubscribeEvents": grpc.unary_stream_rpc_method_handler(
            servicer.SubscribeEvents,
            request_deserializer=pb.SubscribeEventsRequest.FromString,
            response_serializer=serialize_response,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("registry.api.v1.EventService", handlers),))
    server.add_registered_method_handlers("registry.api.v1.EventService", handlers)
